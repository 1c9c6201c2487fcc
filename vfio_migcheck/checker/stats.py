"""Per-device observations for reports and the audit: states, requests and data sessions."""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from contextvars import ContextVar
from dataclasses import dataclass, field

from vfio_migcheck.checker.automaton import Node, Readings
from vfio_migcheck.checker.config import PRECOPY_STATES, Config
from vfio_migcheck.checker.describe import state_order
from vfio_migcheck.checker.results import RequestObservation, SessionStats, StateObservation
from vfio_migcheck.model.fsm import model_for
from vfio_migcheck.model.spec import Spec
from vfio_migcheck.traces.events import (
    UNKNOWN,
    DataClose,
    DataIO,
    DataRun,
    Event,
    FeatureCall,
)


@dataclass
class SessionBuilder:
    """Mutable tally of one data fd's session, frozen into SessionStats at the end."""

    fd: int | None
    opened_line: int | None
    opened_ts: float | None
    kind: str = "unknown"
    ended_line: int | None = None
    closed_line: int | None = None
    eof_line: int | None = None
    eof_ts: float | None = None
    stop_copy_ts: float | None = None
    bytes_read_precopy: int = 0
    bytes_read_stopcopy: int = 0
    bytes_read_unknown: int = 0
    bytes_written: int = 0
    reads: int = 0
    writes: int = 0
    read_sizes: list[int] = field(default_factory=list)

    def add_bytes_read(self, count: int, states: AbstractSet[str]) -> None:
        """Count bytes read in the phase the readings' states say (PRE_COPY states only,
        STOP_COPY only, or unknown)."""
        if states and states <= PRECOPY_STATES:
            self.bytes_read_precopy += count
        elif states == {"STOP_COPY"}:
            self.bytes_read_stopcopy += count
        else:
            self.bytes_read_unknown += count

    def freeze(self) -> SessionStats:
        return SessionStats(
            kind=self.kind, fd=self.fd, opened_line=self.opened_line, ended_line=self.ended_line,
            closed_line=self.closed_line, eof_line=self.eof_line,
            bytes_read_precopy=self.bytes_read_precopy,
            bytes_read_stopcopy=self.bytes_read_stopcopy, bytes_written=self.bytes_written,
            reads=self.reads, writes=self.writes, read_sizes=tuple(self.read_sizes),
            opened_ts=self.opened_ts, eof_ts=self.eof_ts, stop_copy_ts=self.stop_copy_ts,
            bytes_read_unknown_phase=self.bytes_read_unknown)


#: whether devices record an observation per event (states) and per SET (requests): the
#: audit's timing and coverage read them; ``check``'s reports never show them, so it turns
#: them off and its memory does not grow with the number of events (checker/api.py)
RECORD_OBSERVATIONS: ContextVar[bool] = ContextVar("record_observations", default=True)


class Unrecorded(list):
    """Where observations go when they are not recorded: appending keeps nothing, so every
    place that observes stays as it is and the switch lives in one spot."""

    def append(self, item: object) -> None:
        return None

    def extend(self, items: object) -> None:
        return None


#: the states of a reading set that is all in STOP_COPY (as ``Summary.sorted_states``)
_STOP_COPY_ONLY = ("STOP_COPY",)


def _observations() -> list:
    return [] if RECORD_OBSERVATIONS.get() else Unrecorded()


@dataclass
class DeviceStats:
    states: list[StateObservation] = field(default_factory=_observations)
    requests: list[RequestObservation] = field(default_factory=_observations)
    sessions: dict[str, SessionBuilder] = field(default_factory=dict)
    unended: set[str] = field(default_factory=set)   # sessions whose end is not seen yet
    first_ts: float | None = None
    last_ts: float | None = None
    # the readings, file and _by_file facts of the last record() (readings never change
    # once they have a node: the same object means the same facts)
    _last_facts: tuple | None = field(default=None, repr=False, compare=False)
    #: are per-event observations kept (see RECORD_OBSERVATIONS)? Asked on every event,
    #: so an attribute set once rather than a test of ``requests``' class each time
    recording: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.recording = not isinstance(self.requests, Unrecorded)

    def _ts(self, event: Event) -> None:
        if event.ts is not None:
            if self.first_ts is None:
                self.first_ts = event.ts
            self.last_ts = event.ts

    def observe_states(self, event: Event, configs: list[Config] | Readings,
                       spec: Spec) -> None:
        ts = event.ts
        if ts is not None:     # as _ts
            if self.first_ts is None:
                self.first_ts = ts
            self.last_ts = ts
        if type(configs) is Readings:
            node = configs.node
            if node is not None and node.size:
                self._observe_node(event, configs, node)
                return
            configs = configs.configs
        states = tuple(sorted({c.state for c in configs}, key=state_order))
        self.states.append(StateObservation(event.origin.line, event.ts, states))
        if states == ("STOP_COPY",):
            for c in configs:
                s = c.session
                if s is not None and s.file in self.sessions:
                    b = self.sessions[s.file]
                    if b.stop_copy_ts is None:
                        b.stop_copy_ts = event.ts
        unended = self.unended
        if not unended:
            return
        # A session has ended once every reading has its file dead (then none has it live).
        # Only files dead in the first reading can qualify: look at those, not at every
        # session of the trace (that made this quadratic).
        candidates = list(unended) if not configs else [f for f in configs[0].dead
                                                        if f in unended]
        if not candidates:
            return
        live = {c.session.file for c in configs if c.session is not None}
        for file in candidates:
            if file not in live and all(file in c.dead for c in configs):
                self.sessions[file].ended_line = event.origin.line
                unended.discard(file)

    def _observe_node(self, event: Event, readings: Readings, node: Node) -> None:
        """observe_states from the node's summary: the same facts, without a pass over
        every reading."""
        summary = node._summary or node.summary   # made once per node
        states = summary.sorted_states
        if self.recording:
            self.states.append(StateObservation(event.origin.line, event.ts, states))
        if states == _STOP_COPY_ONLY:
            files = readings.files
            for slot in summary.stop_copy_files:
                b = self.sessions.get(files[slot])
                if b is not None and b.stop_copy_ts is None:
                    b.stop_copy_ts = event.ts
        unended = self.unended
        if not unended:
            return
        files = readings.files
        for slot in summary.first_dead:
            file = files[slot]
            if file in unended and slot in summary.dead_everywhere:
                self.sessions[file].ended_line = event.origin.line
                unended.discard(file)

    def observe_request(self, event: FeatureCall, before: list[Config] | Readings, spec: Spec,
                        target: str | None) -> None:
        """A state request, judged from the readings ``before`` it (not after it)."""
        if not self.recording:
            return   # nothing but the observation itself would come of it
        if isinstance(before, Readings) and before.node is not None:
            srcs: set[str] = set(before.node.summary.states)
            flags: set[int] = set(before.node.summary.flags)
        else:
            if isinstance(before, Readings):
                before = before.configs
            srcs = {c.state for c in before}
            flags = {c.flags for c in before}
        src = next(iter(srcs)) if len(srcs) == 1 else None
        ok = None if event.ret is UNKNOWN else event.ret == 0
        path = None
        if src is not None and target is not None and len(flags) == 1 and target in spec.states:
            answer = model_for(spec, next(iter(flags))).request(src, target)
            path = tuple(answer.path) if answer.ok and answer.path is not None else None
        self.requests.append(RequestObservation(event.origin.line, event.ts, src, target, ok,
                                                path))

    def record(self, event: Event, configs: list[Config] | Readings, file: str) -> None:
        """After a data-fd event: bytes, reads, EOF, close."""
        if isinstance(configs, Readings):
            if configs.node is not None:
                # a run of reads keeps the same readings: their facts are looked up once
                last = self._last_facts
                if last is None or last[0] is not configs or last[1] != file:
                    last = self._last_facts = (configs, file, _by_file(configs, file))
                self._record(event, file, *last[2])
                return
            configs = configs.configs
        created = [c.session.created_line for c in configs
                   if c.session is not None and c.session.file == file]
        kinds = {c.session.kind for c in configs
                 if c.session is not None and c.session.file == file}
        states = {c.state for c in configs if c.session is not None and c.session.file == file}
        self._record(event, file, created, kinds, states)

    def record_run(self, run: DataRun, start: int, end: int, first: Event, last: Event,
                   readings: Readings) -> None:
        """:meth:`record` of each event of ``run`` from ``start`` to ``end`` (excluded) in
        turn, on ``readings`` that stay the same throughout (a node's self-loop); ``first``
        and ``last`` are the stretch's first and last events. The first is recorded as it is
        (it may open the session); the others only move the time and add reads and writes,
        which depend on their shape alone (the order of reads is kept in ``read_sizes``)."""
        file = run.file
        facts = self._last_facts
        if facts is None or facts[0] is not readings or facts[1] != file:
            facts = self._last_facts = (readings, file, _by_file(readings, file))
        created, kinds, states = facts[2]
        self._record(first, file, created, kinds, states)
        if self.first_ts is None:
            self.first_ts = next((e.ts for e in _events(run, start + 1, end)
                                  if e.ts is not None), None)
        ts = last.ts
        if ts is None:
            ts = next((e.ts for e in _events(run, end - 2, start, -1) if e.ts is not None),
                      None)
        if ts is not None:
            self.last_ts = ts
        self._rest_of_run(run, start, end, file, states, False)

    def _rest_of_run(self, run: DataRun, start: int, end: int, file: str,
                     states: AbstractSet[str], stamped: bool) -> None:
        """The reads and writes of ``run``'s lines ``start + 1`` to ``end`` (excluded) for
        :meth:`record_run` (``stamped``: the EOF's time from its line's stamp, for
        :meth:`record_span`; else from its event)."""
        read_ret: dict[str, int] = {}
        write_ret: dict[str, int] = {}
        for shape, (way, _asked, ret) in run.io.items():
            if ret >= 0:
                if way == "read":
                    read_ret[shape] = ret
                elif way == "write":
                    write_ret[shape] = ret
        if not read_ret and not write_ret:
            return
        rest = run.shapes[start + 1:end]
        b = self.sessions[file]
        if b.kind == "unknown":             # the first read or write decides
            first_read = _first_index(rest, read_ret)
            first_write = _first_index(rest, write_ret)
            if first_read is not None or first_write is not None:
                b.kind = "saving" if first_write is None or (
                    first_read is not None and first_read < first_write) else "resuming"
        reads = _rets(rest, read_ret)
        if reads:
            b.reads += len(reads)
            b.read_sizes.extend(reads)
            got = sum(reads)
            if got:
                b.add_bytes_read(got, states)
            if states == {"STOP_COPY"} and b.eof_line is None:
                ends = {shape: 0 for shape, (way, asked, ret) in run.io.items()
                        if way == "read" and ret == 0 and asked != 0}
                found = _first_index(rest, ends)
                if found is not None:
                    index = start + 1 + found
                    b.eof_line = run.origin.line + index
                    b.eof_ts = run.time(index) if stamped else run.member(index).ts
        writes = _rets(rest, write_ret) if write_ret else None
        if writes:
            b.writes += len(writes)
            b.bytes_written += sum(writes)

    def record_line(self, run: DataRun, index: int, readings: Readings) -> None:
        """:meth:`record` of the event of ``run``'s line ``index`` on ``readings`` (which
        have a node), from the line's shape and time stamp (``DataRun.stamp``): the event
        is not made."""
        file = run.file
        facts = self._last_facts
        if facts is None or facts[0] is not readings or facts[1] != file:
            facts = self._last_facts = (readings, file, _by_file(readings, file))
        self._record_line(run, index, file, *facts[2])

    def record_span(self, run: DataRun, start: int, end: int, readings: Readings) -> None:
        """:meth:`record_run` without its two events: the stretch's first line recorded
        from its shape (:meth:`record_line`), the times from the lines' stamps."""
        file = run.file
        facts = self._last_facts
        if facts is None or facts[0] is not readings or facts[1] != file:
            facts = self._last_facts = (readings, file, _by_file(readings, file))
        created, kinds, states = facts[2]
        self._record_line(run, start, file, created, kinds, states)
        time = run.time
        if self.first_ts is None:
            self.first_ts = next((ts for ts in map(time, range(start + 1, end))
                                  if ts is not None), None)
        ts = time(end - 1)
        if ts is None:
            ts = next((ts for ts in map(time, range(end - 2, start, -1)) if ts is not None),
                      None)
        if ts is not None:
            self.last_ts = ts
        self._rest_of_run(run, start, end, file, states, True)

    def _record_line(self, run: DataRun, index: int, file: str, created: list[int | None],
                     kinds: AbstractSet[str], states: AbstractSet[str]) -> None:
        """:meth:`_record` of the event of ``run``'s line ``index`` (a read, a write or a
        PRECOPY_INFO), from its shape (``DataRun.io``) and its stamp."""
        ts = run.time(index)
        if ts is not None:     # as _ts
            if self.first_ts is None:
                self.first_ts = ts
            self.last_ts = ts
        b = self.sessions.get(file)
        if b is None:
            b = SessionBuilder(fd=run.fd,
                               opened_line=created[0] if len(set(created)) == 1 else None,
                               opened_ts=ts)
            self.sessions[file] = b
            self.unended.add(file)
        if len(kinds) == 1 and b.kind == "unknown":
            b.kind = next(iter(kinds))
        io = run.io.get(run.shapes[index])
        if io is None:                      # a PRECOPY_INFO: nothing more
            return
        way, asked, ret = io
        if ret < 0:
            return
        if way == "read":
            b.reads += 1
            b.read_sizes.append(ret)
            if b.kind == "unknown":
                b.kind = "saving"
            if ret > 0:
                b.add_bytes_read(ret, states)
            elif asked != 0 and states == {"STOP_COPY"} and b.eof_line is None:
                b.eof_line = run.origin.line + index
                b.eof_ts = ts
        else:
            b.writes += 1
            if b.kind == "unknown":
                b.kind = "resuming"
            b.bytes_written += max(ret, 0)

    def _record(self, event: Event, file: str, created: list[int | None],
                kinds: AbstractSet[str], states: AbstractSet[str]) -> None:
        self._ts(event)
        b = self.sessions.get(file)
        if b is None:
            b = SessionBuilder(fd=getattr(event, "fd", None),
                               opened_line=created[0] if len(set(created)) == 1 else None,
                               opened_ts=event.ts)
            self.sessions[file] = b
            self.unended.add(file)
        if len(kinds) == 1 and b.kind == "unknown":
            b.kind = next(iter(kinds))
        if isinstance(event, DataClose):
            b.closed_line = event.origin.line
            return
        if not isinstance(event, DataIO) or not isinstance(event.ret, int) or event.ret < 0:
            return
        if event.direction == "read":
            b.reads += 1
            b.read_sizes.append(event.ret)
            if b.kind == "unknown":
                b.kind = "saving"
            if event.ret > 0:
                b.add_bytes_read(event.ret, states)
            elif event.requested != 0 and states == {"STOP_COPY"} and b.eof_line is None:
                b.eof_line = event.origin.line
                b.eof_ts = event.ts
        else:
            b.writes += 1
            if b.kind == "unknown":
                b.kind = "resuming"
            b.bytes_written += max(event.ret, 0)

    def sessions_frozen(self) -> tuple[SessionStats, ...]:
        return tuple(b.freeze() for b in self.sessions.values())


def _events(run: DataRun, start: int, stop: int, step: int = 1) -> Iterator[Event]:
    """The events of ``run``'s lines ``range(start, stop, step)``."""
    for index in range(start, stop, step):
        yield run.member(index)


def _rets(shapes: list[str] | tuple[str, ...], rets: dict[str, int]) -> list[int]:
    """The returns of the ``shapes`` that ``rets`` maps, in order. One shape (a run of
    equal reads, the usual case) is counted in C rather than looked up line by line."""
    if len(rets) == 1:
        (shape, ret), = rets.items()
        return [ret] * shapes.count(shape)
    return [rets[shape] for shape in shapes if shape in rets]


def _first_index(shapes: list[str] | tuple[str, ...], wanted: dict[str, int]) -> int | None:
    """Where the first of the ``wanted`` shapes is in ``shapes`` (None: nowhere)."""
    found = [shapes.index(shape) for shape in wanted if shape in shapes]
    return min(found) if found else None


def _by_file(readings: Readings, file: str
             ) -> tuple[list[int | None], frozenset[str], frozenset[str]]:
    """Session lines, kinds and states of the readings whose session is bound to ``file``
    (the node summary's own sets: every caller only reads them)."""
    files = readings.files
    if file not in files:
        return [], _NONE, _NONE
    found = readings.node.summary.by_file.get(files.index(file))  # type: ignore[union-attr]
    if found is None:
        return [], _NONE, _NONE
    slots, kinds, states = found
    lines = readings.lines
    return [None if s is None else lines[s] for s in slots], kinds, states


_NONE: frozenset[str] = frozenset()
