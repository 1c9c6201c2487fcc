"""How much of the FSM the captures exercise, per flag set.

Two views a driver author needs: the **single arcs** the driver must implement (each step of
a successful request, whose path the checker determined or the model gives for a determined
source and target), and the **requests** ``SET to`` from each state (every ordered pair of
distinct usable states: single arcs, combination requests, and those the model refuses).
A request counts only when the trace determines both its source and its target; the
coverage never guesses.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from vfio_migcheck.checker.results import DeviceResult, TraceResult
from vfio_migcheck.model.fsm import FlagModel, model_for
from vfio_migcheck.model.spec import Spec


@dataclass(frozen=True)
class ArcUse:
    src: str
    dst: str
    session: str
    count: int


@dataclass(frozen=True)
class RequestUse:
    src: str
    dst: str
    expected: str          # single | combination | refused (the model's answer)
    count: int             # requests seen with this source and target
    succeeded: int
    failed: int


@dataclass(frozen=True)
class FlagCoverage:
    flags: int
    flags_text: str
    devices: int
    states: tuple[str, ...]            # usable states, by number
    states_seen: tuple[str, ...]       # entered per a determined state observation
    arcs: tuple[ArcUse, ...]
    requests: tuple[RequestUse, ...]
    other_requests: int                # no-ops and targets outside the usable states
    hidden_requests: int = 0           # SETs whose source or target the capture hides
    silent_devices: int = 0            # devices without one determined request

    @property
    def arcs_covered(self) -> int:
        return sum(1 for a in self.arcs if a.count)

    @property
    def requests_covered(self) -> int:
        return sum(1 for r in self.requests if r.count)

    @property
    def missing_arcs(self) -> list[tuple[str, str]]:
        return [(a.src, a.dst) for a in self.arcs if not a.count]

    @property
    def missing_requests(self) -> list[tuple[str, str]]:
        return [(r.src, r.dst) for r in self.requests if not r.count]


@dataclass(frozen=True)
class Coverage:
    flag_sets: tuple[FlagCoverage, ...]
    unknown_flags: tuple[tuple[str, str], ...]   # (capture, device) whose flag set is open


def device_flags(device: DeviceResult, default: int | None) -> int | None:
    """The device's flag set: reported, the only candidate, or the --flags default."""
    for text in (device.flags, *(
            device.flags_candidates if len(device.flags_candidates) == 1 else ())):
        try:
            return int(text, 0)
        except (TypeError, ValueError):
            continue
    return default


def arc_coverage(results: Iterable[TraceResult], spec: Spec,
                 default_flags: int | None = None) -> Coverage:
    """Count arcs, requests and states per flag set over every device of every result."""
    counts = coverage_counts(results, spec, default_flags)
    return freeze_coverage(counts, spec)


@dataclass
class CoverageCounts:
    """Coverage counters of some captures, without the model: mergeable, cheap to ship."""

    per_flags: dict[int, FlagCounts] = field(default_factory=dict)
    unknown: list[tuple[str, str]] = field(default_factory=list)

    def merge(self, other: CoverageCounts) -> None:
        for flags, counts in other.per_flags.items():
            mine = self.per_flags.get(flags)
            if mine is None:
                self.per_flags[flags] = mine = FlagCounts()
            mine.merge(counts)
        self.unknown += other.unknown


def coverage_counts(results: Iterable[TraceResult], spec: Spec,
                    default_flags: int | None = None) -> CoverageCounts:
    """The counters of :func:`arc_coverage` before the model turns them into a Coverage."""
    per_flags: dict[int, _Tally] = {}
    if default_flags is not None:
        per_flags[default_flags] = _Tally(model_for(spec, default_flags))
    unknown: list[tuple[str, str]] = []
    for result in results:
        for device in result.devices:
            flags = device_flags(device, default_flags)
            if flags is None:
                unknown.append((result.file, device.name))
                continue
            tally = per_flags.get(flags)
            if tally is None:
                tally = per_flags[flags] = _Tally(model_for(spec, flags))
            tally.add(device)
    return CoverageCounts({f: t.counts for f, t in per_flags.items()}, unknown)


def freeze_coverage(counts: CoverageCounts, spec: Spec) -> Coverage:
    tallies = {f: _Tally(model_for(spec, f), c) for f, c in counts.per_flags.items()}
    return Coverage(
        tuple(tallies[f].freeze() for f in sorted(tallies)),
        tuple(sorted(counts.unknown)),
    )


@dataclass
class FlagCounts:
    """What the captures did under one flag set: plain counters, added up by merge()."""

    devices: int = 0
    arcs: Counter[tuple[str, str]] = field(default_factory=Counter)
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    succeeded: Counter[tuple[str, str]] = field(default_factory=Counter)
    failed: Counter[tuple[str, str]] = field(default_factory=Counter)
    states_seen: set[str] = field(default_factory=set)
    other: int = 0
    hidden: int = 0
    silent: int = 0

    def merge(self, other: FlagCounts) -> None:
        self.devices += other.devices
        self.arcs.update(other.arcs)
        self.requests.update(other.requests)
        self.succeeded.update(other.succeeded)
        self.failed.update(other.failed)
        self.states_seen |= other.states_seen
        self.other += other.other
        self.hidden += other.hidden
        self.silent += other.silent


class _Tally:
    """A flag set's model and the counters filled while the results are walked."""

    def __init__(self, model: FlagModel, counts: FlagCounts | None = None) -> None:
        self.model = model
        self.counts = counts if counts is not None else FlagCounts()

    def add(self, device: DeviceResult) -> None:
        self.counts.devices += 1
        usable = self.model.usable
        for obs in device.states:
            if len(obs.states) == 1 and obs.states[0] in usable:
                self.counts.states_seen.add(obs.states[0])
        if not any(isinstance(r.src, str) and isinstance(r.target, str)
                   for r in device.requests):
            self.counts.silent += 1
        for req in device.requests:
            src, dst = req.src, req.target
            if src is None or dst is None:
                self.counts.hidden += 1
                continue
            if not isinstance(src, str) or not isinstance(dst, str):
                self.counts.other += 1      # an out-of-range state number
                continue
            if src == dst or src not in usable or dst not in usable:
                self.counts.other += 1
                continue
            self.counts.requests[(src, dst)] += 1
            if req.ok is True:
                self.counts.succeeded[(src, dst)] += 1
                for a, b in self._steps(src, dst, req.path):
                    if self.model.graph.has_edge(a, b):
                        self.counts.arcs[(a, b)] += 1
            elif req.ok is False:
                self.counts.failed[(src, dst)] += 1

    def _steps(self, src: str, dst: str, path: tuple[str, ...] | None):
        if path is None:
            answer = self.model.request(src, dst)
            path = tuple(answer.path or ())
        states = (src, *path)
        return zip(states, states[1:])

    def freeze(self) -> FlagCoverage:
        model = self.model
        order = [s for s in model.all_states() if s in model.usable]
        arcs = tuple(ArcUse(s.src, s.dst, s.session, self.counts.arcs[(s.src, s.dst)])
                     for s in model.single_arcs())
        requests = []
        for a in order:
            for b in order:
                if a == b:
                    continue
                answer = model.request(a, b)
                if not answer.ok:
                    expected = "refused"
                else:
                    expected = "single" if len(answer.steps) == 1 else "combination"
                key = (a, b)
                requests.append(RequestUse(a, b, expected, self.counts.requests[key],
                                           self.counts.succeeded[key], self.counts.failed[key]))
        flags_text = f"{model.flags:#x}"
        names = "|".join(n for n, bit in model.spec.flags.items() if model.flags & bit)
        return FlagCoverage(
            flags=model.flags, flags_text=f"{flags_text} ({names or 'none'})",
            devices=self.counts.devices, states=tuple(order),
            states_seen=tuple(s for s in order if s in self.counts.states_seen),
            arcs=arcs, requests=tuple(requests), other_requests=self.counts.other,
            hidden_requests=self.counts.hidden, silent_devices=self.counts.silent,
        )
