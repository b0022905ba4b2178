"""Where the report goes around matplotlib: where it is slow, or measures wrong.

- PNG: unfiltered rows at zlib level 1 (``png_bytes``), and the same encoder swapped into
  matplotlib's PDF writer (``fast_image_encoding``), which has no setting for it;
- PDF fonts: the built-in Helvetica where every text on a page has its letters and
  matplotlib measures them right, else the embedded DejaVu Sans (``save_pdf_page``), and
  matplotlib's log noise about the built-in font hushed;
- texts that change per event figure, stamped from cached FreeType bitmaps
  (``TextStamps``) instead of matplotlib Text artists;
- finished pixels on a PDF page (``PageImage``) instead of ``imshow``.

Each is measured in ``benchmarks/bench_report.py``. Private matplotlib API is used only
where it answers a probe as expected; otherwise matplotlib's own way is kept.
"""

from __future__ import annotations

import contextlib
import logging
import struct
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
from matplotlib.artist import Artist
from matplotlib.colors import to_rgb
from matplotlib.font_manager import FontProperties, findfont, get_font
from matplotlib.transforms import Affine2D

if TYPE_CHECKING:
    from matplotlib.backend_bases import RendererBase
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure


# zlib level of the figure PNGs: unfiltered rows at level 1 come out smaller than Pillow's
# level 3 with its adaptive row filters (37 vs 41 kB an event figure), in 40 % of the time.
PNG_LEVEL = 1


def png_bytes(rgb: np.ndarray, level: int = PNG_LEVEL) -> bytes:
    """An (H, W, 3) uint8 image as PNG: unfiltered rows, deflated at ``level``.

    Pillow tries five row filters per row before deflating, which costs more than the
    deflate itself; plots of flat colours need no filter to compress well.
    """
    height, width, _ = rgb.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            chunk(b"IDAT", png_rows(rgb, level)),
            chunk(b"IEND", b""),
        )
    )


def png_rows(rgb: np.ndarray, level: int = PNG_LEVEL) -> bytes:
    """The deflated scanlines of a PNG (its IDAT data) of (H, W, 3) uint8 ``rgb``, each row
    with filter type 0 (none)."""
    height, width, _ = rgb.shape
    rows = np.empty((height, 1 + 3 * width), dtype=np.uint8)  # filter byte 0, then RGB
    rows[:, 0] = 0
    rows[:, 1:].reshape(height, width, 3)[...] = rgb  # a view: one copy from a strided rgb
    return zlib.compress(rows.data, level)


def fast_image_encoding(pdf: PdfPages) -> None:
    """Let ``pdf`` deflate its RGB images as unfiltered rows at ``PNG_LEVEL``.

    Matplotlib writes every image through Pillow's PNG encoder at zlib level 6 with adaptive
    row filters, and has no setting for it: for the event figures that took as long as
    drawing them. The encoder is a private method of matplotlib's ``PdfFile``, so it is only
    replaced when it is there and answers a probe as expected; anything but an RGB image
    still goes to it.
    """
    from PIL import Image

    pdf.infodict()  # public; makes the PdfFile, which newer matplotlib makes on the first page
    file = getattr(pdf, "_file", None)
    original = getattr(file, "_writePng", None)
    if file is None or original is None:
        return
    try:
        probe = original(Image.new("RGB", (1, 1)))
        if not (isinstance(probe, tuple) and len(probe) == 3 and isinstance(probe[0], bytes)):
            return
    except Exception:  # a changed private API: keep matplotlib's own encoder
        return

    def write_png(img: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or not isinstance(img, Image.Image) or img.mode != "RGB":
            return original(img, *args, **kwargs)
        # (IDAT data, bit depth, palette), as matplotlib's encoder returns them.
        return png_rows(np.asarray(img)), 8, None

    file._writePng = write_png


# matplotlib measures these with the built-in Helvetica's whole font box (a quote as tall as
# 1.2 em), so a top-aligned line holding one sits lower than its neighbours and a table
# column drifts from that row on; pages with them use the embedded font, measured right.
_CORE_FONT_MISMEASURED = frozenset("\"'*^`")


def _core_font_text(text: str) -> bool:
    """Whether the PDF's built-in Helvetica can show ``text`` (its Windows-1252 glyphs) and
    matplotlib lays it out right (``_CORE_FONT_MISMEASURED``)."""
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return _CORE_FONT_MISMEASURED.isdisjoint(text)


def _not_core_font_weight(record: logging.LogRecord) -> bool:
    # The built-in Helvetica's regular face calls itself "Medium"; matplotlib logs a warning
    # the first time each text style falls back to it, which is noise on the CLI's stderr.
    return not record.getMessage().startswith("findfont: Failed to find font weight")


@contextlib.contextmanager
def quiet_core_font_lookup() -> Iterator[None]:
    log = logging.getLogger("matplotlib.font_manager")
    log.addFilter(_not_core_font_weight)
    try:
        yield
    finally:
        log.removeFilter(_not_core_font_weight)


def save_pdf_page(pdf: PdfPages, fig: Figure) -> None:
    """Add ``fig`` as a page: in the PDF's built-in Helvetica when every text on it has a
    glyph there, else in the embedded DejaVu Sans.

    Embedded fonts cost matplotlib a Python round per glyph (layout, subsetting, output):
    that was a third of a 200-event PDF. Built-in fonts are written as whole strings and
    embed nothing; a page with a name in, say, Greek or Chinese keeps the embedded font
    instead of losing those letters.
    """
    texts = [*fig.texts, *(t for ax in fig.axes for t in ax.texts)]
    core = all(_core_font_text(t.get_text()) for t in texts)
    with matplotlib.rc_context({"pdf.use14corefonts": core}):
        pdf.savefig(fig)


class TextStamps:
    """Single-line texts of one font size and colour, alpha-blended into pixels.

    A matplotlib Text lays its string out three times per draw (metrics, extent, glyphs),
    which made the few texts that change per event half the cost of an event figure. Here
    FreeType draws each string once, as Agg does (same font file, size, hinting, kerning),
    and the bitmap is kept: tick labels repeat from figure to figure.
    """

    CACHE_SIZE = 2048

    def __init__(self, size_pt: float, dpi: float, colour: str) -> None:
        from matplotlib.backends.backend_agg import get_hinting_flag

        self.size_pt, self.dpi = size_pt, dpi
        self.font = get_font(findfont(FontProperties(size=size_pt)))
        self.flags = get_hinting_flag()
        self.colour = np.asarray(to_rgb(colour), dtype=np.float32) * 255  # (3,)
        self._bitmaps: dict[str, tuple[np.ndarray, float, float]] = {}
        # Matplotlib aligns "top" at the top of the line box, which is as high as "lp".
        _, _, self.line_height, lp_descent = self._render("lp")
        self.ascent = self.line_height - lp_descent

    def _render(self, text: str) -> tuple[np.ndarray, float, float, float]:
        """Alpha (h, w) float32 in 0..1, then advance width, height and descent in px."""
        font = self.font  # the one Agg uses too (get_font caches): set it up each time
        font.clear()
        font.set_size(self.size_pt, self.dpi)
        font.set_text(text, 0.0, flags=self.flags)
        font.draw_glyphs_to_bitmap(antialiased=True)
        alpha = np.asarray(font.get_image(), dtype=np.float32) / 255.0
        width, height = (v / 64.0 for v in font.get_width_height())
        return alpha, width, height, font.get_descent() / 64.0

    def _bitmap(self, text: str) -> tuple[np.ndarray, float, float]:
        """Alpha, advance width and descent of ``text``, drawn once."""
        hit = self._bitmaps.get(text)
        if hit is None:
            if len(self._bitmaps) >= self.CACHE_SIZE:
                self._bitmaps.clear()
            alpha, width, _, descent = self._render(text)
            hit = self._bitmaps[text] = (alpha, width, descent)
        return hit

    def draw(
        self,
        rgba: np.ndarray,
        x: float,
        top: float,
        parts: tuple[str, ...],
        ha: str,
        box_pt: float | None = None,
    ) -> None:
        """Blend the text ``"".join(parts)`` into ``rgba`` (H, W, 3+) uint8, its line box's
        top at row ``top`` and its left edge (ha "left") or middle (ha "center") at column
        ``x``; with ``box_pt``, over a white box of that padding (75 % opaque). Each part is
        drawn (and kept) on its own: a part that repeats is not drawn again."""
        bitmaps = [self._bitmap(part) for part in parts]
        width = sum(w for _, w, _ in bitmaps)
        left = x - width / 2 if ha == "center" else x
        if box_pt is not None:
            pad = box_pt * self.dpi / 72
            _blend(
                rgba,
                round(top - pad),
                round(left - pad),
                np.full((round(self.line_height + 2 * pad), round(width + 2 * pad)), 0.75,
                        dtype=np.float32),
                np.full(3, 255, dtype=np.float32),
            )  # fmt: skip
        for alpha, part_width, descent in bitmaps:
            bottom = round(top + self.ascent + descent)  # the bitmap ends at the descent
            _blend(rgba, bottom - alpha.shape[0], round(left), alpha, self.colour)
            left += part_width


def _blend(rgba: np.ndarray, row: int, col: int, alpha: np.ndarray, colour: np.ndarray) -> None:
    """``rgba[row:, col:] = (1 - alpha) * rgba + alpha * colour``, clipped to the image."""
    h, w = alpha.shape
    r0, c0 = max(row, 0), max(col, 0)
    r1, c1 = min(row + h, rgba.shape[0]), min(col + w, rgba.shape[1])
    if r0 >= r1 or c0 >= c1:
        return
    a = alpha[r0 - row : r1 - row, c0 - col : c1 - col, None]  # (h, w, 1)
    region = rgba[r0:r1, c0:c1, :3]
    region[...] = region + (colour - region) * a + 0.5


class PageImage(Artist):
    """Ready-made RGBA pixels (H, W, 4), top row first, filling ``rect`` (x, y, width,
    height as fractions of the figure): the event figures on PDF pages.

    An AxesImage copies, checks and converts its array on every draw and needs axes around
    it; these are finished pixels, handed to the renderer as they are. Vector backends only
    (the renderer scales the image with a transform).
    """

    def __init__(self, rect: tuple[float, float, float, float]) -> None:
        super().__init__()
        self.rect = rect
        self.pixels: np.ndarray | None = None

    def draw(self, renderer: RendererBase) -> None:
        if self.pixels is None or not self.get_visible():
            return
        x, y, w, h = self.rect
        fig = self.get_figure()
        if fig is None:
            return
        (x0, y0), (x1, y1) = fig.transFigure.transform([(x, y), (x + w, y + h)])
        gc = renderer.new_gc()
        # The transform maps the unit square onto the rectangle; renderers take images
        # bottom row first.
        renderer.draw_image(gc, x0, y0, self.pixels[::-1], Affine2D().scale(x1 - x0, y1 - y0))
        gc.restore()
