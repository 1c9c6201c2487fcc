"""Two ways of reading one strace capture, for tests that hold the fast reader to the slow.

``line_by_line`` feeds every line to :meth:`Session.line` (no block scanner, no inlined
loop); ``with_reader`` is the product's reader. Tests compare their events and accounting.
"""

from __future__ import annotations

from pathlib import Path

from vfio_migcheck.traces.events import ReadSummary
from vfio_migcheck.traces.strace.lines import iter_text_lines
from vfio_migcheck.traces.strace.reader import read
from vfio_migcheck.traces.strace.session import Session

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CAPTURES = sorted(
    [p for p in (FIXTURES / "strace").glob("*.strace")]
    + [p for p in (FIXTURES / "mtty-6.12").glob("*/*.strace")]
)


def line_by_line(path: Path, **session_options: bool) -> tuple[list, ReadSummary]:
    """Every line through ``Session.line``, with ``session_options`` (e.g. ``plans=False``)."""
    summary = ReadSummary(format="strace")
    session = Session(summary, **session_options)
    events = []
    for item in iter_text_lines(path):
        summary.lines += 1
        if type(item) is tuple:
            session.line(str(path), item[0], item[1])
        else:
            session.bad_line(str(path), item)
        events.extend(session.out)
        session.out.clear()
    events.extend(session.finish())
    return events, summary


def with_reader(path: Path) -> tuple[list, ReadSummary]:
    """The product's strace reader on ``path``."""
    summary = ReadSummary()
    events = list(read([path], summary))
    return events, summary
