"""The state of one strace capture being read: threads, fd tables, split calls.

:meth:`Session.line` takes one raw line and either counts it as irrelevant (the fast
path: a regex head match and a dict lookup), keeps it as the first half of an unfinished
call, or hands the complete call to :mod:`calls` which turns it into events.
Events are appended to :attr:`Session.out`; the reader yields and clears that list after
each line, so memory stays flat.
"""

from __future__ import annotations

import re
from collections import OrderedDict

from vfio_migcheck.traces.events import (
    UNKNOWN,
    Event,
    Origin,
    ProcessEvent,
    ReadSummary,
    Unreadable,
    origin_at,
)
from vfio_migcheck.traces.lines import BadLine
from vfio_migcheck.traces.strace.calls import CallHandler
from vfio_migcheck.traces.strace.clock import RELATIVE, Clock
from vfio_migcheck.traces.strace.dispatch import HANDLERS
from vfio_migcheck.traces.strace.fdtable import (
    DATA,
    DEVICE,
    EPOLL,
    OTHER,
    FdEntry,
    FdTable,
    OpenFile,
)
from vfio_migcheck.traces.strace.ioctl import FD_RETURNING_PREFIXES
from vfio_migcheck.traces.strace.quiet import poll_is_quiet, recvmsg_is_quiet
from vfio_migcheck.traces.strace.threads import (
    EPOLL_WAIT,
    FCNTL,
    IO,
    IOCTL,
    MMAP,
    NAME_CLASS,
    POLL,
    POLL_SETS,
    RECVMSG,
    SEEK,
    WRITES,
    XFER,
    Pending,
    Thread,
)

# pid prefix (1: [pid N], 2: N), timestamp (3), call name (4), first fd argument (5, 6: "<")
# A pid has at most 7 digits (pid_max <= 2^22), so 8+ digits are epoch seconds (-ttt with
# --timestamps=precision:s).
# FAST_HEAD is the same for the commonest shape, "PID  TIMESTAMP name(" (strace -f -o FILE
# with -t/-tt/-ttt), without the alternatives that make HEAD slower; group 1 is always ''.
FAST_HEAD = re.compile(
    r"()(\d{1,7}) +(\d\d:\d\d:\d\d(?:\.\d{1,20})?|\d{1,20}\.\d{1,20}|\d{8,20}) "
    r"(?:([A-Za-z_$][A-Za-z0-9_$]*)\((?:(-?\d{1,10})(?![0-9xX])(<)?)?)?"
)
HEAD = re.compile(
    r"(?:\[pid\s+(\d{1,10})(?:<[^>]*>)?\]\s*|(\d{1,7})(?:<[^>]*>)?\s+)?"
    r"\s*(?:(\d\d:\d\d:\d\d(?:\.\d{1,20})?|\d{1,20}\.\d{1,20}|\d{8,20})\s+)?"
    r"(?:([A-Za-z_$][A-Za-z0-9_$]*)\((?:(-?\d{1,10})(?![0-9xX])(<)?)?)?"
)
CALL_HEAD = re.compile(r"([A-Za-z_$][A-Za-z0-9_$]*)\((?:(-?\d{1,10})(?![0-9xX])(<)?)?")
# searched: no leading \s* (each start would rescan a run of blanks); callers strip it
_UNFINISHED = re.compile(
    r"<(?:unfinished|detached|pid changed to \d+)(?: #(\d+))? \.\.\.>\s*$")
_RESUMED = re.compile(r"<\.\.\. ([A-Za-z_$][A-Za-z0-9_$]*) resumed(?: #(\d+))?>\s?(.*)$")
_EXIT = re.compile(r"\+\+\+ (?:exited with (-?\d{1,10})|killed by (SIG[A-Z0-9_+-]+|\d{1,10})"
                   r"(?: \(core dumped\))?|superseded by execve in pid (\d{1,10})) \+\+\+\s*$")
_SIGNAL = re.compile(r"--- (?:stopped by )?(SIG[A-Z0-9_+-]+|\d+)\b.*---\s*$")
_STRACE_PROCESS = re.compile(r"(?:strace: )?Process (\d{1,10}) (attached|detached|suspended)\b")
_PERSONALITY = re.compile(r"\[ Process PID=(\d+) runs in .* mode\. \]\s*$")
_STRACE_MESSAGE = re.compile(r"strace: |\(strace: ")
# lines strace adds under a call: -e read=/write= hex dumps, -k stack frames
_CONTINUATION = re.compile(r"(?:\[pid\s+\d+\]|\d+(?=\s))?"
                           r"(?:(?P<dump>\s*\| [0-9a-f]{5}  )|(?P<stack>\s+> \S))")
# the table strace -C prints at the end: header, rules, one row per syscall, the total
_COUNT_SUMMARY = re.compile(r"\s*(?:% time\s+seconds|-{6,}(?: -+)*\s*$|"
                            r"\d+\.\d+\s+\d+\.\d+\s+\d+\s+\d+(?:\s+\d+)?\s+\w+\s*$)")

#: calls whose unfinished start means a new task may appear before they resume
CLONE_NAMES = frozenset({"clone", "clone3", "fork", "vfork"})


class Session:
    """Everything known while reading one capture (see the module docstring)."""

    def __init__(self, summary: ReadSummary, plans: bool = True) -> None:
        self.summary = summary
        self.out: list[Event] = []
        self.threads: dict[int | None, Thread] = {}
        self.clocks: dict[str, Clock] = {}
        self.steady_clocks: set[str] = set()  # files whose clock needs no per-line update
        self.seen_real_line = False
        self.leading_text = 0
        self.unprefixed: Thread | None = None
        self.root_table: FdTable | None = None
        self.root_pid: int | None = None
        self.calls = CallHandler(self, HANDLERS, plans)  # plans=False: the reference path
        self.many_files = False
        self._note_keys: set[str] = set()
        self.orphans = 0
        # what the capture shows of its strace options (for the advice in finish())
        self.saw_pid_column = False
        self.saw_decoration = False
        self.children: set[int] = set()
        # threads that started a clone()/fork() which has not resumed yet, in start order;
        # entries go stale when the call resumes and are dropped when next looked at, so
        # a new task finds its creator without scanning every thread
        self.cloning: OrderedDict[int, Thread] = OrderedDict()

    # --- bookkeeping ---------------------------------------------------------------------

    def note(self, key: str, text: str) -> None:
        """Add a summary note once per key (notes explain, they do not repeat)."""
        if key not in self._note_keys:
            self._note_keys.add(key)
            self.summary.notes.append(text)

    def emit(self, event: Event) -> None:
        self.out.append(event)
        self.summary.events += 1

    def unreadable(self, file: str, number: int, reason: str, text: str | None = None,
                   last: int | None = None) -> None:
        shown = f"{file}: {reason}" if self.many_files else reason
        self.summary.unreadable.append((number, shown))
        self.out.append(Unreadable(Origin(file, number, last), reason=reason, text=text))

    def bad_line(self, file: str, item: BadLine) -> None:
        self.unreadable(file, item.number, item.reason)

    def clock(self, file: str) -> Clock:
        clock = self.clocks.get(file)
        if clock is None:
            clock = self.clocks[file] = Clock()
        return clock

    def stamp(self, file: str, text: str | None) -> float | None:
        if text is None:
            return None
        clock = self.clock(file)
        if clock.mode == RELATIVE:
            return clock.elapsed  # already advanced by line()
        return clock.value(text)

    # --- threads ---------------------------------------------------------------------------

    def thread(self, tid: int | None) -> Thread:
        found = self.threads.get(tid)
        if found is not None:
            return found
        return self._new_thread(tid)

    def _creator(self) -> Thread | None:
        """The first thread with a clone()/fork() in flight (stale entries dropped)."""
        cloning = self.cloning
        while cloning:
            key = next(iter(cloning))
            other = cloning[key]
            pending = other.pending
            if pending is not None and pending.name in CLONE_NAMES and \
                    self.threads.get(other.tid) is other:
                return other
            del cloning[key]
        return None

    def _new_thread(self, tid: int | None) -> Thread:
        # a task whose creation is visible: a clone() in flight in another thread
        other = self._creator()
        if other is not None:
            head = other.pending.head
            table = other.table if "CLONE_FILES" in head else other.table.fork_copy()
            made = Thread(tid, other.pid if "CLONE_THREAD" in head else tid, table)
            table.members.add(_member(tid))
            self.threads[tid] = made
            return made
        # lines without a pid column belong to the first process; once pids show up, the
        # first unknown pid that is not a known child is that same process
        if tid is not None and self.unprefixed is not None and self.unprefixed.tid is None:
            made = self.unprefixed
            made.tid = tid
            made.pid = tid
            if made.table is self.root_table:
                self.root_pid = tid
            for other in self.threads.values():  # its threads learn their process id too
                if other.pid is None and other.table is made.table:
                    other.pid = tid
            made.table.members.discard(_member(None))
            made.table.members.add(_member(tid))
            self.threads[tid] = made
            return made
        pid = tid
        if self.root_table is None:
            table = self.root_table = _initial_table()
            self.root_pid = tid
        else:
            # no visible creation (attached with -p, or a filtered trace): assume it shares
            # the first process's fd table, like the threads of an attached VMM do
            table = self.root_table
            self.note("joined", "tasks whose creation the trace does not show were assumed "
                      "to share the first process's fd table (threads of an attached VMM, "
                      "or clone() filtered out)")
            pid = self.root_pid if self.root_pid is not None else tid
        made = Thread(tid, pid, table)
        table.members.add(_member(tid))
        self.threads[tid] = made
        if tid is None:
            self.unprefixed = made
        return made

    # --- the per-line fast path ---------------------------------------------------------------

    def line(self, file: str, number: int, text: str, forced_tid: int | None = None,
             match: re.Match[str] | None = None) -> None:
        """Handle one line (``match``: its HEAD/FAST_HEAD match, when already made)."""
        if match is None:
            match = FAST_HEAD.match(text) or HEAD.match(text)
        stamp = match.group(3)
        if stamp is not None and file not in self.steady_clocks:
            self._advance_clock(file, stamp)
        name = match.group(4)
        if name is None:
            self._other_line(file, number, text, match.end(), self._tid(match, forced_tid),
                             stamp)
            return
        self.seen_real_line = True
        if text[-1] == ">" and text.endswith("...>") and _UNFINISHED.search(text):
            self._unfinished(file, number, text, match.start(4), self._tid(match, forced_tid),
                             stamp, name)
            return
        cls = NAME_CLASS.get(name)
        if cls is None:
            self.summary.irrelevant += 1
            return
        if forced_tid is not None:
            tid: int | None = forced_tid
        else:
            pid_text = match.group(2) or match.group(1)
            tid = int(pid_text) if pid_text else None
            if tid is not None:
                self.saw_pid_column = True
        thread = self.threads.get(tid) or self.thread(tid)
        fd_text = match.group(5)
        if fd_text is not None and (cls == IO or cls == IOCTL):
            # the hot path: I/O and ioctls on fds known to be neither device nor data fds
            entry = thread.table.fds.get(int(fd_text))
            if entry is not None:
                kind = entry.file.kind
                if kind == OTHER and (match.group(6) is None or (
                        entry.token is not None and text.startswith(entry.token,
                                                                    match.start(5)))):
                    if cls == IO:
                        if name not in WRITES or ("vfio" not in text and "\\x" not in text):
                            self.summary.irrelevant += 1
                            return
                    else:
                        comma = text.find(", ", match.end(5))
                        if comma < 0 or not text.startswith(FD_RETURNING_PREFIXES, comma + 2):
                            self.summary.irrelevant += 1
                            return
        elif self.quiet(thread, cls, name, text, fd_text, match.start(5),
                         match.group(6) is not None):
            self.summary.irrelevant += 1
            return
        self.calls.complete(thread, text[match.start(4):], origin_at(file, number),
                            self.stamp(file, stamp), 1)

    @staticmethod
    def _tid(match: re.Match[str], forced_tid: int | None) -> int | None:
        if forced_tid is not None:
            return forced_tid
        pid_text = match.group(2) or match.group(1)
        return int(pid_text) if pid_text else None

    def _advance_clock(self, file: str, stamp: str) -> None:
        """First timestamp of a file fixes its mode; -r clocks must see every line."""
        clock = self.clock(file)
        clock.value(stamp)
        if clock.mode != RELATIVE:
            self.steady_clocks.add(file)

    def _joined(self, thread: Thread, body: str, origin: Origin, ts: float | None) -> None:
        """A call put back together from its unfinished and resumed halves."""
        match = CALL_HEAD.match(body)
        cls = NAME_CLASS.get(match.group(1)) if match else None
        if cls is None or self.quiet(thread, cls, match.group(1), body, match.group(2),
                                      match.start(2), match.group(3) is not None):
            self.summary.irrelevant += 2
            return
        self.calls.complete(thread, body, origin, ts, 2)

    def quiet(self, thread: Thread, cls: int, name: str, text: str, fd_text: str | None,
               at: int, decorated: bool) -> bool:
        """True when a call of a relevant kind still cannot matter (the fast decision)."""
        if fd_text is not None and cls <= FCNTL:
            entry = thread.table.fds.get(int(fd_text))
            return entry is not None and self._quick_irrelevant(entry, cls, name, text, at,
                                                                decorated)
        if cls == POLL or cls == EPOLL_WAIT or cls == MMAP or cls == XFER:
            return self._quiet_multi(thread, cls, name, text, fd_text)
        if cls == RECVMSG:
            return recvmsg_is_quiet(text)
        return False

    def _quick_irrelevant(self, entry: FdEntry, cls: int, name: str, text: str, at: int,
                          decorated: bool) -> bool:
        """A call on a known fd that is neither a device nor a data fd (the common case)."""
        kind = entry.file.kind
        if kind == DEVICE or kind == DATA:
            return False
        if decorated:
            token = entry.token
            if token is None or not text.startswith(token, at):
                return False  # the fd may have been replaced invisibly: look closer
        if cls == IO:
            return not (name in WRITES and ("vfio" in text or "\\x" in text))
        if cls == SEEK:
            return True
        if cls == IOCTL:
            if kind != OTHER:
                return False  # group/container ioctls (GET_DEVICE_FD) matter
            comma = text.find(", ", at)
            return comma < 0 or not text.startswith(FD_RETURNING_PREFIXES, comma + 2)
        if cls == FCNTL:
            return "F_DUPFD" not in text and "F_SETFD" not in text
        return False  # close and dup change the table

    def _quiet_multi(self, thread: Thread, cls: int, name: str, text: str,
                     fd_text: str | None) -> bool:
        """poll/epoll_wait/mmap/splice lines matter only with device or data fds around."""
        table = thread.table
        if cls == EPOLL_WAIT:
            if fd_text is None:
                return False
            entry = table.fds.get(int(fd_text))
            return entry is None or entry.file.kind != EPOLL or not entry.file.watched
        if table.counts.get(DATA, 0) or (cls == MMAP and table.counts.get(DEVICE, 0)):
            return cls == POLL and name in POLL_SETS and poll_is_quiet(table, text)
        if cls == XFER:
            return False  # rare; the fds may be unknown (first use of a data fd)
        if "\\x" in text:
            return False  # -x/-xx escapes every decoration byte: look closer
        return "anon_inode:" not in text or "_mig" not in text

    # --- split calls ---------------------------------------------------------------------------

    def _unfinished(self, file: str, number: int, text: str, start: int, tid: int | None,
                    stamp: str | None, name: str) -> None:
        tail = _UNFINISHED.search(text)
        assert tail is not None
        thread = self.threads.get(tid) or self.thread(tid)
        if thread.pending is not None:
            self.abandon(thread, "a new call started before it resumed")
        thread.pending = Pending(name, text[start:tail.start()].rstrip(), number, file,
                                 self.stamp(file, stamp), tail.group(1))
        if name in CLONE_NAMES:
            self.cloning[id(thread)] = thread

    def _resumed(self, file: str, number: int, text: str, tid: int | None,
                 match: re.Match[str]) -> None:
        name, tag, rest = match.group(1), match.group(2), match.group(3)
        thread = self.threads.get(tid) or self.thread(tid)
        pending = thread.pending
        if pending is None or pending.name != name or (
                tag is not None and pending.tag is not None and tag != pending.tag):
            self._orphan(file, number, text, tid, name)
            return
        thread.pending = None
        if "<unfinished ...>" in rest:  # "<... nanosleep resumed> <unfinished ...>) = ?"
            rest = rest.replace(" <unfinished ...>", "").replace("<unfinished ...>", "")
        origin = Origin(pending.file, pending.line, number if pending.file == file else None)
        self._joined(thread, pending.head + rest, origin, pending.ts)

    def _orphan(self, file: str, number: int, text: str, tid: int | None, name: str) -> None:
        """A ``<... NAME resumed>`` without its start: unreadable only if it could matter.

        Under ``strace -f`` a new task's first line is its own ``<... clone resumed>`` (its
        creator printed the start): a normal line. A call VFIO never uses (futex, nanosleep)
        is irrelevant whatever its arguments were. Only a call that could have been on a
        device or data fd (ioctl, read, close, ...) lost something the checker needs.
        """
        if name in CLONE_NAMES:
            self.summary.irrelevant += 1
            return
        if NAME_CLASS.get(name) is None:
            self.summary.irrelevant += 1
            self.note("orphans-quiet", "resumed calls of no interest to VFIO whose start is "
                      "not in the capture (it began mid-call) were counted as irrelevant")
            return
        self.orphans += 1
        shown = f" for tid {tid}" if tid is not None else ""
        self.unreadable(file, number, f"'<... {name} resumed>' without its '<unfinished ...>' "
                        f"line{shown}: the capture started or was cut mid-call, and the lost "
                        f"first half (fd, request) may have been a VFIO call", text)

    def abandon(self, thread: Thread, why: str) -> None:
        """An unfinished call that will never resume: its outcome is unknown."""
        pending = thread.pending
        thread.pending = None
        if pending is None:
            return
        self.calls.incomplete(thread, pending, why)

    # --- lines that are not calls -------------------------------------------------------------

    def _other_line(self, file: str, number: int, text: str, at: int, tid: int | None,
                    stamp: str | None) -> None:
        body = text[at:]
        if body.startswith("<..."):
            resumed = _RESUMED.match(body)
            if resumed is not None:
                self.seen_real_line = True
                self._resumed(file, number, text, tid, resumed)
                return
        elif body.startswith("+++"):
            ended = _EXIT.match(body)
            if ended is not None:
                self.seen_real_line = True
                self._exit(file, number, tid, stamp, ended)
                return
        elif body.startswith("---"):
            signal = _SIGNAL.match(body)
            if signal is not None:
                self.seen_real_line = True
                thread = self.thread(tid)
                self.emit(ProcessEvent(Origin(file, number), what="signal",
                                       signal=signal.group(1), pid=thread.pid, tid=tid,
                                       ts=self.stamp(file, stamp)))
                return
        process = _STRACE_PROCESS.search(body) if "Process" in body else None
        if process is not None and (body.startswith(("strace:", "Process")) or "strace:" in body):
            what = {"attached": "attach", "detached": "detach"}.get(process.group(2))
            if what is None:
                self.summary.irrelevant += 1
                return
            child = int(process.group(1))
            self.emit(ProcessEvent(Origin(file, number), what=what, child=child, pid=child,
                                   tid=child, ts=self.stamp(file, stamp)))
            return
        if _PERSONALITY.match(body) or _STRACE_MESSAGE.match(body):
            self.summary.irrelevant += 1
            self.note("strace-msg", "strace's own messages (personality switches, warnings) "
                      "were counted as irrelevant")
            return
        extra = _CONTINUATION.match(text)
        if extra is not None and self.seen_real_line:
            self.summary.irrelevant += 1
            self.note(f"continuation:{extra.lastgroup}", {
                "dump": "the I/O hex dumps of strace -e read=/write= were counted as "
                        "irrelevant",
                "stack": "the stack traces of strace -k were counted as irrelevant",
            }[extra.lastgroup])
            return
        if self.seen_real_line and _COUNT_SUMMARY.match(text):
            self.summary.irrelevant += 1
            self.note("strace-c", "the call-count table of strace -c/-C was counted as "
                      "irrelevant")
            return
        if not body.strip():
            self.summary.irrelevant += 1
            return
        glued = text.find("[pid ", 1)
        if glued > 0 and HEAD.match(text, glued).group(4) is not None:
            # the traced program's own stderr text, without its newline, glued in front
            # of a strace line (strace and the program share stderr): read the strace part
            self.note("glued", "some strace lines had the traced program's own output "
                      "glued in front (strace and the program shared stderr; use -o)")
            self.line(file, number, text[glued:])
            return
        if not self.seen_real_line:
            self.leading_text += 1
            self.summary.irrelevant += 1
            return
        self.unreadable(file, number, "not a strace line (no call, resume, signal or exit)",
                        text)

    def _exit(self, file: str, number: int, tid: int | None, stamp: str | None,
              ended: re.Match[str]) -> None:
        thread = self.thread(tid)
        origin = Origin(file, number)
        ts = self.stamp(file, stamp)
        if thread.pending is not None:
            self.abandon(thread, "the task ended")
        if ended.group(3) is not None:
            self._superseded(thread, int(ended.group(3)))
            self.summary.irrelevant += 1
            return
        if ended.group(1) is not None:
            event = ProcessEvent(origin, what="exit", status=int(ended.group(1)),
                                 pid=thread.pid, tid=tid, ts=ts)
        else:
            killer = ended.group(2)
            event = ProcessEvent(origin, what="killed", status=UNKNOWN,
                                 signal=killer if killer.startswith("SIG") else f"signal {killer}",
                                 pid=thread.pid, tid=tid, ts=ts)
        self.emit(event)
        self._leave(thread, origin, ts)

    def _superseded(self, leader: Thread, execer_tid: int) -> None:
        """A non-leader thread ran execve: it goes on as the leader, under the leader's tid.

        strace shows ``LEADER +++ superseded by execve in pid EXECER +++`` and then
        ``LEADER <... execve resumed>) = 0``, so the exec call moves to the leader.
        """
        execer = self.threads.get(execer_tid)
        if execer is None or execer is leader:
            return
        if execer.pending is not None:
            leader.pending = execer.pending
            execer.pending = None
            if leader.pending.name in CLONE_NAMES:
                self.cloning[id(leader)] = leader
        execer.table.members.discard(_member(execer_tid))
        self._forget(execer)

    def _leave(self, thread: Thread, origin: Origin, ts: float | None) -> None:
        table = thread.table
        table.members.discard(_member(thread.tid))
        if not table.members:
            self.calls.implicit_close(thread, table.release_all(), "exit", origin, ts)
        self._forget(thread)

    def _forget(self, thread: Thread) -> None:
        """Drop a thread under its keys: its tid, and None for a formerly unprefixed process.

        Only these two keys can map to it, so no scan of every thread is needed.
        """
        for key in {thread.tid, None}:
            if self.threads.get(key) is thread:
                del self.threads[key]
        self.cloning.pop(id(thread), None)

    # --- end of input ---------------------------------------------------------------------------

    def finish(self) -> list[Event]:
        for thread in list(self.threads.values()):
            if thread.pending is not None:
                self.abandon(thread, "the capture ended first")
        if self.leading_text:
            self.note("leading", f"{self.leading_text} line(s) before the first strace line "
                      "were not strace output (wrapper text) and were counted as irrelevant")
        for file, clock in self.clocks.items():
            if clock.rollovers:
                self.note(f"midnight:{file}", f"{file}: the time-of-day timestamps passed "
                          f"midnight {clock.rollovers} time(s); a day was added each time")
        if self.orphans:
            self.note("orphans", f"{self.orphans} resumed call(s) had no unfinished start "
                      "(the capture began or was cut mid-call); each is listed as unreadable")
        self._advise()
        events = list(self.out)
        self.out.clear()
        return events

    def _advise(self) -> None:
        """Say which missing strace options cost the checker what (docs/capture-guide.md)."""
        if self.summary.lines == 0 or not self.seen_real_line:
            return
        if not self.clocks:
            self.note("no-time", "no timestamps (strace -ttt or -tt): events carry no time "
                      "(vfio-migcheck docs capture-guide)")
        if self.children and not self.saw_pid_column and not self.many_files:
            self.note("no-f", "the traced program created threads or processes but the "
                      "capture has no pid column: without strace -f their calls are missing "
                      "(vfio-migcheck docs capture-guide)")
        if not self.saw_decoration and self.calls.data_files:
            self.note("no-y", "no -y decorations: data fds were inferred from their first use "
                      "after a FEATURE call alone; strace -y names them "
                      "(vfio-migcheck docs capture-guide)")


def _member(tid: int | None) -> int:
    return -1 if tid is None else tid


def _initial_table() -> FdTable:
    """The first process starts with stdin/stdout/stderr open (inherited, not data fds)."""
    table = FdTable()
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        table.install(fd, FdEntry(OpenFile(OTHER, name, None)))
    return table
