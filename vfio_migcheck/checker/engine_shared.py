"""What engine.py and the parts split off it (stretches.py, runs.py) all use.

The per-device state (:class:`DeviceTrack`, its :class:`Held` event), the record a cached
step keeps (:class:`Replay`), the cache keys of events (:func:`_payload`), the tape entries
of the silent lanes, and the few helpers every path that applies a cached step needs
(:func:`_successor`, :func:`_overlap`, ...). They live here, not in engine.py, so that the
engine's mixins can use them without importing engine.py (which imports them): the import
graph stays a tree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from operator import attrgetter

from vfio_migcheck.checker import transitions as T
from vfio_migcheck.checker.automaton import Readings, rename
from vfio_migcheck.checker.config import Config
from vfio_migcheck.checker.results import Finding
from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.stats import DeviceStats
from vfio_migcheck.model.profiles import DriverProfile, generic_profile
from vfio_migcheck.traces.events import (
    UNKNOWN,
    DataClose,
    DataIO,
    DeviceReset,
    Event,
    FeatureCall,
    Origin,
    PrecopyInfo,
    QemuEvent,
)

#: events kept as samples of a shape of data line (_quiet_stretch) before starting afresh
MAX_CACHED_SAMPLES = 4096
#: a file :meth:`Engine._note_file` has not seen (no fd number equals it)
_UNSEEN = object()

Step = Callable[[Config], list[T.Outcome]]


@dataclass(frozen=True, slots=True)
class Replay:
    """The name-independent part of a settled step, kept in the automaton's cache, with the
    side effects to repeat: the T002 cut and the end of an unsure start (K017)."""

    findings: tuple[tuple[Rule, T.Tag], ...]
    undecided: tuple[Rule, ...]
    misfit: bool
    cut: str | None
    sure: bool
    #: reports nothing but undecided rules: no finding, misfit, cut or end of an unsure start
    silent: bool = False
    #: reports nothing at all and changes nothing but the readings
    quiet: bool = False

    @staticmethod
    def of(findings: tuple[tuple[Rule, T.Tag], ...], undecided: tuple[Rule, ...],
           misfit: bool, cut: str | None, sure: bool) -> Replay:
        """A replay with its two tests made once (they are asked on every cached step)."""
        silent = not (findings or misfit or cut is not None or sure)
        return Replay(findings, undecided, misfit, cut, sure, silent,
                      silent and not undecided)


@dataclass(slots=True)
class Held:
    """The last event of a device, kept so an overlapping successor can swap with it."""

    event: Event
    step: Step | None            # None: a data event's, made again if it is to be swapped
    key: tuple | None
    before: Readings
    findings: Sequence[Finding]


@dataclass
class DeviceTrack:
    name: str
    readings: Readings
    flags_source: str                       # trace | option | all
    pid: int | None = None
    opened: Origin | None = None
    seen_open: bool = False
    closed: bool = False
    truncated: bool = False
    held: Held | None = None
    pin: tuple[str, str | None] | None = None   # QEMU set_state (new, recover) awaiting its ioctl
    qemu_traced: bool = False               # QEMU traces each SET before issuing it
    from_qemu: bool = False                 # known only from QEMU trace events
    undecided: list[tuple[int, Rule]] = field(default_factory=list)
    stats: DeviceStats = field(default_factory=DeviceStats)
    once: set[tuple[str, str]] = field(default_factory=set)
    # a migration state was observed or requested (a MIG_DEVICE_STATE or hidden FEATURE
    # call, a QEMU state event, a data fd): without one, nothing about migration was checked
    migration_seen: bool = False
    payload_hidden: bool = False            # some FEATURE call hid its payload (plain strace)
    profile: DriverProfile = field(default_factory=generic_profile)   # what its driver does
    unsure_start: bool = False   # opened in RUNNING unless the trace shows otherwise (K017)

    @property
    def configs(self) -> list[Config]:
        return self.readings.configs

    @configs.setter
    def configs(self, configs: list[Config]) -> None:
        self.readings = Readings.of(list(configs))

    def configs_before(self) -> list[Config]:
        """The readings before the last event (it may still swap with a held one)."""
        return self.readings_before().configs

    def readings_before(self) -> Readings:
        return self.held.before if self.held is not None else self.readings


_PROVENANCE = frozenset({"origin", "pid", "tid", "ts", "duration", "text", "file",
                         # PRECOPY_INFO sizes are reported, never checked
                         "initial_bytes", "dirty_bytes"})
_PAYLOAD_FIELDS: dict[type, attrgetter] = {}
#: fine payload key of a read or write -> its coarse class (:func:`_payload`), kept for the
#: distinct calls seen (a capture repeats a few sizes), started afresh past MAX_COARSE
_COARSE: dict[tuple, tuple] = {}
MAX_COARSE = 4096


def _payload(event: Event, payload: bool) -> tuple[tuple, tuple | None]:
    """The event as a cache key: (every field a step may read, a coarser class or None).

    Lines, times, threads and the file's identity are left out (the file enters the key as
    a slot of the readings). A read or write's byte counts enter the coarse class only as
    their relation to 0 and to each other: a step reads nothing more of them, except in the
    text of a finding (so only steps without findings are cached under the coarse class).
    """
    if not payload:
        return (), None
    cls = type(event)
    getter = _PAYLOAD_FIELDS.get(cls)
    if getter is None:
        names = [f.name for f in fields(cls) if f.name not in _PROVENANCE]
        getter = _PAYLOAD_FIELDS[cls] = attrgetter("kind", *names)
    fine = getter(event)
    if cls is not DataIO:
        return fine, None
    coarse = _COARSE.get(fine)
    if coarse is None:         # a function of ``fine``: made once per distinct I/O call
        if len(_COARSE) >= MAX_COARSE:
            _COARSE.clear()
        coarse = _COARSE[fine] = _coarse_io(event)  # type: ignore[arg-type]
    return fine, coarse


def _coarse_io(event: DataIO) -> tuple:
    """The coarse class of a read or write (see :func:`_payload`)."""
    ret, asked = event.ret, event.requested
    rclass = (ret > 0) - (ret < 0) if isinstance(ret, int) else ret
    aclass = asked == 0 if isinstance(asked, int) else asked
    over = isinstance(ret, int) and isinstance(asked, int) and ret > asked
    return ("coarse", event.fd, event.call, event.direction, event.errno, event.positioned,
            rclass, aclass, over)


#: what a silent lane did, as a tape entry (Engine._tape): _hidden_lane, _replay_silent,
#: _shared_lane
_K_HIDDEN, _K_SILENT, _K_SHARED = 0, 1, 2


def _successor(before: Readings, trans, file: str | None, line: int) -> Readings:
    """The readings a cached step ``trans`` leads to from ``before``, renamed (``before``
    itself for a self-loop that renames nothing: readings with a node never change)."""
    if trans.same_names:
        return before if trans.node is before.node else Readings(trans.node, before.files,
                                                                 before.lines)
    if trans.same_files:     # rename() of the lines alone (a session started at ``line``)
        lines = before.lines
        return Readings(trans.node, before.files,
                        tuple(map((lines + (line,)).__getitem__, trans.lines)))
    new_files, new_lines = rename(before.files, before.lines, trans, file, line)
    return Readings(trans.node, new_files, new_lines)


def _maybe_mine(step: Step, file: str) -> Step:
    """Either the file is this device's (the step applies) or another device's."""
    def maybe(c: Config) -> list[T.Outcome]:
        mine = [o for o in step(c) if not o.misfit]
        if T.is_new_binding(c, file):
            mine.append(T.ok(T.not_mine(c, file)))
        return mine
    return maybe


def _overlap(first: Event, second: Event) -> bool:
    """Could ``second`` have started before ``first`` finished (concurrent threads)?

    One thread's calls never overlap. A call split by strace (unfinished ... resumed) spans
    lines; otherwise start timestamps plus durations decide; without either, calls from two
    threads in separate files (strace -ff) are taken as possibly concurrent.
    """
    if first.tid is not None and first.tid == second.tid:
        return False
    same_file = first.origin.file == second.origin.file
    end = first.origin.last_line or first.origin.line
    if same_file and end != first.origin.line:
        return second.origin.line < end
    if first.ts is not None and second.ts is not None and first.duration is not None:
        return second.ts < first.ts + first.duration
    if same_file:
        return second.origin.line < end
    return first.tid is not None and second.tid is not None


def _shows_migration(event: Event) -> bool:
    """Does the event observe or request a migration state (or move migration data)?"""
    if isinstance(event, FeatureCall):
        return event.feature in ("MIG_DEVICE_STATE", UNKNOWN)
    if isinstance(event, QemuEvent):
        return event.state is not None or event.recover is not None
    return isinstance(event, (DataIO, DataClose, PrecopyInfo))


#: the event classes :func:`_establishes_state` may answer True for
_ESTABLISHING = frozenset({DeviceReset, FeatureCall})


def _establishes_state(event: Event) -> bool:
    """A successful SET, GET of the state or RESET: the device's state is known after it."""
    if isinstance(event, DeviceReset):
        return event.ret == 0
    if isinstance(event, FeatureCall):
        return event.feature == "MIG_DEVICE_STATE" and event.op in ("SET", "GET") \
            and event.ret == 0
    return False
