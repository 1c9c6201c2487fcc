"""The closed event vocabulary every trace reader produces and the checker consumes.

Readers differ; events do not. An event says what was visible in the trace and marks the
rest :data:`UNKNOWN` (never a guess). Every event keeps where it came from (file, line)
and, where the format shows them, the pid/tid and the timestamp.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, TypeVar

from vfio_migcheck.records import Record, record


class _Unknown:
    """A value the trace format cannot show (strace never shows ioctl payloads)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __str__(self) -> str:
        return "?"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:  # keep the singleton across pickling (audit workers)
        return "UNKNOWN"


UNKNOWN = _Unknown()
Unknown = _Unknown
MaybeInt = int | _Unknown
MaybeStr = str | _Unknown


def is_known(value: Any) -> bool:
    return value is not UNKNOWN


@dataclass(frozen=True)
class Origin:
    """Where an event came from: file and 1-based line (and last line of a split call)."""

    file: str
    line: int
    last_line: int | None = None

    def __str__(self) -> str:
        if self.last_line and self.last_line != self.line:
            return f"{self.file}:{self.line}-{self.last_line}"
        return f"{self.file}:{self.line}"


#: every event class is a frozen dataclass whose equality, hash and repr are written once,
#: on Record, with dataclasses' own meaning (vfio_migcheck/records.py, docs/startup.md)
_event = record


@_event
class Event(Record):
    """Base of all events. ``ts`` is seconds (epoch, time of day or relative, per format)."""

    kind: ClassVar[str] = "event"
    origin: Origin
    pid: int | None = field(default=None, kw_only=True)
    tid: int | None = field(default=None, kw_only=True)
    ts: float | None = field(default=None, kw_only=True)
    duration: float | None = field(default=None, kw_only=True)
    text: str | None = field(default=None, kw_only=True, compare=False)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict: ``kind``, ``file`` and ``line`` first, UNKNOWN as ``"?"``.

        The open-file identity of fd events (the ``file`` field) is written as ``file_id``.
        """
        out: dict[str, Any] = {"kind": self.kind, "file": self.origin.file,
                               "line": self.origin.line}
        if self.origin.last_line and self.origin.last_line != self.origin.line:
            out["last_line"] = self.origin.last_line
        for f in fields(self):
            if f.name in ("origin", "text"):
                continue
            # an fd event's open-file identity must not overwrite the trace file's name
            key = "file_id" if f.name == "file" else f.name
            out[key] = _jsonable(getattr(self, f.name))
        return out


def _jsonable(value: Any) -> Any:
    if value is UNKNOWN:
        return "?"
    if isinstance(value, Origin):
        return asdict(value)
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


_new = object.__new__
_T = TypeVar("_T")


def built(cls: type[_T], values: dict[str, Any]) -> _T:
    """``cls(**values)`` without the frozen dataclass's ``__init__``, for readers' hot loops.

    That ``__init__`` sets each field through ``object.__setattr__`` and costs ~4 us for a
    data event, more than the rest of reading its line. ``values`` must name every field
    of ``cls`` (defaults are not filled in); tests/test_events_built.py holds the result
    equal to the ordinary construction for every event type. Any frozen dataclass without
    slots and without ``__post_init__`` can be built so (the QEMU reader's prefixes).
    """
    event = _new(cls)
    event.__dict__.update(values)
    return event


def origin_at(file: str, line: int) -> Origin:
    """``Origin(file, line)`` the cheap way (see :func:`built`)."""
    origin = _new(Origin)
    values = origin.__dict__     # (three stores: no keyword dict made per line)
    values["file"] = file
    values["line"] = line
    values["last_line"] = None
    return origin


# --- results ------------------------------------------------------------------------------
# Every call event has ``ret`` (the return value, UNKNOWN for "= ?") and ``errno`` (the
# symbolic errno such as "EINVAL" when ret is -1, None on success, UNKNOWN when unseen).


@_event
class DeviceOpen(Event):
    """A VFIO device fd became known (GET_DEVICE_FD result, cdev open, or a declaration)."""

    kind: ClassVar[str] = "device_open"
    device: str
    fd: MaybeInt
    path: MaybeStr = UNKNOWN
    api: MaybeStr = UNKNOWN          # "group" | "cdev"
    driver: MaybeStr = UNKNOWN
    flags: MaybeInt = UNKNOWN        # migration flags, when the format shows them
    state: MaybeStr = UNKNOWN        # the state at open, when declared


@_event
class FeatureCall(Event):
    """``ioctl(device_fd, VFIO_DEVICE_FEATURE, ...)``.

    ``op`` is GET, SET, PROBE (PROBE may carry ``probe_ops`` GET/SET) or UNKNOWN;
    ``feature`` a feature name (MIGRATION, MIG_DEVICE_STATE, MIG_DATA_SIZE,
    DMA_LOGGING_START, DMA_LOGGING_STOP, DMA_LOGGING_REPORT, ...) or UNKNOWN.
    """

    kind: ClassVar[str] = "feature"
    device: str
    fd: MaybeInt
    op: MaybeStr = UNKNOWN
    feature: MaybeStr = UNKNOWN
    ret: MaybeInt = UNKNOWN
    errno: str | None | _Unknown = UNKNOWN
    target: str | int | _Unknown | None = UNKNOWN   # SET MIG_DEVICE_STATE: requested state
    reply_state: str | int | _Unknown | None = UNKNOWN  # GET MIG_DEVICE_STATE: state read
    data_fd: int | _Unknown | None = UNKNOWN         # SET reply: new data fd or -1
    mig_flags: int | _Unknown | None = UNKNOWN      # GET MIGRATION reply
    data_size: int | _Unknown | None = UNKNOWN      # GET MIG_DATA_SIZE reply
    probe_ops: tuple[str, ...] | _Unknown | None = UNKNOWN
    argsz: MaybeInt = UNKNOWN
    raw_flags: MaybeInt = UNKNOWN


@_event
class DeviceReset(Event):
    kind: ClassVar[str] = "device_reset"
    device: str
    fd: MaybeInt
    ret: MaybeInt = UNKNOWN
    errno: str | None | _Unknown = UNKNOWN


@_event
class DeviceAccess(Event):
    """Region I/O or mmap on the device fd (matters in STOP_COPY and P2P states)."""

    kind: ClassVar[str] = "device_access"
    device: str
    fd: MaybeInt
    call: str
    ret: MaybeInt = UNKNOWN
    errno: str | None | _Unknown = UNKNOWN


@_event
class DeviceClose(Event):
    kind: ClassVar[str] = "device_close"
    device: str
    fd: MaybeInt
    ret: MaybeInt = UNKNOWN
    errno: str | None | _Unknown = UNKNOWN
    how: str = "close"               # close | close_range | exec | exit


@_event
class FdAppeared(Event):
    """First use of an fd number no visible call created: a data-fd candidate.

    ``name`` is the ``-y`` decoration (e.g. ``anon_inode:mtty_mig``) when shown;
    ``after_feature`` the origin of the latest device FEATURE call of that process before
    this first use, or None when there was none (then it is probably inherited).
    """

    kind: ClassVar[str] = "fd_appeared"
    fd: int
    file: str
    name: MaybeStr = UNKNOWN
    after_feature: Origin | None = None
    device_hint: MaybeStr = UNKNOWN   # the device whose data fd this is, when shown


@_event
class FdDup(Event):
    kind: ClassVar[str] = "fd_dup"
    old_fd: int
    new_fd: int
    file: str
    call: str = "dup"


@_event
class DataIO(Event):
    """read/write (and readv, pread64, splice, sendfile, ...) on a data-fd candidate."""

    kind: ClassVar[str] = "data_io"
    fd: int
    file: str
    call: str
    direction: str                   # "read" | "write"
    requested: MaybeInt = UNKNOWN
    ret: MaybeInt = UNKNOWN
    errno: str | None | _Unknown = UNKNOWN
    positioned: bool = False         # pread64/pwrite64/preadv...: -ESPIPE on stream fds


@_event
class DataSeek(Event):
    kind: ClassVar[str] = "data_seek"
    fd: int
    file: str
    call: str = "lseek"
    ret: MaybeInt = UNKNOWN
    errno: str | None | _Unknown = UNKNOWN


@_event
class DataPoll(Event):
    """poll/ppoll/select/epoll readiness of a data fd (``ready`` when shown)."""

    kind: ClassVar[str] = "data_poll"
    fd: int
    file: str
    call: str = "poll"
    ready: bool | _Unknown = UNKNOWN
    ret: MaybeInt = UNKNOWN
    errno: str | None | _Unknown = UNKNOWN


@_event
class PrecopyInfo(Event):
    """``ioctl(data_fd, VFIO_MIG_GET_PRECOPY_INFO)`` (0x3b79 on a data fd)."""

    kind: ClassVar[str] = "precopy_info"
    fd: int
    file: str
    ret: MaybeInt = UNKNOWN
    errno: str | None | _Unknown = UNKNOWN
    argsz: MaybeInt = UNKNOWN
    initial_bytes: MaybeInt = UNKNOWN
    dirty_bytes: MaybeInt = UNKNOWN


@_event
class DataIoctl(Event):
    """Any other ioctl on a data-fd candidate."""

    kind: ClassVar[str] = "data_ioctl"
    fd: int
    file: str
    request: str
    ret: MaybeInt = UNKNOWN
    errno: str | None | _Unknown = UNKNOWN


@_event
class DataFcntl(Event):
    kind: ClassVar[str] = "data_fcntl"
    fd: int
    file: str
    cmd: str
    ret: MaybeInt = UNKNOWN
    errno: str | None | _Unknown = UNKNOWN


@_event
class DataClose(Event):
    """A data-fd candidate was closed (close, close_range, close-on-exec, process exit)."""

    kind: ClassVar[str] = "data_close"
    fd: int
    file: str
    ret: MaybeInt = UNKNOWN
    errno: str | None | _Unknown = UNKNOWN
    how: str = "close"


@_event
class ProcessEvent(Event):
    """Process/thread lifecycle: clone (child, thread?), exec, exit, killed, signal."""

    kind: ClassVar[str] = "process"
    what: str                        # clone | exec | exit | killed | signal | attach | detach
    child: int | None = None
    thread: bool | None = None
    status: MaybeInt = UNKNOWN
    signal: str | None = None


@_event
class QemuEvent(Event):
    """A QEMU ``vfio_*`` trace event (from a QEMU log, or QEMU's stderr inside strace).

    ``name`` is the event name without the ``vfio_`` prefix normalised across versions
    (e.g. ``save_complete_precopy_thread_start``); ``state``/``recover`` carry the v2 state
    names of set_state-like events; ``fields`` keeps every parsed argument.
    """

    kind: ClassVar[str] = "qemu"
    device: str
    name: str
    state: str | None = None
    recover: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)


@_event
class Unreadable(Event):
    """A line no reader could make sense of: never dropped silently."""

    kind: ClassVar[str] = "unreadable"
    reason: str


# --- runs: several lines read as one (checking only) -----------------------------------------
#: whether readers may hand over a run of quiet lines as one :class:`Run`. Only
#: ``checker.api.check_trace`` turns it on (its engine applies a run in one step, or expands
#: it); ``convert``, the audit's event consumers and the Python API see every event.
COLLAPSE_RUNS: ContextVar[bool] = ContextVar("collapse_runs", default=False)


@_event
class Run(Event):
    """Consecutive lines (``origin.line`` on) that a reader handed over as one object.

    Not part of the event vocabulary: :meth:`expand` gives the very events the reader
    would have yielded for the lines one by one; a consumer that cannot apply the run in
    one step feeds those. ``texts`` are the lines; ``build(file, line, text)`` makes one
    line's event (from ``origin.file``, so renaming the run's origin renames its events).
    ``ts`` is the first time stamp among the lines (None when no line has one).
    """

    kind: ClassVar[str] = "run"
    texts: tuple[str, ...] | list[str] = ()
    build: Callable[[str, int, str], Event] | None = field(default=None, compare=False)

    def __len__(self) -> int:
        return len(self.texts)

    def member(self, index: int) -> Event:
        """The event of the run's ``index``-th line."""
        assert self.build is not None
        return self.build(self.origin.file, self.origin.line + index, self.texts[index])

    def expand(self) -> Iterator[Event]:
        for index in range(len(self.texts)):
            yield self.member(index)


@_event
class DataRun(Run):
    """A run of data-fd calls on one fd (one open file), each a read, write or
    PRECOPY_INFO. ``shapes`` names each line's payload (every field of its event but
    provenance, the sizes PRECOPY_INFO reports, and the fd), ``samples`` the first line
    of each shape (an index into ``texts``); ``io`` maps a read or write shape to
    ``(direction, requested, ret)`` for the byte statistics."""

    kind: ClassVar[str] = "data_run"
    fd: int = -1
    file: str = ""
    shapes: tuple[str, ...] | list[str] = ()
    samples: dict[str, int] = field(default_factory=dict)
    io: dict[str, tuple[str, int, int]] = field(default_factory=dict)

    def stamp(self, index: int) -> tuple[float | None, int | None, int | None]:
        """``(ts, pid, tid)`` of the event of line ``index``, without making the event
        when the builder reads them from the line alone (its ``stamp(text)``): the engine
        applies a whole run while making only the event it holds."""
        read = getattr(self.build, "stamp", None)
        if read is not None:
            return read(self.texts[index])
        event = self.member(index)
        return event.ts, event.pid, event.tid

    def time(self, index: int) -> float | None:
        """``ts`` of the event of line ``index``, as :meth:`stamp` gives it (the builder's
        ``time(text)`` when it has one)."""
        read = getattr(self.build, "time", None)
        if read is not None:
            return read(self.texts[index])
        return self.stamp(index)[0]


@_event
class QuietRun(Run):
    """A run of records that carry no device state (QEMU's data and size records, and
    its device-less records): ``names`` are the (normalised) names of those with a device,
    ``devices`` the device names they carry ("" for none)."""

    kind: ClassVar[str] = "quiet_run"
    devices: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()


@_event
class CallRun(Run):
    """A run of device calls on one device (a decoded canonical trace): ``calls`` are the
    events the reader made of its lines, one a line, in order (a call's event depends on
    what earlier lines declared, so it is made when its line is read). ``keys``: one per
    call, equal for two calls of the run only when their events are equal but for
    provenance (origin, pid, tid, ts, duration, text)."""

    kind: ClassVar[str] = "call_run"
    device: str = ""
    calls: tuple[Event, ...] = ()
    keys: tuple[object, ...] = ()

    def member(self, index: int) -> Event:
        return self.calls[index]



@_event
class EventBatch(Run):
    """Consecutive events of a reader handed over together (the strace reader's batches of
    a VFIO-dense stretch): ``events`` are exactly the events it would have yielded one by
    one, in order. The engine walks a batch with its memory of whole stretches of cached
    silent steps (``Engine._stretch_walk``) and feeds whatever it cannot replay one by
    one; ``origin`` is the first event's, ``ts`` the first time stamp among them."""

    kind: ClassVar[str] = "event_batch"
    events: tuple[Event, ...] | list[Event] = ()

    def __len__(self) -> int:
        return len(self.events)

    def member(self, index: int) -> Event:
        return self.events[index]

    def expand(self) -> Iterator[Event]:
        return iter(self.events)

EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (DeviceOpen, FeatureCall, DeviceReset, DeviceAccess, DeviceClose, FdAppeared,
                FdDup, DataIO, DataSeek, DataPoll, PrecopyInfo, DataIoctl, DataFcntl,
                DataClose, ProcessEvent, QemuEvent, Unreadable)
}


@dataclass
class ReadSummary:
    """Accounting of every input line: parsed into events, irrelevant, or unreadable."""

    lines: int = 0
    events: int = 0
    irrelevant: int = 0
    unreadable: list[tuple[int, str]] = field(default_factory=list)
    format: str = "?"
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "events": self.events,
            "irrelevant": self.irrelevant,
            "unreadable": [{"line": n, "reason": r} for n, r in self.unreadable],
            "format": self.format,
            "notes": list(self.notes),
        }
