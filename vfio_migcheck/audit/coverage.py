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
from dataclasses import dataclass

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
    return Coverage(
        tuple(per_flags[f].freeze() for f in sorted(per_flags)),
        tuple(sorted(unknown)),
    )


class _Tally:
    """Mutable counters for one flag set while the results are walked."""

    def __init__(self, model: FlagModel) -> None:
        self.model = model
        self.devices = 0
        self.arcs: Counter[tuple[str, str]] = Counter()
        self.requests: Counter[tuple[str, str]] = Counter()
        self.succeeded: Counter[tuple[str, str]] = Counter()
        self.failed: Counter[tuple[str, str]] = Counter()
        self.states_seen: set[str] = set()
        self.other = 0
        self.hidden = 0
        self.silent = 0

    def add(self, device: DeviceResult) -> None:
        self.devices += 1
        usable = self.model.usable
        for obs in device.states:
            if len(obs.states) == 1 and obs.states[0] in usable:
                self.states_seen.add(obs.states[0])
        if not any(isinstance(r.src, str) and isinstance(r.target, str)
                   for r in device.requests):
            self.silent += 1
        for req in device.requests:
            src, dst = req.src, req.target
            if src is None or dst is None:
                self.hidden += 1
                continue
            if not isinstance(src, str) or not isinstance(dst, str):
                self.other += 1      # an out-of-range state number
                continue
            if src == dst or src not in usable or dst not in usable:
                self.other += 1
                continue
            self.requests[(src, dst)] += 1
            if req.ok is True:
                self.succeeded[(src, dst)] += 1
                for a, b in self._steps(src, dst, req.path):
                    if self.model.graph.has_edge(a, b):
                        self.arcs[(a, b)] += 1
            elif req.ok is False:
                self.failed[(src, dst)] += 1

    def _steps(self, src: str, dst: str, path: tuple[str, ...] | None):
        if path is None:
            answer = self.model.request(src, dst)
            path = tuple(answer.path or ())
        states = (src, *path)
        return zip(states, states[1:])

    def freeze(self) -> FlagCoverage:
        model = self.model
        order = [s for s in model.all_states() if s in model.usable]
        arcs = tuple(ArcUse(s.src, s.dst, s.session, self.arcs[(s.src, s.dst)])
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
                requests.append(RequestUse(a, b, expected, self.requests[key],
                                           self.succeeded[key], self.failed[key]))
        flags_text = f"{model.flags:#x}"
        names = "|".join(n for n, bit in model.spec.flags.items() if model.flags & bit)
        return FlagCoverage(
            flags=model.flags, flags_text=f"{flags_text} ({names or 'none'})",
            devices=self.devices, states=tuple(order),
            states_seen=tuple(s for s in order if s in self.states_seen),
            arcs=arcs, requests=tuple(requests), other_requests=self.other,
            hidden_requests=self.hidden, silent_devices=self.silent,
        )
