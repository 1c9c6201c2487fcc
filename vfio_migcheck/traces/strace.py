"""The strace reader: ``sniff`` and ``read`` for captures of a VMM (docs/traces.md).

Reading is a single pass over the lines in trace order. A compiled-regex head match
(pid prefix, timestamp, call name, first fd argument) decides cheaply whether a line can
concern VFIO at all; only the lines that can — calls on device or data fds, on fds never
seen before, and the calls that create, duplicate or close fds — are parsed with the
grammar (grammar/strace.lark, with a regex fast path for flat calls) and turned into
events by :class:`vfio_migcheck.traces.strace_session.Session`.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator
from pathlib import Path

from vfio_migcheck.traces.events import Event, ReadSummary
from vfio_migcheck.traces.lines import BadLine
from vfio_migcheck.traces.strace_clock import RELATIVE, Clock
from vfio_migcheck.traces.strace_lines import iter_text_lines
from vfio_migcheck.traces.strace_session import HEAD, Session

_SNIFF_CALL = re.compile(
    r"^(?:\[pid\s+\d+(?:<[^>]*>)?\]\s*|\d+(?:<[^>]*>)?\s+)?\s*"
    r"(?:(?:\d\d:\d\d:\d\d(?:\.\d+)?|\d+\.\d+)\s+)?"
    r"(?:[A-Za-z_][A-Za-z0-9_]*\(.*(?:\)\s+=\s+(?:-?\d|0x|\?)|<unfinished(?: #\d+)? \.\.\.>$)"
    r"|<\.\.\. [A-Za-z_][A-Za-z0-9_]* resumed|\+\+\+ (?:exited|killed)|--- SIG)"
)


def sniff(lines: list[str]) -> float:
    """Confidence that these first lines are strace output (calls, resumes, exits)."""
    meaningful = [line for line in lines if line.strip()]
    if not meaningful:
        return 0.0
    hits = sum(1 for line in meaningful if _SNIFF_CALL.match(line))
    if hits == 0:
        return 0.0
    share = hits / len(meaningful)
    if share >= 0.5:
        return 0.9
    return 0.3 + 0.6 * share


def read(paths: list[Path], summary: ReadSummary) -> Iterator[Event]:
    """Events of one strace capture: one file, or the ``PREFIX.PID`` files of ``-ff``."""
    summary.format = "strace"
    session = Session(summary)
    if len(paths) == 1:
        yield from _read_one(session, paths[0])
    else:
        yield from _read_many(session, paths)
    yield from session.finish()


def _read_one(session: Session, path: Path) -> Iterator[Event]:
    name = str(path)
    handle = session.line
    out = session.out
    summary = session.summary
    for item in iter_text_lines(path):
        summary.lines += 1
        if type(item) is tuple:
            handle(name, item[0], item[1])
        else:
            session.bad_line(name, item)
        if out:
            yield from out
            out.clear()


def _file_pid(path: Path) -> int | None:
    suffix = path.suffix[1:]
    return int(suffix) if suffix.isdigit() else None


def _timed_records(index: int, path: Path) -> Iterator[tuple]:
    """(seconds, file index, line number, text|BadLine) for one -ff file, in file order."""
    clock = Clock()
    last = float("-inf")
    for item in iter_text_lines(path):
        if type(item) is tuple:
            match = HEAD.match(item[1])
            stamp = match.group(3) if match else None
            value = clock.value(stamp) if stamp is not None else None
            if value is not None:
                last = value
            yield (last, index, item[0], item[1])
        else:
            yield (last, index, item.number, item)


def _has_absolute_times(path: Path) -> bool:
    for item in iter_text_lines(path):
        if type(item) is not tuple:
            continue
        match = HEAD.match(item[1])
        if match is None:
            continue
        stamp = match.group(3)
        if stamp is None:
            return False
        clock = Clock()
        clock.value(stamp)
        return clock.mode != RELATIVE
    return True  # an empty file orders trivially


def _read_many(session: Session, paths: list[Path]) -> Iterator[Event]:
    """-ff: one file per thread, merged by timestamp (heap merge of lazy generators)."""
    names = [str(p) for p in paths]
    pids = [_file_pid(p) for p in paths]
    summary = session.summary
    out = session.out
    if all(_has_absolute_times(p) for p in paths):
        records = heapq.merge(*(_timed_records(i, p) for i, p in enumerate(paths)))
    else:
        summary.notes.append(
            "the -ff files carry no absolute timestamps (-t/-tt/-ttt), so their relative "
            "order is unknown: they were read one after the other, in pid order")
        records = ((0.0, i, item[0] if type(item) is tuple else item.number,
                    item[1] if type(item) is tuple else item)
                   for i, p in enumerate(paths) for item in iter_text_lines(p))
    for _stamp, index, number, payload in records:
        summary.lines += 1
        if isinstance(payload, BadLine):
            session.bad_line(names[index], payload)
        else:
            session.line(names[index], number, payload, pids[index])
        if out:
            yield from out
            out.clear()
