"""The strace reader: ``sniff`` and ``read`` for captures of a VMM (docs/traces.md).

Reading is a single pass over the lines in trace order. A compiled-regex head match
(pid prefix, timestamp, call name, first fd argument) decides cheaply whether a line can
concern VFIO at all; only the lines that can — calls on device or data fds, on fds never
seen before, and the calls that create, duplicate or close fds — are parsed with the
grammar (grammar/strace.lark, with a regex fast path for flat calls) and turned into
events by :class:`vfio_migcheck.traces.strace.session.Session`.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from vfio_migcheck.traces.events import (
    COLLAPSE_RUNS,
    Event,
    EventBatch,
    ReadSummary,
    origin_at,
)
from vfio_migcheck.traces.lines import BadLine, strip_compression_suffix
from vfio_migcheck.traces.strace import linescan
from vfio_migcheck.traces.strace.clock import RELATIVE, Clock
from vfio_migcheck.traces.strace.fdtable import DATA, DEVICE, EPOLL, OTHER
from vfio_migcheck.traces.strace.ioctl import FD_RETURNING_PREFIXES
from vfio_migcheck.traces.strace.lines import CLEAN, iter_text_blocks, iter_text_lines, open_binary
from vfio_migcheck.traces.strace.plans import Plan
from vfio_migcheck.traces.strace.quiet import poll_is_quiet
from vfio_migcheck.traces.strace.scan import (
    EVERY_LINE,
    PAIR_WINDOW,
    built_patterns,
    pair_pattern,
    skip_pattern,
    state_key,
)
from vfio_migcheck.traces.strace.session import CALL_HEAD, CLONE_NAMES, FAST_HEAD, HEAD, Session
from vfio_migcheck.traces.strace.sniff import sniff  # noqa: F401 - the reader interface
from vfio_migcheck.traces.strace.threads import (
    CLOSE,
    EPOLL_WAIT,
    IO,
    IOCTL,
    NAME_CLASS,
    POLL,
    POLL_SETS,
    RECVMSG,
    WRITES,
    Pending,
    Thread,
)


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
    """One capture file: a block scanner and an inlined per-line loop in front of
    :meth:`Session.line`.

    Each clean block of text is searched with the pattern of :mod:`scan`, which steps over
    the lines it can prove irrelevant without a Python loop per line (quiet split calls in
    pairs: :func:`_crossing_pairs` proves the pairing after each search), or, where the
    optional C extension is built, stepped over by :mod:`linescan`'s scanner, which makes
    the same decisions and pairs split calls itself; the lines either stops at go through
    the per-line loop below. That loop only settles lines that
    :meth:`Session.line` would count as irrelevant without any side effect (calls of no
    interest, I/O and ioctls on fds known to be neither device nor data fds) and the
    pairing of quiet split calls; everything else is handed to ``Session.line``, after
    which the pattern is rebuilt if the state it depends on changed. Keeping this loop
    free of method calls is what makes big captures fast (benchmarks/).
    """
    name = str(path)
    line = session.line
    out = session.out
    summary = session.summary
    fast_head, head = FAST_HEAD.match, HEAD.match
    classes = NAME_CLASS
    threads = session.threads
    steady = session.steady_clocks
    writes = WRITES
    fd_prefixes = FD_RETURNING_PREFIXES
    other = OTHER
    io_class, ioctl_class, poll_class, data = IO, IOCTL, POLL, DATA
    close_class = CLOSE
    epoll_wait_class, epoll = EPOLL_WAIT, EPOLL
    recvmsg_class, poll_sets = RECVMSG, POLL_SETS
    call_head, quiet, stamp_of = CALL_HEAD.match, session.quiet, session.stamp
    clone_names = CLONE_NAMES
    device_or_data = (DEVICE, DATA)
    calls = session.calls
    complete = calls.complete
    plans = calls.plans if calls.plans is not None else {}
    hot: dict[str, _HotLine] = {}   # whole line text -> how it was read (no stamp, no -T)
    handle = open_binary(path)
    irrelevant = 0
    seen = False
    number = 0
    search = every_line = EVERY_LINE.search
    # the C scanner of the state (linescan.py), which replaces the pattern when built
    c_scan = None
    c_available = linescan.AVAILABLE
    busy = linescan.busy_threads
    build_at = _NEVER_BUILD   # the line from which on the state's pattern is worth building
    probe_at = _NEVER_BUILD   # ... from which on its pattern is looked up among those built
    key: tuple | None = None
    pair: re.Pattern[str] | None = None   # the pattern's rule for split pairs (scan.py)
    dirty = True   # the state the pattern was built from may have changed
    read_so_far = [0]   # the lines of the blocks read so far (iter_text_blocks asks)
    # the checker takes the events in batches (EventBatch: its engine may replay a whole
    # stretch of cached steps at once); everyone else one by one
    collapse = COLLAPSE_RUNS.get()
    with handle:
        for kind, block in iter_text_blocks(handle, lambda: read_so_far[0]):
            if kind != CLEAN:
                for item in block:
                    if type(item) is tuple:
                        number = item[0]
                        line(name, number, item[1])
                    else:
                        number = item.number
                        session.bad_line(name, item)
                dirty = True
            else:
                pos = 0
                last = len(block) - 1
                narrow = block.isascii()   # (the C scanner reads ASCII blocks only)
                split_at = -1   # the newline before the next line ending in "...>"
                by_line = -1    # lines up to this newline are read one by one
                hold_at = -1    # the newline before the next line of a thread with a
                #                 call pending (the pattern's pair rules assume none)
                while True:
                    if dirty and seen:
                        dirty = False
                        now = state_key(threads, name in steady, session.saw_pid_column)
                        if now != key:
                            # a new state: read line by line until it has lasted long
                            # enough to be worth a pattern (most states of a VFIO-dense
                            # capture, and short captures, never are)
                            key = now
                            search, pair, c_scan = every_line, None, None
                            probe_at = number + PROBE_AFTER
                            build_at = number + BUILD_AFTER
                    if number >= probe_at:
                        # a state seen before may have its pattern built already
                        probe_at = _NEVER_BUILD
                        if c_available:
                            # (a C scanner costs microseconds to make: no waiting)
                            scanner = linescan.scanner(threads, name in steady,
                                                       session.saw_pid_column)
                            if scanner is not None:
                                build_at = _NEVER_BUILD
                                c_scan = scanner.scan
                        else:
                            built = built_patterns(threads, name in steady,
                                                   session.saw_pid_column)
                            if built is not None:
                                build_at = _NEVER_BUILD
                                search, pair = built[0].search, built[1]
                    if number >= build_at:
                        build_at = _NEVER_BUILD
                        if key is not None:
                            search = skip_pattern(threads, name in steady,
                                                  session.saw_pid_column).search
                            pair = pair_pattern(threads, name in steady,
                                                session.saw_pid_column)
                    if c_scan is not None:
                        if narrow:
                            start, skipped, crossing = c_scan(block, pos, last, busy(threads))
                            if skipped:
                                number += skipped
                                irrelevant += skipped
                                if crossing:
                                    _start_splits(session, name, block, [
                                        (begin, number - skipped + index + 1)
                                        for begin, index in crossing])
                                    irrelevant -= len(crossing)
                                    hold_at = -1
                                    dirty = True
                        else:
                            start = pos
                    elif pos < by_line:
                        start = pos
                    elif search is every_line:
                        start = pos   # pos is at a newline: the very next line is read
                    elif pair is None:
                        if split_at < pos:
                            # unfinished calls always stop the scan; finding them with
                            # find() spares the pattern a look at every line's end
                            split_at = block.find("...>\n", pos)
                            split_at = last if split_at < 0 else block.rfind("\n", 0, split_at)
                        start = search(block, pos, split_at + 1).start()
                    else:
                        if hold_at < pos:
                            hold_at = _hold(block, pos, threads, last)
                        start = search(block, pos, hold_at + 1).start()
                        if start != pos:
                            crossing = _crossing_pairs(block, pos, start)
                            if crossing is None:
                                # a resumed line the pattern stepped over may not end a pair
                                # it stepped over: read the stretch line by line
                                by_line = start
                                start = pos
                            elif crossing:
                                _start_splits(session, name, block, [
                                    (begin, number + block.count("\n", pos, begin) + 1)
                                    for begin in crossing])
                                irrelevant -= len(crossing)
                                hold_at = -1
                                dirty = True
                    if start != pos and c_scan is None:
                        skipped = block.count("\n", pos, start)
                        number += skipped
                        irrelevant += skipped
                    if start == last:
                        break
                    if len(out) >= _HAND_OVER:
                        # a VFIO-dense block makes thousands of events: handed over in
                        # small batches they are gone before the collector looks, instead
                        # of surviving into its older generations (see _HAND_OVER)
                        summary.lines = number
                        summary.irrelevant += irrelevant
                        irrelevant = 0
                        if collapse:
                            yield _batch(out)
                        else:
                            yield from out
                        out.clear()
                    pos = block.find("\n", start + 1)
                    text = block[start + 1:pos]
                    number += 1
                    known = hot.get(text)
                    if known is not None:
                        # a line read before whose call is on a device or data fd: the
                        # same steps as below, from the thread on (see _HotLine)
                        thread = threads.get(known.tid)
                        entry = thread.table.fds.get(known.fd) if thread is not None else None
                        if entry is not None and entry.file.kind in device_or_data:
                            session.seen_real_line = True
                            if known.pid_column and not session.saw_pid_column:
                                session.saw_pid_column = True
                                dirty = True
                            origin = origin_at(name, number)
                            taken = known.plan.apply(calls, thread, origin, None, None, 1)
                            if taken is True:
                                continue
                            if not taken:   # (else a table changed: no plan does so on a
                                #                known fd, but the scan state is renewed)
                                calls.without_plan(thread, known.plan, origin, None, None, 1)
                            dirty = True
                            hold_at = -1
                            continue
                    match = fast_head(text) or head(text)
                    bracket_pid, plain_pid, stamp, call, fd_text, decorated = match.groups()
                    if stamp is not None and name not in steady:
                        pass
                    elif call is None:
                        # a quiet call resuming: "<... futex resumed>) = 0"
                        body = text[match.end():]
                        if body.startswith("<... "):
                            pid_text = plain_pid or bracket_pid
                            thread = threads.get(int(pid_text) if pid_text else None)
                            pending = thread.pending if thread is not None else None
                            if pending is not None and body.startswith(
                                    pending.name + " resumed>", 5):
                                # (a poll is judged again once a data fd exists: one may
                                # have appeared since its first half, as Session._joined
                                # judges the joined call)
                                if pending.quiet and not (
                                        thread.table.counts.get(data)
                                        and classes.get(pending.name) == poll_class):
                                    thread.pending = None
                                    irrelevant += 2
                                    hold_at = -1
                                    continue
                                # Session._resumed and _joined, up to the quiet decision
                                rest = body[len(pending.name) + 14:]
                                if rest[:1].isspace():
                                    rest = rest[1:]
                                if "<unfinished ...>" not in rest:
                                    joined = pending.head + rest
                                    whole = call_head(joined)
                                    cls = classes.get(whole.group(1)) if whole else None
                                    if cls is None or quiet(thread, cls, whole.group(1),
                                                            joined, whole.group(2),
                                                            whole.start(2),
                                                            whole.group(3) is not None):
                                        thread.pending = None
                                        irrelevant += 2
                                        hold_at = -1
                                        if not seen:
                                            session.seen_real_line = seen = True
                                        continue
                    elif text[-1] == ">" and text.endswith("...>"):
                        cls = classes.get(call)
                        if (cls is None or (cls == poll_class and "_mig" not in text)) and \
                                text.endswith(" <unfinished ...>"):
                            # a quiet call starting: only its pairing needs remembering
                            # (a poll matters only with data fds, which do not exist yet)
                            pid_text = plain_pid or bracket_pid
                            tid = int(pid_text) if pid_text else None
                            thread = threads.get(tid)
                            if thread is None:
                                thread = session.thread(tid)
                                dirty = True
                            if thread.pending is None and (
                                    cls is None or not thread.table.counts.get(data)
                                    or (call in poll_sets and poll_is_quiet(thread.table,
                                                                            text))):
                                thread.pending = _quiet_pending(session, call, cls, text,
                                                                match.start(4), number, name,
                                                                stamp)
                                hold_at = -1
                                if not seen:
                                    session.seen_real_line = seen = True
                                continue
                        if text.endswith(" <unfinished ...>") and call not in clone_names:
                            # any other call starting (Session._unfinished): remember it
                            pid_text = plain_pid or bracket_pid
                            thread = threads.get(int(pid_text) if pid_text else None)
                            if thread is not None and thread.pending is None:
                                thread.pending = Pending(call, text[match.start(4):-16].rstrip(),
                                                         number, name, stamp_of(name, stamp),
                                                         None)
                                hold_at = -1
                                if not seen:
                                    session.seen_real_line = seen = True
                                continue
                    else:
                        cls = classes.get(call)
                        if cls is None:
                            if not seen:
                                session.seen_real_line = seen = True
                            irrelevant += 1
                            continue
                        if cls == poll_class:
                            if "_mig" not in text:
                                # poll/ppoll/select: only data fds matter (Session._quiet)
                                pid_text = plain_pid or bracket_pid
                                thread = threads.get(int(pid_text) if pid_text else None)
                                if thread is not None and (
                                        not thread.table.counts.get(data)
                                        or (call in poll_sets and poll_is_quiet(thread.table,
                                                                                text))):
                                    if pid_text:
                                        session.saw_pid_column = True  # as Session.line
                                    irrelevant += 1
                                    continue
                        elif cls == recvmsg_class:
                            pid_text = plain_pid or bracket_pid
                            if "SCM_RIGHTS" not in text and (
                                    int(pid_text) if pid_text else None) in threads:
                                # recvmsg matters only when it passes fds (a new thread
                                # goes to Session.line, which notes how it joined)
                                if not seen:
                                    session.seen_real_line = seen = True
                                if pid_text:
                                    session.saw_pid_column = True
                                irrelevant += 1
                                continue
                        elif cls == epoll_wait_class and fd_text is not None:
                            # epoll_wait matters only on an epoll fd watching a data fd
                            pid_text = plain_pid or bracket_pid
                            thread = threads.get(int(pid_text) if pid_text else None)
                            entry = thread.table.fds.get(int(fd_text)) if thread else None
                            if thread is not None and (entry is None or entry.file.kind != epoll
                                                       or not entry.file.watched):
                                if pid_text:
                                    session.saw_pid_column = True
                                irrelevant += 1
                                continue
                        elif fd_text is not None and (cls == io_class or cls == ioctl_class
                                                      or cls == close_class):
                            pid_text = plain_pid or bracket_pid
                            thread = threads.get(int(pid_text) if pid_text else None)
                            entry = thread.table.fds.get(int(fd_text)) if thread else None
                            if cls == close_class:
                                # a close: Session.line's route only for a device or data
                                # fd (below); any other close goes to Session.line
                                if entry is None or entry.file.kind not in device_or_data:
                                    line(name, number, text, None, match)
                                    dirty = True
                                    hold_at = -1
                                    continue
                            elif entry is None:
                                if thread is not None:
                                    # an fd not in the table (a data fd's first use, which
                                    # changes the table): Session.line's route, to its
                                    # complete call
                                    session.seen_real_line = True
                                    if pid_text:
                                        session.saw_pid_column = True
                                    complete(thread, text[match.start(4):],
                                             origin_at(name, number), stamp_of(name, stamp), 1)
                                    dirty = True
                                    hold_at = -1
                                    continue
                            if entry is not None and entry.file.kind == other and (
                                    decorated is None or (
                                        entry.token is not None
                                        and text.startswith(entry.token, match.start(5)))):
                                if cls == io_class:
                                    if call not in writes or ("vfio" not in text
                                                              and "\\x" not in text):
                                        if pid_text:
                                            session.saw_pid_column = True
                                        irrelevant += 1
                                        continue
                                else:
                                    comma = text.find(", ", match.end(5))
                                    if comma < 0 or not text.startswith(fd_prefixes,
                                                                        comma + 2):
                                        if pid_text:
                                            session.saw_pid_column = True
                                        irrelevant += 1
                                        continue
                            elif entry is not None and entry.file.kind in device_or_data:
                                # a call on a known device or data fd: Session.line up to
                                # its complete call, which a kept plan (plans.py) often
                                # settles without touching the scan's state
                                session.seen_real_line = True
                                if pid_text and not session.saw_pid_column:
                                    session.saw_pid_column = True
                                    dirty = True
                                body = text[match.start(4):]
                                taken = complete(thread, body, origin_at(name, number),
                                                 stamp_of(name, stamp), 1)
                                if stamp is None:
                                    # remembered whatever the plan did: the memo's route
                                    # (above) is complete()'s with the same plan
                                    plan = plans.get(body)
                                    if plan is not None:
                                        if len(hot) >= _HOT_LINES:
                                            hot.clear()
                                        hot[text] = _HotLine(
                                            int(pid_text) if pid_text else None,
                                            int(fd_text), bool(pid_text), plan)
                                if taken:
                                    continue
                                dirty = True
                                hold_at = -1
                                continue
                    line(name, number, text, None, match)
                    dirty = True
                    hold_at = -1
            read_so_far[0] = number
            if out:
                summary.lines = number
                summary.irrelevant += irrelevant
                irrelevant = 0
                if collapse:
                    yield _batch(out)
                else:
                    yield from out
                out.clear()
    summary.lines = number
    summary.irrelevant += irrelevant


def _batch(out: list[Event]) -> EventBatch:
    """The events collected so far as one :class:`EventBatch` (``ts``: the first stamp)."""
    ts = None
    for event in out:
        if event.ts is not None:
            ts = event.ts
            break
    return EventBatch(out[0].origin, events=tuple(out), ts=ts)


class _HotLine(NamedTuple):
    """A line (whole text, without a stamp or a -T duration) that was read as a call on
    a known device or data fd, and whose plan took it.

    The same text again is the same thread column and the same call, so only what
    the reader's state decides is looked at afresh: the thread, and its fd's entry
    being a device or data fd (then the line takes the route it took before). Any
    other state reads the line from its head as usual.
    """

    tid: int | None    # the thread's key (the pid column)
    fd: int            # the fd the line's head shows
    pid_column: bool
    plan: Plan


#: events the per-line loop collects before it hands them over mid-block: a 256 KiB block
#: of a VFIO-dense capture makes ~3,500, which outlived the collector's young generations
#: (full collections every ~15k lines, ~40 % of the reader's CPU time on the realistic loop)
_HAND_OVER = 64
#: whole lines remembered as _HotLine before the memo starts afresh
_HOT_LINES = 4096
#: lines a state must last before its skip pattern is built (a build costs ~10 ms, as much
#: as reading a few thousand lines one by one)
BUILD_AFTER = 256
#: lines a state must last before the patterns built already are searched for its own
#: (in a VFIO-dense capture the state changes every few lines: no look-up at all)
PROBE_AFTER = 8
_NEVER_BUILD = 1 << 62


def _hold(block: str, pos: int, threads: dict[int | None, Thread], last: int) -> int:
    """The newline in front of the first line after ``pos`` that may belong to a thread
    with a call pending (a line of another thread's pid column does not): the pattern's
    pair rules hold for threads with nothing pending only, so the search stops there."""
    hold = last
    for tid, thread in threads.items():
        if thread.pending is None:
            continue
        if tid is None:
            return pos
        found = _may_be_of(str(tid))
        at = found.search(block, pos, hold + 1).start() if pos < hold else hold
        if at < hold:
            hold = at
    return hold


def _crossing_pairs(block: str, pos: int, start: int) -> list[int] | None:
    """After a search stepped over the lines between the newlines ``pos`` and ``start``:
    the newlines in front of the first halves of split pairs (scan.pair_pattern) whose
    second half lies past ``start``; None when a resumed line in the stretch may not be
    the second half of a pair stepped over.

    The pattern steps over the second half of any split call of a thread with nothing
    pending, because it cannot look back at the first half; counting proves the pairing
    instead. Every first half it stepped over is followed, as its thread's next line, by
    its second half, so the resumed lines of the stretch are at least the first halves
    whose second half is in the stretch; ``<... `` occurring no more often than that
    means there is no other resumed line (and no ``<... `` inside a string either).

    Where a first half's second half lies needs no second look at the pair rule (which
    already held when the pattern stepped over it, and reads the same lines now): it is
    the thread's next line, so the first half crosses the stop when no line between its
    end and ``start`` may belong to its thread (:func:`_next_of`).
    """
    # (every line the pattern steps over that ends in "...>" ends in " <unfinished ...>":
    # the longer needle lets the count skip ahead ~3 times faster)
    halves = block.count(" <unfinished ...>\n", pos, start + 1)
    if not halves:
        return None if block.find("<... ", pos, start + 1) >= 0 else []
    resumed = block.count("<... ", pos, start + 1)
    crossing: list[int] = []
    at = start + 1
    below = start   # the newline in front of the last first half looked at
    lines = 0       # lines from there to the stop
    while True:
        end = block.rfind("...>\n", pos, at)
        if end < 0:
            break
        begin = block.rfind("\n", pos, end)
        lines += block.count("\n", begin, below)
        if lines > PAIR_WINDOW + 1:
            break   # its second half is at most PAIR_WINDOW + 1 lines on: before start
        if end + 5 <= start:
            # commonly the very next line is the second half: it starts with the plain
            # pid column of the first half ("4253 "), and lies before the stop
            column = block[begin + 1:block.find(" ", begin + 1) + 1]
            if len(column) > 1 and column[0] != "[" and block.startswith(column, end + 5):
                below = begin
                at = begin + 1
                continue
        if _next_of(block, begin, end + 4, start) is None:
            crossing.append(begin)
        below = begin
        at = begin + 1
    if resumed != halves - len(crossing):
        return None
    crossing.reverse()
    return crossing


def _next_of(block: str, begin: int, end: int, start: int) -> re.Match[str] | None:
    """The newline in front of the next line after ``end`` (up to the newline ``start``)
    that may belong to the thread of the line after the newline ``begin``; None when every
    line in between is another thread's (pid column as in scan's pair rule)."""
    pid = _PID_COLUMN.match(block, begin + 1).group(1)
    return _may_be_of(pid).search(block, end, start)


def _may_be_of(pid: str) -> re.Pattern[str]:
    """A pattern matching at the newline in front of a line that is not certainly
    another thread's than ``pid``'s: its pid column is not a clean, different number."""
    found = _MAY_BE_OF.get(pid)
    if found is None:
        if len(_MAY_BE_OF) > 4096:
            _MAY_BE_OF.clear()
        found = _MAY_BE_OF[pid] = re.compile(
            rf"\n(?!(?:\[pid +|)(?!0|{pid}[^0-9])[0-9]{{1,7}}[ \]])")
    return found


_PID_COLUMN = re.compile(r"(?:\[pid +)?(\d+)")
_MAY_BE_OF: dict[str, re.Pattern[str]] = {}


def _start_splits(session: Session, name: str, block: str,
                  halves: list[tuple[int, int]]) -> None:
    """First halves of split pairs that a scan stepped over and whose second half lies past
    where it stopped: read now, as the per-line loop would have read them. ``halves``:
    (the newline in front of each, its line number), in text order."""
    for begin, number in halves:
        _start_split(session, name, block[begin + 1:block.find("\n", begin + 1)], number)


def _start_split(session: Session, name: str, text: str, number: int) -> None:
    """The first half of a split call, read as the per-line loop of :func:`_read_one` reads
    it (pending, quiet or not); the pattern had stepped over it."""
    match = FAST_HEAD.match(text) or HEAD.match(text)
    bracket_pid, plain_pid, stamp, call, _fd, _decorated = match.groups()
    pid_text = plain_pid or bracket_pid
    thread = session.threads.get(int(pid_text) if pid_text else None)
    if (call is not None and thread is not None and thread.pending is None
            and text.endswith(" <unfinished ...>")
            and (stamp is None or name in session.steady_clocks)):
        cls = NAME_CLASS.get(call)
        table = thread.table
        if (cls is None or (cls == POLL and "_mig" not in text)) and (
                cls is None or not table.counts.get(DATA)
                or (call in POLL_SETS and poll_is_quiet(table, text))):
            thread.pending = _quiet_pending(session, call, cls, text, match.start(4), number,
                                            name, stamp)
            return
        if call not in CLONE_NAMES:
            thread.pending = Pending(call, text[match.start(4):-16].rstrip(), number, name,
                                     session.stamp(name, stamp), None)
            return
    session.line(name, number, text, None, match)


def _quiet_pending(session: Session, call: str, cls: int | None, text: str, start: int,
                   number: int, name: str, stamp: str | None) -> Pending:
    """The first half of a quiet split call. A poll keeps its text and time as
    ``Session._unfinished`` would: a data fd may appear before it resumes (then the joined
    poll is judged again) or it may never resume (then it is read from its first half)."""
    if cls is None:
        return Pending(call, call + "(", number, name, None, None, True)
    return Pending(call, text[start:-16].rstrip(), number, name, session.stamp(name, stamp),
                   None, True)


def _file_pid(path: Path) -> int | None:
    suffix = Path(strip_compression_suffix(path.name)).suffix[1:]   # x.strace.940.gz: 940
    return int(suffix) if suffix.isdigit() else None


def _timed_records(index: int, path: Path, anchor: str | None) -> Iterator[tuple]:
    """(seconds, file index, line number, text|BadLine) for one -ff file, in file order."""
    clock = Clock()
    if anchor is not None:
        clock.anchor(anchor)
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


def _first_stamp(path: Path) -> str | None:
    """The timestamp of the first line of a file ("" for an empty file)."""
    for item in iter_text_lines(path):
        if type(item) is tuple:
            return HEAD.match(item[1]).group(3)
    return ""


def _is_absolute(stamp: str | None) -> bool:
    if stamp == "":
        return True  # an empty file orders trivially
    if stamp is None:
        return False
    clock = Clock()
    clock.value(stamp)
    return clock.mode != RELATIVE


def _read_many(session: Session, paths: list[Path]) -> Iterator[Event]:
    """-ff: one file per thread, merged by timestamp (heap merge of lazy generators)."""
    session.many_files = True
    names = [str(p) for p in paths]
    pids = [_file_pid(p) for p in paths]
    summary = session.summary
    out = session.out
    firsts = [_first_stamp(p) for p in paths]
    if all(_is_absolute(stamp) for stamp in firsts):
        # the process with the lowest pid started first: its first time of day anchors
        # the others, so a file that begins after midnight lands on the next day
        anchor = next((stamp for stamp in firsts if stamp), None)
        if anchor is not None:
            for name in names:
                session.clock(name).anchor(anchor)  # the events' times, the same way
        records = heapq.merge(*(_timed_records(i, p, anchor) for i, p in enumerate(paths)))
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
