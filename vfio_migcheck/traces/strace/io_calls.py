"""Calls that name device and data fds → the VFIO events (I/O, ioctls, polling, mmap).

Part of the strace reader (docs/traces.md): an unknown fd met here goes through the
first-use inference of :class:`~vfio_migcheck.traces.strace.calls.CallContext`.
"""

from __future__ import annotations

from typing import Any

from vfio_migcheck.traces.events import (
    UNKNOWN,
    DataIO,
    DataIoctl,
    DataPoll,
    DataSeek,
    DeviceAccess,
    DeviceReset,
    FeatureCall,
    Origin,
    PrecopyInfo,
    QemuEvent,
    Unreadable,
    built,
)
from vfio_migcheck.traces.strace import threads as s
from vfio_migcheck.traces.strace.calls import CallContext, items_of
from vfio_migcheck.traces.strace.fdtable import (
    CONTAINER,
    DATA,
    DEVICE,
    EPOLL,
    GROUP,
    OTHER,
    FdEntry,
    OpenFile,
)
from vfio_migcheck.traces.strace.ioctl import (
    CONTAINER_ONLY,
    DEVICE_FEATURE,
    DEVICE_ONLY,
    DEVICE_RESET,
    FD_IN_REPLY_NAMES,
    FD_RETURNING_NAMES,
    FD_RETURNING_NUMBERS,
    GET_DEVICE_FD,
    GROUP_ONLY,
    PRECOPY_INFO,
    Request,
    resolve,
)
from vfio_migcheck.traces.strace.plans import field_value, requested_of
from vfio_migcheck.traces.strace.syntax import Arg
from vfio_migcheck.traces.strace.text import (
    is_migration_decoration,
    strip_device_numbers,
    unescape,
)

_POSITIONED = frozenset({"pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2"})
_READS = frozenset({"read", "readv", "pread64", "preadv", "preadv2", "recvfrom"})


def _io(ctx: CallContext) -> None:
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
                        requested=requested_of(ctx.call), ret=ctx.ret, errno=ctx.errno,
                        positioned=name in _POSITIONED, **ctx.common))
    elif kind == DEVICE:
        ctx.emit(DeviceAccess(ctx.origin, device=entry.file.ident, fd=fd, call=name,
                              ret=ctx.ret, errno=ctx.errno, **ctx.common))
    elif name not in _READS:
        _qemu_payload(ctx)


def _qemu_payload(ctx: CallContext) -> None:
    args = ctx.call.args
    if ctx.call.name not in ("writev", "pwritev", "pwritev2"):
        args = args[1:2]  # write(fd, BUF, n), pwrite64(fd, BUF, n, off), sendto(fd, BUF, ...)
    # under -x/-xx every byte is escaped: such a literal may hold "vfio" once decoded
    strings = tuple((literal, cut) for literal, cut in _strings(args)
                    if "vfio" in literal or "\\x" in literal)
    if not strings:
        return
    decoded = _PAYLOADS.get(strings)
    if decoded is None:
        if len(_PAYLOADS) >= _MAX_PAYLOADS:
            _PAYLOADS.clear()
        decoded = _PAYLOADS[strings] = (
            "".join(unescape(literal)[0] for literal, _ in strings),
            " (strace cut the string: capture with a larger -s)" if any(
                truncated for _, truncated in strings) else "")
    joined, cut = decoded
    parse = ctx.h.qemu_parser()
    if parse is None:
        return
    events = _qemu_events(parse, joined, ctx.origin, ctx.thread.pid, ctx.thread.tid, ctx.ts)
    real = [e for e in events if not isinstance(e, Unreadable)]
    broken = [e for e in events if isinstance(e, Unreadable)]
    session = ctx.h.session
    for event in real:
        if isinstance(event, QemuEvent):
            event = ctx.h.link_qemu_device(event, ctx.table)
        ctx.emit(event)
    if real and broken:
        session.note("qemu-cut", "some QEMU trace records inside write() payloads were "
                     "cut (raise strace -s); the readable ones were kept")
    for event in broken:             # every unreadable record is listed in the summary
        session.unreadable(ctx.origin.file, ctx.origin.line, f"QEMU trace record inside "
                           f"{ctx.call.name}(): {event.reason}{cut}", event.text,
                           ctx.origin.last_line)


def _qemu_events(parse: Any, joined: str, origin: Origin, pid: int | None, tid: int | None,
                 ts: float | None) -> list[Any]:
    """``parse(joined, origin, pid=pid, tid=tid, ts=ts)``, remembered by the payload.

    QEMU writes the same few records over and over (``vfio_save_block`` for every chunk
    of device state). The events of a payload depend on the call only through
    ``origin`` and ``pid``, which each event carries as is, and ``tid``/``ts``, which an
    event carries when given and which otherwise leave the record's own (and whether they
    were given decides the ``trace_tid``/``trace_ts`` fields): so the events of a payload
    seen before are its remembered events with those fields set afresh.
    """
    key = (parse, joined, tid is None, ts is None)
    known = _PAYLOAD_EVENTS.get(key)
    if known is None:
        events = parse(joined, origin, pid=pid, tid=tid, ts=ts)
        if len(_PAYLOAD_EVENTS) >= _MAX_PAYLOADS:
            _PAYLOAD_EVENTS.clear()
        _PAYLOAD_EVENTS[key] = events
        return events
    out = []
    for event in known:
        values = {**event.__dict__, "origin": origin, "pid": pid}
        if tid is not None:
            values["tid"] = tid
        if ts is not None:
            values["ts"] = ts
        fields = values.get("fields")
        if fields is not None:
            values["fields"] = dict(fields)
        out.append(built(type(event), values))
    return out


#: payloads seen before: their decoded text (and note) and their events, until the memo
#: starts afresh
_PAYLOADS: dict[tuple[tuple[str, bool], ...], tuple[str, str]] = {}
_PAYLOAD_EVENTS: dict[tuple[Any, str, bool, bool], list[Any]] = {}
_MAX_PAYLOADS = 1024


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


def _seek(ctx: CallContext) -> None:
    fd, decor = ctx.fd_arg(0)
    if fd is None:
        return
    entry = ctx.entry_for_use(fd, decor)
    if entry is not None and entry.file.kind == DATA:
        ctx.emit(DataSeek(ctx.origin, fd=fd, file=entry.file.ident, call=ctx.call.name,
                          ret=ctx.ret, errno=ctx.errno, **ctx.common))


def _ioctl(ctx: CallContext) -> None:
    fd, decor = ctx.fd_arg(0)
    if fd is None:
        return
    request = resolve(ctx.arg(1))
    table = ctx.table
    entry = table.fds.get(fd)
    if entry is not None and decor is not None:
        entry = ctx.reconcile(fd, entry, decor)
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
    if number == DEVICE_FEATURE and kind not in (DEVICE, CONTAINER):
        # 0x3b75 on an fd not known as a device: maybe a device's FEATURE call after all
        ctx.order.feature(ctx.span, None)
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
    elif kind == OTHER and ctx.ok:
        if ctx.call.ret > 0 and (number in FD_RETURNING_NUMBERS
                                 or any(n in FD_RETURNING_NAMES for n in request.names)):
            ctx.install_other(ctx.call.ret, None, cloexec=True)
            ctx.allocated(ctx.call.ret, lowest=False)
        elif any(n in FD_IN_REPLY_NAMES for n in request.names):
            for fd_in_reply in _reply_fds(ctx.arg(2)):
                ctx.install_other(fd_in_reply, None, cloexec=True)
                ctx.allocated(fd_in_reply, lowest=False)


def _reply_fds(arg: Arg) -> list[int]:
    """``{type=KVM_DEV_TYPE_VFIO, flags=0} => {fd=25}``: the fd fields after the ``=>``."""
    found: list[int] = []
    after = False
    for kind, value, _ in arg:
        if kind == "o" and value == "=>":
            after = True
        elif after and kind == "{":
            fd = field_value(value, "fd")
            if isinstance(fd, int):
                found.append(fd)
    return found


def _ioctl_first_use(ctx: CallContext, fd: int, decor: str | None, request: Request
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


def _device_ioctl(ctx: CallContext, fd: int, entry: FdEntry, request: Request) -> None:
    number = request.number
    device = entry.file.ident
    if number == DEVICE_FEATURE:
        ctx.emit(FeatureCall(ctx.origin, device=device, fd=fd, ret=ctx.ret, errno=ctx.errno,
                             **ctx.common))
        table = ctx.table
        if not (ctx.finished and isinstance(ctx.call.ret, int) and ctx.call.ret < 0):
            ctx.order.feature(ctx.span, device)  # may have created a data fd
        table.last_feature = ctx.origin
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
        ctx.allocated(ctx.call.ret, lowest=False)


def _get_device_fd(ctx: CallContext, group_entry: FdEntry) -> None:
    if not ctx.ok:
        return
    group = group_entry.file.group or f"@fd{ctx.fd_arg(0)[0]}"
    slots = ctx.table.device_slots.setdefault(group, set())
    slot = 0
    while slot in slots:
        slot += 1
    slots.add(slot)
    replaced = ctx.table.fds.get(ctx.call.ret)
    ctx.note_replaced(ctx.call.ret, replaced)
    ctx.open_device(ctx.call.ret, f"group{group}/dev{slot}", "group", cloexec=True, token=None,
                    group=group, slot=slot)
    ctx.allocated(ctx.call.ret)


def _mmap(ctx: CallContext) -> None:
    fd, decor = ctx.fd_arg(4)
    if fd is None or fd < 0:
        return
    entry = ctx.table.fds.get(fd)
    if entry is not None and decor is not None:
        entry = ctx.reconcile(fd, entry, decor)
    if entry is not None and entry.file.kind == DEVICE:
        ctx.emit(DeviceAccess(ctx.origin, device=entry.file.ident, fd=fd, call=ctx.call.name,
                              ret=ctx.ret, errno=ctx.errno, **ctx.common))


def _xfer(ctx: CallContext) -> None:
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


def _poll(ctx: CallContext) -> None:
    name = ctx.call.name
    if name in ("poll", "ppoll"):
        asked = _poll_fds(ctx.arg(0))
        ready_fds = set()
        for aux in _paren_extras(ctx.call.aux):
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
        for aux in _paren_extras(ctx.call.aux):
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
            entry = ctx.reconcile(fd, entry, decor)
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


def _paren_extras(aux: list) -> list[list[Arg]]:
    """The parenthesised extras after a result (``= 1 ([{fd=5, revents=POLLIN}])``); a
    damaged line may also leave bare words there, which hold no fds."""
    return [extra for extra in aux if isinstance(extra, list)]


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


def _epoll_ctl(ctx: CallContext) -> None:
    epfd, _ = ctx.fd_arg(0)
    fd, decor = ctx.fd_arg(2)
    if epfd is None or fd is None:
        return
    entry = ctx.entry_for_use(fd, decor)
    if entry is None or entry.file.kind != DATA:
        return
    ops = items_of(ctx.arg(1), "w")
    op = ops[0] if ops else "?"
    epoll = ctx.table.fds.get(epfd)
    if epoll is not None and epoll.file.kind == EPOLL and ctx.ok:
        if op == "EPOLL_CTL_DEL":
            epoll.file.watched.pop(fd, None)
        else:
            data = UNKNOWN
            for kind, value, _ in ctx.arg(3):
                if kind == "{":
                    inner = field_value(value, "data")
                    if isinstance(inner, tuple) and inner[0] == "{":
                        data = field_value(inner[1], "u64")
            epoll.file.watched[fd] = data if isinstance(data, int) else fd
    ctx.emit(DataPoll(ctx.origin, fd=fd, file=entry.file.ident, call=f"epoll_ctl({op})",
                      ready=UNKNOWN, ret=ctx.ret, errno=ctx.errno, **ctx.common))


def _epoll_wait(ctx: CallContext) -> None:
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
                        inner = field_value(evalue, "data")
                        if isinstance(inner, tuple) and inner[0] == "{":
                            u64 = field_value(inner[1], "u64")
                            if isinstance(u64, int):
                                reported.add(u64)
    for fd, data in sorted(epoll.file.watched.items()):
        entry = ctx.table.fds.get(fd)
        if entry is None or entry.file.kind != DATA:
            continue
        ready: Any = (data in reported) if ctx.ok else UNKNOWN
        ctx.emit(DataPoll(ctx.origin, fd=fd, file=entry.file.ident, call=ctx.call.name,
                          ready=ready, ret=ctx.ret, errno=ctx.errno, **ctx.common))


def handlers() -> dict[int, Any]:
    """Call class (threads) -> handler, for the calls that name device/data fds."""
    return {s.IO: _io, s.SEEK: _seek, s.IOCTL: _ioctl, s.MMAP: _mmap, s.XFER: _xfer,
            s.POLL: _poll, s.EPOLL_CTL: _epoll_ctl, s.EPOLL_WAIT: _epoll_wait}
