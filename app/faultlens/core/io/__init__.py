"""CSV -> Recording: detection of encoding, separator, header, decimal, time and label columns.

Detection looks only at the head of the file (``sniff``) and the column policy picks the
time axis, the labels and the channels (``columns``). The full read then goes through
pyarrow's CSV parser: on the fast path (``ranges``) the file is cut after line breaks into
ranges of a few MB that a thread pool parses in parallel, straight into a preallocated
``(N, C)`` float32 matrix (``matrix``) while the quality statistics accumulate
(``quality``) and the file's sha256 is computed from the same bytes; between two ranges the
import reports its progress and can be cancelled. Anything the fast path cannot vouch for
(a bad row, stray text in a numeric column, a range cut inside a quoted field) goes to the
careful path (``arrow``), which reads the whole file as one table and reports every
problem by its file line (``locate``). Files separated by runs of whitespace, which pyarrow
cannot split, go through pandas' C engine (``whitespace``). ``readers`` chooses among them;
``pipeline`` runs the whole import.

A line of nothing but spaces and tabs is blank and skipped like an empty line, by every
path. A quoted field may hold line breaks: detection groups the head's lines into rows
before it splits them, the careful path reads a file with quotes quote-aware, and a quote
that never closes is reported by its line.

Every failure the file can cause raises ``RecordingError`` with a one-line message naming
the file, the line or column, and what to do.
"""

from faultlens.core.io.layout import DEFAULT_OPTIONS
from faultlens.core.io.pipeline import import_recording, load_recording
from faultlens.core.io.preview import Preview, preview_file

__all__ = ["DEFAULT_OPTIONS", "Preview", "import_recording", "load_recording", "preview_file"]
