"""SignalView and its tracks, built from real Recordings and ScanResults."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyqtgraph as pg
import pytest
from pytestqt.qtbot import QtBot

from faultlens.core.checkpoint import load_model
from faultlens.core.events import FaultEvent
from faultlens.core.io import load_recording
from faultlens.core.progress import run_to_end
from faultlens.core.recording import Recording
from faultlens.core.resources import demo_recording_path
from faultlens.core.scan import ScanResult, scan
from faultlens.core.session import Session
from faultlens.gui.app import configure_pyqtgraph
from faultlens.gui.peak_pyramid import peak_pyramid
from faultlens.gui.plot_items import ChannelName
from faultlens.gui.signal_view import SignalView, robust_range
from faultlens.gui.tracks import bin_peak, class_colour, hotspot_density, strongest_hotspots


def _view(qtbot: QtBot, recording: Recording, width: int = 900, height: int = 600) -> SignalView:
    configure_pyqtgraph()
    view = SignalView()
    qtbot.addWidget(view)
    view.resize(width, height)
    view.set_recording(recording)
    view.show()
    qtbot.waitExposed(view)
    return view


def _layout_items(view: SignalView) -> list[object]:
    """The plots and tracks in the layout (the legend row above them aside)."""
    return [item for item in view.graphics.ci.items if item is not view.legend_row]


def test_curves_hold_the_recording_with_gaps(qtbot: QtBot, pump_csv) -> None:
    rec = load_recording(pump_csv)
    view = _view(qtbot, rec)
    assert list(view.plots) == list(rec.channels)
    for i, name in enumerate(rec.channels):
        x, y = view.curves[name].getOriginalDataset()
        np.testing.assert_array_equal(x, rec.time_axis())
        np.testing.assert_array_equal(y, rec.data[:, i])
        assert view.curves[name].opts["connect"] == "finite"
    # The file's empty cells stay NaN on the curve: drawn as a gap, never as zero.
    _, pressure = view.curves["pressure"].getOriginalDataset()
    assert np.isnan(pressure[40:44]).all()
    assert isinstance(view.plots["pressure"].getAxis("bottom"), pg.DateAxisItem)
    lo, hi = view.full_x_range()
    assert (lo, hi) == (rec.time_axis()[0], rec.time_axis()[-1])


def test_hide_and_show_channels(qtbot: QtBot, pump_csv) -> None:
    view = _view(qtbot, load_recording(pump_csv))
    assert len(_layout_items(view)) == 3
    view.set_channel_visible("current", False)
    assert view.visible_channels() == ["pressure", "flow"]
    assert view.plots["current"] not in _layout_items(view)
    item = view.channel_list.item("current")
    assert item.checkState(0) == pg.QtCore.Qt.CheckState.Unchecked
    # Ticking it in the list shows it again.
    item.setCheckState(0, pg.QtCore.Qt.CheckState.Checked)
    assert view.visible_channels() == ["pressure", "current", "flow"]
    assert view.plots["current"] in _layout_items(view)
    # Only the lowest plot shows the time axis.
    assert view.plots["flow"].getAxis("bottom").isVisible()
    assert not view.plots["pressure"].getAxis("bottom").isVisible()


def test_navigation_moves_every_plot_together(qtbot: QtBot) -> None:
    rows = 10_000
    data = np.random.default_rng(0).standard_normal((rows, 2)).astype(np.float32)
    view = _view(qtbot, Recording.from_arrays(data, ["a", "b"]))
    assert view.x_range() == pytest.approx((0, rows - 1), abs=1)
    view.zoom(0.5)
    x0, x1 = view.x_range()
    assert x1 - x0 == pytest.approx((rows - 1) / 2, rel=0.01)
    view.go_home()
    assert view.x_range()[0] == pytest.approx(0, abs=1)
    view.scroll(0.25)
    assert view.x_range()[0] == pytest.approx((x1 - x0) * 0.25, rel=0.02)
    view.go_end()
    assert view.x_range()[1] == pytest.approx(rows - 1, abs=1)
    # Every plot (hidden ones too) shares the range.
    view.set_channel_visible("b", False)
    view.zoom_to_rows(2000, 2099, context=1.0)
    for plot in view.plots.values():
        lo, hi = plot.vb.viewRange()[0]
        assert lo == pytest.approx(1899.5, abs=1) and hi == pytest.approx(2199.5, abs=1)
    view.show_all()
    assert view.x_range() == pytest.approx((0, rows - 1), abs=1)


def test_downsampling_note_on_a_long_recording(qtbot: QtBot) -> None:
    rows = 400_000
    data = np.random.default_rng(0).standard_normal((rows, 1)).astype(np.float32)
    view = _view(qtbot, Recording.from_arrays(data, ["a"]), width=700, height=300)
    view.show_all()
    pg.QtWidgets.QApplication.processEvents()
    note = view.compute_downsample_note()
    assert note.startswith("Downsampled ") and note.endswith("×, peak")
    factor = float(note.split()[1].rstrip("×,"))
    assert factor > 20
    drawn_x, _ = view.curves["a"].getData()
    assert len(drawn_x) < rows / 20
    # Zoomed in to a few hundred rows nothing is reduced.
    view.set_x_range(1000, 1300)
    pg.QtWidgets.QApplication.processEvents()
    assert view.compute_downsample_note() == ""


def test_ground_truth_regions_follow_the_labels(qtbot: QtBot, pump_csv) -> None:
    rec = load_recording(pump_csv)
    view = _view(qtbot, rec)
    stretches = rec.fault_label_runs
    faulty = np.flatnonzero(rec.labels == "1")
    assert sum(e - s + 1 for s, e, _ in stretches) == len(faulty)
    assert list(view.label_shading) == list(view.plots.values())
    expected = [view.row_span_x(s, e) for s, e, _ in stretches]
    for shading in view.label_shading.values():
        assert [(x0, x1) for x0, x1, _, _ in shading.spans] == expected
        assert shading.isVisible()
    view.set_show_labels(False)
    assert not any(s.isVisible() for s in view.label_shading.values())


def test_label_stretches_separate_classes_and_skip_normal() -> None:
    labels = ["0", "1", "1", "", "leak", "leak", "1", "normal", "1"]
    rec = Recording.from_arrays(np.zeros((len(labels), 1)), ["a"], labels=labels)
    assert list(rec.fault_label_runs) == [(1, 2, "1"), (4, 5, "leak"), (6, 6, "1"), (8, 8, "1")]


def test_bin_peak_keeps_maxima_and_leaves_gaps_empty() -> None:
    x = np.array([0.0, 1.0, 2.0, 3.0, 10.0, 11.0])
    values = np.array([1.0, 5.0, np.nan, 2.0, 7.0, 3.0], dtype=np.float32)
    left, right, binned = bin_peak(x, values, 12)
    assert (left, right) == (-0.5, 11.5)  # bins are centred on their x
    expected = np.full(12, np.nan, dtype=np.float32)
    expected[[0, 1, 3, 10, 11]] = [1.0, 5.0, 2.0, 7.0, 3.0]
    np.testing.assert_array_equal(binned, expected)
    # Fewer bins than rows: each bin keeps its peak.
    _, _, coarse = bin_peak(x, values, 2)
    np.testing.assert_array_equal(coarse, [5.0, 7.0])


def test_robust_range_ignores_nan_and_holds_data() -> None:
    lo, hi = robust_range(np.array([np.nan, 1.0, 2.0, 3.0, np.nan], dtype=np.float32))
    assert lo < 1.0 and hi > 3.0
    assert robust_range(np.full(5, np.nan, dtype=np.float32)) == (-1.0, 1.0)


def test_scan_tracks_show_the_engine_output(qtbot: QtBot, pump_csv, trained_model_path) -> None:
    rec = load_recording(pump_csv)
    model = load_model(trained_model_path)
    result = run_to_end(scan(model, rec))
    view = _view(qtbot, rec)
    view.set_scan(result, model.window)
    assert view.fault_track in _layout_items(view)
    x, y = view.fault_track.curve.getOriginalDataset()
    np.testing.assert_array_equal(x, rec.time_axis())
    np.testing.assert_array_equal(y, result.fault_probability)
    assert view.fault_track.threshold_line.value() == result.options.threshold
    _, hot = view.hotspot_track.curve.getOriginalDataset()
    # Drawn as a density: features peaking per row over the usual H/T, smoothed (issue 13).
    np.testing.assert_allclose(hot, hotspot_density(result.hotspots, model.window), rtol=1e-6)
    np.testing.assert_allclose(view.attention_strip.relative, result.attention * model.window)
    image = view.attention_strip.image.image
    assert image.shape == (1, rec.n_rows)
    # Peak binning with one bin per row (regular 1 s sampling) is the identity.
    np.testing.assert_allclose(image[0], result.attention * model.window, rtol=1e-6)
    rows = strongest_hotspots(result.hotspots, result.events, rec)
    assert view.hotspot_track.marker_rows == rows
    points = view.hotspot_track.markers.points()
    assert len(points) == len(rows)
    for point, row in zip(points, rows, strict=True):
        assert point.pos().x() == rec.time_axis()[row]
        assert rec.format_time(row) in point.data()
    # One shaded span per event on each channel plot and the probability track.
    assert list(view.event_shading) == [*view.plots.values(), view.fault_track]
    for shading in view.event_shading.values():
        assert len(shading.spans) == len(result.events)
    view.set_scan(None)
    assert not any(s.spans for s in view.event_shading.values())
    assert view.fault_track not in _layout_items(view)


def test_zoomed_out_curves_use_the_peak_pyramid(qtbot: QtBot) -> None:
    rows = 300_000
    rng = np.random.default_rng(1)
    data = rng.standard_normal((rows, 1)).astype(np.float32)
    data[123_457, 0] = 50.0  # one spike: must survive every level
    data[200_000:210_000, 0] = np.nan  # a long gap: must stay a gap
    view = _view(qtbot, Recording.from_arrays(data, ["a"]), width=800, height=300)
    view.show_all()
    assert view.lod_rows_per_block > 1
    _, y = view.curves["a"].getOriginalDataset()
    assert len(y) == 2 * int(np.ceil(rows / view.lod_rows_per_block))
    assert np.nanmax(y) == 50.0 and np.nanmin(y) == np.nanmin(data)
    block = view.lod_rows_per_block
    gap_blocks = y[2 * (200_000 // block + 1) : 2 * (210_000 // block)]
    assert gap_blocks.size and np.isnan(gap_blocks).all()
    # Zoomed in to a few thousand rows the curve holds the raw rows again.
    view.set_x_range(100_000, 101_000)
    assert view.lod_rows_per_block == 1
    _, raw = view.curves["a"].getOriginalDataset()
    np.testing.assert_array_equal(raw, data[:, 0])


def test_peak_pyramid_levels() -> None:
    x = np.arange(40, dtype=np.float64)
    y = np.arange(40, dtype=np.float32)[::-1].copy()
    y[5] = np.nan
    levels = peak_pyramid(x, y, min_blocks=2)
    assert [rows for rows, _, _ in levels] == [4, 8, 16]
    _, lx, ly = levels[0]
    np.testing.assert_array_equal(lx[:4], [0, 0, 4, 4])
    # min, max per 4-row block; rows 4-7 hold a NaN, which is skipped
    np.testing.assert_array_equal(ly[:4], [36, 39, 32, 35])
    _, lx16, ly16 = levels[2]
    np.testing.assert_array_equal(lx16, [0, 0, 16, 16, 32, 32])
    np.testing.assert_array_equal(ly16, [24, 39, 8, 23, 0, 7])  # last block is short


def _scan_with_events(
    rec: Recording, classes: tuple[str, ...], spans: list[tuple[int, int, str]]
) -> ScanResult:
    """A ScanResult holding just ``spans`` as events (what the legend and the shading read)."""
    n = rec.n_rows
    events = [
        FaultEvent(s, e, rec.format_time(s), rec.format_time(e), float(e - s), name, 0.9, 0.8, ())
        for s, e, name in spans
    ]
    zeros = np.zeros(n, dtype=np.float32)
    return ScanResult(
        class_names=classes,
        probabilities=np.zeros((n, len(classes)), dtype=np.float32),
        predicted=np.zeros(n, dtype=np.int16),
        fault_probability=zeros,
        attention=zeros,
        attention_heads=np.zeros((1, n), dtype=np.float32),
        hotspots=zeros,
        events=events,
        window=32,
    )


@pytest.mark.parametrize("width", [1600, 1000, 700])
def test_legend_sits_in_its_own_row_clear_of_every_plot(qtbot: QtBot, width: int) -> None:
    # The demo pump: 9 channels with labelled stretches, and a scan flagging five classes.
    rec = load_recording(demo_recording_path())
    classes = (
        "normal",
        "bearing_wear",
        "cavitation",
        "sensor_drift",
        "stuck_sensor",
        "valve_blockage",
    )
    spans = [(1000 + 3000 * i, 1400 + 3000 * i, name) for i, name in enumerate(classes[1:])]
    view = _view(qtbot, rec, width=width, height=800)
    view.set_scan(_scan_with_events(rec, classes, spans), 32)
    expected = ["labelled in file"] + [f"flagged: {name}" for name in classes[1:]]
    assert [label.text for _, label in view.legend.items] == expected

    def laid_out_clear_of_the_plots() -> None:
        legend = view.legend.sceneBoundingRect()
        assert view.legend.isVisible() and legend.height() > 0
        for plot in view._all_plots():
            assert not legend.intersects(plot.vb.sceneBoundingRect()), plot
        # Every entry is inside the visible scene (wrapped onto more lines, not cut off).
        visible = view.graphics.mapToScene(view.graphics.viewport().rect()).boundingRect()
        for sample, label in view.legend.items:
            assert visible.contains(sample.sceneBoundingRect())
            assert visible.contains(label.sceneBoundingRect()), label.text
        # The row takes only what the legend needs: the channels keep (almost all) their
        # height.
        heights = [plot.height() for plot in view.plots.values()]
        assert legend.height() <= 3 * 20 and min(heights) > 0.9 * max(heights)

    qtbot.waitUntil(laid_out_clear_of_the_plots)  # once the layout settles at this width


def test_legend_follows_labels_and_scan(qtbot: QtBot, pump_csv) -> None:
    rec = load_recording(pump_csv)
    view = _view(qtbot, rec)
    row = view.legend_row
    assert [label.text for _, label in view.legend.items] == ["labelled in file"]
    one_line = row.height()
    assert one_line > 0
    third = rec.n_rows // 3
    result = _scan_with_events(rec, ("normal", "leak"), [(third, third + 10, "leak")])
    view.set_scan(result, 32)
    texts = [label.text for _, label in view.legend.items]
    assert texts == ["labelled in file", "flagged: leak"]
    # Nothing to explain: the row takes no height at all.
    view.set_scan(None)
    view.set_show_labels(False)
    assert view.legend.items == []
    qtbot.waitUntil(lambda: row.height() == 0)
    view.set_show_labels(True)
    qtbot.waitUntil(lambda: row.height() == one_line)


def _shaded_pixels(
    qtbot: QtBot, view: SignalView, plot: pg.PlotItem, at: float = 0.5
) -> np.ndarray:
    """Columns of ``plot``'s data area (one bool a pixel) that the shading tints, read at
    ``at`` of its height from the top, from a real paint of the view."""

    def data_area() -> pg.QtCore.QRect:
        return view.graphics.mapFromScene(plot.vb.sceneBoundingRect()).boundingRect()

    qtbot.waitUntil(lambda: data_area().height() > 20)  # laid out, with room to be read
    image = view.graphics.grab().toImage()
    rect = data_area()
    row = rect.top() + round(at * rect.height())
    white = pg.QtGui.QColor("white").rgb()
    return np.array([image.pixel(x, row) != white for x in range(rect.left(), rect.right())])


def test_shading_spans_match_events_and_labels(qtbot: QtBot) -> None:
    rows = 1000
    labels = np.array(["0"] * rows, dtype=object)
    labels[100:200] = "1"
    labels[600:650] = "leak"
    data = np.full((rows, 2), -1e3, dtype=np.float32)  # a flat line mid-plot
    rec = Recording.from_arrays(data, ["a", "b"], labels=labels)
    result = _scan_with_events(rec, ("normal", "cavitation"), [(300, 349, "cavitation")])
    configure_pyqtgraph()
    view = SignalView()
    qtbot.addWidget(view)
    view.resize(900, 700)
    view.set_recording(rec)
    view.set_scan(result, 32)  # before showing: the layout is built once
    for plot in view.plots.values():
        plot.setYRange(-1, 1, padding=0)
    view.show()
    qtbot.waitExposed(view)
    a = view.plots["a"]
    labelled, flagged = view.label_shading[a], view.event_shading[a]
    # One item per plot holds every span, at the rows' x extent, in the old colours.
    assert [(x0, x1) for x0, x1, _, _ in labelled.spans] == [(99.5, 199.5), (599.5, 649.5)]
    assert [c.getRgb() for _, _, c, _ in labelled.spans] == [(120, 120, 120, 45)] * 2
    assert [(x0, x1) for x0, x1, _, _ in flagged.spans] == [(299.5, 349.5)]
    colour = flagged.spans[0][2]
    expected_rgb = class_colour(result.class_names, "cavitation").rgb()
    assert colour.alpha() == 70 and colour.rgb() == expected_rgb
    assert labelled.zValue() < flagged.zValue() < view.curves["a"].zValue()
    # Tooltips follow the span under the cursor; elsewhere the item has none.
    assert _shown_as(flagged.spans[flagged.span_at(320)][3]).startswith("cavitation: ")
    assert flagged.span_at(500) is None
    tip = labelled.spans[labelled.span_at(620)][3]
    assert _shown_as(tip) == "labelled 'leak' in the file (ground truth)"
    # The pixels, in the labels' band at the top (under the channel name's box): tinted over
    # rows 100-199, 300-349 and 600-649 and nowhere else (a pixel either side of each edge is
    # left out for rounding). x runs from -0.5 to 999.5.
    view.set_x_range(-0.5, rows - 0.5)
    tinted = _shaded_pixels(qtbot, view, a, at=0.11)
    width = tinted.size
    expected = np.zeros(width, dtype=bool)
    edges = np.zeros(width, dtype=bool)
    for lo, hi in ((100, 200), (300, 350), (600, 650)):
        expected[round(lo * width / rows) : round(hi * width / rows)] = True
        for r in (lo, hi):
            edges[round(r * width / rows) - 2 : round(r * width / rows) + 2] = True
    np.testing.assert_array_equal(tinted[~edges], expected[~edges])
    # Only spans in view are painted (the view range is read when the frame is painted).
    view.set_x_range(250, 450)
    view.graphics.grab()
    assert flagged.visible_spans() == [0] and labelled.visible_spans() == []
    view.set_x_range(-0.5, rows - 0.5)
    view.graphics.grab()
    assert flagged.visible_spans() == [0] and labelled.visible_spans() == [0, 1]
    # Toggling the labels hides their shading; the events stay.
    view.set_show_labels(False)
    tinted = _shaded_pixels(qtbot, view, a, at=0.11)
    assert tinted[round(320 * width / rows)] and not tinted[round(150 * width / rows)]
    view.set_show_labels(True)
    assert _shaded_pixels(qtbot, view, a, at=0.11)[round(150 * width / rows)]
    view.set_scan(None)
    assert [s.spans for s in view.event_shading.values()] == [[]] * 3


def test_plots_fill_the_view_when_a_recording_arrives_after_it_is_shown(qtbot: QtBot) -> None:
    """The app's order: the (empty) view is on screen, then a recording is opened, scanned,
    channels hidden and shown, the scan removed. At every step the channel plots keep the view's
    height; they once stayed squeezed into the legend row's few pixels until a resize."""
    configure_pyqtgraph()
    view = SignalView()
    qtbot.addWidget(view)
    view.resize(1000, 800)
    view.show()
    qtbot.waitExposed(view)
    rec = load_recording(demo_recording_path())
    third = rec.n_rows // 3
    result = _scan_with_events(rec, ("normal", "leak"), [(third, third + 400, "leak")])

    def channels_fill_the_view(share: float) -> None:
        def filled() -> None:
            heights = [view.plots[name].height() for name in view.visible_channels()]
            assert min(heights) > 0.7 * max(heights)  # (the lowest also holds the 2-line time axis)
            assert sum(heights) > share * view.graphics.height(), heights

        qtbot.waitUntil(filled)  # once queued layout requests ran, as the event loop does

    view.set_recording(rec)
    channels_fill_the_view(0.7)
    view.set_scan(result, 32)
    channels_fill_the_view(0.5)  # the scan tracks take their fixed share
    view.set_channel_visible(rec.channels[0], False)
    channels_fill_the_view(0.5)
    view.set_scan(None)
    channels_fill_the_view(0.7)
    # Scanned again, every channel hidden (only the fixed-height tracks left), two shown.
    view.set_scan(result, 32)
    for name in rec.channels:
        view.set_channel_visible(name, False)
    view.set_channel_visible(rec.channels[0], True)
    view.set_channel_visible(rec.channels[1], True)
    channels_fill_the_view(0.5)


def test_channel_names_sit_on_a_box_and_stay_put(qtbot: QtBot, pump_csv) -> None:
    from PySide6.QtGui import QColor, QImage, QPainter

    rec = load_recording(pump_csv)
    view = _view(qtbot, rec)
    for name, plot in view.plots.items():
        (label,) = [i for i in plot.vb.childItems() if isinstance(i, ChannelName)]
        assert label.text == name
        # White at ~75 %: readable over the trace, which still shows through.
        colour = label.fill.color()
        assert (colour.red(), colour.green(), colour.blue()) == (255, 255, 255)
        assert 160 <= colour.alpha() <= 220
        image = QImage(label.boundingRect().size().toSize(), QImage.Format.Format_RGB32)
        image.fill(QColor("black"))
        painter = QPainter(image)
        label.paint(painter, None, None)
        painter.end()
        assert QColor(image.pixel(1, 1)).red() == pytest.approx(colour.alpha(), abs=2)
        # In the plot's corner, out of its data (no part in auto-range), not under the mouse.
        assert label not in plot.vb.addedItems
        assert label.acceptedMouseButtons() == pg.QtCore.Qt.MouseButton.NoButton
        where = label.scenePos()
        lo, hi = plot.vb.viewRange()[0]
        plot.setXRange(lo + (hi - lo) / 4, hi - (hi - lo) / 4, padding=0)
        plot.setYRange(-10, 10, padding=0)
        pg.QtWidgets.QApplication.processEvents()  # whatever the range change queued
        assert label.scenePos() == where


def test_view_follows_the_session(qtbot: QtBot, pump_csv) -> None:
    """With a session the view shows its current recording and that recording's scan, and
    drops the scan when the model changes; nobody calls set_recording or set_scan."""
    configure_pyqtgraph()
    session = Session()
    view = SignalView(session)
    qtbot.addWidget(view)
    assert view.recording is None and view.plots == {}
    first = session.add(load_recording(pump_csv))
    assert view.recording is first.recording and list(view.plots) == list(first.recording.channels)
    third = first.recording.n_rows // 3
    result = _scan_with_events(first.recording, ("normal", "leak"), [(third, third + 9, "leak")])
    session.set_scan(first.id, result)
    assert view.scan is result and view.fault_track in _layout_items(view)
    np.testing.assert_allclose(view.attention_strip.relative, result.attention * result.window)
    assert [len(s.spans) for s in view.event_shading.values()] == [1] * 4

    data = np.random.default_rng(0).standard_normal((200, 2)).astype(np.float32)
    second = session.add(Recording.from_arrays(data, ["a", "b"]))
    assert view.recording is second.recording and list(view.plots) == ["a", "b"]
    assert view.scan is None and view.fault_track not in _layout_items(view)
    session.set_scan(first.id, result)  # another recording's scan: nothing to redraw here
    assert view.scan is None
    session.set_current(first.id)
    assert view.recording is first.recording and view.scan is result
    session.set_model(None)  # a new model drops every scan
    assert view.scan is None and not any(s.spans for s in view.event_shading.values())
    session.remove(first.id)
    assert view.recording is second.recording
    session.remove(second.id)
    assert view.recording is None and view.plots == {}


def _shown_as(text: str) -> str:
    """What Qt shows for ``text`` in a tooltip or label: rendered as HTML when it looks so."""
    from PySide6.QtGui import QTextDocument

    if not pg.QtGui.Qt.mightBeRichText(text):
        return text
    doc = QTextDocument()
    doc.setHtml(text)
    return doc.toPlainText()


def test_channel_names_are_plain_text_everywhere_in_the_view(qtbot: QtBot) -> None:
    """Issue 14, point 9: a column named ``<b>x</b>`` reads as that, ``<script>`` shows too."""
    names = ["<b>x</b>", "<script>alert(1)</script>", "a & b"]
    data = np.random.default_rng(0).standard_normal((300, 3)).astype(np.float32)
    rec = Recording.from_arrays(data, names)
    view = _view(qtbot, rec)
    for name, plot in view.plots.items():
        (label,) = [i for i in plot.vb.childItems() if isinstance(i, ChannelName)]
        assert label.item.toPlainText() == name
    # The event tooltips name the channels that drove an event.
    event = FaultEvent(10, 40, "10", "40", 30.0, "leak", 0.9, 0.8, tuple(names))
    result = _scan_with_events(rec, ("normal", "leak"), [])
    result.events.append(event)
    view.set_scan(result, 32)
    shading = view.event_shading[view.plots[names[0]]]
    tip = shading.spans[0][3]
    assert all(name in _shown_as(tip) for name in names)


def _y(view: SignalView, name: str) -> tuple[float, float]:
    lo, hi = view.plots[name].vb.viewRange()[1]
    return float(lo), float(hi)


def test_y_range_follows_the_data_in_view(qtbot: QtBot) -> None:
    """Issue 14, point 2: zooming to an event fits y to it at once, a pan once it settles;
    Ctrl+0 gives back the whole recording's ranges; zoomed out the envelope in view is read
    from the pyramid."""
    rows = 200_000
    rng = np.random.default_rng(3)
    a = rng.standard_normal(rows).astype(np.float32)  # ~N(0, 1)
    a[:20_000] += 100.0  # a far level at the start: the whole-recording range is ~0..100
    a[150_000] = 40.0  # one spike, inside the stretch viewed below
    b = np.linspace(0.0, 1.0, rows, dtype=np.float32)
    rec = Recording.from_arrays(np.c_[a, b], ["a", "b"])
    view = _view(qtbot, rec)
    whole_a, whole_b = robust_range(a), robust_range(b)
    assert _y(view, "a") == pytest.approx(whole_a) and _y(view, "b") == pytest.approx(whole_b)

    view.zoom_to_rows(100_000, 100_199, context=0.5)  # an event of 200 rows
    lo, hi = _y(view, "a")
    i0, i1 = np.searchsorted(view.x, view.x_range())
    seen = a[i0:i1]
    assert lo <= seen.min() and hi >= seen.max()  # every value in view is on the plot
    assert hi - lo < 1.3 * (seen.max() - seen.min())  # and fills it (a margin, no more)
    blo, bhi = _y(view, "b")
    assert blo <= b[i0] and bhi >= b[i1 - 1] and bhi - blo < 0.01  # a slope, not a flat line

    # Zoomed out far enough that the view reads the pyramid: still every value on the plot.
    view.set_x_range(60_000, 190_000)
    i0, i1 = np.searchsorted(view.x, view.x_range())
    lo, hi = _y(view, "a")
    assert lo <= a[i0:i1].min() and hi >= 40.0 and hi < 50.0  # the spike, not the far level
    # Fit Y: the bulk of the rows in view; the single spike runs off.
    view.fit_y_to_view()
    lo, hi = _y(view, "a")
    assert hi < 10.0 and lo < -2.0

    # A pan (same width) to where the level is ~100: y follows once the pan settles.
    view.set_x_range(100_000, 100_300)
    assert _y(view, "a")[1] < 10.0
    view.set_x_range(10_000, 10_300)
    qtbot.waitUntil(lambda: _y(view, "a")[0] > 90.0 and _y(view, "a")[1] < 110.0)
    i0, i1 = np.searchsorted(view.x, view.x_range())
    assert _y(view, "a")[0] <= a[i0:i1].min() and _y(view, "a")[1] >= a[i0:i1].max()

    view.show_all()  # Ctrl+0: the whole recording, with its whole-recording ranges
    assert _y(view, "a") == pytest.approx(whole_a) and _y(view, "b") == pytest.approx(whole_b)


def _tick_labels(view: SignalView, level: int = -1) -> list[str]:
    """The bottom axis's labels at the current range on one tick level (-1: the finest)."""
    axis = view.plots[view.visible_channels()[-1]].getAxis("bottom")
    view.grab()  # a paint: DateAxisItem measures its font there
    x0, x1 = view.x_range()
    levels = axis.tickValues(x0, x1, axis.width())
    spacing, values = levels[level]
    return axis.tickStrings([v for v in values if x0 <= v <= x1], 1.0, spacing)


def test_time_axis_keeps_ones_place_below_a_second(qtbot: QtBot) -> None:
    """Issue 14, point 3: clock time with the date at the first tick and where it changes;
    seconds past a minute as M:SS.ff, never bare "50.000, 51.000"."""
    import datetime as dt
    import re

    start = dt.datetime(2026, 12, 5, 23, 59, 58, tzinfo=dt.UTC).timestamp()
    rows = 200
    data = np.random.default_rng(0).standard_normal((rows, 1)).astype(np.float32)
    stamps = start + 0.05 * np.arange(rows)  # 10 s across midnight
    rec = Recording.from_arrays(data, ["a"], time=stamps, time_kind="datetime")
    view = _view(qtbot, rec)
    view.set_x_range(start + 1.0, start + 3.0)  # 23:59:59 .. 00:00:01, ticks < 1 s apart
    labels = _tick_labels(view)
    assert len(labels) >= 3
    assert all(re.match(r"^\d\d:\d\d:\d\d\.\d{1,3}(\n\d{4}-\d\d-\d\d)?$", t) for t in labels)
    assert labels[0].endswith("\n2026-12-05")
    changed = [t for t in labels[1:] if "\n" in t]
    assert len(changed) == 1 and changed[0].startswith("00:00:00") and "2026-12-06" in changed[0]

    seconds = 700.0 + 0.05 * np.arange(2000)  # 700 .. 800 s
    rec = Recording.from_arrays(
        np.zeros((2000, 1), np.float32), ["a"], time=seconds, time_kind="seconds"
    )
    view.set_recording(rec)
    view.set_x_range(770.0, 771.0)
    labels = _tick_labels(view, level=0)
    assert len(labels) >= 3 and all(re.match(r"^12:5[01]\.\d+$", t) for t in labels), labels
    assert "12:50.2" in labels and "12:51.0" in labels, labels


def test_dismissed_events_and_labels_shade_apart(qtbot: QtBot, tmp_path, monkeypatch) -> None:
    """Issue 14, point 11: a dismissed event is hatched and lighter (read from the session's
    review, following its changes); the file's labels are a band at the top of each plot, so
    they never blend with a flagged event's fill."""
    from PySide6.QtCore import Qt

    monkeypatch.setenv("FAULTLENS_REVIEW_DIR", str(tmp_path))
    configure_pyqtgraph()
    session = Session()
    view = SignalView(session)
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    rows = 1000
    labels = np.array(["normal"] * rows, dtype=object)
    labels[100:200] = "leak"
    data = np.random.default_rng(0).standard_normal((rows, 2)).astype(np.float32)
    entry = session.add(Recording.from_arrays(data, ["a", "b"], labels=labels))
    result = _scan_with_events(
        entry.recording, ("normal", "leak"), [(100, 199, "leak"), (500, 549, "leak")]
    )
    session.set_scan(entry.id, result)
    review, _warnings = session.open_review(entry.id)
    plot = view.plots["a"]
    events = view.event_shading[plot]
    assert [b.style() for b in events._brushes] == [Qt.BrushStyle.SolidPattern] * 2
    review.dismiss(result.events[1])
    styles = [b.style() for b in events._brushes]
    assert styles == [Qt.BrushStyle.SolidPattern, Qt.BrushStyle.BDiagPattern]
    assert _shown_as(events.spans[1][3]).startswith("dismissed in review")
    assert "dismissed in review" in [label.text for _s, label in view.legend.items]
    review.set_status(result.events[1], "unreviewed")
    assert events._brushes[1].style() == Qt.BrushStyle.SolidPattern

    # Labels: a band at the top of the plot, a seventh of its height; events: full height.
    pg.QtWidgets.QApplication.processEvents()
    lo, hi = plot.vb.viewRange()[1]
    (band,) = view.label_shading[plot]._rects
    assert band.bottom() == pytest.approx(hi) or band.top() == pytest.approx(hi)
    assert band.height() == pytest.approx(0.14 * (hi - lo))
    assert events._rects[0].height() == pytest.approx(hi - lo)


def test_lines_are_not_drawn_across_time_gaps(qtbot: QtBot) -> None:
    """Issue 14, point 11: missing rows (a step in time of many sampling intervals) are a gap
    in the line, as NaN cells are; zoomed out, the pyramid level keeps the gap too."""
    rows = 200_000
    t = np.arange(rows, dtype=np.float64) * 0.1
    t[100_000:] += 5000.0  # 5000 s of missing rows half-way
    data = np.random.default_rng(0).standard_normal((rows, 1)).astype(np.float32)
    rec = Recording.from_arrays(data, ["a"], time=t, time_kind="seconds")
    view = _view(qtbot, rec)

    def gap_is_blank() -> bool:
        x, y = view.curves["a"].getOriginalDataset()
        inside = (x > t[99_999]) & (x < t[100_000])
        return bool(inside.any()) and bool(np.isnan(y[inside]).all())

    assert view.lod_rows_per_block > 1 and gap_is_blank()  # whole recording: a level
    view.set_x_range(t[99_990], t[100_010])
    assert view.lod_rows_per_block == 1 and gap_is_blank()  # the raw rows
    _x, y = view.curves["a"].getOriginalDataset()
    assert np.isfinite(y).sum() == rows  # every row still drawn, only a break added
    assert view.curves["a"].opts["connect"] == "finite"


def test_value_labels_do_not_overlap_on_narrow_plots(qtbot: QtBot) -> None:
    """Issue 14, point 11: 40 channels in 600 px (plots ~13 px high) get no more value
    labels than fit each plot's height."""
    from PySide6.QtGui import QFontMetrics

    channels = [f"c{i}" for i in range(40)]
    data = np.random.default_rng(0).standard_normal((500, 40)).astype(np.float32) * 100
    view = _view(qtbot, Recording.from_arrays(data, channels), height=600)
    view.graphics.grab()
    for name in channels:
        axis = view.plots[name].getAxis("left")
        lo, hi = view.plots[name].vb.viewRange()[1]
        size = axis.height()
        labelled = axis.tickValues(lo, hi, size)[0][1]  # the level pyqtgraph always labels
        line = QFontMetrics(axis.style["tickFont"] or axis.font()).height()
        assert len([v for v in labelled if lo <= v <= hi]) * line <= max(size, line), name


def test_tracks_break_at_time_gaps_like_the_signals(qtbot: QtBot) -> None:
    """Issue 14, point 11: the fault probability and hotspot lines leave missing rows blank,
    by the signals' gap rule (one definition in plot_items); the attention strip's bins over
    the gap are empty (NaN: transparent)."""
    rows = 400
    t = np.arange(rows, dtype=np.float64) * 0.5
    t[200:] += 300.0  # 300 s of missing rows half-way
    data = np.random.default_rng(0).standard_normal((rows, 1)).astype(np.float32)
    rec = Recording.from_arrays(data, ["a"], time=t, time_kind="seconds")
    result = _scan_with_events(rec, ("normal", "leak"), [])
    ramp = np.linspace(0.0, 1.0, rows, dtype=np.float32)
    result = ScanResult(
        class_names=result.class_names,
        probabilities=result.probabilities,
        predicted=result.predicted,
        fault_probability=ramp,
        attention=ramp + 0.5,
        attention_heads=result.attention_heads,
        hotspots=np.arange(rows, dtype=np.float32) % 7,
        window=16,
    )
    view = _view(qtbot, rec)
    view.set_scan(result, 16)
    assert view.fault_track is not None and view.hotspot_track is not None
    for curve, values in (
        (view.fault_track.curve, ramp),
        (view.hotspot_track.curve, hotspot_density(result.hotspots, 16)),
        (view.curves["a"], data[:, 0]),
    ):
        x, y = curve.getOriginalDataset()
        inside = (x > t[199]) & (x < t[200])
        assert inside.sum() == 1 and np.isnan(y[inside]).all()  # one break, in the gap
        np.testing.assert_array_equal(y[~inside], values)  # every row still drawn
        assert curve.opts["connect"] == "finite"
    strip = view.attention_strip
    assert strip is not None
    image = strip.image.image[0]
    left = strip.image.mapRectToParent(strip.image.boundingRect()).left()
    width = strip.image.mapRectToParent(strip.image.boundingRect()).width() / image.size
    centres = left + (np.arange(image.size) + 0.5) * width
    in_gap = (centres > t[199] + 1) & (centres < t[200] - 1)
    assert in_gap.any() and np.isnan(image[in_gap]).all()
    assert np.isfinite(image[~in_gap & ((centres < t[199]) | (centres > t[200]))]).all()


def _evidence_recording(rows: int = 2000) -> Recording:
    """Four channels; in rows 1000-1099 "flow" dips and "pressure" rises, both tiny next to
    a start-up transient (rows 0-49) that sets the whole recording's y ranges."""
    rng = np.random.default_rng(1)
    data = rng.standard_normal((rows, 4)).astype(np.float32) * 0.01
    data[:50] += 100.0  # the transient: the whole-recording ranges reach 100
    data[1000:1100, 2] -= 1.0  # flow
    data[1000:1100, 1] += 0.5  # pressure
    return Recording.from_arrays(data, ["temp", "pressure", "flow", "speed"])


def test_selecting_an_event_puts_its_evidence_where_the_eye_is(qtbot: QtBot, tmp_path) -> None:
    """Issue 14: selecting an event zooms to it, fits each channel's y to what is in view,
    stands its top channels first (by contribution) with their shares on the plot and in
    the list; the rest follow in file order, hidden channels stay hidden, and clearing the
    selection (or View > Channels in File Order, or the list's "File order") restores it."""
    from faultlens.gui.main_window import MainWindow

    rec = _evidence_recording()
    result = _scan_with_events(rec, ("normal", "leak"), [(200, 249, "leak"), (1000, 1099, "leak")])
    second = dataclasses.replace(
        result.events[1], top_channels=("pressure", "flow"), channel_scores=(0.35, 0.41)
    )
    result.events[1] = second
    win = MainWindow()
    qtbot.addWidget(win)
    entry = win.add_recording(rec)
    win.scan_controller.apply(entry.id, result)
    win.show()
    qtbot.waitExposed(win)
    view = win.signal_view
    view.set_channel_visible("speed", False)
    view.channel_list.set_filter("e")  # the list shows temp, pressure, speed
    assert view.visible_channels() == ["temp", "pressure", "flow"]
    assert view.plots["flow"].vb.viewRange()[1][1] > 90  # the whole recording's range

    win.event_table.select_event(1)
    # Top channels first, by share (flow 41 % before pressure 35 %), the rest in file order.
    assert view.channel_order() == ["flow", "pressure", "temp", "speed"]
    assert view.visible_channels() == ["flow", "pressure", "temp"]  # speed stays hidden
    placed = sorted(
        (cells[0][0], name)
        for name, p in view.plots.items()
        if (cells := view.graphics.ci.items.get(p))
    )
    assert [name for _row, name in placed] == ["flow", "pressure", "temp"]
    assert view.plots["flow"].channel_name.mark == "41 %"
    shown = view.plots["flow"].channel_name.item.toPlainText().replace("\xa0", " ")
    assert shown == "flow  41 %"
    assert view.plots["temp"].channel_name.mark == ""
    assert view.channel_list.item("flow").text(0).endswith("41 %")
    # The user's filter stays as it was: a marked channel it leaves out stays out of the list.
    assert view.channel_list.filter_edit.text() == "e"
    assert view.channel_list.item("flow").isHidden()
    assert not view.channel_list.item("pressure").isHidden()
    assert view.channel_list.order_bar.isVisibleTo(view.channel_list)
    # Zoomed with context, and every channel's y fitted to the rows in view: the dip fills
    # the flow plot instead of reading as a flat line under the transient's range.
    x0, x1 = view.x_range()
    assert x0 < 1000 and x1 > 1099 and x1 - x0 < 400
    lo, hi = view.plots["flow"].vb.viewRange()[1]
    assert -1.3 < lo < -1.0 and 0 < hi < 0.3
    lo, hi = view.plots["temp"].vb.viewRange()[1]
    assert hi - lo < 0.2

    # Clearing the selection puts the file's order back and takes the marks away.
    win.event_selection.clearSelection()
    assert view.channel_order() == list(rec.channels)
    assert view.plots["flow"].channel_name.mark == ""
    assert view.channel_list.item("flow").text(0) == "flow"
    assert not view.channel_list.order_bar.isVisibleTo(view.channel_list)
    # Next event (N) does it again; View > Channels in File Order and the list's button undo.
    win.next_event()
    win.next_event()
    assert view.evidence_event == second and view.channel_order()[0] == "flow"
    win.actions["file_order"].trigger()
    assert view.channel_order() == list(rec.channels) and view.evidence_event is None
    win.event_table.select_event(1)
    qtbot.mouseClick(view.channel_list.file_order_button, pg.QtCore.Qt.MouseButton.LeftButton)
    assert view.channel_order() == list(rec.channels)
    win.close()


def _wheel(view: SignalView, point: pg.QtCore.QPoint, steps: int) -> None:
    """``steps`` notches of the mouse wheel at ``point`` of the plots' viewport."""
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    viewport = view.graphics.viewport()
    pos = QPointF(point)
    event = QWheelEvent(
        pos,
        QPointF(viewport.mapToGlobal(point)),
        pg.QtCore.QPoint(0, 0),
        pg.QtCore.QPoint(0, 120 * steps),
        pg.QtCore.Qt.MouseButton.NoButton,
        pg.QtCore.Qt.KeyboardModifier.NoModifier,
        pg.QtCore.Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(viewport, event)


def _double_click(widget: pg.QtWidgets.QWidget, point: pg.QtCore.QPoint) -> None:
    """A double-click as a mouse makes it: press, release, double-click, release (QTest's
    mouseDClick adds a second press, which pyqtgraph's scene reads as a single click)."""
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    left = pg.QtCore.Qt.MouseButton.LeftButton
    QTest.mousePress(widget, left, pos=point)
    QTest.mouseRelease(widget, left, pos=point)
    pos, screen = QPointF(point), QPointF(widget.mapToGlobal(point))
    none = pg.QtCore.Qt.KeyboardModifier.NoModifier
    double = QMouseEvent(QEvent.Type.MouseButtonDblClick, pos, screen, left, left, none)
    QApplication.sendEvent(widget, double)
    QTest.mouseRelease(widget, left, pos=point)


def test_wheel_over_a_value_axis_zooms_that_channel_alone(qtbot: QtBot) -> None:
    """Issue 14, point 4: the wheel over a channel's y axis zooms that channel only (time
    and the other channels stay); the view's y-follow leaves it alone until a double-click
    on the axis or its "Fit y to view" hands it back."""

    rows = 4000
    t = np.arange(rows, dtype=np.float64)
    data = np.stack([np.sin(t / 50), 10 * np.cos(t / 70)], axis=1).astype(np.float32)
    view = _view(qtbot, Recording.from_arrays(data, ["a", "b"]))
    view.set_x_range(1000, 1400)
    a_axis = view.plots["a"].getAxis("left")
    centre = a_axis.mapToScene(a_axis.boundingRect().center())
    point = view.graphics.mapFromScene(centre)
    a_before = view.plots["a"].vb.viewRange()[1]
    b_before = view.plots["b"].vb.viewRange()[1]
    _wheel(view, point, 3)  # up: zoom in
    a_after = view.plots["a"].vb.viewRange()[1]
    assert a_after[1] - a_after[0] < 0.8 * (a_before[1] - a_before[0])
    assert view.plots["b"].vb.viewRange()[1] == b_before
    assert view.x_range() == pytest.approx((1000, 1400))
    assert view.user_zoomed_channels() == {"a"}
    # The wheel over the plot area still zooms time, for every plot, and never y.
    inside = view.graphics.mapFromScene(view.plots["b"].vb.sceneBoundingRect().center())
    _wheel(view, inside, -2)
    x0, x1 = view.x_range()
    assert x1 - x0 > 420
    # Time moves on: b follows its data, a keeps the range the user gave it.
    view.set_x_range(2500, 2600)
    assert view.plots["a"].vb.viewRange()[1] == pytest.approx(a_after)
    b_now = view.plots["b"].vb.viewRange()[1]
    assert b_now != pytest.approx(b_before)
    # A double-click on a's axis gives it back to the automatic fit of what is in view.
    _double_click(view.graphics.viewport(), point)
    qtbot.waitUntil(lambda: not view.user_zoomed_channels())
    lo, hi = view.plots["a"].vb.viewRange()[1]
    in_view = data[2499:2602, 0]
    assert lo <= in_view.min() and hi >= in_view.max()
    assert (in_view.max() - in_view.min()) > 0.7 * (hi - lo)
    # Again by the wheel, then back by the axis's context menu.
    _wheel(view, point, -3)
    assert view.user_zoomed_channels() == {"a"}
    menu = a_axis.context_menu()
    (fit,) = [act for act in menu.actions() if act.text() == "Fit y to view"]
    fit.trigger()
    menu.close()
    assert not view.user_zoomed_channels()
    assert view.plots["a"].vb.viewRange()[1] == pytest.approx((lo, hi))
    # A drag down the axis moves the trace down with the pointer (the range goes up).
    from PySide6.QtTest import QTest

    viewport = view.graphics.viewport()
    left = pg.QtCore.Qt.MouseButton.LeftButton
    per_pixel = (hi - lo) / view.plots["a"].vb.height()
    QTest.mousePress(viewport, left, pos=point)
    # Steps past pyqtgraph's drag distance (its scene drops moves closer than 10 ms apart;
    # the release delivers the rest of the way).
    for i in (1, 2, 3):
        QTest.mouseMove(viewport, point + pg.QtCore.QPoint(0, 10 * i))
    QTest.mouseRelease(viewport, left, pos=point + pg.QtCore.QPoint(0, 30))
    qtbot.waitUntil(lambda: view.user_zoomed_channels() == {"a"})
    moved = view.plots["a"].vb.viewRange()[1]
    assert moved[0] - lo == pytest.approx(moved[1] - hi)
    assert 20 * per_pixel < moved[0] - lo < 31 * per_pixel
    assert view.x_range() == pytest.approx((2500, 2600))  # time stays where it was
