"""Fault reports (HTML, PDF) and event files, built from a real scan of a tiny model."""

from __future__ import annotations

import base64
import errno
import html
import io
import math
import re
import zlib
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch

from faultlens.core import atomic
from faultlens.core import report as report_mod
from faultlens.core import review_file as review_mod
from faultlens.core.checkpoint import TrainedModel
from faultlens.core.errors import ReportError
from faultlens.core.events import FaultEvent
from faultlens.core.model import AttentionLSTM, ModelConfig
from faultlens.core.options import ScanOptions
from faultlens.core.progress import Cancelled, Progress, run_to_end
from faultlens.core.recording import Recording
from faultlens.core.report import content as content_mod
from faultlens.core.report import export_report, write_report
from faultlens.core.report.figures import EventFigure, event_view, peak_decimate, report_style
from faultlens.core.report.mpl_compat import png_bytes
from faultlens.core.report.pdf import (
    INSPECTED_EVENTS_PER_PDF_PAGE,
    PDF_FIGURE_DPI,
    render_pdf,
)
from faultlens.core.report.pdf_layout import A4, TEXT_LINE, TEXT_PAGE_BOTTOM
from faultlens.core.review import Review
from faultlens.core.scan import ScanResult, scan

HOSTILE_CHANNEL = "<script>alert(1)</script>"
MATH_CHANNEL = "Flow $x$"
CHANNELS = ("Pressure", HOSTILE_CHANNEL, MATH_CHANNEL)
HOSTILE_NOTE = 'look <img src=x onerror="alert(1)"> here, $x^2$ & "quotes"\nsecond line'
N = 900
CLASSES = ("normal", "leak", "<b>valve</b>")


@pytest.fixture(autouse=True)
def _review_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(review_mod.REVIEW_DIR_ENV, str(tmp_path / "user-data"))


@pytest.fixture(scope="module")
def model() -> TrainedModel:
    torch.manual_seed(0)
    config = ModelConfig(n_channels=3, n_classes=3, hidden=8, heads=2, classifier_hidden=8)
    return TrainedModel(
        module=AttentionLSTM(config).eval(),
        config=config,
        channels=CHANNELS,
        class_names=CLASSES,
        norm_mean=np.zeros(3, dtype=np.float32),
        norm_std=np.ones(3, dtype=np.float32),
        window=16,
        stride=4,
        training_data=[{"file": "<i>train</i>.csv", "sha256": "ab" * 32, "rows": 500}],
        metrics={
            "accuracy": 0.9,
            "macro_f1": 0.8,
            "per_class": {"leak": {"precision": 0.7, "recall": 0.6, "f1": 0.65, "support": 40}},
        },
        created="2026-11-22T20:00:00+00:00",
    )


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    rng = np.random.default_rng(3)
    data = np.cumsum(rng.normal(size=(N, 3)), axis=0)
    data[100:110, 0] = np.nan  # a gap stays a gap on the plot
    time = 1.7e9 + np.arange(N, dtype=np.float64)
    folder = tmp_path_factory.mktemp("rec")
    rec = Recording.from_arrays(
        data, CHANNELS, time=time, time_kind="datetime", path=folder / "bench <1>.csv"
    )
    rec.utc_offset_s = 3600
    return rec


@pytest.fixture(scope="module")
def result(model: TrainedModel, recording: Recording) -> ScanResult:
    return run_to_end(scan(model, recording, ScanOptions(threshold=0.4, device="cpu", stride=4)))


def make_events(recording: Recording, count: int) -> list[FaultEvent]:
    events = []
    step = (recording.n_rows - 40) // count
    for i in range(count):
        start = 20 + i * step
        end = start + 5 + (i % 4) * 3
        channels = CHANNELS[: 1 + i % 3]
        events.append(
            FaultEvent(
                start_row=start,
                end_row=end,
                start_time=recording.format_time(start),
                end_time=recording.format_time(end),
                duration_s=float(end - start),
                class_name=("leak", "<b>valve</b>")[i % 2],
                peak_probability=0.8 + i / 1000,
                mean_probability=0.6,
                top_channels=channels,
                channel_scores=tuple(0.5 / (k + 1) for k in range(len(channels))),
            )
        )
    return events


def _own_review(
    tmp_path: Path,
    recording: Recording,
    events: list[FaultEvent],
    class_names: tuple[str, ...] = CLASSES,
) -> Review:
    """A review in a sidecar of its own: the one beside the shared test recording holds the
    other tests' reviews."""
    review = Review.open(recording, sidecar_path=tmp_path / "review.json", user="tester")
    review.set_events(events, class_names=class_names)
    return review


def make_review(recording: Recording, events: list[FaultEvent]) -> Review:
    review = Review.open(recording)
    review.set_events(events, class_names=CLASSES)
    review.confirm(0)
    review.set_note(0, HOSTILE_NOTE)
    review.dismiss(1)
    review.relabel(2, "FC-$17$ <seal>")
    review.add_region(300, 320, "<u>imbalance</u>", "drawn $by$ hand")
    return review


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_report_is_self_contained_and_escapes_hostile_strings(
    tmp_path: Path, recording: Recording, result: ScanResult, model: TrainedModel
) -> None:
    events = make_events(recording, 7)
    review = make_review(recording, events)
    out = tmp_path / "report.html"
    reports: list[Progress] = []
    written = run_to_end(
        write_report(out, recording, result, model, review, events=events), reports.append
    )
    assert written == out
    assert [p.done for p in reports] == sorted(p.done for p in reports)
    assert reports[-1].done == reports[-1].total

    text = out.read_text(encoding="utf-8")
    parser = _Collector()
    parser.feed(text)
    parser.close()
    imgs = [attrs for tag, attrs in parser.tags if tag == "img"]
    # The whole-recording timeline, then per event its figure and its inspector view.
    assert [a.get("class") for a in imgs] == ["timeline"] + [None, "inspector"] * len(events)
    for attrs in imgs:
        src = attrs["src"] or ""
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert "onerror" not in attrs
    assert "http://" not in text and "https://" not in text
    for tag, attrs in parser.tags:
        assert tag not in ("script", "link", "iframe", "b", "i", "u", "seal")
        for key in ("src", "href"):
            value = attrs.get(key)
            assert value is None or value.startswith(("data:", "#"))
    body = "".join(parser.text)
    # Hostile strings come back as the same text, never as markup.
    assert HOSTILE_CHANNEL in body and HOSTILE_NOTE in body and MATH_CHANNEL in body
    assert "FC-$17$ <seal>" in body and "<u>imbalance</u>" in body and "<i>train</i>.csv" in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    # The summary table lists every event with its review status.
    for status in ("confirmed", "dismissed", "relabelled", "unreviewed"):
        assert f"st-{status}" in text
    assert body.count("Event 7:") == 1
    # The model card says what the network reads.
    assert model.config.describe_inputs() in body


def test_pdf_report_pages_and_literal_text(
    tmp_path: Path, recording: Recording, result: ScanResult, model: TrainedModel
) -> None:
    events = make_events(recording, 5)
    review = make_review(recording, events)
    out = tmp_path / "report.pdf"
    export_report(out, recording, result, model, review, events=events)
    blob = out.read_bytes()
    assert blob.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page\b", blob))
    # The first page (summary, report facts, data quality, model card) flows onto
    # continuation pages when it is long.
    texts = [t for _, t in _pdf_text_lines(blob)]
    assert texts[:2] == [f"Fault report: {recording.name}", "Summary"]
    text_pages = 1 + texts.count(f"Fault report: {recording.name} (continued)")
    event_pages = math.ceil(len(events) / INSPECTED_EVENTS_PER_PDF_PAGE)  # with the model
    # The timeline with the events table, and the review (the hand-drawn region), go on
    # under the model card's last lines: each used to start a page, leaving pages half
    # empty (issue 14, point 10).
    assert pages == text_pages + event_pages
    by_page = [[t for _, _, t in page] for page in _pdf_page_texts(blob)]
    last_text = by_page[text_pages - 1]
    assert f"Flagged events: {len(events)}" in last_text and "Review" in last_text
    assert last_text.index("Flagged events: 5") < last_text.index("Regions marked by hand")

    # Many events: the page count grows with the events, one a page with the inspector view.
    many = make_events(recording, 13)
    out2 = tmp_path / "many.pdf"
    export_report(out2, recording, result, model, None, events=many)
    pages2 = len(re.findall(rb"/Type\s*/Page\b", out2.read_bytes()))
    assert pages2 == text_pages + 13


def test_report_without_events_model_or_review(
    tmp_path: Path, recording: Recording, result: ScanResult
) -> None:
    out = tmp_path / "empty.html"
    export_report(out, recording, result, None, None, events=[])
    text = out.read_text(encoding="utf-8")
    assert "The scan flagged no events." in text and '<img alt="Event' not in text
    assert text.count('<img class="timeline"') == 1  # the fault probability, no event bands
    pdf = tmp_path / "empty.pdf"
    export_report(pdf, recording, result, None, None, events=[])
    assert pdf.read_bytes().startswith(b"%PDF")


def test_failed_export_leaves_no_file_and_says_why(
    tmp_path: Path,
    recording: Recording,
    result: ScanResult,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events = make_events(recording, 3)
    with pytest.raises(ReportError, match="does not exist; choose an existing folder"):
        export_report(tmp_path / "missing" / "r.html", recording, result, events=events)
    with pytest.raises(ReportError, match=re.escape("name the file .html or .htm or .pdf")):
        export_report(tmp_path / "r.docx", recording, result, events=events)

    old = tmp_path / "r.pdf"
    old.write_bytes(b"old report")

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    # Fault injection at the last step of the real atomic write.
    monkeypatch.setattr(atomic.os, "fsync", disk_full)
    for name in ("r.pdf", "r.html"):
        with pytest.raises(ReportError, match="disk is full") as info:
            export_report(tmp_path / name, recording, result, events=events)
        assert "\n" not in str(info.value)
    assert old.read_bytes() == b"old report"
    assert not (tmp_path / "r.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.pdf"]  # no temp files left


def test_cancel_leaves_the_previous_report(
    tmp_path: Path, recording: Recording, result: ScanResult
) -> None:
    events = make_events(recording, 6)
    for name in ("r.html", "r.pdf"):
        out = tmp_path / name
        out.write_text("previous")
        seen: list[Progress] = []
        with pytest.raises(Cancelled):
            run_to_end(
                write_report(
                    out,
                    recording,
                    result,
                    events=events,
                    should_stop=lambda seen=seen: len(seen) >= 3,
                ),
                seen.append,
            )
        assert out.read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.pdf"]


def test_peak_decimate_keeps_spikes_and_gaps() -> None:
    n = 100_000
    x = np.arange(n, dtype=np.float64)
    y = np.zeros(n)
    y[12_345] = 50.0
    y[70_000] = -20.0
    y[40_000:40_200] = np.nan
    xs, ys = peak_decimate(x, y, 2000)
    assert xs.shape == ys.shape and xs.size <= 2000
    assert np.nanmax(ys) == 50.0 and np.nanmin(ys) == -20.0
    assert np.isnan(ys).any()
    assert np.all(np.diff(xs) >= 0)
    short_x, short_y = peak_decimate(x[:10], y[:10], 2000)
    assert short_x is x[:10].base or np.array_equal(short_x, x[:10])
    assert np.array_equal(short_y, y[:10])


def test_png_bytes_decode_to_the_same_pixels() -> None:
    from PIL import Image

    rgb = np.random.default_rng(1).integers(0, 256, size=(7, 13, 3), dtype=np.uint8)
    back = np.asarray(Image.open(io.BytesIO(png_bytes(rgb))).convert("RGB"))
    assert np.array_equal(back, rgb)
    # A strided view (the canvas's RGB of RGBA) encodes the same.
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    assert png_bytes(rgba[..., :3]) == png_bytes(rgb)


def test_event_figure_labels_and_png(recording: Recording, result: ScanResult) -> None:
    from PIL import Image

    events = make_events(recording, 3)
    with report_style():
        painter = EventFigure(recording, result, 0.4)
        views = [event_view(i + 1, e, recording) for i, e in enumerate(events)]
        for view in views:
            rgb = painter.rgba(view)[..., :3]
            png = np.asarray(Image.open(io.BytesIO(painter.png(view))).convert("RGB"))
            assert np.array_equal(png, rgb)  # png() and rgba() draw the same figure
        _, layout = painter._layout(len(views[-1].channels))
    # The texts that change per event: each channel's name with its value range, and the
    # x tick labels (strings from the file drawn as written).
    names = ["".join(parts) for _, _, parts in layout.names]
    assert [n.split("   [")[0] for n in names] == list(views[-1].channels)
    assert MATH_CHANNEL in views[-1].channels and all("…" in n for n in names)
    ticks = [float(text) for _, _, text in layout.tick_labels]
    assert ticks == sorted(ticks) and 0.0 in ticks
    height, width = rgb.shape[:2]
    for x, y, _ in [*layout.names, *layout.tick_labels]:
        assert 0 <= x < width and 0 <= y < height
    # The stamped name is drawn: near-black pixels (the blue signal is not) right of the
    # first panel's name anchor, clear of the panel's frame.
    x, y, _ = layout.names[0]
    patch = rgb[round(height - y) : round(height - y) + 8, round(x) + 3 : round(x) + 40]
    assert (patch.max(axis=2) < 80).any()


def test_pdf_uses_the_builtin_font_unless_a_page_needs_other_letters(
    tmp_path: Path, recording: Recording, result: ScanResult, model: TrainedModel
) -> None:
    events = make_events(recording, 4)
    plain = tmp_path / "plain.pdf"
    export_report(plain, recording, result, model, None, events=events)
    blob = plain.read_bytes()
    # Every text is in Windows-1252: the PDF's built-in Helvetica, nothing embedded.
    assert b"/BaseFont /Helvetica" in blob and b"DejaVu" not in blob

    review = make_review(recording, events)
    review.set_note(3, "Δp rose, 压力 fell")
    greek = tmp_path / "greek.pdf"
    export_report(greek, recording, result, model, review, events=events)
    blob = greek.read_bytes()
    # The page with that note embeds DejaVu Sans (which has the letters); the rest stay
    # in Helvetica.
    assert b"/BaseFont /Helvetica" in blob and b"DejaVuSans" in blob

    # A quote is in Windows-1252 but matplotlib mis-measures it in Helvetica (lines would
    # sit lower): such a page embeds DejaVu Sans too.
    review.set_note(3, "pump's seal")
    quoted = tmp_path / "quoted.pdf"
    export_report(quoted, recording, result, model, review, events=events)
    assert b"DejaVuSans" in quoted.read_bytes()


def _pdf_images(blob: bytes) -> list[tuple[int, int, bytes]]:
    """(width, height, inflated stream) of every image XObject in a matplotlib PDF."""
    out = []
    for m in re.finditer(
        rb"/Subtype /Image /Width (\d+) /Height (\d+).*?/Length (\d+) 0 R >>\nstream\n", blob, re.S
    ):
        length = int(re.search(rb"\n%s 0 obj\n(\d+)\n" % m.group(3), blob).group(1))
        out.append(
            (int(m.group(1)), int(m.group(2)), zlib.decompress(blob[m.end() : m.end() + length]))
        )
    return out


def test_pdf_event_images_are_the_event_figures(
    tmp_path: Path, recording: Recording, result: ScanResult
) -> None:
    events = make_events(recording, 3)
    out = tmp_path / "r.pdf"
    export_report(out, recording, result, None, None, events=events)
    images = _pdf_images(out.read_bytes())
    assert len(images) == len(events)
    with report_style():
        painter = EventFigure(recording, result, result.options.threshold, dpi=PDF_FIGURE_DPI)
        expected = painter.rgba(event_view(1, events[0], recording))[..., :3]
    width, height, data = images[0]
    assert (height, width) == expected.shape[:2]
    rows = np.frombuffer(data, np.uint8).reshape(height, 1 + 3 * width)
    # Unfiltered rows: written by the fast encoder, not matplotlib's (see fast_image_encoding).
    assert not rows[:, 0].any()
    got = rows[:, 1:].reshape(height, width, 3)
    # Matplotlib may store the rows bottom-up and flip them back in the page's transform.
    assert np.array_equal(got, expected) or np.array_equal(got[::-1], expected)


def _pdf_page_texts(blob: bytes) -> list[list[tuple[float, float, str]]]:
    """(x, y, text) of every line of text on each built-in-font page of a matplotlib PDF,
    page by page, in drawing order: matplotlib draws each line of a multi-line text on its
    own, and each page as one content stream."""
    out = []
    for m in re.finditer(rb"<< /Length (\d+) 0 R /Filter /FlateDecode >>\nstream\n", blob):
        length = int(re.search(rb"\n%s 0 obj\n(\d+)\n" % m.group(1), blob).group(1))
        page = zlib.decompress(blob[m.end() : m.end() + length])
        texts = []
        for x, y, text in re.findall(rb"([\d.]+) ([\d.]+) Td\s+\(((?:[^\\)]|\\.)*)\)\s*Tj", page):
            literal = re.sub(rb"\\(.)", rb"\1", text).decode("cp1252")
            texts.append((float(x), float(y), literal))
        out.append(texts)
    return out


def _pdf_text_lines(blob: bytes) -> list[tuple[float, str]]:
    """(y, text) of every line of text on the built-in-font pages of a matplotlib PDF, in
    drawing order."""
    return [(y, text) for page in _pdf_page_texts(blob) for _, y, text in page]


def test_reports_keep_the_line_breaks_of_notes(
    tmp_path: Path, recording: Recording, result: ScanResult
) -> None:
    events = make_events(recording, 3)
    review = _own_review(tmp_path, recording, events)
    review.set_note(
        0, "Seal weeps at the flange\r\nRecheck after the next run\n\n\nCall the vendor"
    )
    review.set_note(1, "\n".join(f"Step {i}" for i in range(1, 9)))
    review.add_region(300, 320, "leak", "Marked by hand\nPressure falls first")
    out = tmp_path / "notes.pdf"
    export_report(out, recording, result, None, review, events=events)
    blob = out.read_bytes()
    lines = _pdf_text_lines(blob)
    texts = [t.strip() for _, t in lines]

    # Each line of the note on its own line, in order, below the one before; the blank
    # lines between are one gap, not lost and not merged into the text.
    first = texts.index("Note: Seal weeps at the flange")
    assert texts[first + 1 : first + 4] == ["Recheck after the next run", "", "Call the vendor"]
    ys = [y for y, _ in lines[first : first + 4]]
    assert ys == sorted(ys, reverse=True)
    # A note with more lines than the event slot holds is cut there as long notes always
    # were, five lines, and says where it goes on: "Notes in full", the last page.
    steps = texts.index("Note: Step 1")
    pointer = f"Step 5 … (continued in Notes in full, page {_pdf_pages(blob)})"
    assert texts[steps + 1 : steps + 5] == ["Step 2", "Step 3", "Step 4", pointer]
    assert "Step 6" not in " ".join(texts[: texts.index("Notes in full")])
    # Notes on the review page (a region drawn by hand) keep their lines too.
    second = texts.index("Pressure falls first")
    assert texts[second - 1].endswith("by hand")

    # The HTML shows notes with their line breaks (a pre-wrap box), the region's too.
    page = tmp_path / "notes.html"
    export_report(page, recording, result, None, review, events=events)
    text = page.read_text(encoding="utf-8")
    assert '<div class="note">Marked by hand\nPressure falls first</div>' in text


def test_html_and_pdf_open_with_the_same_facts(
    tmp_path: Path,
    recording: Recording,
    result: ScanResult,
    model: TrainedModel,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The same moment for both, and a name the PDF's built-in Helvetica shows.
    monkeypatch.setattr(report_mod, "now_iso", lambda: "2026-11-23T10:00:00+01:00")
    monkeypatch.setattr(content_mod, "current_user", lambda: "tester")
    events = make_events(recording, 2)
    page, pdf = tmp_path / "r.html", tmp_path / "r.pdf"
    export_report(page, recording, result, model, None, events=events)
    export_report(pdf, recording, result, model, None, events=events)
    # The summary leads; the block compared here is the one about the report itself.
    block = re.search(
        r'<h2>About this report</h2>\s*<table class="kv">(.*?)</table>',
        page.read_text(encoding="utf-8"),
    )
    assert block is not None
    html_rows = [
        (html.unescape(k), html.unescape(v))
        for k, v in re.findall(r"<tr><th>(.*?)</th><td>(.*?)</td></tr>", block.group(1))
    ]
    labels = [k for k, _ in html_rows]
    assert labels == [
        "Recording",
        "Content sha256",
        "Rows",
        "Time span",
        "Model fingerprint",
        "Report created",
        "Reviewed by",
        "FaultLens version",
    ]
    # The PDF's first page: the title, then the same labels, each with its value (wrapped
    # onto more lines when long), in the same order.
    texts = [t for _, t in _pdf_text_lines(pdf.read_bytes())]
    assert texts[:2] == [f"Fault report: {recording.name}", "Summary"]
    begin = texts.index("About this report")
    end = texts.index("Data quality")
    starts = [texts.index(k, begin + 1, end) for k in labels]
    assert starts == sorted(starts) and starts[0] == begin + 1
    for (label, value), a, b in zip(html_rows, starts, [*starts[1:], end], strict=True):
        assert "".join("".join(texts[a + 1 : b]).split()) == "".join(value.split()), label


def _pdf_pages(blob: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b", blob))


def _review_with_regions(tmp_path: Path, recording: Recording, notes: list[str]) -> Review:
    review = _own_review(tmp_path, recording, [], class_names=("normal", "leak"))
    for i, note in enumerate(notes):
        review.add_region(10 * i, 10 * i + 5, "leak", note)
    return review


def test_pdf_review_page_flows_onto_continuation_pages(
    tmp_path: Path, recording: Recording, result: ScanResult
) -> None:
    # The review page used to stop at its bottom: regions after the ~46th were not printed.
    notes = [f"Checked on site, pump {i} vibrates" for i in range(80)]
    review = _review_with_regions(tmp_path, recording, notes)
    out = tmp_path / "review.pdf"
    export_report(out, recording, result, None, review, events=[])
    blob = out.read_bytes()
    # Every page: the review starts on the 2nd, under the timeline and the events table.
    lines = [(y, t) for page in _pdf_page_texts(blob) for _, y, t in page]
    texts = [t for _, t in lines]
    # Every region's note, in order.
    at = [next(k for k, t in enumerate(texts) if t.endswith(note)) for note in notes]
    assert at == sorted(at)
    # The review takes more than one page now: page 1, then the summary page, on which the
    # review starts, then the review's own pages.
    review_pages = _pdf_pages(blob) - 1
    assert review_pages >= 2
    assert texts[texts.index("Regions marked by hand") - 1] == "Review"
    assert texts.count("Review (continued)") == review_pages - 1
    assert texts.count("Regions marked by hand (continued)") == review_pages - 1
    # The section after the regions still comes, after the last one.
    assert texts.index("Review entries without a matching event (earlier scan)") > at[-1]
    # No line sits in the bottom margin (y is the baseline in points, from the page's foot;
    # the 2nd page's timeline places its tick labels otherwise).
    bottom = (TEXT_PAGE_BOTTOM - TEXT_LINE) * A4[1] * 72
    pages = _pdf_page_texts(blob)
    assert min(y for i, page in enumerate(pages) if i != 1 for _, y, _ in page) > bottom


def test_pdf_text_pages_print_long_notes_in_full(
    tmp_path: Path, recording: Recording, result: ScanResult
) -> None:
    twelve = "\n".join(f"Step {i} of the check" for i in range(1, 13))
    # A note longer than a page, with a paragraph gap, splits over pages with its key again.
    long = "\n".join(f"Line {i} of the log" for i in range(1, 61))
    long += "\n\n" + "\n".join(f"Line {i} of the log" for i in range(61, 121))
    review = _review_with_regions(tmp_path, recording, ["Short one", twelve, long, "Last one"])
    out = tmp_path / "notes.pdf"
    export_report(out, recording, result, None, review, events=[])
    texts = [t for _, t in _pdf_text_lines(out.read_bytes())]

    def value(key: str, next_key: str) -> list[str]:
        """The lines of a row's value, without the headings of the pages it goes over."""
        rows = texts[texts.index(key) + 1 : texts.index(next_key)]
        return [t for t in rows if not t.endswith("(continued)")]

    # Values used to stop after four wrapped lines, with no mark. (The value's first line
    # is the region's class, times and reviewer, then the note.)
    twelve_lines = value("Rows 10–15", "Rows 20–25")
    assert " ".join(twelve_lines[:-11]).endswith("by tester. Step 1 of the check")
    assert twelve_lines[-11:] == [f"Step {i} of the check" for i in range(2, 13)]
    long_lines = value("Rows 20–25", "Rows 30–35")
    assert " ".join(long_lines[:-119]).endswith("by tester. Line 1 of the log")
    assert long_lines[-119:] == [f"Line {i} of the log" for i in range(2, 121)]
    # The long note goes over page breaks (two or more), its key again on each page.
    assert texts.count("Rows 20–25 (continued)") >= 2
    # The review starts under the (empty) events table on page 2; every page after says
    # it goes on.
    assert texts.count("Review (continued)") == _pdf_pages(out.read_bytes()) - 2
    assert "by tester. Last one" in " ".join(texts[texts.index("Rows 30–35") + 1 :])
    assert not any("…" in t for t in texts)


def test_pdf_first_page_flows_with_many_warnings_and_a_long_model_card(
    tmp_path: Path, model: TrainedModel, result: ScanResult
) -> None:
    from dataclasses import replace

    rng = np.random.default_rng(5)
    rec = Recording.from_arrays(
        np.cumsum(rng.normal(size=(N, 3)), axis=0), CHANNELS, path=tmp_path / "warned.csv"
    )
    assert rec.quality is not None
    warnings = [f"Column {i} has a strange unit" for i in range(40)]
    rec.quality.warnings.extend(warnings)
    files = [{"file": f"train_{i}.csv", "sha256": "cd" * 32, "rows": 10} for i in range(30)]
    big = replace(model, training_data=files)
    out = tmp_path / "card.pdf"
    events = make_events(rec, 2)
    export_report(out, rec, result, big, None, events=events)
    blob = out.read_bytes()
    texts = [t for _, t in _pdf_text_lines(blob)]

    title = f"Fault report: {rec.name}"
    assert texts.count(title) == 1 and texts.count(f"{title} (continued)") >= 1
    at = [texts.index(w) for w in warnings]
    assert at == sorted(at)
    at = [texts.index(f"train_{i}.csv (10 rows, sha256 cdcdcdcdcdcd)") for i in range(30)]
    assert at == sorted(at)
    # The sections after them, which a full first page used to drop.
    validation = "Validation per class (precision / recall / F1 / support)"
    assert texts.index(validation) < texts.index("Scan") < texts.index("Events flagged")
    # Pages: the text pages (the timeline and events table under their last lines), the
    # event pages (one each with the model).
    text_pages = 1 + texts.count(f"{title} (continued)")
    event_pages = math.ceil(len(events) / INSPECTED_EVENTS_PER_PDF_PAGE)
    assert _pdf_pages(blob) == text_pages + event_pages
    # What render_pdf counts is what it wrote.
    buf = io.BytesIO()
    pages = run_to_end(
        render_pdf(buf, rec, result, big, None, events, title, lambda: False, created="now")
    )
    assert pages == _pdf_pages(buf.getvalue())


def test_pdf_prints_cut_event_notes_in_full_after_the_events(
    tmp_path: Path, recording: Recording, result: ScanResult
) -> None:
    events = make_events(recording, 5)
    review = _own_review(tmp_path, recording, events)
    review.set_note(0, "Fits under the figure")
    out = tmp_path / "fits.pdf"
    export_report(out, recording, result, None, review, events=events)
    # Notes that fit: no extra section, no extra page (page 1, summary, three event pages).
    blob = out.read_bytes()
    assert _pdf_pages(blob) == 5
    assert not any("Notes in full" in t for _, t in _pdf_text_lines(blob))

    twenty = [f"Line {i} of what the reviewer saw on site" for i in range(1, 21)]
    review.set_note(1, "\n".join(twenty))
    # Longer than a page: it goes on on a continuation page of the notes.
    sixty = [f"Reading {i} taken by hand" for i in range(1, 61)]
    review.set_note(3, "\n".join(sixty))
    review.set_note(4, "\n".join(f"Step {i}" for i in range(1, 60)) + "\nThe last words.")
    out = tmp_path / "cut.pdf"
    export_report(out, recording, result, None, review, events=events)
    blob = out.read_bytes()
    pages = _pdf_page_texts(blob)
    assert len(pages) == _pdf_pages(blob)
    texts = [t.strip() for page in pages for _, _, t in page]

    # Under the figure: the first five lines, the fifth pointing to the page that holds the
    # note whole. Event 2's figure is on page 3 (page 1, the summary, then two a page).
    notes_first = 1 + 1 + 3 + 1
    preview = texts.index(f"Note: {twenty[0]}")
    assert texts[preview + 1 : preview + 5] == [
        *twenty[1:4],
        f"{twenty[4]} … (continued in Notes in full, page {notes_first})",
    ]
    # After the event pages: every line of each cut note, in order, under the event's
    # number, class and start time; the note that fits is not repeated.
    start = texts.index("Notes in full")
    assert all("events page" not in t for t in texts[start:])
    rest = texts[start:]
    at = rest.index("Event 2: <b>valve</b>")
    assert rest[at + 1] == f"Starts {events[1].start_time} · unreviewed · figure on page 3"
    assert rest[at + 2 : at + 22] == twenty
    at = rest.index("Event 4: <b>valve</b>")
    assert rest[at + 1].startswith(f"Starts {events[3].start_time} ·")
    lines = [t for t in rest[at + 2 :] if not t.endswith("(continued)")]
    assert lines[:60] == sixty
    assert "Event 1: leak" not in rest and "Fits under the figure" not in rest
    assert rest[-1] == "The last words."

    # Each pointer names the page its note starts on, continuation pages counted.
    def page_of(text: str) -> int:
        return next(n for n, page in enumerate(pages, 1) if any(t == text for _, _, t in page))

    for index, first_line in ((2, twenty[0]), (4, sixty[0]), (5, "Step 1")):
        key = f"Event {index}: {events[index - 1].class_name}"
        on_page = [t for _, _, t in pages[page_of(f"{key} — unreviewed") - 1]]
        note = on_page.index(f"Note: {first_line}")
        assert on_page[note + 4].endswith(f" … (continued in Notes in full, page {page_of(key)})")
    assert page_of("Event 5: leak") > notes_first
    assert texts.count("Notes in full (continued)") >= 1

    # What render_pdf counts is what it wrote.
    buf = io.BytesIO()
    count = run_to_end(
        render_pdf(buf, recording, result, None, review, events, "t", lambda: False, created="now")
    )
    assert count == _pdf_pages(buf.getvalue())


def test_pdf_wraps_long_keys_in_their_column(
    tmp_path: Path, recording: Recording, result: ScanResult, model: TrainedModel
) -> None:
    from dataclasses import replace

    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    name = "Bearing outer race fault, severe, at pump station north P117"
    assert len(name) == 60
    metrics = {"per_class": {name: {"precision": 0.71, "recall": 0.62, "f1": 0.66, "support": 41}}}
    out = tmp_path / "keys.pdf"
    export_report(out, recording, result, replace(model, metrics=metrics), None, events=[])
    page = _pdf_page_texts(out.read_bytes())[0]
    # Where the columns are: the "Threshold" row's key and value.
    at = next(k for k, (_, _, t) in enumerate(page) if t == "Threshold")
    (key_x, _, _), (value_x, _, _) = page[at : at + 2]
    heading = next(k for k, (_, _, t) in enumerate(page) if t.startswith("Validation per class"))
    scan = next(k for k, (_, _, t) in enumerate(page) if t == "Scan")
    rows = page[heading + 1 : scan]
    keys = [(y, t) for x, y, t in rows if abs(x - key_x) < 0.5]
    values = [(y, t) for x, y, t in rows if abs(x - value_x) < 0.5]
    # The name wraps in its column, whole, each line ending before the values begin (as one
    # line it ran into them); measured in DejaVu Sans Bold, wider than Helvetica Bold.
    assert " ".join(t for _, t in keys) == name and len(keys) > 1
    prop = FontProperties(size=7.5, weight="bold")
    for _, t in keys:
        assert text_to_path.get_text_width_height_descent(t, prop, False)[0] < value_x - key_x
    # Its values beside its first line, whole; the next section below its last line.
    assert [t for _, t in values] == ["0.710 / 0.620 / 0.660 / 41"]
    assert values[0][0] == pytest.approx(keys[0][0], abs=0.5)  # the fonts' tops differ a little
    assert page[heading][1] > keys[0][0] > keys[-1][0] > page[scan][1]


def test_the_summary_leads_with_events_by_class_review_and_the_models_standing(
    tmp_path: Path, recording: Recording, model: TrainedModel
) -> None:
    events = make_events(recording, 5)  # leak, valve, leak, valve, leak
    review = _own_review(tmp_path, recording, events)
    review.confirm(0)
    review.dismiss(1)
    entries = content_mod.event_entries(events, review)
    rows = dict(content_mod.summary_rows(recording, model, entries))
    assert rows["Events"] == "5 (3 leak, 2 <b>valve</b>)"
    flagged = sum(e.rows for e in events)
    assert rows["Flagged"] == f"{flagged} rows, {flagged / recording.n_rows:.1%} of the recording"
    assert rows["Review"] == "1 confirmed, 1 dismissed, 3 unreviewed"
    assert rows["Model"].startswith("validation macro F1")
    no_model = dict(content_mod.summary_rows(recording, None, []))
    assert no_model["Events"] == "0" and "Model" not in no_model


def test_event_figures_mark_the_rows_the_file_labels_as_a_fault() -> None:
    from faultlens.core.report.figures import _label_bar

    labels = ["normal", "leak", "leak", "normal", "0", "leak", "", "valve", "valve"]
    rec = Recording.from_arrays(np.zeros((len(labels), 1)), ["a"], labels=labels)
    x = np.arange(len(labels), dtype=np.float64)  # rows: one row per sampling interval
    xs, ys = _label_bar(rec, 0, len(labels), x)
    segments = [tuple(xs[i : i + 2]) for i in range(0, len(xs), 3)]
    assert segments == [(1.0, 3.0), (5.0, 6.0), (7.0, 9.0)]  # leak, leak, valve
    assert np.isnan(xs[2::3]).all() and (ys[~np.isnan(ys)] == 1.0).all()
    unlabelled = Recording.from_arrays(np.zeros((3, 1)), ["a"])
    assert _label_bar(unlabelled, 0, 3, x[:3])[0].size == 0


# ---------------------------------------------------------------- the inspector view (issue 13)
def test_each_event_shows_the_decision_at_its_peak_row(
    tmp_path: Path, recording: Recording, result: ScanResult, model: TrainedModel
) -> None:
    from faultlens.core.explain import explain
    from faultlens.core.report.inspector import REPORT_DETAILED_EVENTS, explain_events, peak_row

    events = make_events(recording, REPORT_DETAILED_EVENTS + 2)
    exps = explain_events(model, recording, result, events)
    for event, exp in zip(events, exps, strict=True):
        assert exp is not None
        fp = result.fault_probability[event.start_row : event.end_row + 1]
        assert exp.row == peak_row(result, event, model.window)
        assert exp.row == max(event.start_row + int(np.nanargmax(fp)), model.window - 1)
        assert exp.before == event.start_row  # compared with the rows before the event
        # The same decision explain gives for that row.
        alone = explain(model, recording, exp.row, before=event.start_row)
        np.testing.assert_allclose(exp.probabilities, alone.probabilities, atol=1e-6)
    # The contribution (C x T + 1 windows an event) for the first events only.
    assert all(e is not None and e.contribution.any() for e in exps[:REPORT_DETAILED_EVENTS])
    assert all(e is not None and not e.contribution.any() for e in exps[REPORT_DETAILED_EVENTS:])
    assert explain_events(None, recording, result, events) == [None] * len(events)

    out = tmp_path / "inspected.html"
    export_report(out, recording, result, model, None, events=events)
    text = out.read_text(encoding="utf-8")
    assert text.count('<img class="inspector"') == len(events)
    assert text.count("Below the figure: the decision at the peak row") == len(events)
    assert text.count(f"is drawn for the first {REPORT_DETAILED_EVENTS} events") == 2


def test_inspector_strip_paints_attention_and_contribution(
    recording: Recording, model: TrainedModel
) -> None:
    """The band's colour follows the attention each step received, the heatmap's the
    contribution: read back from the pixels, column by column."""
    from faultlens.core.explain import explain
    from faultlens.core.report.inspector import BAND_LUT, HEAT_LUT, InspectorStrip

    exp = explain(model, recording, 400, before=380)
    with report_style():
        strip = InspectorStrip(recording, model.window)
        pixels = strip.rgba(exp)
        _, layout = strip._layout(True)
    assert pixels.shape == (round(2.4 * 90), round(7.4 * 90), 4)
    att = exp.attention_received
    rows, cols, steps = layout.cells[id(layout.panels[-1])]
    bottom = pixels[rows.stop - 1, cols, :3]  # the panel's lowest row: band only, mostly
    expected = BAND_LUT[np.clip(np.round(att / att.max() * 255), 0, 255).astype(int)][steps]
    assert (bottom == expected).all(axis=1).mean() > 0.8
    top = exp.top_channels(3)
    rows, cols, steps = layout.cells[id(layout.heat)]
    grid = exp.contribution[top[-1]]  # the last heatmap row: the third top channel
    lim = float(np.abs(exp.contribution[top]).max())
    colours = HEAT_LUT[np.clip(np.round((grid + lim) / (2 * lim) * 255), 0, 255).astype(int)]
    lowest = pixels[rows.stop - 1, cols, :3]
    assert (lowest == colours[steps]).all(axis=1).mean() > 0.8


@pytest.mark.slow
def test_inspector_strip_backgrounds_do_not_leak(
    recording: Recording, model: TrainedModel, result: ScanResult
) -> None:
    """Both backgrounds (with and without the contribution) come from one figure: a strip
    without the contribution shows the note in its heatmap, and a strip with it drawn after
    one without equals the same strip from a fresh painter (nothing of the note or of the
    other event stays behind). ``stack_inspector`` writes the strip under the figure."""
    import dataclasses

    from faultlens.core.explain import explain
    from faultlens.core.report.inspector import CONTRIBUTION_NOTE, InspectorStrip, stack_inspector

    exp = explain(model, recording, 400, before=380)
    plain = dataclasses.replace(exp, contribution=np.zeros_like(exp.contribution))
    with report_style():
        fresh = InspectorStrip(recording, model.window, contribution_note=CONTRIBUTION_NOTE)
        expected = fresh.rgba(exp)
        strip = InspectorStrip(recording, model.window, contribution_note=CONTRIBUTION_NOTE)
        without = strip.rgba(plain)
        again = strip.rgba(exp)
        _, layout = strip._layout(True)
        figure = EventFigure(recording, result, result.threshold).rgba(
            event_view(1, make_events(recording, 1)[0], recording)
        )
        stacked = stack_inspector(figure, strip, exp)
        blank = stack_inspector(figure, strip, None)
    assert np.array_equal(again, expected)
    rows, cols, _ = layout.cells[id(layout.heat)]
    heat_without, heat_with = without[rows, cols, :3], expected[rows, cols, :3]
    assert (heat_without.min(axis=2) < 128).mean() > 0.005  # the note's dark letters
    assert (heat_without.min(axis=2) > 230).mean() > 0.8  # else white: nothing painted
    assert (heat_with.min(axis=2) > 230).mean() < 0.8  # the contribution painted
    assert stacked.shape == (figure.shape[0] + expected.shape[0], figure.shape[1], 4)
    assert np.array_equal(stacked[: figure.shape[0]], figure)
    assert np.array_equal(stacked[figure.shape[0] :], expected)
    assert np.array_equal(blank[: figure.shape[0]], figure)
    assert (blank[figure.shape[0] :] == 255).all()


@pytest.mark.slow
def test_pdf_pages_before_the_events_are_filled(
    tmp_path: Path, recording: Recording, result: ScanResult
) -> None:
    """Issue 14, point 10: pages 2-4 of a PDF were nearly empty (each part - the facts, the
    timeline and events table, the review - started a page of its own). Now each part goes
    on under the one before where it fits: the table fills its pages to the foot and the
    review shares the table's last page (4 pages before the events became 3)."""
    events = make_events(recording, 90)  # a table longer than a page
    review = _review_with_regions(tmp_path, recording, ["Seen on site"] * 3)
    review.set_events(events, class_names=CLASSES)
    out = tmp_path / "filled.pdf"
    export_report(out, recording, result, None, review, events=events)
    pages = _pdf_page_texts(out.read_bytes())
    first_event = next(
        i for i, page in enumerate(pages) if any(t.startswith("Event 1:") for _, _, t in page)
    )
    before = pages[:first_event]
    texts = [[t for _, _, t in page] for page in before]
    # The facts (no room under them for the timeline); the timeline and the table; the rest
    # of the table with the review under it.
    assert len(before) == 3
    assert "Flagged events: 90 (page 1 of 2)" in texts[1]
    assert "Flagged events: 90 (page 2 of 2)" in texts[2] and "Review" in texts[2]
    assert texts[2].index("Flagged events: 90 (page 2 of 2)") < texts[2].index("Review")
    # The table's rows (their numbers, in the first column), in order, each once; the first
    # table page filled to its foot (y: points from the page's foot).
    numbers = [
        [(y, int(t)) for x, y, t in page if t.isdigit() and abs(x - 0.05 * A4[0] * 72) < 1]
        for page in before
    ]
    assert [n for page in numbers for _, n in page] == list(range(1, 91))
    assert min(y for y, _ in numbers[1]) < 0.1 * A4[1] * 72
