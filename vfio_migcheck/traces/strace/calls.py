"""Complete strace calls → handlers (the semantic half of the reader), and the shared
per-call context: results in event form, fd lookups and the data-fd first-use inference.

The handlers live in :mod:`io_calls` (device/data fds) and :mod:`fd_calls`
(fd tables, processes). Everything follows from what strace can show: the fd numbers
(with their ``-y`` decorations), the ioctl request number, the result and errno. Payloads
are invisible, so FEATURE calls carry UNKNOWN op/feature/target, and the migration data
fd is inferred from its *first use* (docs/traces.md, "Data-fd inference").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from vfio_migcheck.traces.events import (
    UNKNOWN,
    DataClose,
    DeviceClose,
    DeviceOpen,
    FdAppeared,
    Origin,
    built,
)
from vfio_migcheck.traces.strace.fastcall import fast_call
from vfio_migcheck.traces.strace.fdorder import INF, OrderLog, Span
from vfio_migcheck.traces.strace.fdtable import (
    CONTAINER,
    DATA,
    DEVICE,
    GROUP,
    OTHER,
    FdEntry,
    FdTable,
    OpenFile,
)
from vfio_migcheck.traces.strace.plans import Plan, plan_for, split_duration
from vfio_migcheck.traces.strace.syntax import (
    Arg,
    Call,
    SyntaxProblem,
    duration_value,
    parse_call_repeated,
    parse_partial,
)
from vfio_migcheck.traces.strace.text import (
    CDEV_PREFIX,
    could_be_data_decoration,
    group_of_path,
    is_device_decoration,
    is_migration_decoration,
    strip_device_numbers,
)

if TYPE_CHECKING:
    from vfio_migcheck.traces.strace.threads import Pending, SessionView, Thread



#: a call handler (io_calls, fd_calls); the table by syscall name is traces.strace.dispatch
Handler = Callable[["CallContext"], None]


def items_of(arg: Arg, kind: str) -> list[Any]:
    return [value for k, value, _ in arg if k == kind]


class CallHandler:
    """Turns complete calls into events for one :class:`Session`."""

    def __init__(self, session: SessionView, by_name: dict[str, Handler],
                 plans: bool = True) -> None:
        self.session = session
        # call text -> Plan, for calls without and with a -T duration (None: no plans,
        # every call is parsed and handled afresh: the reference path of the tests)
        self.plans: dict[str, Plan] | None = {} if plans else None
        self.timed_plans: dict[str, Plan] = {}
        self.by_name = by_name  # syscall name -> handler (traces.strace.dispatch)
        self.summary = session.summary
        self.data_files = 0
        self._qemu: Any = None
        self._qemu_checked = False
        self.opened_devices: list[tuple[FdTable, str]] = []  # in open order
        self.qemu_names: dict[str, str] = {}  # QEMU's device name -> this reader's name
        self.order_logs: dict[FdTable, OrderLog] = {}  # fd allocation history per table

    def order_log(self, table: FdTable) -> OrderLog:
        log = self.order_logs.get(table)
        if log is None:
            log = self.order_logs[table] = OrderLog()
            if self.session.many_files:
                # one file per process (-ff): lines of different files have no common order
                log.blind = "per-process files"
        return log

    def order_blind_all(self, why: str) -> None:
        """Something may have released fds where the reader cannot see: stop reasoning."""
        for log in self.order_logs.values():
            log.blind = why

    # --- entry points -------------------------------------------------------------------------

    def complete(self, thread: Thread, body: str, origin: Origin, ts: float | None,
                 nlines: int) -> bool:
        """A complete call: through its plan (:mod:`plans`) when one is kept for its text.

        True when the plan's cheap path took it and changed no thread, fd table or
        pending call (only events, counts and the fd-order log): the reader's scan state
        stays what it was. (A plan's close or first use changes the table: False, as
        for the handlers.)
        """
        if self.plans is None:
            self._parse_and_run(thread, body, origin, ts, nlines)
            return False
        key, digits = split_duration(body)
        plans = self.plans if digits is None else self.timed_plans
        plan = plans.get(key)
        if plan is None:
            call = self._parse(thread, body, origin)
            if call is None:
                return False
            if call.unavailable or call.duration != _duration(digits):
                self._run(thread, call, origin, ts, nlines)  # not the shape the key says
                return False
            if len(plans) >= MAX_PLANS:
                plans.clear()
            plan = plans[key] = plan_for(Call(call.name, call.args, call.ret, call.ret_decor,
                                               call.errno, list(call.aux)))
            duration = call.duration
        elif digits is None:
            duration = None
        else:
            try:
                duration = duration_value(digits)
            except SyntaxProblem:
                self._parse_and_run(thread, body, origin, ts, nlines)
                return False
        taken = plan.apply(self, thread, origin, ts, duration, nlines)
        if taken:
            return taken is True
        self.without_plan(thread, plan, origin, ts, duration, nlines)
        return False

    def new_data_at(self, thread: Thread, call: Call, origin: Origin, ts: float | None,
                    fd: int) -> FdEntry:
        """An undecorated fd's first use taken for a data fd, for a plan
        (:meth:`CallContext.new_data` of a finished call)."""
        return CallContext(self, thread, call, origin, ts, True).new_data(fd, None, None)

    def without_plan(self, thread: Thread, plan: Plan, origin: Origin, ts: float | None,
                     duration: float | None, nlines: int) -> None:
        """A call whose plan did not take it: its handler, with the plan's call."""
        self._run(thread, plan.with_duration(duration), origin, ts, nlines)

    def _parse_and_run(self, thread: Thread, body: str, origin: Origin, ts: float | None,
                       nlines: int) -> None:
        """The plain path: parse the text, hand the call to its handler."""
        call = self._parse(thread, body, origin)
        if call is not None:
            self._run(thread, call, origin, ts, nlines)

    def _parse(self, thread: Thread, body: str, origin: Origin) -> Call | None:
        """The call of a complete line; None (reported as unreadable) when it is not one."""
        try:
            return fast_call(body) or parse_call_repeated(body)
        except SyntaxProblem as problem:
            if body.startswith(RELEASING_CALLS):
                self.order_log(thread.table).release(
                    Span(origin.line, origin.last_line or origin.line), 0, INF, False)
            self._unreadable_call(body, origin, str(problem))
            return None

    def incomplete(self, thread: Thread, pending: Pending, why: str) -> None:
        """An unfinished call whose result never came: events with an UNKNOWN outcome."""
        origin = Origin(pending.file, pending.line)
        try:
            call = parse_partial(pending.head)
        except SyntaxProblem:
            if pending.name in RELEASING_NAMES:
                self.order_log(thread.table).release(Span(pending.line, INF), 0, INF, False)
            self.summary.irrelevant += 1
            self.session.note("cut", "some unfinished calls never resumed and their visible "
                              "half could not be read; they were counted as irrelevant")
            return
        self._run(thread, call, origin, pending.ts, 1, finished=False)
        self.session.note("incomplete", f"unfinished calls that never resumed ({why}, ...) "
                          "were reported with an unknown result")

    def _unreadable_call(self, body: str, origin: Origin, problem: str) -> None:
        name = body.split("(", 1)[0]
        self.session.unreadable(origin.file, origin.line, f"cannot read this {name}() line: "
                                f"{problem}", body, origin.last_line)
        if origin.last_line:
            self.summary.irrelevant += 1  # the second line of the pair is accounted here

    def _run(self, thread: Thread, call: Call, origin: Origin, ts: float | None, nlines: int,
             finished: bool = True) -> None:
        before = len(self.session.out)
        handler = self.by_name.get(call.name)
        if handler is not None:
            handler(CallContext(self, thread, call, origin, ts, finished))
        if len(self.session.out) == before:
            self.summary.irrelevant += nlines

    # --- shared helpers ----------------------------------------------------------------------

    def emit(self, event: Any) -> None:
        self.session.emit(event)

    def implicit_close(self, thread: Thread, closed: list[tuple[int, FdEntry]], how: str,
                       origin: Origin, ts: float | None) -> None:
        """exec/exit closes: reported when they drop the last reference to the file."""
        for fd, entry in closed:
            file = entry.file
            if file.refs > 0 or file.kind not in (DATA, DEVICE):
                continue
            common = {"pid": thread.pid, "tid": thread.tid, "ts": ts}
            if file.kind == DATA:
                self.emit(DataClose(origin, fd=fd, file=file.ident, ret=UNKNOWN, errno=UNKNOWN,
                                    how=how, **common))
            else:
                self.release_slot(thread.table, file)
                self.emit(DeviceClose(origin, device=file.ident, fd=fd, ret=UNKNOWN,
                                      errno=UNKNOWN, how=how, **common))

    def release_slot(self, table: FdTable, file: OpenFile) -> None:
        """The last fd of a group-API device is gone: its devK name may be given again."""
        if file.group is not None and file.slot is not None and file.refs <= 0:
            slots = table.device_slots.get(file.group)
            if slots is not None:
                slots.discard(file.slot)

    def link_qemu_device(self, event: Any, table: FdTable) -> Any:
        """Name a QEMU record's device (a PCI address) like the device fds of the trace.

        QEMU traces ``vfio_migration_realize``/``vfio_migration_init`` while it realizes a
        device, right after opening it; so the first such record of a PCI address belongs
        to the latest device this process opened that has no QEMU name yet. Later records
        of that address get the same name (the QEMU name stays in ``fields``). Records of
        addresses never seen at realize keep the QEMU name.
        """
        qemu_name = event.device
        mine = self.qemu_names.get(qemu_name)
        if mine is None and event.name in ("migration_realize", "migration_init"):
            linked = set(self.qemu_names.values())
            for owner, name in reversed(self.opened_devices):
                if owner is table and name not in linked:
                    mine = self.qemu_names[qemu_name] = name
                    break
        if mine is None or mine == qemu_name:
            return event
        # (built: dataclasses.replace runs the frozen __init__, ~10 us for each record)
        return built(type(event), {**event.__dict__, "device": mine,
                                   "fields": {**event.fields, "qemu_device": qemu_name}})

    def qemu_parser(self) -> Any:
        if not self._qemu_checked:
            self._qemu_checked = True
            try:
                from vfio_migcheck.traces.qemu.reader import parse_qemu_text
            except ImportError:
                self.session.note("qemu", "QEMU trace lines inside write() payloads were not "
                                  "decoded: the QEMU reader is not available")
                parse_qemu_text = None
            self._qemu = parse_qemu_text
        return self._qemu


#: plans kept per session and kind (untimed, timed) before the memo starts afresh
MAX_PLANS = 4096
CALL_FD = re.compile(r"[A-Za-z0-9_]+\((-?\d{1,10})(?!\d)")
#: calls that may release fd numbers (fd allocation order is only meaningful without them)
RELEASING_NAMES = frozenset({"close", "close_range", "dup2", "dup3", "fcntl", "fcntl64",
                             "execve", "execveat", "io_uring_enter"})
RELEASING_CALLS = tuple(f"{name}(" for name in sorted(RELEASING_NAMES))


class CallContext:
    """One call being interpreted: shortcuts to its thread, table and result."""

    __slots__ = ("h", "thread", "table", "call", "origin", "ts", "finished", "common")

    def __init__(self, handler: CallHandler, thread: Thread, call: Call, origin: Origin,
                 ts: float | None, finished: bool) -> None:
        self.h = handler
        self.thread = thread
        self.table = thread.table
        self.call = call
        self.origin = origin
        self.ts = ts
        self.finished = finished
        self.common = {"pid": thread.pid, "tid": thread.tid, "ts": ts,
                       "duration": call.duration}

    # results in event form
    @property
    def ret(self) -> Any:
        return UNKNOWN if self.call.ret is None or not self.finished else self.call.ret

    @property
    def errno(self) -> Any:
        call = self.call
        if not self.finished:
            return UNKNOWN
        if call.errno is not None:
            return call.errno
        if call.ret is None:
            return UNKNOWN
        return None if call.ret >= 0 else UNKNOWN

    @property
    def ok(self) -> bool:
        return self.finished and self.call.ret is not None and self.call.ret >= 0

    def arg(self, index: int) -> Arg:
        args = self.call.args
        return args[index] if index < len(args) else []

    def fd_arg(self, index: int) -> tuple[int | None, str | None]:
        """(fd, -y decoration) of an fd argument: a lone number, or a decorated one."""
        arg = self.arg(index)
        if arg and arg[0][0] == "n" and isinstance(arg[0][1], int):
            decor = arg[0][2]
            if decor is not None:
                self.h.session.saw_decoration = True
                return arg[0][1], decor
            if len(arg) == 1:
                return arg[0][1], None
        return None, None

    def int_arg(self, index: int) -> Any:
        arg = self.arg(index)
        if len(arg) == 1 and arg[0][0] == "n" and isinstance(arg[0][1], int):
            return arg[0][1]
        return UNKNOWN

    def words(self) -> set[str]:
        found: set[str] = set()
        collect_words(self.call.args, found)
        return found

    def emit(self, event: Any) -> None:
        self.h.emit(event)

    # --- fd allocation order (fdorder) ---------------------------------------------

    @property
    def order(self) -> OrderLog:
        return self.h.order_log(self.table)

    @property
    def span(self) -> Span:
        """The lines this call covered; an unfinished call may have acted any time after."""
        origin = self.origin
        return Span(origin.line, (origin.last_line or origin.line) if self.finished else INF)

    def allocated(self, fd: int, lowest: bool = True) -> None:
        """A visible call put a new open file at ``fd`` (``lowest``: the lowest free one)."""
        self.order.alloc(self.span, fd, lowest)

    def released(self, first: int, last: float, frees: bool) -> None:
        """A call that may free the numbers first..last (``frees``: it surely did)."""
        self.order.release(self.span, first, last, frees)

    # --- fd lookups -------------------------------------------------------------------------

    def entry_for_use(self, fd: int, decor: str | None, candidate: bool = True
                      ) -> FdEntry | None:
        """The entry of ``fd`` for a call that uses it; unknown fds go through first use."""
        table = self.table
        entry = table.fds.get(fd)
        if entry is not None and decor is not None:
            entry = self.reconcile(fd, entry, decor)
        if entry is None:
            if fd < 0:
                return None
            entry = self.first_use(fd, decor, candidate)
        return entry

    def reconcile(self, fd: int, entry: FdEntry, decor: str) -> FdEntry | None:
        """Check a -y decoration against the table; a mismatch means an unseen replacement."""
        token = f"{fd}<{decor}>"
        if entry.token == token:
            return entry
        kind = entry.file.kind
        plain = strip_device_numbers(decor)
        if entry.token is not None and _same_endpoint(entry.token, token):
            self.table.version += 1
            entry.token = token  # a socket got its peer (UNIX:[1] -> UNIX:[1->2]): same file
            return entry
        if entry.token is None:
            consistent = (
                (kind == DEVICE and is_device_decoration(plain))
                or (kind == DATA and could_be_data_decoration(plain))
                or (kind not in (DEVICE, DATA) and not is_device_decoration(plain)
                    and not is_migration_decoration(plain))
            )
            if consistent:
                self.table.version += 1
                entry.token = token
                if entry.file.name is None:
                    entry.file.name = plain
                return entry
        self.h.session.note("replaced", "some fds changed identity without a visible call "
                            "(seen from their -y decoration); the decoration was trusted")
        self.order.blind = "an fd changed identity without a visible call"
        self.table.close(fd)
        return None

    def first_use(self, fd: int, decor: str | None, candidate: bool) -> FdEntry:
        """An fd no visible call created: a device, a data-fd candidate, or something else."""
        table = self.table
        token = f"{fd}<{decor}>" if decor is not None else None
        if decor is not None:
            plain = strip_device_numbers(decor)
            if is_device_decoration(plain):
                name = plain if plain.startswith(CDEV_PREFIX) else f"vfio-device@fd{fd}"
                api = "cdev" if plain.startswith(CDEV_PREFIX) else "group"
                return self.open_device(fd, name, api, cloexec=True, token=token,
                                        path=plain if api == "cdev" else UNKNOWN)
            data_like = is_migration_decoration(plain) or (
                candidate and table.last_feature is not None and could_be_data_decoration(plain))
            if data_like:
                return self.new_data(fd, plain, token)
            kind = CONTAINER if plain == "/dev/vfio/vfio" else (
                GROUP if group_of_path(plain) else OTHER)
            file = OpenFile(kind, plain, plain, group=group_of_path(plain))
            entry = FdEntry(file, False, token)
            table.install(fd, entry)
            return entry
        if candidate and table.last_feature is not None:
            return self.new_data(fd, None, None)
        entry = FdEntry(OpenFile(OTHER, f"fd{fd}", None, guessed=True))
        table.install(fd, entry)
        return entry

    def new_data(self, fd: int, name: str | None, token: str | None) -> FdEntry:
        table = self.table
        self.h.data_files += 1
        pid = self.thread.pid
        ident = f"{pid}:fd{fd}@{self.origin.line}" if pid is not None else \
            f"fd{fd}@{self.origin.line}"
        # the device whose SET made this fd: decided by the fd allocation order when the
        # table's history can tell (fdorder); otherwise the only device the process
        # has open. ("The only device with FEATURE calls since the previous data fd" is
        # not used: a data fd may be created long before its first use.)
        proven = name is not None and is_migration_decoration(name)
        decided, hint = self.order_owner(fd, proven)
        if not decided:
            open_devices = {e.file.ident for e in table.fds.values() if e.file.kind == DEVICE}
            if len(open_devices) == 1:
                hint = next(iter(open_devices))
        file = OpenFile(DATA, ident, name, device=hint)
        entry = FdEntry(file, True, token)
        table.install(fd, entry)
        # FdAppeared(...) without the frozen dataclass's __init__ (a dense capture makes
        # one per data fd; tests/test_events_built.py holds built() to the constructor)
        self.emit(built(FdAppeared, {
            "origin": self.origin, "pid": self.thread.pid, "tid": self.thread.tid,
            "ts": self.ts, "duration": None, "text": None, "fd": fd, "file": ident,
            "name": name if name is not None else UNKNOWN,
            "after_feature": table.last_feature,
            "device_hint": hint if hint is not None else UNKNOWN}))
        return entry

    def order_owner(self, fd: int, proven: bool) -> tuple[bool, str | None]:
        """(decided?, device) from the fd allocation order; records a proven data fd."""
        log = self.order
        use = self.span
        session = self.h.session
        if log.shared and not session.saw_pid_column:
            return False, None  # no pid column: the other tasks' calls may be missing
        if self.table is session.root_table and not log.rooted:
            return False, None  # attached to a running process: untraced threads may act
        if not log.saw_close:
            return False, None  # close() filtered out of the trace (strace -e trace=...)
        if self._release_in_flight():
            return False, None
        decided, device, creators = log.owner(fd, use)
        if proven:
            log.data_fd(fd, use, creators)
        return decided, device

    def _release_in_flight(self) -> bool:
        """Another thread sharing the table is inside a call that may release or create."""
        for other in self.h.session.threads.values():
            pending = other.pending
            if other is self.thread or pending is None or other.table is not self.table:
                continue
            if pending.name in RELEASING_NAMES:
                return True
            if pending.name == "ioctl":
                head = CALL_FD.match(pending.head)
                entry = self.table.fds.get(int(head.group(1))) if head else None
                if entry is None or entry.file.kind not in (OTHER, CONTAINER, GROUP) or \
                        entry.file.guessed:
                    return True  # maybe a FEATURE call that is creating a data fd
        return False

    def open_device(self, fd: int, name: str, api: str, cloexec: bool, token: str | None,
                    path: Any = UNKNOWN, group: str | None = None, slot: int | None = None
                    ) -> FdEntry:
        file = OpenFile(DEVICE, name, None, group=group, slot=slot)
        entry = FdEntry(file, cloexec, token)
        self.table.install(fd, entry)
        self.h.opened_devices.append((self.table, name))
        self.emit(DeviceOpen(self.origin, device=name, fd=fd, path=path, api=api,
                             **self.common))
        return entry

    def install_other(self, fd: int, name: str | None, cloexec: bool, kind: str = OTHER,
                      token: str | None = None) -> None:
        replaced = self.table.install(fd, FdEntry(OpenFile(kind, name or f"fd{fd}", name),
                                                  cloexec, token))
        self.note_replaced(fd, replaced)

    def note_replaced(self, fd: int, replaced: FdEntry | None) -> None:
        if replaced is not None:
            self.order.blind = "an fd number was reused without a visible close"
        if replaced is not None and replaced.file.kind in (DATA, DEVICE):
            self.h.session.note(
                f"reused:{fd}", f"fd {fd} ({replaced.file.kind} {replaced.file.ident}) was "
                f"reused at {self.origin} without a visible close (filtered trace?)")

    def close_events(self, fd: int, entry: FdEntry, how: str = "close") -> None:
        file = entry.file
        if file.kind == DATA:
            self.emit(DataClose(self.origin, fd=fd, file=file.ident, ret=self.ret,
                                errno=self.errno, how=how, **self.common))
        elif file.kind == DEVICE:
            self.h.release_slot(self.table, file)
            self.emit(DeviceClose(self.origin, device=file.ident, fd=fd, ret=self.ret,
                                  errno=self.errno, how=how, **self.common))


def _duration(digits: str | None) -> float | None:
    """The -T duration of a key's digits; NaN (equal to nothing) when they are no number."""
    if digits is None:
        return None
    try:
        return duration_value(digits)
    except SyntaxProblem:
        return float("nan")


def _same_endpoint(old: str, new: str) -> bool:
    """Socket decorations gain the peer after connect/accept; the inode stays the same."""
    cut_old, cut_new = old.find(":["), new.find(":[")
    if cut_old < 0 or cut_new < 0:
        return False
    inode_old = old[cut_old:].split("->")[0].rstrip("]>")
    inode_new = new[cut_new:].split("->")[0].rstrip("]>")
    return old[:cut_old] == new[:cut_new] and inode_old == inode_new


def collect_words(args: list[Arg], found: set[str]) -> None:
    for arg in args:
        for kind, value, _ in arg:
            if kind == "w":
                found.add(value)
            elif kind in ("(", "[", "{"):
                collect_words(value, found)
