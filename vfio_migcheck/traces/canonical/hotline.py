"""Whole-line patterns for the lines that make up nearly all of a decoded capture.

A decoded migration is mostly its data-fd traffic: ``fd N read SIZE = GOT`` and
``fd N precopy_info argsz=A = R initial=I dirty=D``, repeated for every chunk. For those
two shapes in their plain spelling (optional ``@TS`` and ``[TID]``/``[PID/TID]``, single
blanks, decimal numbers, nothing else on the line) one compiled pattern reads the whole
line and :func:`hot_event` builds the event straight from its groups, skipping the
statement (fastline.py) and its word-by-word checks. Any other spelling, and any line
whose fd the trace has not created (which the reader notes), goes the general way;
tests/test_canonical_hotline.py holds the two ways equal with hypothesis.
"""

from __future__ import annotations

import re
from typing import Any

from vfio_migcheck.traces.events import DataIO, Event, PrecopyInfo, built, origin_at

# numbers of at most 18 digits: int() reads them as the general path's number() does.
# An optional part is spelled "(?:X|)" rather than "(?:X)?" (the same matches, the same
# groups): the re module tries a branch for less than a repeat (~25 % less a line here)
_NUM = r"[0-9]{1,18}"
_RESULT = rf"= (-?{_NUM})(?: ([A-Z][A-Z0-9_]*)|)"


def _hot_line(fd: str) -> str:
    """The pattern text of a hot line whose fd is ``fd`` (a pattern)."""
    return (
        rf"(?:@([0-9]{{1,18}}\.[0-9]{{1,18}}) |)"           # 1 timestamp
        rf"(?:\[({_NUM})(?:/({_NUM})|)\] |)"                # 2, 3 [TID] or [PID/TID]
        rf"fd {fd} "                                        # 4 fd
        rf"(?:((read|write) ({_NUM}) {_RESULT})"            # 5 shape: 6 call, 7 requested,
        #                                                     8 ret, 9 errno
        rf"|(precopy_info argsz=({_NUM}) {_RESULT})"        # 10 shape: 11 argsz, 12 ret, 13
        rf" initial=({_NUM}) dirty=({_NUM}))"               # errno, 14 initial, 15 dirty
    )


HOT_LINE = re.compile(_hot_line(f"({_NUM})"))
#: a data fd's close in its plain spelling (groups 1-4 as in HOT_LINE, 5 ret, 6 errno): it
#: ends the fd's file, so it is read in context (CanonicalTrace.hot_close), never in a run
CLOSE_LINE = re.compile(
    rf"(?:@([0-9]{{1,18}}\.[0-9]{{1,18}}) |)"
    rf"(?:\[({_NUM})(?:/({_NUM})|)\] |)"
    rf"fd ({_NUM}) close {_RESULT}")
#: the time stamp and thread of a line :data:`HOT_LINE` matches (groups 1-3 as there): its
#: start, so ``match`` at a hot line's start gives HOT_LINE's groups 1-3 ("fd" follows)
STAMP = re.compile(r"(?:@([0-9]{1,18}\.[0-9]{1,18}) |)(?:\[([0-9]{1,18})(?:/([0-9]{1,18})|)\] |)")
#: the groups holding a line's *shape*: everything of its event but the provenance (time,
#: thread, line), the fd and the sizes PRECOPY_INFO reports (one of the two is None)
SHAPE_GROUPS = (5, 10)

#: fd text -> (the pattern of one or more whole hot lines on that fd, each ending in a
#: newline; the pattern giving each such line's shape): see :func:`run_patterns`
_RUN_PATTERNS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {}
_MAX_RUN_PATTERNS = 64


def _uncaptured(pattern: str) -> str:
    """``pattern`` (HOT_LINE's kind: no escaped parenthesis) with its groups made
    non-capturing: a repeated group's captures cost the re module ~35 % more a line."""
    return pattern.replace("(?:", "(").replace("(", "(?:")


def run_patterns(fd_text: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """For lines joined by newlines: the pattern that takes, from a line's start, every
    following line that :data:`HOT_LINE` matches in full with ``fd_text`` as its fd (at
    least one; each line's pattern is HOT_LINE's with the fd written out, so a line that
    holds no newline is taken exactly when HOT_LINE.fullmatch gives it that fd), and the
    pattern whose ``findall`` over text the first one took gives each line's shape
    (group 5 or 10 of its HOT_LINE match). So a reader takes a run of hot lines in a few
    calls rather than a few calls a line."""
    found = _RUN_PATTERNS.get(fd_text)
    if found is None:
        if len(_RUN_PATTERNS) >= _MAX_RUN_PATTERNS:
            _RUN_PATTERNS.clear()
        fd = re.escape(fd_text)
        found = _RUN_PATTERNS[fd_text] = (
            re.compile(rf"(?:{_uncaptured(_hot_line(fd))}\n)+"),
            # (only over lines the first pattern took, where "fd N " is found once a line)
            re.compile(rf"fd {fd} ((?:read|write) [^\n]*"
                       rf"|precopy_info argsz=[0-9]+ = -?[0-9]+(?: [A-Z][A-Z0-9_]*|))"))
    return found


def hot_event(m: re.Match[str], fds: dict[int, Any], file: str, number: int,
              text: str) -> Event | None:
    """The event of a line :data:`HOT_LINE` matched in full, or None when the line's fd is
    not among the trace's open ``fds`` (the general path notes that and names a file)."""
    ts, first, second, fd_text, _shape, call, requested, ret, errno, _pshape, argsz, pret, \
        perrno, initial, dirty = m.groups()
    fd = int(fd_text)
    open_fd = fds.get(fd)
    if open_fd is None:
        return None
    # hot_event_on's body, inlined: the plain reader's loop calls this for most lines
    if second is None:
        pid, tid = None, None if first is None else int(first)
    else:
        pid, tid = int(first), int(second)
    if call is not None:
        return built(DataIO, {
            "origin": origin_at(file, number), "pid": pid, "tid": tid,
            "ts": None if ts is None else float(ts), "duration": None, "text": text,
            "fd": fd, "file": open_fd.file, "call": call, "direction": call,
            "requested": int(requested), "ret": int(ret), "errno": errno,
            "positioned": False})
    return built(PrecopyInfo, {
        "origin": origin_at(file, number), "pid": pid, "tid": tid,
        "ts": None if ts is None else float(ts), "duration": None, "text": text,
        "fd": fd, "file": open_fd.file, "ret": int(pret), "errno": perrno,
        "argsz": int(argsz), "initial_bytes": int(initial), "dirty_bytes": int(dirty)})


def hot_event_on(m: re.Match[str], ident: str, file: str, number: int, text: str) -> Event:
    """:func:`hot_event` for a line whose fd is open as the file ``ident``."""
    ts, first, second, fd_text, _shape, call, requested, ret, errno, _pshape, argsz, pret, \
        perrno, initial, dirty = m.groups()
    fd = int(fd_text)
    if second is None:
        pid, tid = None, None if first is None else int(first)
    else:
        pid, tid = int(first), int(second)
    if call is not None:
        return built(DataIO, {
            "origin": origin_at(file, number), "pid": pid, "tid": tid,
            "ts": None if ts is None else float(ts), "duration": None, "text": text,
            "fd": fd, "file": ident, "call": call, "direction": call,
            "requested": int(requested), "ret": int(ret), "errno": errno,
            "positioned": False})
    return built(PrecopyInfo, {
        "origin": origin_at(file, number), "pid": pid, "tid": tid,
        "ts": None if ts is None else float(ts), "duration": None, "text": text,
        "fd": fd, "file": ident, "ret": int(pret), "errno": perrno,
        "argsz": int(argsz), "initial_bytes": int(initial), "dirty_bytes": int(dirty)})


class HotMember:
    """Makes the event of one line of a run of hot lines on the open file ``ident``
    (``Run.build``). ``matches``: the reader's matches of the run's lines, from line
    ``start`` on (kept rather than matching a line again: the engine asks for a few lines
    of every run), None for a line taken without a match of its own (:func:`run_patterns`);
    ``matches`` None: every line is matched again, as the reader matched it."""

    __slots__ = ("ident", "matches", "start")

    def __init__(self, ident: str, matches: list[re.Match[str]] | None = None,
                 start: int = 0) -> None:
        self.ident = ident
        self.matches = matches
        self.start = start

    def __call__(self, file: str, number: int, text: str) -> Event:
        m: re.Match[str] | None = None
        if self.matches is not None:
            m = self.matches[number - self.start]
            assert m is None or m.string is text, text
        if m is None:
            m = HOT_LINE.fullmatch(text)
            assert m is not None, text
        return hot_event_on(m, self.ident, file, number, text)

    @staticmethod
    def stamp(text: str) -> tuple[float | None, int | None, int | None]:
        """``(ts, pid, tid)`` of a hot line's event, as :func:`hot_event_on` reads them,
        from the line's start alone (``DataRun.stamp``)."""
        ts, first, second = STAMP.match(text).groups()  # type: ignore[union-attr]
        if second is None:
            pid, tid = None, None if first is None else int(first)
        else:
            pid, tid = int(first), int(second)
        return None if ts is None else float(ts), pid, tid

    @staticmethod
    def time(text: str) -> float | None:
        """The ``ts`` of :meth:`stamp`: a hot line starts with "@" only for its time
        stamp, which a blank ends."""
        return float(text[1:text.index(" ")]) if text[0] == "@" else None
