"""Reader for vfio-mig.bt output (docs/bpftrace-format.md): every payload decoded.

The bpftrace program over-approximates which fds it watches (its maps cannot be iterated,
so an exec or a close_range leaves stale entries); this reader keeps the exact fd table of
every traced process from the calls it sees: device fds from their open (group
``GET_DEVICE_FD`` or a cdev ``open``), data fds from the ``data_fd`` of a successful SET,
dups, forks (the child gets a copy of the parent's table), closes, close-on-exec and exit.
A line about an fd that is neither an open device fd nor an open data fd is irrelevant
(counted), except a call failing with EBADF on the number of a closed data fd, which is the
use of a dead data fd the checker must see.

Gaps are never silent: bpftrace's ``Lost N events`` becomes an :class:`Unreadable` event
(so the verdict cannot be pass), and a capture without its ``attached`` header, or that
ends without its ``end`` line, says so in the summary. A device first seen through a
FEATURE or RESET call (the capture started after it was opened) gets no open event, so the
checker knows its first state was not shown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vfio_migcheck.traces.bpftrace import decode
from vfio_migcheck.traces.bpftrace.syntax import (
    MAGIC,
    VERSION,
    Chatter,
    Header,
    Lost,
    Record,
    SyntaxProblem,
    parse_line,
)
from vfio_migcheck.traces.events import (
    UNKNOWN,
    DataClose,
    DataFcntl,
    DataIO,
    DataIoctl,
    DataPoll,
    DataSeek,
    DeviceClose,
    DeviceOpen,
    DeviceReset,
    Event,
    FdDup,
    FeatureCall,
    Origin,
    PrecopyInfo,
    ProcessEvent,
    ReadSummary,
    Unreadable,
)
from vfio_migcheck.traces.lines import BadLine, Line, iter_lines
from vfio_migcheck.traces.numbers import NumberTooLong, bounded_int, check_digits

FORMAT = "bpftrace"
IO_CALLS = {"read": ("read", False), "write": ("write", False),
            "pread64": ("read", True), "pwrite64": ("write", True),
            "readv": ("read", False), "writev": ("write", False),
            "preadv": ("read", True), "pwritev": ("write", True),
            "preadv2": ("read", True), "pwritev2": ("write", True)}
POLL_CALLS = ("poll", "ppoll")
DUP_CALLS = ("dup", "dup2", "dup3")
CALLS = ("open", "getfd", "bind", "feature", "reset", "precopy", "ioctl", *IO_CALLS,
         "lseek", *POLL_CALLS, "close", "close_range", *DUP_CALLS, "fcntl", "fork", "thread",
         "exec", "exit")
# the keys each call must carry (more are accepted and ignored, for later versions)
NEEDS: dict[str, tuple[str, ...]] = {
    "open": ("path", "oflags", "ret"), "getfd": ("group", "name", "ret"),
    "bind": ("fd", "ret"),
    "feature": ("fd", "argsz", "flags", "in", "out", "ret"), "reset": ("fd", "ret"),
    "precopy": ("fd", "argsz", "initial", "dirty", "ret"), "ioctl": ("fd", "cmd", "ret"),
    **{c: ("fd", "count", "ret") for c in IO_CALLS},
    "lseek": ("fd", "offset", "whence", "ret"),
    **{c: ("fd", "events", "revents", "ret") for c in POLL_CALLS},
    "close": ("fd", "ret"), "close_range": ("first", "last", "flags", "ret"),
    **{c: ("fd", "ret") for c in DUP_CALLS}, "fcntl": ("fd", "cmd", "arg", "ret"),
    "fork": ("child",), "thread": ("child",), "exec": (), "exit": (),
}
CDEV_PREFIX = "/dev/vfio/devices/"
GROUP_PATH = re.compile(r"/dev/vfio/(noiommu-)?[0-9]+\Z")
CLOSE_RANGE_CLOEXEC = 0x4
EBADF = "EBADF"
LOST_REASON = ("gap: bpftrace lost {n} event(s) here (its output buffer was full); calls in "
               "this gap were not recorded")


class LineProblem(ValueError):
    def __init__(self, column: int | None, message: str) -> None:
        super().__init__(f"column {column}: {message}" if column else message)


# --- the fd tables ----------------------------------------------------------------------


@dataclass(eq=False)
class OpenFile:
    """One open file description: what dup'd and inherited fds share."""

    kind: str                   # device | data | group | container | iommufd
    ident: str                  # device name, data-file identity, or the opened path
    device: str | None = None   # data fds: the device whose SET returned it
    refs: int = 0


@dataclass
class Entry:
    file: OpenFile
    cloexec: bool


@dataclass
class Process:
    fds: dict[int, Entry] = field(default_factory=dict)
    closed_data: set[int] = field(default_factory=set)   # numbers whose data file is closed
    dead: dict[int, str] = field(default_factory=dict)    # identity of a dead number in use

    def install(self, fd: int, entry: Entry) -> Entry | None:
        old = self.drop(fd)
        entry.file.refs += 1
        self.fds[fd] = entry
        self.closed_data.discard(fd)
        self.dead.pop(fd, None)
        return old

    def drop(self, fd: int) -> Entry | None:
        entry = self.fds.pop(fd, None)
        if entry is not None:
            entry.file.refs -= 1
            if entry.file.kind == "data":
                self.closed_data.add(fd)
        return entry

    def fork_copy(self) -> Process:
        child = Process(closed_data=set(self.closed_data))
        for fd, entry in self.fds.items():
            entry.file.refs += 1
            child.fds[fd] = Entry(entry.file, entry.cloexec)
        return child


# --- the reader ---------------------------------------------------------------------------


@dataclass
class BpftraceTrace:
    """What earlier lines established: processes and their fds, devices, generations."""

    summary: ReadSummary
    processes: dict[int, Process] = field(default_factory=dict)
    generations: dict[int, int] = field(default_factory=dict)
    attached: bool = False
    ended: bool = False
    records: int = 0
    mid_capture: set[str] = field(default_factory=set)

    def process(self, pid: int) -> Process:
        proc = self.processes.get(pid)
        if proc is None:
            proc = self.processes[pid] = Process()
        return proc

    def new_data_ident(self, fd: int, device: str | None) -> str:
        gen = self.generations.get(fd, 0) + 1
        self.generations[fd] = gen
        return f"{device}:fd{fd}#{gen}" if device else f"fd{fd}#{gen}"

    # -- one parsed line -> events --

    def events(self, parsed: Any, origin: Origin, text: str) -> list[Event]:
        if isinstance(parsed, Header):
            return self._header(parsed, origin)
        if isinstance(parsed, Lost):
            reason = LOST_REASON.format(n=parsed.count)
            return [Unreadable(origin, reason=reason, text=text)]
        if isinstance(parsed, Chatter):
            return []
        return self._record(parsed, origin, text)

    def _header(self, header: Header, origin: Origin) -> list[Event]:
        if header.version != VERSION:
            raise LineProblem(None, f"{MAGIC} version {header.version} is not supported "
                                    f"(this reader knows version {VERSION})")
        if header.what == "attached":
            if self.attached and not self.ended:
                self.summary.notes.append(f"{origin}: a second 'attached' header without an "
                                          "'end' before it: two captures in one file?")
            self.attached, self.ended = True, False
        elif header.what == "end":
            self.ended = True
        else:
            raise LineProblem(None, f"unknown {MAGIC} header {header.what!r} (expected "
                                    "attached or end)")
        return []

    def _record(self, rec: Record, origin: Origin, text: str) -> list[Event]:
        if rec.call not in NEEDS:
            raise LineProblem(None, f"unknown call {rec.call!r} (expected one of "
                                    f"{', '.join(CALLS)})")
        for key in NEEDS[rec.call]:
            if key not in rec.fields:
                raise LineProblem(None, f"{rec.call} needs {key}=")
        if not self.attached and not self.records:
            self.summary.notes.append(f"{origin}: the capture has no '{MAGIC} ... attached' "
                                      "header: it may not start at the beginning")
        self.records += 1
        common = {"pid": rec.pid, "tid": rec.tid, "ts": rec.ts_ns / 1e9,
                  "duration": rec.dur_ns / 1e9 if rec.call not in
                  ("fork", "thread", "exec", "exit") else None, "text": text}
        handler = getattr(self, "_" + rec.call, None) or self._io
        return handler(rec, origin, common)

    # -- value helpers --

    @staticmethod
    def _num(rec: Record, key: str) -> int:
        text = rec.fields[key]
        try:
            check_digits(text, f"{key}=")
        except NumberTooLong as exc:
            raise LineProblem(rec.columns.get(key), str(exc)) from None
        try:
            value = int(text, 0)
        except ValueError:
            raise LineProblem(rec.columns.get(key), f"{key}= must be a number, found "
                                                    f"{text!r}") from None
        if not -(1 << 63) <= value < (1 << 64):   # bpftrace prints 64-bit values only
            raise LineProblem(rec.columns.get(key), f"{key}= is out of the 64-bit range: "
                                                    f"{text!r}")
        return value

    def _words(self, rec: Record, key: str) -> tuple[int, int]:
        parts = rec.fields[key].split(",")
        try:
            if len(parts) != 2:
                raise ValueError
            return bounded_int(parts[0], 0), bounded_int(parts[1], 0)
        except ValueError:
            raise LineProblem(rec.columns.get(key), f"{key}= must be two numbers 'W0,W1', "
                                                    f"found {rec.fields[key]!r}") from None

    def _fd(self, rec: Record, key: str = "fd") -> int:
        return decode.s32(self._num(rec, key))

    def _device_entry(self, rec: Record, fd: int, origin: Origin) -> OpenFile | None:
        """The device file at ``fd``; a FEATURE/RESET on an fd the capture never saw opened
        makes it a device first seen mid-capture (None for a container or other file)."""
        proc = self.process(rec.pid)
        entry = proc.fds.get(fd)
        if entry is not None:
            return entry.file if entry.file.kind == "device" else None
        name = f"pid{rec.pid}:fd{fd}"
        file = OpenFile("device", name)
        proc.install(fd, Entry(file, cloexec=False))
        if name not in self.mid_capture:
            self.mid_capture.add(name)
            self.summary.notes.append(
                f"{origin}: fd {fd} of pid {rec.pid} is used as a VFIO device but the capture "
                f"did not see it opened (the capture started after the device was opened); "
                f"it is checked as device {name} from an unknown first state")
        return file

    # -- opening devices --

    def _open(self, rec: Record, origin: Origin, common: dict) -> list[Event]:
        path = rec.fields["path"]
        ret = self._num(rec, "ret")
        if ret < 0:
            return []
        cloexec = bool(self._num(rec, "oflags") & decode.O_CLOEXEC)
        proc = self.process(rec.pid)
        if path.startswith(CDEV_PREFIX):
            name = path[len(CDEV_PREFIX):] or path
            proc.install(ret, Entry(OpenFile("device", name), cloexec))
            return [DeviceOpen(origin, device=name, fd=ret, path=path, api="cdev", **common)]
        kind = ("container" if path == "/dev/vfio/vfio" else
                "iommufd" if path == "/dev/iommu" else
                "group" if GROUP_PATH.match(path) else "other")
        proc.install(ret, Entry(OpenFile(kind, path), cloexec))
        return []

    def _getfd(self, rec: Record, origin: Origin, common: dict) -> list[Event]:
        ret = self._num(rec, "ret")
        if ret < 0:
            return []
        proc = self.process(rec.pid)
        group = proc.fds.get(self._fd(rec, "group"))
        path = group.file.ident if group is not None and group.file.kind == "group" else UNKNOWN
        name = rec.fields["name"]
        if not name:
            raise LineProblem(rec.columns.get("name"), "getfd has an empty device name")
        # VFIO_GROUP_GET_DEVICE_FD returns an O_CLOEXEC fd (drivers/vfio/group.c)
        proc.install(ret, Entry(OpenFile("device", name), cloexec=True))
        return [DeviceOpen(origin, device=name, fd=ret, path=path, api="group", **common)]

    def _bind(self, rec: Record, origin: Origin, common: dict) -> list[Event]:
        return []          # the device fd is known from its open; nothing to check here

    # -- device calls --

    def _feature(self, rec: Record, origin: Origin, common: dict) -> list[Event]:
        fd = self._fd(rec)
        device = self._device_entry(rec, fd, origin)
        if device is None:
            return []      # 0x3b75 on a container is VFIO_IOMMU_DIRTY_PAGES (type1 v1)
        raw_ret = self._num(rec, "ret")
        ret, err = decode.result(raw_ret)
        values = decode.feature_fields(self._num(rec, "flags"), self._num(rec, "argsz"),
                                       self._words(rec, "in"), self._words(rec, "out"),
                                       raw_ret)
        data_fd = values["data_fd"]
        if values["op"] == "SET" and values["feature"] == "MIG_DEVICE_STATE" \
                and isinstance(data_fd, int) and data_fd >= 0:
            ident = self.new_data_ident(data_fd, device.ident)
            # the kernel's data fds are O_CLOEXEC (vfio_ioct_mig_return_fd)
            self.process(rec.pid).install(
                data_fd, Entry(OpenFile("data", ident, device.ident), cloexec=True))
        return [FeatureCall(origin, device=device.ident, fd=fd, ret=ret, errno=err, **values,
                            **common)]

    def _reset(self, rec: Record, origin: Origin, common: dict) -> list[Event]:
        fd = self._fd(rec)
        device = self._device_entry(rec, fd, origin)
        if device is None:
            return []
        ret, err = decode.result(self._num(rec, "ret"))
        return [DeviceReset(origin, device=device.ident, fd=fd, ret=ret, errno=err, **common)]

    # -- data-fd calls --

    def _data_file(self, rec: Record, fd: int, errno: str | None,
                   origin: Origin) -> tuple[str | None, bool]:
        """(identity, is a device fd) of the file a data-fd line is about; None when the
        line is irrelevant (not an open data fd, nor the dead number of one failing EBADF)."""
        proc = self.process(rec.pid)
        entry = proc.fds.get(fd)
        if entry is not None:
            if entry.file.kind == "data":
                return entry.file.ident, False
            if entry.file.kind == "device":
                return entry.file.ident, True
            return None, False
        if fd in proc.closed_data and errno == EBADF:
            ident = proc.dead.get(fd)
            if ident is None:
                # as the canonical reader names a number no call opened (canonical-format 5)
                ident = proc.dead[fd] = self.new_data_ident(fd, None)
                self.summary.notes.append(f"{origin}: fd {fd} is used after its data fd was "
                                          f"closed; read as {ident}")
            return ident, False
        return None, False

    def _io(self, rec: Record, origin: Origin, common: dict) -> list[Event]:
        fd = self._fd(rec)
        ret, err = decode.result(self._num(rec, "ret"))
        ident, on_device = self._data_file(rec, fd, err, origin)
        if ident is None or on_device:
            return []
        direction, positioned = IO_CALLS[rec.call]
        count = self._num(rec, "count")
        return [DataIO(origin, fd=fd, file=ident, call=rec.call, direction=direction,
                       requested=count if count >= 0 else UNKNOWN, ret=ret, errno=err,
                       positioned=positioned, **common)]

    def _precopy(self, rec: Record, origin: Origin, common: dict) -> list[Event]:
        fd = self._fd(rec)
        ret, err = decode.result(self._num(rec, "ret"))
        ident, _ = self._data_file(rec, fd, err, origin)
        if ident is None:
            return []
        ok = ret == 0
        return [PrecopyInfo(origin, fd=fd, file=ident, ret=ret, errno=err,
                            argsz=self._num(rec, "argsz") & 0xFFFFFFFF,
                            initial_bytes=self._num(rec, "initial") if ok else UNKNOWN,
                            dirty_bytes=self._num(rec, "dirty") if ok else UNKNOWN, **common)]

    def _ioctl(self, rec: Record, origin: Origin, common: dict) -> list[Event]:
        fd = self._fd(rec)
        ret, err = decode.result(self._num(rec, "ret"))
        ident, on_device = self._data_file(rec, fd, err, origin)
        if ident is None or on_device:
            return []      # other ioctls on the device fd (GET_INFO, SET_IRQS...) do not matter
        return [DataIoctl(origin, fd=fd, file=ident, request=f"{self._num(rec, 'cmd'):#x}",
                          ret=ret, errno=err, **common)]

    def _lseek(self, rec: Record, origin: Origin, common: dict) -> list[Event]:
        fd = self._fd(rec)
        ret, err = decode.result(self._num(rec, "ret"))
        ident, on_device = self._data_file(rec, fd, err, origin)
        if ident is None or on_device:
            return []
        return [DataSeek(origin, fd=fd, file=ident, call="lseek", ret=ret, errno=err,
                         **common)]

    def _poll(self, rec: Record, origin: Origin, common: dict) -> list[Event]:
        fd = self._fd(rec)
        ret, err = decode.result(self._num(rec, "ret"))
        revents = self._num(rec, "revents")
        ident, on_device = self._data_file(rec, fd, EBADF if revents & 0x20 else err, origin)
        if ident is None or on_device:
            return []
        ready = bool(revents & decode.POLL_READY) if err is None else UNKNOWN
        return [DataPoll(origin, fd=fd, file=ident, call=rec.call, ready=ready, ret=ret,
                         errno=err, **common)]

    _ppoll = _poll

    def _fcntl(self, rec: Record, origin: Origin, common: dict) -> list[Event]:
        fd = self._fd(rec)
        cmd = self._num(rec, "cmd")
        ret, err = decode.result(self._num(rec, "ret"))
        proc = self.process(rec.pid)
        entry = proc.fds.get(fd)
        if cmd in decode.DUP_FCNTL and err is None and entry is not None:
            return self._dup_to(rec, fd, ret, cmd == 1030, "fcntl", origin, common)
        if cmd == decode.F_SETFD and err is None and entry is not None:
            entry.cloexec = bool(self._num(rec, "arg") & decode.FD_CLOEXEC)
        ident, on_device = self._data_file(rec, fd, err, origin)
        if ident is None or on_device:
            return []
        return [DataFcntl(origin, fd=fd, file=ident, cmd=decode.fcntl_name(cmd), ret=ret,
                          errno=err, **common)]

    def _dup(self, rec: Record, origin: Origin, common: dict) -> list[Event]:
        fd = self._fd(rec)
        ret, err = decode.result(self._num(rec, "ret"))
        if err is not None or fd not in self.process(rec.pid).fds:
            return []     # a failed dup creates nothing (canonical-format.md 4.4)
        # dup and dup2 clear FD_CLOEXEC on the new fd; dup3 takes it from its flags (not
        # printed), so it is taken as set, as QEMU's qemu_dup_flags asks for
        return self._dup_to(rec, fd, ret, rec.call == "dup3", rec.call, origin, common)

    _dup2 = _dup
    _dup3 = _dup

    def _dup_to(self, rec: Record, old: int, new: int, cloexec: bool, call: str,
                origin: Origin, common: dict) -> list[Event]:
        proc = self.process(rec.pid)
        source = proc.fds[old]
        events = self._implicit_close(rec.pid, [(new, proc.fds[new])], "close", origin,
                                      common) if new in proc.fds and new != old else []
        proc.install(new, Entry(source.file, cloexec))
        if source.file.kind not in ("data", "device"):
            return events
        return [*events, FdDup(origin, old_fd=old, new_fd=new, file=source.file.ident,
                               call=call, **common)]

    def _close(self, rec: Record, origin: Origin, common: dict) -> list[Event]:
        fd = self._fd(rec)
        ret, err = decode.result(self._num(rec, "ret"))
        proc = self.process(rec.pid)
        entry = proc.fds.get(fd)
        if entry is None:
            ident, _ = self._data_file(rec, fd, err, origin)
            proc.dead.pop(fd, None)
            return [] if ident is None else [DataClose(origin, fd=fd, file=ident, ret=ret,
                                                       errno=err, **common)]
        if err != EBADF:
            proc.drop(fd)
        file = entry.file
        if file.kind == "device":
            return [DeviceClose(origin, device=file.ident, fd=fd, ret=ret, errno=err,
                                **common)]
        if file.kind == "data":
            return [DataClose(origin, fd=fd, file=file.ident, ret=ret, errno=err, **common)]
        return []

    def _close_range(self, rec: Record, origin: Origin, common: dict) -> list[Event]:
        ret, err = decode.result(self._num(rec, "ret"))
        if err is not None:
            return []
        first, last = self._num(rec, "first"), self._num(rec, "last")
        proc = self.process(rec.pid)
        hit = sorted(fd for fd in proc.fds if first <= fd <= last)
        if self._num(rec, "flags") & CLOSE_RANGE_CLOEXEC:
            for fd in hit:
                proc.fds[fd].cloexec = True
            return []
        return self._implicit_close(rec.pid, [(fd, proc.fds[fd]) for fd in hit],
                                    "close_range", origin, common)

    def _implicit_close(self, pid: int, doomed: list[tuple[int, Entry]], how: str,
                        origin: Origin, common: dict) -> list[Event]:
        """Closes no close call shows (close_range, exec, exit, dup2 over an open fd):
        reported when they drop the last reference to a device or data file."""
        proc = self.process(pid)
        out: list[Event] = []
        base = {k: v for k, v in common.items() if k not in ("duration", "text")}
        for fd, entry in doomed:
            proc.drop(fd)
            file = entry.file
            if file.refs > 0:
                continue
            if file.kind == "data":
                out.append(DataClose(origin, fd=fd, file=file.ident, ret=UNKNOWN,
                                     errno=UNKNOWN, how=how, **base))
            elif file.kind == "device":
                out.append(DeviceClose(origin, device=file.ident, fd=fd, ret=UNKNOWN,
                                       errno=UNKNOWN, how=how, **base))
        return out

    # -- processes --

    def _fork(self, rec: Record, origin: Origin, common: dict) -> list[Event]:
        child = self._num(rec, "child")
        self.processes[child] = self.process(rec.pid).fork_copy()
        return [ProcessEvent(origin, what="clone", child=child, thread=False, **common)]

    def _thread(self, rec: Record, origin: Origin, common: dict) -> list[Event]:
        return [ProcessEvent(origin, what="clone", child=self._num(rec, "child"), thread=True,
                             **common)]

    def _exec(self, rec: Record, origin: Origin, common: dict) -> list[Event]:
        proc = self.process(rec.pid)
        doomed = [(fd, e) for fd, e in sorted(proc.fds.items()) if e.cloexec]
        closes = self._implicit_close(rec.pid, doomed, "exec", origin, common)
        return [*closes, ProcessEvent(origin, what="exec", **common)]

    def _exit(self, rec: Record, origin: Origin, common: dict) -> list[Event]:
        proc = self.process(rec.pid)
        closes = self._implicit_close(rec.pid, sorted(proc.fds.items()), "exit", origin,
                                      common)
        self.processes.pop(rec.pid, None)
        return [*closes, ProcessEvent(origin, what="exit", **common)]

    def finish(self, origin: Origin | None) -> None:
        if self.records and not self.ended:
            where = f"{origin}: " if origin else ""
            self.summary.notes.append(f"{where}the capture has no '{MAGIC} ... end' line: it "
                                      "was cut short (bpftrace killed?) and may miss the last "
                                      "calls")


# --- the reader interface (traces/reading.py) -----------------------------------------------


def sniff(lines: list[str]) -> float:
    """Certain on the program's header; else the share of lines that parse as records."""
    meaningful = [t for t in lines if t.strip()]
    if any(t.startswith(MAGIC + " ") for t in meaningful[:5]):
        return 1.0
    if not meaningful:
        return 0.0
    parsed = 0
    for text in meaningful:
        try:
            item = parse_line(text)
        except SyntaxProblem:
            continue
        if isinstance(item, Record) and item.call in NEEDS:
            parsed += 1
    return 0.9 * parsed / len(meaningful)


def read(paths: list[Path], summary: ReadSummary) -> Iterator[Event]:
    trace = BpftraceTrace(summary)
    for path in paths:
        yield from read_lines(str(path), iter_lines(path), trace)
    trace.finish(None)


def read_lines(file: str, lines: Iterable[Any], trace: BpftraceTrace) -> Iterator[Event]:
    """The per-line loop, apart from file access so tests can feed text directly."""
    summary = trace.summary
    for item in lines:
        summary.lines += 1
        origin = Origin(file, item.number)
        if isinstance(item, BadLine):
            summary.unreadable.append((item.number, item.reason))
            yield Unreadable(origin, reason=item.reason)
            continue
        assert isinstance(item, Line)
        text = item.text
        if not text.strip():
            summary.irrelevant += 1
            continue
        try:
            events = trace.events(parse_line(text), origin, text)
        except (SyntaxProblem, LineProblem) as exc:
            reason = str(exc)
            summary.unreadable.append((item.number, reason))
            yield Unreadable(origin, reason=reason, text=text)
            continue
        if not events:
            summary.irrelevant += 1
            continue
        for event in events:
            if isinstance(event, Unreadable):
                summary.unreadable.append((item.number, event.reason))
            else:
                summary.events += 1
            yield event


def read_text(text: str, file: str = "<text>",
              summary: ReadSummary | None = None) -> Iterator[Event]:
    """Read vfio-mig.bt output from a string (tests, documentation examples)."""
    summary = summary if summary is not None else ReadSummary(format=FORMAT)
    texts = text.split("\n")
    if texts and texts[-1] == "":
        texts.pop()
    trace = BpftraceTrace(summary)
    yield from read_lines(file, (Line(n, t) for n, t in enumerate(texts, start=1)), trace)
    trace.finish(None)
