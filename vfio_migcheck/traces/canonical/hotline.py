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

# numbers of at most 18 digits: int() reads them as the general path's number() does
_NUM = r"[0-9]{1,18}"
_RESULT = rf"= (-?{_NUM})(?: ([A-Z][A-Z0-9_]*))?"
HOT_LINE = re.compile(
    rf"(?:@([0-9]{{1,18}}\.[0-9]{{1,18}}) )?"           # 1 timestamp
    rf"(?:\[({_NUM})(?:/({_NUM}))?\] )?"                # 2, 3 [TID] or [PID/TID]
    rf"fd ({_NUM}) "                                    # 4 fd
    rf"(?:((read|write) ({_NUM}) {_RESULT})"            # 5 shape: 6 call, 7 requested,
    #                                                     8 ret, 9 errno
    rf"|(precopy_info argsz=({_NUM}) {_RESULT})"        # 10 shape: 11 argsz, 12 ret, 13 errno
    rf" initial=({_NUM}) dirty=({_NUM}))"               # 14 initial, 15 dirty
)
#: a data fd's close in its plain spelling (groups 1-4 as in HOT_LINE, 5 ret, 6 errno): it
#: ends the fd's file, so it is read in context (CanonicalTrace.hot_close), never in a run
CLOSE_LINE = re.compile(
    rf"(?:@([0-9]{{1,18}}\.[0-9]{{1,18}}) )?"
    rf"(?:\[({_NUM})(?:/({_NUM}))?\] )?"
    rf"fd ({_NUM}) close {_RESULT}")
#: the groups holding a line's *shape*: everything of its event but the provenance (time,
#: thread, line), the fd and the sizes PRECOPY_INFO reports (one of the two is None)
SHAPE_GROUPS = (5, 10)


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
    of every run); None: the line is matched again, as the reader matched it."""

    __slots__ = ("ident", "matches", "start")

    def __init__(self, ident: str, matches: list[re.Match[str]] | None = None,
                 start: int = 0) -> None:
        self.ident = ident
        self.matches = matches
        self.start = start

    def __call__(self, file: str, number: int, text: str) -> Event:
        if self.matches is not None:
            m: re.Match[str] | None = self.matches[number - self.start]
            assert m is not None and m.string is text, text
        else:
            m = HOT_LINE.fullmatch(text)
            assert m is not None, text
        return hot_event_on(m, self.ident, file, number, text)
