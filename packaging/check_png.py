"""Check a screenshot PNG: its size, and that it shows something (standard library only).

    python3 packaging/check_png.py shot.png --size 1600x1000

Exit 0 when the PNG is valid, has the expected size and is not blank; 1 otherwise, with the
reason on stderr. Standard library only, so the bundle's smoke test runs on a machine that
has the bundle and a system python3 but no virtual environment.
"""

from __future__ import annotations

import argparse
import struct
import sys
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Bytes per pixel of the 8-bit colour types we decode: grey, RGB, grey+alpha, RGBA.
_BYTES_PER_PIXEL = {0: 1, 2: 3, 4: 2, 6: 4}
# A blank frame (nothing painted yet, or one flat fill) has one or two colours; a window with
# plots, text and a heatmap has hundreds or more. The dominant-colour share catches a frame that is
# all background except a few stray pixels.
MIN_COLOURS = 16
MAX_DOMINANT_SHARE = 0.995


class PngError(ValueError):
    """The file is not a PNG this checker can read."""


@dataclass(frozen=True)
class PngStats:
    width: int
    height: int
    colours: int  # distinct pixel values
    dominant_share: float  # fraction of pixels that have the most common value

    @property
    def blank(self) -> bool:
        return self.colours < MIN_COLOURS or self.dominant_share > MAX_DOMINANT_SHARE


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if not data.startswith(_SIGNATURE):
        raise PngError("not a PNG file (bad signature)")
    pos, chunks = len(_SIGNATURE), []
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        chunks.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length  # length, type, data, CRC
        if kind == b"IEND":
            break
    return chunks


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(kind: int, line: bytearray, prev: bytes, bpp: int) -> bytearray:
    """Undo one scanline's PNG filter in place (RFC 2083, section 6)."""
    n = len(line)
    if kind == 0:
        return line
    if kind == 1:
        for i in range(bpp, n):
            line[i] = (line[i] + line[i - bpp]) & 0xFF
    elif kind == 2:
        line = bytearray((x + y) & 0xFF for x, y in zip(line, prev, strict=True))
    elif kind == 3:
        for i in range(n):
            left = line[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
    elif kind == 4:
        for i in range(n):
            if i >= bpp:
                line[i] = (line[i] + _paeth(line[i - bpp], prev[i], prev[i - bpp])) & 0xFF
            else:
                line[i] = (line[i] + prev[i]) & 0xFF
    else:
        raise PngError(f"unknown scanline filter {kind}")
    return line


def png_stats(path: Path) -> PngStats:
    """Size and colour statistics of an 8-bit, non-interlaced PNG (what Qt writes)."""
    chunks = _chunks(path.read_bytes())
    if not chunks or chunks[0][0] != b"IHDR":
        raise PngError("no IHDR chunk")
    width, height, depth, colour_type, _comp, _filt, interlace = struct.unpack(
        ">IIBBBBB", chunks[0][1]
    )
    if depth != 8 or colour_type not in _BYTES_PER_PIXEL or interlace:
        raise PngError(
            f"unsupported PNG (bit depth {depth}, colour type {colour_type}, "
            f"interlace {interlace}); expected 8-bit non-interlaced grey/RGB/RGBA"
        )
    bpp = _BYTES_PER_PIXEL[colour_type]
    try:
        raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    except zlib.error as err:
        raise PngError(f"corrupt image data ({err})") from err
    stride = width * bpp
    if len(raw) != height * (stride + 1):
        raise PngError(f"image data has {len(raw)} bytes, expected {height * (stride + 1)}")
    counts: Counter[bytes] = Counter()
    prev = bytes(stride)
    for row in range(height):
        start = row * (stride + 1)
        line = bytes(
            _unfilter(raw[start], bytearray(raw[start + 1 : start + 1 + stride]), prev, bpp)
        )
        counts.update(line[i : i + bpp] for i in range(0, stride, bpp))
        prev = line
    dominant = counts.most_common(1)[0][1] if counts else 0
    return PngStats(width, height, len(counts), dominant / max(width * height, 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check a screenshot PNG's size and content.")
    parser.add_argument("png", type=Path)
    parser.add_argument("--size", help="expected WIDTHxHEIGHT, e.g. 1600x1000")
    args = parser.parse_args(argv)
    try:
        stats = png_stats(args.png)
    except (OSError, PngError) as err:
        print(f"check_png: {args.png}: {err}", file=sys.stderr)
        return 1
    print(
        f"{args.png}: {stats.width}x{stats.height}, {stats.colours} colours, "
        f"most common colour on {stats.dominant_share:.1%} of pixels"
    )
    if args.size:
        want_w, want_h = (int(v) for v in args.size.lower().split("x"))
        if (stats.width, stats.height) != (want_w, want_h):
            print(
                f"check_png: {args.png}: is {stats.width}x{stats.height}, expected {args.size}",
                file=sys.stderr,
            )
            return 1
    if stats.blank:
        print(f"check_png: {args.png}: looks blank", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
