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


def accounting(summary: ReadSummary) -> tuple:
    """What a read counted: lines, events, irrelevant and unreadable lines, notes."""
    return (summary.lines, summary.events, summary.irrelevant, summary.unreadable,
            summary.notes)


def assert_reads_as_line_by_line(path: Path) -> None:
    """The product's reader gives ``path`` the events and accounting of the per-line path."""
    expected_events, expected = line_by_line(path)
    events, summary = with_reader(path)
    assert events == expected_events
    assert accounting(summary) == accounting(expected)
