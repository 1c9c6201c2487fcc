"""Complete strace calls → fd-table updates and events (the semantic half of the reader).

Everything here follows from what strace can show: the fd numbers (with their ``-y``
decorations), the ioctl request number, the result and errno. Payloads are invisible,
so FEATURE calls carry UNKNOWN op/feature/target, and the migration data fd is inferred
from its *first use* (docs/traces.md, "Data-fd inference").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vfio_migcheck.traces.events import (
    UNKNOWN,
    DataClose,
    DataFcntl,
    DataIO,
    DataIoctl,
    DataPoll,
    DataSeek,
    DeviceAccess,
    DeviceClose,
    DeviceOpen,
    DeviceReset,
    FdAppeared,
    FdDup,
    FeatureCall,
    Origin,
    PrecopyInfo,
    ProcessEvent,
    Unreadable,
)
from vfio_migcheck.traces.fdtable import (
    CONTAINER,
    DATA,
    DEVICE,
    EPOLL,
    GROUP,
    IOMMUFD,
    OTHER,
    FdEntry,
    FdTable,
    OpenFile,
)
from vfio_migcheck.traces.strace_fastcall import fast_call
from vfio_migcheck.traces.strace_ioctl import (
    CONTAINER_ONLY,
    DEVICE_FEATURE,
    DEVICE_ONLY,
    DEVICE_RESET,
    FD_RETURNING_NAMES,
    FD_RETURNING_NUMBERS,
    GET_DEVICE_FD,
    GROUP_ONLY,
    PRECOPY_INFO,
    Request,
    resolve,
)
from vfio_migcheck.traces.strace_syntax import Arg, Call, SyntaxProblem, parse_call, parse_partial
from vfio_migcheck.traces.strace_text import (
    CDEV_PREFIX,
    could_be_data_decoration,
    group_of_path,
    is_device_decoration,
    is_migration_decoration,
    strip_device_numbers,
    unescape,
)

if TYPE_CHECKING:
    from vfio_migcheck.traces.strace_session import Pending, Session, Thread

_POSITIONED = frozenset({"pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2"})
_READS = frozenset({"read", "readv", "pread64", "preadv", "preadv2", "recvfrom"})
_VECTORED = frozenset({"readv", "writev", "preadv", "pwritev", "preadv2", "pwritev2"})


def _items_of(arg: Arg, kind: str) -> list[Any]:
    return [value for k, value, _ in arg if k == kind]


class CallHandler:
    """Turns complete calls into events for one :class:`Session`."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.summary = session.summary
        self.data_files = 0
        self._qemu: Any = None
        self._qemu_checked = False

    # --- entry points -------------------------------------------------------------------------

    def complete(self, thread: Thread, body: str, origin: Origin, ts: float | None,
                 nlines: int) -> None:
        call = fast_call(body)
        if call is None:
            try:
                call = parse_call(body)
            except SyntaxProblem as problem:
                self._unreadable_call(body, origin, str(problem))
                return
        self._run(thread, call, origin, ts, nlines)

    def incomplete(self, thread: Thread, pending: Pending, why: str) -> None:
        """An unfinished call whose result never came: events with an UNKNOWN outcome."""
        origin = Origin(pending.file, pending.line)
        try:
            call = parse_partial(pending.head)
        except SyntaxProblem:
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
        handler = _BY_NAME.get(call.name)
        if handler is not None:
            handler(_Ctx(self, thread, call, origin, ts, finished))
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
                self._release_slot(thread.table, file)
                self.emit(DeviceClose(origin, device=file.ident, fd=fd, ret=UNKNOWN,
                                      errno=UNKNOWN, how=how, **common))

    def _release_slot(self, table: FdTable, file: OpenFile) -> None:
        if file.group is not None and file.device is not None:
            slots = table.device_slots.get(file.group)
            if slots is not None:
                slots.discard(int(file.device))

    def qemu_parser(self) -> Any:
        if not self._qemu_checked:
            self._qemu_checked = True
            try:
                from vfio_migcheck.traces.qemu import parse_qemu_text
            except ImportError:
                self.session.note("qemu", "QEMU trace lines inside write() payloads were not "
                                  "decoded: the QEMU reader is not available")
                parse_qemu_text = None
            self._qemu = parse_qemu_text
        return self._qemu


class _Ctx:
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
        arg = self.arg(index)
        if arg and arg[0][0] == "n" and isinstance(arg[0][1], int) and len(arg) == 1:
            return arg[0][1], arg[0][2]
        if arg and arg[0][0] == "n" and isinstance(arg[0][1], int) and arg[0][2] is not None:
            return arg[0][1], arg[0][2]
        return None, None

    def int_arg(self, index: int) -> Any:
        arg = self.arg(index)
        if len(arg) == 1 and arg[0][0] == "n" and isinstance(arg[0][1], int):
            return arg[0][1]
        return UNKNOWN

    def words(self) -> set[str]:
        found: set[str] = set()
        _collect_words(self.call.args, found)
        return found

    def emit(self, event: Any) -> None:
        self.h.emit(event)

    # --- fd lookups -------------------------------------------------------------------------

    def entry_for_use(self, fd: int, decor: str | None, candidate: bool = True
                      ) -> FdEntry | None:
        """The entry of ``fd`` for a call that uses it; unknown fds go through first use."""
        table = self.table
        entry = table.fds.get(fd)
        if entry is not None and decor is not None:
            entry = self._reconcile(fd, entry, decor)
        if entry is None:
            if fd < 0:
                return None
            entry = self.first_use(fd, decor, candidate)
        return entry

    def _reconcile(self, fd: int, entry: FdEntry, decor: str) -> FdEntry | None:
        """Check a -y decoration against the table; a mismatch means an unseen replacement."""
        token = f"{fd}<{decor}>"
        if entry.token == token:
            return entry
        kind = entry.file.kind
        plain = strip_device_numbers(decor)
        if entry.token is not None and _same_endpoint(entry.token, token):
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
                entry.token = token
                if entry.file.name is None:
                    entry.file.name = plain
                return entry
        self.h.session.note("replaced", "some fds changed identity without a visible call "
                            "(seen from their -y decoration); the decoration was trusted")
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
        # the device whose SET made this fd: the only device the process has open, or
        # the only one that saw FEATURE calls since the previous data fd appeared
        open_devices = {e.file.ident for e in table.fds.values() if e.file.kind == DEVICE}
        if len(open_devices) == 1:
            hint: str | None = next(iter(open_devices))
        elif len(table.feature_devices) == 1:
            hint = next(iter(table.feature_devices))
        else:
            hint = None
        file = OpenFile(DATA, ident, name, device=hint)
        entry = FdEntry(file, True, token)
        table.install(fd, entry)
        self.emit(FdAppeared(self.origin, fd=fd, file=ident,
                             name=name if name is not None else UNKNOWN,
                             after_feature=table.last_feature,
                             device_hint=hint if hint is not None else UNKNOWN,
                             pid=self.thread.pid, tid=self.thread.tid, ts=self.ts))
        table.feature_devices = set()
        return entry

    def open_device(self, fd: int, name: str, api: str, cloexec: bool, token: str | None,
                    path: Any = UNKNOWN, group: str | None = None, slot: int | None = None
                    ) -> FdEntry:
        file = OpenFile(DEVICE, name, None, device=str(slot) if slot is not None else None,
                        group=group)
        entry = FdEntry(file, cloexec, token)
        self.table.install(fd, entry)
        self.emit(DeviceOpen(self.origin, device=name, fd=fd, path=path, api=api,
                             **self.common))
        return entry

    def install_other(self, fd: int, name: str | None, cloexec: bool, kind: str = OTHER,
                      token: str | None = None) -> None:
        replaced = self.table.install(fd, FdEntry(OpenFile(kind, name or f"fd{fd}", name),
                                                  cloexec, token))
        self._replaced(fd, replaced)

    def _replaced(self, fd: int, replaced: FdEntry | None) -> None:
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
            self.h._release_slot(self.table, file)
            self.emit(DeviceClose(self.origin, device=file.ident, fd=fd, ret=self.ret,
                                  errno=self.errno, how=how, **self.common))


def _same_endpoint(old: str, new: str) -> bool:
    """Socket decorations gain the peer after connect/accept; the inode stays the same."""
    cut_old, cut_new = old.find(":["), new.find(":[")
    if cut_old < 0 or cut_new < 0:
        return False
    inode_old = old[cut_old:].split("->")[0].rstrip("]>")
    inode_new = new[cut_new:].split("->")[0].rstrip("]>")
    return old[:cut_old] == new[:cut_new] and inode_old == inode_new


def _collect_words(args: list[Arg], found: set[str]) -> None:
    for arg in args:
        for kind, value, _ in arg:
            if kind == "w":
                found.add(value)
            elif kind in ("(", "[", "{"):
                _collect_words(value, found)


# --- per-class handlers -------------------------------------------------------------------------


def _io(ctx: _Ctx) -> None:
    call = ctx.call
    fd, decor = ctx.fd_arg(0)
    if fd is None:
        return
    entry = ctx.entry_for_use(fd, decor)
    if entry is None:
        return
    kind = entry.file.kind
    name = call.name
    if kind == DATA:
        ctx.emit(DataIO(ctx.origin, fd=fd, file=entry.file.ident, call=name,
                        direction="read" if name in _READS else "write",
                        requested=_requested(ctx), ret=ctx.ret, errno=ctx.errno,
                        positioned=name in _POSITIONED, **ctx.common))
    elif kind == DEVICE:
        ctx.emit(DeviceAccess(ctx.origin, device=entry.file.ident, fd=fd, call=name,
                              ret=ctx.ret, errno=ctx.errno, **ctx.common))
    elif name not in _READS:
        _qemu_payload(ctx)


def _requested(ctx: _Ctx) -> Any:
    name = ctx.call.name
    if name in _VECTORED:
        total = 0
        found = False
        for kind, value, _ in ctx.arg(1):
            if kind == "[":
                for element in value:
                    for ekind, evalue, _ in element:
                        if ekind == "{":
                            length = _field(evalue, "iov_len")
                            if isinstance(length, int):
                                total += length
                                found = True
        return total if found else UNKNOWN
    return ctx.int_arg(2)


def _field(args: list[Arg], name: str) -> Any:
    """The value of ``name=value`` inside a struct's argument list."""
    for arg in args:
        if len(arg) >= 3 and arg[0] == ("w", name, None) and arg[1] == ("o", "=", None):
            value = arg[2]
            if value[0] == "n" and len(arg) == 3:
                return value[1]
            return value
    return UNKNOWN


def _qemu_payload(ctx: _Ctx) -> None:
    args = ctx.call.args
    if ctx.call.name not in ("writev", "pwritev", "pwritev2"):
        args = args[1:2]  # write(fd, BUF, n), pwrite64(fd, BUF, n, off), sendto(fd, BUF, ...)
    strings = [(literal, cut) for literal, cut in _strings(args) if "vfio" in literal]
    if not strings:
        return
    texts = [unescape(literal)[0] for literal, _ in strings]
    cut = " (strace cut the string: capture with a larger -s)" if any(
        truncated for _, truncated in strings) else ""
    joined = "".join(texts)
    parse = ctx.h.qemu_parser()
    if parse is None:
        return
    events = parse(joined, ctx.origin, pid=ctx.thread.pid, tid=ctx.thread.tid, ts=ctx.ts)
    real = [e for e in events if not isinstance(e, Unreadable)]
    broken = [e for e in events if isinstance(e, Unreadable)]
    session = ctx.h.session
    if real:
        for event in real:
            ctx.emit(event)
        for event in broken:
            session.out.append(event)
        if broken:
            session.note("qemu-cut", "some QEMU trace records inside write() payloads were "
                         "cut (raise strace -s); the readable ones were kept")
    elif broken:
        first = broken[0]
        session.unreadable(ctx.origin.file, ctx.origin.line, f"QEMU trace record inside "
                           f"{ctx.call.name}(): {first.reason}{cut}", first.text,
                           ctx.origin.last_line)
        for event in broken[1:]:
            session.out.append(event)


def _strings(args: list[Arg]) -> list[tuple[str, bool]]:
    """String literals (also inside iovec arrays), each with "was it cut by -s"."""
    out: list[tuple[str, bool]] = []
    for arg in args:
        for index, (kind, value, _) in enumerate(arg):
            if kind == "s":
                cut = index + 1 < len(arg) and arg[index + 1][0] == "..."
                out.append((value, cut))
            elif kind in ("[", "{", "("):
                out.extend(_strings(value))
    return out


def _seek(ctx: _Ctx) -> None:
    fd, decor = ctx.fd_arg(0)
    if fd is None:
        return
    entry = ctx.entry_for_use(fd, decor)
    if entry is not None and entry.file.kind == DATA:
        ctx.emit(DataSeek(ctx.origin, fd=fd, file=entry.file.ident, call=ctx.call.name,
                          ret=ctx.ret, errno=ctx.errno, **ctx.common))


def _ioctl(ctx: _Ctx) -> None:
    fd, decor = ctx.fd_arg(0)
    if fd is None:
        return
    request = resolve(ctx.arg(1))
    table = ctx.table
    entry = table.fds.get(fd)
    if entry is not None and decor is not None:
        entry = ctx._reconcile(fd, entry, decor)
    number = request.number
    if entry is not None and entry.file.guessed and entry.token is None and decor is None \
            and number in _REVEALING:
        # an fd first seen in a plain read/close (inherited, capture attached late): a
        # device-, group-, container- or data-only ioctl now tells what it really is
        table.close(fd)
        entry = None
    if entry is None:
        entry = _ioctl_first_use(ctx, fd, decor, request)
        if entry is None:
            return
    kind = entry.file.kind
    if kind == DEVICE:
        _device_ioctl(ctx, fd, entry, request)
    elif kind == DATA:
        if number == PRECOPY_INFO:
            ctx.emit(PrecopyInfo(ctx.origin, fd=fd, file=entry.file.ident, ret=ctx.ret,
                                 errno=ctx.errno, **ctx.common))
        else:
            ctx.emit(DataIoctl(ctx.origin, fd=fd, file=entry.file.ident,
                               request=request.canonical_name(DATA), ret=ctx.ret,
                               errno=ctx.errno, **ctx.common))
    elif kind == GROUP and number == GET_DEVICE_FD:
        _get_device_fd(ctx, entry)
    elif kind == OTHER and ctx.ok and ctx.call.ret > 0 and (
            number in FD_RETURNING_NUMBERS or any(n in FD_RETURNING_NAMES
                                                  for n in request.names)):
        ctx.install_other(ctx.call.ret, None, cloexec=True)


def _ioctl_first_use(ctx: _Ctx, fd: int, decor: str | None, request: Request
                     ) -> FdEntry | None:
    """An ioctl on an fd no visible call created: its request says what the fd is."""
    number = request.number
    if decor is not None:
        return ctx.first_use(fd, decor, candidate=number == PRECOPY_INFO
                             or not request.is_vfio)
    if number == GET_DEVICE_FD:
        entry = FdEntry(OpenFile(GROUP, f"group@fd{fd}", None, group=f"@fd{fd}"))
        ctx.table.install(fd, entry)
        return entry
    if number in DEVICE_ONLY or number == DEVICE_FEATURE:
        if number == DEVICE_FEATURE:
            ctx.h.session.note("feature-fd", "an fd no visible call created received "
                               "VFIO_DEVICE_FEATURE (0x3b75) and was taken for a device fd "
                               "(the same number is VFIO_IOMMU_DIRTY_PAGES on a container)")
        return ctx.open_device(fd, f"vfio-device@fd{fd}", "group", cloexec=True, token=None)
    if number in CONTAINER_ONLY:
        entry = FdEntry(OpenFile(CONTAINER, f"container@fd{fd}", None))
        ctx.table.install(fd, entry)
        return entry
    if number in GROUP_ONLY:
        entry = FdEntry(OpenFile(GROUP, f"group@fd{fd}", None, group=f"@fd{fd}"))
        ctx.table.install(fd, entry)
        return entry
    if number == PRECOPY_INFO:
        # only a migration data fd (or a sPAPR container, known as such) accepts 0x3b79
        return ctx.new_data(fd, None, None)
    if request.is_vfio:
        entry = FdEntry(OpenFile(OTHER, f"fd{fd}", None, guessed=True))
        ctx.table.install(fd, entry)
        return entry
    return ctx.first_use(fd, None, candidate=False)


_REVEALING = DEVICE_ONLY | GROUP_ONLY | CONTAINER_ONLY | {DEVICE_FEATURE, PRECOPY_INFO}


def _device_ioctl(ctx: _Ctx, fd: int, entry: FdEntry, request: Request) -> None:
    number = request.number
    device = entry.file.ident
    if number == DEVICE_FEATURE:
        ctx.emit(FeatureCall(ctx.origin, device=device, fd=fd, ret=ctx.ret, errno=ctx.errno,
                             **ctx.common))
        table = ctx.table
        table.last_feature = ctx.origin
        if ctx.call.ret == 0 or not ctx.finished:
            table.feature_devices.add(device)
    elif number == DEVICE_RESET:
        ctx.emit(DeviceReset(ctx.origin, device=device, fd=fd, ret=ctx.ret, errno=ctx.errno,
                             **ctx.common))
    elif number == PRECOPY_INFO:
        # VFIO_MIG_GET_PRECOPY_INFO sent to the device fd instead of the data fd (a VMM
        # bug the checker reports): ``file`` names the device
        ctx.emit(PrecopyInfo(ctx.origin, fd=fd, file=device, ret=ctx.ret, errno=ctx.errno,
                             **ctx.common))
    elif number in FD_RETURNING_NUMBERS and ctx.ok and ctx.call.ret > 0:
        ctx.install_other(ctx.call.ret, None, cloexec=True)


def _get_device_fd(ctx: _Ctx, group_entry: FdEntry) -> None:
    if not ctx.ok:
        return
    group = group_entry.file.group or f"@fd{ctx.fd_arg(0)[0]}"
    slots = ctx.table.device_slots.setdefault(group, set())
    slot = 0
    while slot in slots:
        slot += 1
    slots.add(slot)
    replaced = ctx.table.fds.get(ctx.call.ret)
    ctx._replaced(ctx.call.ret, replaced)
    ctx.open_device(ctx.call.ret, f"group{group}/dev{slot}", "group", cloexec=True, token=None,
                    group=group, slot=slot)


def _close(ctx: _Ctx) -> None:
    fd, decor = ctx.fd_arg(0)
    if fd is None:
        return
    call = ctx.call
    gone = ctx.finished and (call.ret == 0 or (call.errno not in (None, "EBADF")))
    entry = ctx.table.fds.get(fd)
    if entry is not None and decor is not None:
        entry = ctx._reconcile(fd, entry, decor)
    if entry is None:
        if call.errno == "EBADF":
            return
        entry = ctx.first_use(fd, decor, candidate=True)
    if gone or call.errno == "EBADF":
        ctx.table.close(fd)
    ctx.close_events(fd, entry)


def _fcntl(ctx: _Ctx) -> None:
    fd, decor = ctx.fd_arg(0)
    if fd is None:
        return
    entry = ctx.entry_for_use(fd, decor)
    if entry is None:
        return
    cmd_items = _items_of(ctx.arg(1), "w")
    cmd = cmd_items[0] if cmd_items else "?"
    if entry.file.kind == DATA:
        ctx.emit(DataFcntl(ctx.origin, fd=fd, file=entry.file.ident, cmd=cmd, ret=ctx.ret,
                           errno=ctx.errno, **ctx.common))
    if not ctx.ok:
        return
    if cmd in ("F_DUPFD", "F_DUPFD_CLOEXEC"):
        _duplicate(ctx, fd, entry, ctx.call.ret, cmd == "F_DUPFD_CLOEXEC", "fcntl")
    elif cmd == "F_SETFD":
        entry.cloexec = "FD_CLOEXEC" in ctx.words() or ctx.int_arg(2) == 1


def _dup(ctx: _Ctx) -> None:
    fd, decor = ctx.fd_arg(0)
    if fd is None:
        return
    entry = ctx.entry_for_use(fd, decor)
    if entry is None or not ctx.ok:
        return
    cloexec = ctx.call.name == "dup3" and "O_CLOEXEC" in ctx.words()
    _duplicate(ctx, fd, entry, ctx.call.ret, cloexec, ctx.call.name)


def _duplicate(ctx: _Ctx, old: int, entry: FdEntry, new: int, cloexec: bool, how: str) -> None:
    if new == old:
        return
    table = ctx.table
    previous = table.fds.get(new)
    if previous is not None:
        if previous.file.kind in (DATA, DEVICE):
            ctx.close_events(new, previous)  # dup2 closes the fd it overwrites
    token = None
    if entry.token is not None:
        token = f"{new}{entry.token[len(str(old)):]}"
    table.install(new, FdEntry(entry.file, cloexec, token))
    if entry.file.kind in (DATA, DEVICE):
        ctx.emit(FdDup(ctx.origin, old_fd=old, new_fd=new, file=entry.file.ident, call=how,
                       **ctx.common))


def _mmap(ctx: _Ctx) -> None:
    fd, decor = ctx.fd_arg(4)
    if fd is None or fd < 0:
        return
    entry = ctx.table.fds.get(fd)
    if entry is not None and decor is not None:
        entry = ctx._reconcile(fd, entry, decor)
    if entry is not None and entry.file.kind == DEVICE:
        ctx.emit(DeviceAccess(ctx.origin, device=entry.file.ident, fd=fd, call=ctx.call.name,
                              ret=ctx.ret, errno=ctx.errno, **ctx.common))


def _xfer(ctx: _Ctx) -> None:
    name = ctx.call.name
    if name in ("splice", "copy_file_range"):
        sides = ((0, 1, "read"), (2, 3, "write"))
        length = ctx.int_arg(4)
    elif name in ("sendfile", "sendfile64"):
        sides = ((1, 2, "read"), (0, None, "write"))
        length = ctx.int_arg(3)
    else:  # tee
        sides = ((0, None, "read"), (1, None, "write"))
        length = ctx.int_arg(2)
    for index, offset_index, direction in sides:
        fd, decor = ctx.fd_arg(index)
        if fd is None:
            continue
        entry = ctx.entry_for_use(fd, decor)
        if entry is None:
            continue
        positioned = offset_index is not None and ctx.arg(offset_index) not in (
            [], [("w", "NULL", None)], [("n", 0, None)])
        if entry.file.kind == DATA:
            ctx.emit(DataIO(ctx.origin, fd=fd, file=entry.file.ident, call=name,
                            direction=direction, requested=length, ret=ctx.ret,
                            errno=ctx.errno, positioned=positioned, **ctx.common))
        elif entry.file.kind == DEVICE:
            ctx.emit(DeviceAccess(ctx.origin, device=entry.file.ident, fd=fd, call=name,
                                  ret=ctx.ret, errno=ctx.errno, **ctx.common))


def _poll(ctx: _Ctx) -> None:
    name = ctx.call.name
    if name in ("poll", "ppoll"):
        asked = _poll_fds(ctx.arg(0))
        ready_fds = set()
        for aux in ctx.call.aux:
            for arg in aux:
                ready_fds.update(fd for fd, _ in _poll_fds(arg))
    else:  # select family: nfds, readfds, writefds, exceptfds
        asked = []
        for index in (1, 2, 3):
            for kind, value, _ in ctx.arg(index):
                if kind == "[":
                    for element in value:
                        for ekind, evalue, edecor in element:
                            if ekind == "n" and isinstance(evalue, int):
                                asked.append((evalue, edecor))
        ready_fds = set()
        for aux in ctx.call.aux:
            for arg in aux:
                for kind, value, _ in arg:
                    if kind == "[":
                        for element in value:
                            ready_fds.update(v for k, v, _ in element if k == "n")
    seen: set[int] = set()
    for fd, decor in asked:
        if fd in seen or fd < 0:
            continue
        seen.add(fd)
        entry = ctx.table.fds.get(fd)
        if entry is not None and decor is not None:
            entry = ctx._reconcile(fd, entry, decor)
        if entry is None and decor is not None and is_migration_decoration(
                strip_device_numbers(decor)):
            entry = ctx.first_use(fd, decor, candidate=True)
        if entry is None or entry.file.kind != DATA:
            continue
        if ctx.ok:
            ready: Any = fd in ready_fds
        else:
            ready = UNKNOWN
        ctx.emit(DataPoll(ctx.origin, fd=fd, file=entry.file.ident, call=name, ready=ready,
                          ret=ctx.ret, errno=ctx.errno, **ctx.common))


def _poll_fds(arg: Arg) -> list[tuple[int, str | None]]:
    out = []
    for kind, value, _ in arg:
        if kind == "[":
            for element in value:
                for ekind, evalue, _ in element:
                    if ekind == "{":
                        for field_arg in evalue:
                            if len(field_arg) == 3 and field_arg[0] == ("w", "fd", None) \
                                    and field_arg[2][0] == "n":
                                out.append((field_arg[2][1], field_arg[2][2]))
    return out


def _epoll_ctl(ctx: _Ctx) -> None:
    epfd, _ = ctx.fd_arg(0)
    fd, decor = ctx.fd_arg(2)
    if epfd is None or fd is None:
        return
    entry = ctx.entry_for_use(fd, decor)
    if entry is None or entry.file.kind != DATA:
        return
    ops = _items_of(ctx.arg(1), "w")
    op = ops[0] if ops else "?"
    epoll = ctx.table.fds.get(epfd)
    if epoll is not None and epoll.file.kind == EPOLL and ctx.ok:
        if op == "EPOLL_CTL_DEL":
            epoll.file.watched.pop(fd, None)
        else:
            data = UNKNOWN
            for kind, value, _ in ctx.arg(3):
                if kind == "{":
                    inner = _field(value, "data")
                    if isinstance(inner, tuple) and inner[0] == "{":
                        data = _field(inner[1], "u64")
            epoll.file.watched[fd] = data if isinstance(data, int) else fd
    ctx.emit(DataPoll(ctx.origin, fd=fd, file=entry.file.ident, call=f"epoll_ctl({op})",
                      ready=UNKNOWN, ret=ctx.ret, errno=ctx.errno, **ctx.common))


def _epoll_wait(ctx: _Ctx) -> None:
    epfd, _ = ctx.fd_arg(0)
    if epfd is None:
        return
    epoll = ctx.table.fds.get(epfd)
    if epoll is None or epoll.file.kind != EPOLL or not epoll.file.watched:
        return
    reported: set[int] = set()
    for kind, value, _ in ctx.arg(1):
        if kind == "[":
            for element in value:
                for ekind, evalue, _ in element:
                    if ekind == "{":
                        inner = _field(evalue, "data")
                        if isinstance(inner, tuple) and inner[0] == "{":
                            u64 = _field(inner[1], "u64")
                            if isinstance(u64, int):
                                reported.add(u64)
    for fd, data in sorted(epoll.file.watched.items()):
        entry = ctx.table.fds.get(fd)
        if entry is None or entry.file.kind != DATA:
            continue
        ready: Any = (data in reported) if ctx.ok else UNKNOWN
        ctx.emit(DataPoll(ctx.origin, fd=fd, file=entry.file.ident, call=ctx.call.name,
                          ready=ready, ret=ctx.ret, errno=ctx.errno, **ctx.common))


def _open(ctx: _Ctx) -> None:
    if not ctx.ok:
        return
    call = ctx.call
    fd = call.ret
    path = None
    for arg in call.args:
        strings = _items_of(arg, "s")
        if strings:
            path = unescape(strings[0])[0]
            break
    seen = strip_device_numbers(call.ret_decor) if call.ret_decor else None
    where = seen or path or f"fd{fd}"
    cloexec = "O_CLOEXEC" in ctx.words() or _raw_open_flags(call) & O_CLOEXEC_BIT != 0
    token = f"{fd}<{call.ret_decor}>" if call.ret_decor else None
    replaced = ctx.table.fds.get(fd)
    ctx._replaced(fd, replaced)
    if where.startswith(CDEV_PREFIX) or (path or "").startswith(CDEV_PREFIX):
        name = where if where.startswith(CDEV_PREFIX) else path
        ctx.open_device(fd, name, "cdev", cloexec=cloexec, token=token, path=name)
        return
    group = group_of_path(where) or group_of_path(path or "")
    if group is not None:
        kind = GROUP
    elif where == "/dev/vfio/vfio" or path == "/dev/vfio/vfio":
        kind = CONTAINER
    elif where == "/dev/iommu" or path == "/dev/iommu":
        kind = IOMMUFD
    else:
        kind = OTHER
    file = OpenFile(kind, where, where, group=group)
    ctx.table.install(fd, FdEntry(file, cloexec, token))


O_CLOEXEC_BIT = 0o2000000


def _raw_open_flags(call: Call) -> int:
    """Open flags printed as a number (-X raw): the argument after the path."""
    for index, arg in enumerate(call.args):
        if any(kind == "s" for kind, _, _ in arg):
            following = call.args[index + 1] if index + 1 < len(call.args) else []
            if len(following) == 1 and following[0][0] == "n" and isinstance(following[0][1],
                                                                              int):
                return following[0][1]
            return 0
    return 0


def _newfd(ctx: _Ctx) -> None:
    if not ctx.ok:
        return
    call = ctx.call
    cloexec = any(w.endswith("CLOEXEC") for w in ctx.words())
    kind = EPOLL if call.name.startswith("epoll_create") else OTHER
    decor = call.ret_decor
    ctx.install_other(call.ret, strip_device_numbers(decor) if decor else call.name, cloexec,
                      kind, f"{call.ret}<{decor}>" if decor else None)


def _pipe(ctx: _Ctx) -> None:
    if not ctx.ok:
        return
    cloexec = any(w.endswith("CLOEXEC") for w in ctx.words())
    for arg in reversed(ctx.call.args):
        for kind, value, _ in arg:
            if kind == "[":
                for element in value:
                    for ekind, evalue, edecor in element:
                        if ekind == "n" and isinstance(evalue, int):
                            ctx.install_other(evalue, edecor, cloexec,
                                              token=f"{evalue}<{edecor}>" if edecor else None)
                return


def _close_range(ctx: _Ctx) -> None:
    if not ctx.ok:
        return
    first = ctx.int_arg(0)
    last = ctx.int_arg(1)
    if not isinstance(first, int):
        return
    if not isinstance(last, int) or last < 0:
        last = 1 << 31
    words = ctx.words()
    if "CLOSE_RANGE_UNSHARE" in words:
        thread = ctx.thread
        thread.table.members.discard(-1 if thread.tid is None else thread.tid)
        thread.table = thread.table.fork_copy()
        thread.table.members.add(-1 if thread.tid is None else thread.tid)
        ctx.table = thread.table
    closed = ctx.table.close_range(first, last, cloexec_only="CLOSE_RANGE_CLOEXEC" in words)
    for fd, entry in closed:
        ctx.close_events(fd, entry, how="close_range")


def _clone(ctx: _Ctx) -> None:
    session = ctx.h.session
    parent = ctx.thread
    call = ctx.call
    words = ctx.words()
    is_thread = "CLONE_THREAD" in words
    shares = "CLONE_FILES" in words
    if not ctx.ok or call.ret == 0:
        return
    child = call.ret
    if child not in session.threads:  # else: its lines came first, while clone() was pending
        from vfio_migcheck.traces.strace_session import Thread

        table = parent.table if shares else parent.table.fork_copy()
        made = Thread(child, parent.pid if is_thread else child, table)
        table.members.add(child)
        session.threads[child] = made
    ctx.emit(ProcessEvent(ctx.origin, what="clone", child=child, thread=is_thread,
                          **ctx.common))


def _exec(ctx: _Ctx) -> None:
    if not ctx.ok:
        return
    thread = ctx.thread
    table = ctx.table
    if len(table.members) > 1:
        # the other threads are gone; the process keeps its (now unshared) table
        session = ctx.h.session
        for tid in list(table.members):
            if tid != (-1 if thread.tid is None else thread.tid):
                table.members.discard(tid)
                gone = session.threads.pop(None if tid == -1 else tid, None)
                if gone is not None and gone.pending is not None:
                    session.abandon(gone, "execve in another thread ended it")
    closed = table.exec()
    table.last_feature = None
    table.feature_devices = set()
    ctx.emit(ProcessEvent(ctx.origin, what="exec", **ctx.common))
    ctx.h.implicit_close(thread, closed, "exec", ctx.origin, ctx.ts)


def _recvmsg(ctx: _Ctx) -> None:
    if not ctx.ok:
        return
    text_words = ctx.words()
    if "SCM_RIGHTS" not in text_words:
        return
    cloexec = "MSG_CMSG_CLOEXEC" in text_words
    for fd in _scm_fds(ctx.call.args):
        ctx.install_other(fd, "received", cloexec)


def _scm_fds(args: list[Arg]) -> list[int]:
    found: list[int] = []
    for arg in args:
        for index, (kind, value, _) in enumerate(arg):
            if kind == "w" and value == "cmsg_data" and index + 2 < len(arg):
                target = arg[index + 2]
                if target[0] == "[":
                    found.extend(v for element in target[1] for k, v, _ in element
                                 if k == "n" and isinstance(v, int))
            elif kind in ("[", "{", "("):
                found.extend(_scm_fds(value))
    return found


_BY_NAME: dict[str, Any] = {}  # syscall name -> handler


def _register() -> None:
    from vfio_migcheck.traces import strace_session as s

    by_class = {
        s.IO: _io, s.SEEK: _seek, s.IOCTL: _ioctl, s.CLOSE: _close, s.FCNTL: _fcntl,
        s.DUP: _dup, s.MMAP: _mmap, s.XFER: _xfer, s.POLL: _poll, s.EPOLL_CTL: _epoll_ctl,
        s.EPOLL_WAIT: _epoll_wait, s.OPEN: _open, s.NEWFD: _newfd, s.PIPE: _pipe,
        s.CLOSE_RANGE: _close_range, s.CLONE: _clone, s.EXEC: _exec, s.RECVMSG: _recvmsg,
    }
    _BY_NAME.update({name: by_class[cls] for name, cls in s.NAME_CLASS.items()})


_register()
