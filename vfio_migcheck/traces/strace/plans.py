"""A complete call read once: its state-free meaning, kept by its text.

In a VFIO-dense capture the same few call texts come back all the time (``ioctl(5,
VFIO_DEVICE_FEATURE ..., 0x7ffc976c8910) = 0``, ``read(8, "", 4096) = 0``). Everything a
handler derives from the text alone — the parsed :class:`Call`, the fd argument and its
``-y`` token, the resolved ioctl request, the result and errno in event form, the number
of bytes asked for — is the same each time, so it is worked out once into a
:class:`Plan` (docs/traces.md, "Speed").

What depends on the reader's state is looked up afresh on every line: the fd's entry in
the thread's table. A plan applies itself only in the plain cases — an I/O call or ioctl
on an fd the table already knows as a device or data fd, with a matching decoration —
and does there exactly what :mod:`io_calls` does (the same events, the same fd-order
record of a FEATURE call). Anything else (an unknown fd, a changed decoration, an ioctl
that returns an fd, every other call) goes through the handlers as before, with the call
the plan holds. tests/test_strace_plans.py holds both paths to the same events.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import TYPE_CHECKING, Any, Protocol

from vfio_migcheck.traces.events import (
    UNKNOWN,
    DataClose,
    DataIO,
    DataIoctl,
    DeviceAccess,
    DeviceReset,
    FeatureCall,
    Origin,
    PrecopyInfo,
)
from vfio_migcheck.traces.strace.fdorder import Span
from vfio_migcheck.traces.strace.fdtable import DATA, DEVICE
from vfio_migcheck.traces.strace.ioctl import (
    DEVICE_FEATURE,
    DEVICE_RESET,
    FD_RETURNING_NUMBERS,
    PRECOPY_INFO,
    resolve,
)
from vfio_migcheck.traces.strace.syntax import DURATION_DIGITS, Call
from vfio_migcheck.traces.strace.threads import CLOSE, IO, IOCTL, NAME_CLASS

if TYPE_CHECKING:
    from vfio_migcheck.traces.events import ReadSummary
    from vfio_migcheck.traces.strace.fdorder import OrderLog
    from vfio_migcheck.traces.strace.fdtable import FdTable
    from vfio_migcheck.traces.strace.threads import SessionView, Thread


class CallHandler(Protocol):
    """What a plan uses of :class:`~vfio_migcheck.traces.strace.calls.CallHandler` (which
    imports this module: the dependency points one way)."""

    session: SessionView
    summary: ReadSummary

    def order_log(self, table: FdTable) -> OrderLog: ...

    def new_data_at(self, thread: Thread, call: Call, origin: Origin, ts: float | None,
                    fd: int) -> Any: ...


#: what :meth:`Plan.apply` returns when it took the call and changed a thread's fd table
#: (a first use, a close): truthy, but not ``True``
STATE_CHANGED = 2

_new = object.__new__

_POSITIONED = frozenset({"pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2"})
_READS = frozenset({"read", "readv", "pread64", "preadv", "preadv2", "recvfrom"})
_VECTORED = frozenset({"readv", "writev", "preadv", "pwritev", "preadv2", "pwritev2"})


def _defaults(cls: type) -> dict[str, Any]:
    """Every field of an event type at its default (required ones at None, to be set)."""
    out: dict[str, Any] = {}
    for f in fields(cls):
        if f.default is not MISSING:
            out[f.name] = f.default
        elif f.default_factory is not MISSING:  # type: ignore[misc]
            out[f.name] = f.default_factory()  # type: ignore[misc]
        else:
            out[f.name] = None
    return out


def ret_of(call: Call) -> Any:
    """The result in event form for a call that finished (``CallContext.ret``)."""
    return UNKNOWN if call.ret is None else call.ret


def errno_of(call: Call) -> Any:
    """The errno in event form for a call that finished (``CallContext.errno``)."""
    if call.errno is not None:
        return call.errno
    if call.ret is None:
        return UNKNOWN
    return None if call.ret >= 0 else UNKNOWN


def fd_of(call: Call, index: int) -> tuple[int | None, str | None]:
    """(fd, -y decoration) of an fd argument (``CallContext.fd_arg`` without its note)."""
    args = call.args
    arg = args[index] if index < len(args) else []
    if arg and arg[0][0] == "n" and isinstance(arg[0][1], int):
        decor = arg[0][2]
        if decor is not None:
            return arg[0][1], decor
        if len(arg) == 1:
            return arg[0][1], None
    return None, None


def int_of(call: Call, index: int) -> Any:
    """A lone integer argument, or UNKNOWN (``CallContext.int_arg``)."""
    args = call.args
    arg = args[index] if index < len(args) else []
    if len(arg) == 1 and arg[0][0] == "n" and isinstance(arg[0][1], int):
        return arg[0][1]
    return UNKNOWN


def requested_of(call: Call) -> Any:
    """Bytes an I/O call asked for: its count, or the sum of its iovecs' lengths."""
    if call.name in _VECTORED:
        total = 0
        found = False
        args = call.args
        for kind, value, _ in (args[1] if len(args) > 1 else []):
            if kind == "[":
                for element in value:
                    for ekind, evalue, _ in element:
                        if ekind == "{":
                            length = field_value(evalue, "iov_len")
                            if isinstance(length, int):
                                total += length
                                found = True
        return total if found else UNKNOWN
    return int_of(call, 2)


def field_value(args: list, name: str) -> Any:
    """The value of ``name=value`` inside a struct's argument list."""
    for arg in args:
        if len(arg) >= 3 and arg[0] == ("w", name, None) and arg[1] == ("o", "=", None):
            value = arg[2]
            if value[0] == "n" and len(arg) == 3:
                return value[1]
            return value
    return UNKNOWN


def _emit_new(h: CallHandler, cls: type, fields_of: dict, name_field: str, ident: str,
              origin: Origin, thread: Thread, ts: float | None,
              duration: float | None) -> None:
    """Emit a new ``cls`` event holding a plan's ``fields_of``, the fd's file under
    ``name_field``, and the line's place, thread and times (one call per event: this
    runs for nearly every line of a dense capture)."""
    event = _new(cls)
    values = event.__dict__
    values.update(fields_of)
    values[name_field] = ident
    values["origin"] = origin
    values["pid"] = thread.pid
    values["tid"] = thread.tid
    values["ts"] = ts
    values["duration"] = duration
    h.session.emit(event)


class Plan:
    """A call's text worked out once; :meth:`apply` is its cheap path (False: not taken)."""

    __slots__ = ("call",)

    def __init__(self, call: Call) -> None:
        self.call = call   # without its -T duration (timed calls add it per line)

    def with_duration(self, duration: float | None) -> Call:
        """A fresh copy of the call for the handlers, as the parser would have made it."""
        c = self.call
        return Call(c.name, c.args, c.ret, c.ret_decor, c.errno, list(c.aux), duration)

    def apply(self, h: CallHandler, thread: Thread, origin: Origin, ts: float | None,
              duration: float | None, nlines: int) -> bool | int:
        """False: not taken (the handler reads the call); True: taken, no thread or fd
        table changed; STATE_CHANGED: taken, and an fd table changed."""
        return False


class _FdPlan(Plan):
    """A call whose first argument is an fd the table may know as a device or data fd."""

    __slots__ = ("fd", "token", "ret", "errno", "ok")

    def __init__(self, call: Call, fd: int, decor: str | None) -> None:
        super().__init__(call)
        self.fd = fd
        self.token = f"{fd}<{decor}>" if decor is not None else None
        self.ret = ret_of(call)
        self.errno = errno_of(call)
        self.ok = call.ret is not None and call.ret >= 0

    def entry_of(self, h: CallHandler, thread: Thread) -> Any:
        """The fd's entry when the plain case holds (known, same decoration), else None."""
        entry = thread.table.fds.get(self.fd)
        if entry is None or entry.file.guessed:
            return None   # unknown, or a guess a VFIO ioctl may still revise: the handler
        token = self.token
        if token is not None:
            h.session.saw_decoration = True
            if entry.token != token:
                return None   # a replaced fd or a new -y form: the handler reconciles
        return entry

    def first_data_use(self, h: CallHandler, thread: Thread, origin: Origin,
                       ts: float | None) -> Any:
        """The entry of an fd no visible call created, taken for a data fd, as the
        handlers' first use does it for an undecorated fd (``CallContext.new_data``);
        None when the fd is known, decorated or negative (the handler decides)."""
        fd = self.fd
        if self.token is not None or fd < 0 or fd in thread.table.fds:
            return None
        return h.new_data_at(thread, self.call, origin, ts, fd)


class IoPlan(_FdPlan):
    """read/write and friends: a DataIO on a data fd, a DeviceAccess on a device fd."""

    __slots__ = ("data", "device")

    def __init__(self, call: Call, fd: int, decor: str | None) -> None:
        super().__init__(call, fd, decor)
        name = call.name
        data = _defaults(DataIO)
        data.update(fd=fd, call=name, direction="read" if name in _READS else "write",
                    requested=requested_of(call), ret=self.ret, errno=self.errno,
                    positioned=name in _POSITIONED)
        self.data = data
        device = _defaults(DeviceAccess)
        device.update(fd=fd, call=name, ret=self.ret, errno=self.errno)
        self.device = device

    def apply(self, h: CallHandler, thread: Thread, origin: Origin, ts: float | None,
              duration: float | None, nlines: int) -> bool | int:
        entry = self.entry_of(h, thread)
        taken: bool | int = True
        if entry is None:
            # an unknown fd after a FEATURE call: a data fd's first use (io_calls._io,
            # CallContext.first_use)
            if thread.table.last_feature is None:
                return False
            entry = self.first_data_use(h, thread, origin, ts)
            if entry is None:
                return False
            taken = STATE_CHANGED
        file = entry.file
        kind = file.kind
        if kind == DATA:
            _emit_new(h, DataIO, self.data, "file", file.ident, origin, thread, ts, duration)
        elif kind == DEVICE:
            _emit_new(h, DeviceAccess, self.device, "device", file.ident, origin, thread, ts,
                      duration)
        else:
            return False
        return taken


class IoctlPlan(_FdPlan):
    """An ioctl: the device's FEATURE, RESET and PRECOPY_INFO events, a data fd's ioctls."""

    __slots__ = ("number", "device_type", "device", "data_type", "data", "returns_fd")

    def __init__(self, call: Call, fd: int, decor: str | None) -> None:
        super().__init__(call, fd, decor)
        args = call.args
        request = resolve(args[1] if len(args) > 1 else [])
        number = self.number = request.number
        common = {"fd": fd, "ret": self.ret, "errno": self.errno}
        self.device_type: type | None = None
        self.device: dict[str, Any] = {}
        if number == DEVICE_FEATURE:
            self.device_type = FeatureCall
        elif number == DEVICE_RESET:
            self.device_type = DeviceReset
        elif number == PRECOPY_INFO:
            self.device_type = PrecopyInfo
        if self.device_type is not None:
            self.device = {**_defaults(self.device_type), **common}
        if number == PRECOPY_INFO:
            self.data_type: type = PrecopyInfo
            self.data = {**_defaults(PrecopyInfo), **common}
        else:
            self.data_type = DataIoctl
            self.data = {**_defaults(DataIoctl), **common,
                         "request": request.canonical_name(DATA)}
        self.returns_fd = number in FD_RETURNING_NUMBERS and self.ok and call.ret > 0

    def apply(self, h: CallHandler, thread: Thread, origin: Origin, ts: float | None,
              duration: float | None, nlines: int) -> bool | int:
        entry = self.entry_of(h, thread)
        taken: bool | int = True
        if entry is None:
            # PRECOPY_INFO on an unknown fd: only a data fd accepts it
            # (io_calls._ioctl_first_use)
            if self.number != PRECOPY_INFO:
                return False
            entry = self.first_data_use(h, thread, origin, ts)
            if entry is None:
                return False
            taken = STATE_CHANGED
        file = entry.file
        kind = file.kind
        if kind == DEVICE:
            cls = self.device_type
            if cls is None:
                if self.returns_fd:
                    return False   # a new fd to install: the handler does it
                h.summary.irrelevant += nlines
                return True
            name_field = "file" if cls is PrecopyInfo else "device"
            _emit_new(h, cls, self.device, name_field, file.ident, origin, thread, ts,
                      duration)
        elif kind == DATA:
            if self.number == DEVICE_FEATURE:
                return False   # FEATURE on a data fd: fd order records an unnamed creator
            _emit_new(h, self.data_type, self.data, "file", file.ident, origin, thread, ts,
                      duration)
        else:
            return False
        if kind == DEVICE and self.number == DEVICE_FEATURE:
            table = thread.table
            if not (isinstance(self.call.ret, int) and self.call.ret < 0):
                # may have created a data fd (io_calls._device_ioctl)
                h.order_log(table).feature(
                    Span(origin.line, origin.last_line or origin.line), file.ident)
            table.last_feature = origin
        return taken


class ClosePlan(_FdPlan):
    """``close(fd) = 0`` of a known data fd: the number freed in the fd-order log, the
    entry dropped from the table, a DataClose (what ``fd_calls._close`` does there).

    Any other close (a device fd, an unknown or guessed fd, a changed decoration, a
    failed close) goes through the handler."""

    __slots__ = ("data",)

    def __init__(self, call: Call, fd: int, decor: str | None) -> None:
        super().__init__(call, fd, decor)
        self.data = {**_defaults(DataClose), "fd": fd, "ret": self.ret, "errno": self.errno,
                     "how": "close"}

    def apply(self, h: CallHandler, thread: Thread, origin: Origin, ts: float | None,
              duration: float | None, nlines: int) -> bool | int:
        if self.ret != 0 or self.errno is not None:
            return False
        entry = self.entry_of(h, thread)
        if entry is None or entry.file.kind != DATA:
            return False
        table = thread.table
        order = h.order_log(table)
        order.release(Span(origin.line, origin.last_line or origin.line), self.fd, self.fd,
                      True)
        order.saw_close = True
        table.close(self.fd)
        _emit_new(h, DataClose, self.data, "file", entry.file.ident, origin, thread, ts,
                  duration)
        return STATE_CHANGED   # the fd table lost the entry


def split_duration(body: str) -> tuple[str, str | None]:
    """(text without a trailing ``<seconds>`` of -T, its digits or None): calls that differ
    only in their duration share a plan (as in ``syntax.parse_call_repeated``)."""
    if body[-1:] != ">":
        return body, None
    opening = body.rfind("<")
    digits = body[opening + 1:-1]
    if opening > 0 and body[opening - 1] in " \t" and DURATION_DIGITS.fullmatch(digits):
        return body[:opening].rstrip(" \t"), digits
    return body, None


def plan_for(call: Call) -> Plan:
    """The plan of a parsed call (a plain :class:`Plan` when no cheap path exists)."""
    if call.unavailable:
        return Plan(call)
    cls = NAME_CLASS.get(call.name)
    if cls == IO or cls == IOCTL or cls == CLOSE:
        fd, decor = fd_of(call, 0)
        if fd is not None:
            if cls == IO:
                return IoPlan(call, fd, decor)
            return IoctlPlan(call, fd, decor) if cls == IOCTL else ClosePlan(call, fd, decor)
    return Plan(call)
