"""Before and after writing an output file (a report, an event list): one-line errors.

A report or event file is chosen by its suffix and written atomically; these say, in one
line the GUI can show and the CLI can print, what is wrong with the path before any work
is done, and why the write failed after (disk full, permission denied, ...).
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from pathlib import Path

from faultlens.core.errors import ReportError


def check_output_path(path: Path, suffixes: Sequence[str], what: str) -> str:
    """``path``'s suffix (lower case) when it is one of ``suffixes`` and the file can be
    made there (its folder exists, no folder has its name); else a ``ReportError`` naming
    ``what`` is written."""
    suffix = path.suffix.lower()
    if suffix not in suffixes:
        raise ReportError(
            f"{path}: unknown {what} type {suffix or '(no suffix)'!r}; name the file "
            + " or ".join(suffixes)
        )
    if not path.parent.is_dir():
        raise ReportError(
            f"{path}: cannot write the file: the folder {path.parent} does not exist; "
            "choose an existing folder"
        )
    if path.is_dir():
        raise ReportError(
            f"{path}: cannot write the file: a folder has this name; choose a file name"
        )
    return suffix


def write_error(path: Path, err: OSError) -> ReportError:
    """A one-line ReportError that says why ``path`` could not be written and what to do."""
    if err.errno == errno.ENOSPC:
        why = "the disk is full; free some space or choose another disk"
    elif err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = "permission denied; choose a folder you can write to"
    elif err.errno == errno.ENOENT:
        why = f"the folder {path.parent} does not exist; choose an existing folder"
    elif err.errno == errno.EISDIR:
        why = "a folder has this name; choose a file name"
    else:
        why = f"{err.strerror or err}; choose another location"
    return ReportError(f"{path}: cannot write the file: {why}")
