"""The full read: which reader parses the file, and the fallback between them.

pyarrow reads every single-character separator: first on the fast path
(``ranges.read_arrow_ranges``), which hands anything unusual over to the careful path
(``arrow.read_arrow_table``), so every problem a file has is reported by the careful path,
the same way for every file. pandas' C engine reads runs of whitespace, which pyarrow
cannot split (``whitespace.read_pandas``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa

from faultlens.core.io.arrow import read_arrow_table, stray_text_column
from faultlens.core.io.layout import WHITESPACE, Layout, fail
from faultlens.core.io.parsed import ParsedFile
from faultlens.core.io.ranges import StrayText, Unsplittable, read_arrow_ranges
from faultlens.core.io.whitespace import read_pandas
from faultlens.core.progress import Cancelled, ShouldStop


def read_file(layout: Layout, should_stop: ShouldStop) -> Generator[int, None, ParsedFile]:
    """Parse the needed columns of the whole file and hash its bytes; yield the bytes done
    as the fast path goes (the careful paths read in one call and yield nothing). Raises
    ``Cancelled`` between ranges, or before a careful read, once ``should_stop()``."""
    as_text: set[str] = set()
    if layout.separator != WHITESPACE:
        try:
            return (yield from read_arrow_ranges(layout, should_stop))
        except StrayText as err:
            as_text.add(err.column)
        except pa.ArrowException as err:
            # Stray text, a bad row, or a range cut inside a quoted field: the careful
            # path decides, starting with the column with stray text if that was it.
            name = stray_text_column(layout, str(err), as_text)
            if name is not None:
                as_text.add(name)
        except Unsplittable:
            pass
        except (OSError, UnicodeDecodeError) as err:
            raise fail(layout.path, "", f"cannot be read ({err}); check the file") from None
    if should_stop():
        raise Cancelled()
    # Hash on a second thread while the careful parser works (hashlib releases the GIL).
    with ThreadPoolExecutor(max_workers=1) as pool:
        digest_job = pool.submit(_sha256, layout.path)
        if layout.separator == WHITESPACE:
            columns = read_pandas(layout)
        else:
            columns = read_arrow_table(layout, as_text)
        digest, hashed = digest_job.result()
        return ParsedFile(columns=columns, content_hash=digest, content_bytes=hashed)


def _sha256(path: Path) -> tuple[str, int]:
    """The file's sha256 and the number of bytes it covers."""
    digest = hashlib.sha256()
    hashed = 0
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
                hashed += len(chunk)
    except OSError as err:
        raise fail(path, "", f"cannot be read ({err.strerror or err}); check the file") from None
    return digest.hexdigest(), hashed
