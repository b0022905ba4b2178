"""The signal view's channel list on a recording with many channels: filter, All / None /
Only these, prefix groups with a tri-state check, and plots that scroll instead of squeezing."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from faultlens.core.recording import Recording
from faultlens.gui.app import configure_pyqtgraph
from faultlens.gui.channel_list import channel_groups
from faultlens.gui.signal_view import MIN_PLOT_HEIGHT, SignalView

# 60 channels: 20 pumps x 2 quantities (two "pump_" groups would be one: prefixes are before
# the first separator), 10 valves "valve.N", and 10 loners.
NAMES = (
    [f"pump{i}_pressure" for i in range(10)]
    + [f"pump{i}_flow" for i in range(10)]
    + [f"motor_{k}" for k in ("current", "voltage", "temp", "speed")]
    + [f"valve.{i}" for i in range(10)]
    + [f"sensor{i}" for i in range(26)]
)


def _view(qtbot: QtBot) -> SignalView:
    configure_pyqtgraph()
    data = np.random.default_rng(0).standard_normal((500, len(NAMES))).astype(np.float32)
    view = SignalView()
    qtbot.addWidget(view)
    view.resize(1000, 700)
    view.set_recording(Recording.from_arrays(data, NAMES))
    view.show()
    qtbot.waitExposed(view)
    return view


def _plotted(view: SignalView) -> list[str]:
    """The channels whose plot is in the layout."""
    in_layout = set(map(id, view.graphics.ci.items))
    return [name for name, plot in view.plots.items() if id(plot) in in_layout]


def test_groups_by_shared_prefix() -> None:
    groups = dict(channel_groups(["a_x", "a_y", "b_x", "c.1", "c.2", "d"]))
    assert groups["a"] == ["a_x", "a_y"] and groups["c"] == ["c.1", "c.2"]
    assert [g for g, _ in channel_groups(["a_x", "a_y", "b_x", "c.1", "c.2", "d"])] == [
        "a",
        None,
        "c",
        None,
    ]


def test_filter_and_only_these_show_exactly_the_filtered_channels(qtbot: QtBot) -> None:
    view = _view(qtbot)
    assert len(view.visible_channels()) == len(NAMES)
    view.channel_list.set_filter("FLOW")  # case-insensitive substring
    expected = [n for n in NAMES if "flow" in n]
    assert view.channel_list.filtered_channels() == expected
    shown = [n for n in NAMES if not view.channel_list.item(n).isHidden()]
    assert shown == expected
    qtbot.mouseClick(view.channel_list.only_button, Qt.MouseButton.LeftButton)
    assert view.visible_channels() == expected
    assert _plotted(view) == expected
    # The filter narrows the list, never the view: ticks still follow the view.
    view.channel_list.set_filter("")
    assert view.channel_list.item("sensor3").checkState(0) == Qt.CheckState.Unchecked
    assert view.channel_list.item("pump3_flow").checkState(0) == Qt.CheckState.Checked


def test_none_hides_all_and_all_shows_all(qtbot: QtBot) -> None:
    view = _view(qtbot)
    hidden: list[str] = []
    view.channel_visibility_changed.connect(lambda name, on: None if on else hidden.append(name))
    qtbot.mouseClick(view.channel_list.none_button, Qt.MouseButton.LeftButton)
    assert view.visible_channels() == []
    assert _plotted(view) == []
    assert sorted(hidden) == sorted(NAMES)
    assert all(view.channel_list.item(n).checkState(0) == Qt.CheckState.Unchecked for n in NAMES)
    qtbot.mouseClick(view.channel_list.all_button, Qt.MouseButton.LeftButton)
    assert view.visible_channels() == NAMES


def test_group_check_toggles_its_channels_and_shows_partial(qtbot: QtBot) -> None:
    view = _view(qtbot)
    motor = view.channel_list.item("motor_current").parent()
    assert motor is not None and motor.text(0) == "motor (4)"
    members = [n for n in NAMES if n.startswith("motor_")]
    motor.setCheckState(0, Qt.CheckState.Unchecked)  # as a click on the group's box does
    assert not set(members) & set(view.visible_channels())
    assert len(view.visible_channels()) == len(NAMES) - 4
    # One member ticked again: the group shows partly ticked.
    view.channel_list.item("motor_temp").setCheckState(0, Qt.CheckState.Checked)
    assert "motor_temp" in view.visible_channels()
    assert motor.checkState(0) == Qt.CheckState.PartiallyChecked
    # Hidden from the view's side (the API), the group follows too.
    view.set_channel_visible("motor_temp", False)
    assert motor.checkState(0) == Qt.CheckState.Unchecked
    motor.setCheckState(0, Qt.CheckState.Checked)
    assert set(members) <= set(view.visible_channels())


def test_many_channels_keep_a_useful_height_and_scroll(qtbot: QtBot) -> None:
    view = _view(qtbot)

    def tall_enough() -> None:
        heights = [view.plots[n].height() for n in view.visible_channels()]
        assert min(heights) >= MIN_PLOT_HEIGHT * 0.9, min(heights)

    qtbot.waitUntil(tall_enough)
    assert view.plot_scroll.verticalScrollBar().maximum() > 0
    # Few channels: no scrolling, the plots fill the view.
    view.channel_list.set_filter("motor")
    qtbot.mouseClick(view.channel_list.only_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.plot_scroll.verticalScrollBar().maximum() == 0)
    qtbot.waitUntil(lambda: view.plots["motor_temp"].height() > 2 * MIN_PLOT_HEIGHT)
