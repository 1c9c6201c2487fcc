"""Skipping irrelevant lines in C, when the optional extension ``_linescan`` is built.

The skip pattern of :mod:`scan` costs CPython's regex engine ~0.6 us a line of a QEMU
capture, and proving afterwards how the halves of split calls pair costs more. The
extension makes the same decisions in one pass over a block: for each line the thread
(pid column), the stamp, the call name, and for the calls that can matter the fd (one of
the ordinary files of the shared fd table, with its exact ``-y`` decoration) and the few
substrings the per-line path looks for. It pairs the halves of quiet split calls itself,
thread by thread, so no proof is needed: a line of a thread whose first half it stepped
over is either that call's second half or the place where it stops.

Everything it steps over, the per-line path of ``reader._read_one`` would count as
irrelevant without touching the reader's state (first halves left pending at the stop are
handed back and read as that path reads them); anything else stops it. It reads ASCII
blocks only (strace escapes every other byte); other blocks take the per-line path.

The extension is optional: a machine without a C compiler installs the package without
it, and the reader then uses :mod:`scan`'s patterns, with identical results
(tests/test_strace_linescan.py holds both against the per-line path). Setting
``VFIO_MIGCHECK_NO_C_SCAN=1`` turns it off.
"""

from __future__ import annotations

import os

from vfio_migcheck.traces.strace.fdtable import DATA, EPOLL, OTHER, FdTable
from vfio_migcheck.traces.strace.ioctl import FD_RETURNING_PREFIXES
from vfio_migcheck.traces.strace.scan import cache_key, state_key
from vfio_migcheck.traces.strace.threads import (
    EPOLL_WAIT,
    IO,
    IOCTL,
    NAME_CLASS,
    POLL,
    POLL_SETS,
    RECVMSG,
    WRITES,
    Thread,
)

try:
    from vfio_migcheck.traces.strace import _linescan
except ImportError:   # built without a C compiler: the patterns of scan.py do the work
    _linescan = None

#: whether the reader scans with the extension
AVAILABLE = _linescan is not None and not os.environ.get("VFIO_MIGCHECK_NO_C_SCAN")

#: the thread of lines without a pid column, as the extension knows it
NO_PID_COLUMN = -1


def _name_codes() -> list[tuple[str, int]]:
    """Every call name the reader knows, with what the extension checks of it (a name it
    is not given is a call VFIO never makes)."""
    by_class = {IO: _linescan.NAME_READ, IOCTL: _linescan.NAME_IOCTL,
                RECVMSG: _linescan.NAME_RECVMSG, EPOLL_WAIT: _linescan.NAME_EPOLL_WAIT,
                POLL: _linescan.NAME_POLL}
    codes = []
    for name, cls in NAME_CLASS.items():
        code = by_class.get(cls, _linescan.NAME_LOUD)
        if name in POLL_SETS:
            code = _linescan.NAME_POLL_SET
        if name in WRITES:
            code = _linescan.NAME_WRITE
        codes.append((name, code))
    return codes


#: (name, what the extension checks of it) for every call name the reader knows
_NAMES = _name_codes() if _linescan is not None else []
#: scanners by the state they were made from (scan.cache_key)
_CACHE: dict[tuple, object] = {}


def scanner(threads: dict[int | None, Thread], steady: bool, pid_column: bool):
    """The extension's scanner for the reader's current state, or None when the state
    cannot be scanned (threads of several processes: scan.state_key)."""
    if not AVAILABLE or state_key(threads, steady, pid_column) is None:
        return None
    table: FdTable = next(iter(threads.values())).table
    key = cache_key(threads, table, steady, pid_column)
    found = _CACHE.get(key)
    if found is None:
        if len(_CACHE) > 256:
            _CACHE.clear()
        tids = [tid for tid in threads if tid is not None and 0 <= tid] if pid_column else []
        if None in threads:
            tids.append(NO_PID_COLUMN)
        others = []
        for fd, entry in table.fds.items():
            if entry.file.kind == OTHER:
                token = entry.token
                others.append((fd, token if token is not None and token.isascii()
                               and token.startswith(f"{fd}<") else None))
        epolls = [fd for fd, entry in table.fds.items() if entry.file.kind == EPOLL]
        found = _CACHE[key] = _linescan.Scanner(
            threads=tids, others=others, epolls=epolls, known=list(table.fds), names=_NAMES,
            prefixes=list(FD_RETURNING_PREFIXES), steady=steady,
            data_open=bool(table.counts.get(DATA)), pid_column=pid_column)
    return found


def busy_threads(threads: dict[int | None, Thread]) -> tuple[int, ...]:
    """The threads with a call pending in the reader: the scan stops at their lines."""
    return tuple(NO_PID_COLUMN if tid is None else tid
                 for tid, thread in threads.items() if thread.pending is not None)
