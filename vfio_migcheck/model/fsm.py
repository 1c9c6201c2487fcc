"""The migration FSM of one flag set, compiled from a spec into a networkx graph.

Combination paths are computed from the spec's path rules (shortest path, no interior
saving-group states, plus the spec's explicit refinements) - never from the kernel's
next-state table, which the tests use as an independent oracle.
"""

from __future__ import annotations

from enum import Enum
from functools import cached_property
from typing import TYPE_CHECKING

from vfio_migcheck.model.spec import Spec
from vfio_migcheck.records import Record, record

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx

EINVAL = "EINVAL"


class Reason(str, Enum):
    """Why a request has the answer it has (stable strings used in JSON output)."""

    OK = "ok"
    NOOP = "noop"
    UNDEFINED_FLAGS = "undefined_flags"
    CURRENT_OUT_OF_RANGE = "current_out_of_range"
    CURRENT_ERROR = "current_error"
    CURRENT_UNSUPPORTED = "current_unsupported"
    TARGET_OUT_OF_RANGE = "target_out_of_range"
    TARGET_ERROR = "target_error"
    TARGET_UNSUPPORTED = "target_unsupported"
    BLOCKED = "blocked"
    UNREACHABLE = "unreachable"


@record
class Step(Record):
    """One single arc of a combination path with its data-session effect."""

    src: str
    dst: str
    session: str


@record
class Answer(Record):
    """The model's answer to ``SET dst`` while in ``src`` under ``flags``."""

    src: str | int
    dst: str | int
    flags: int
    ok: bool
    reason: Reason
    detail: str
    steps: tuple[Step, ...] = ()
    ties: tuple[tuple[str, ...], ...] = ()
    errno: str | None = None

    @property
    def path(self) -> list[str] | None:
        """States entered after ``src`` (empty for the no-op), or None on error."""
        return [s.dst for s in self.steps] if self.ok else None

    @property
    def creates(self) -> str | None:
        """'saving' or 'resuming' when the final arc opens a data session."""
        for step in self.steps:
            if step.session.startswith("creates_"):
                return step.session.removeprefix("creates_")
        return None

    @property
    def ends(self) -> str | None:
        for step in self.steps:
            if step.session.startswith("ends_"):
                return step.session.removeprefix("ends_")
        return None


@record
class FailureOutcome(Record):
    """Where a failed SET may leave the device, and the session effects already done."""

    state: str
    steps_done: tuple[Step, ...]


class FlagModel:
    """The FSM under one flag set: usable states, single arcs, combination paths."""

    def __init__(self, spec: Spec, flags: int, refinements: bool = True) -> None:
        self.spec = spec
        self.requested_flags = flags
        self.flags = flags & spec.all_flags_mask
        self.ignored_bits = flags & ~spec.all_flags_mask
        self.flag_names = spec.flag_names(self.flags)
        self.use_refinements = refinements
        self.undefined = not spec.mandatory_flags <= self.flag_names
        self.reserved = not self.undefined and self.flags not in spec.defined_flag_sets
        self.usable = frozenset(
            s.name
            for s in spec.states.values()
            if not s.error and not self.undefined and s.requires <= self.flag_names
        )
        # src -> {dst: session effect}: what requests and paths need, without networkx
        self._arcs: dict[str, dict[str, str]] = self._build_arcs()
        self._answers: dict[tuple[str | int, str | int], Answer] = {}

    # --- construction -------------------------------------------------------------------
    def _build_arcs(self) -> dict[str, dict[str, str]]:
        arcs: dict[str, dict[str, str]] = {name: {} for name in self.usable}
        for arc in self.spec.arcs:
            if arc.src in self.usable and arc.dst in self.usable and arc.condition.holds(
                self.flag_names
            ):
                arcs[arc.src][arc.dst] = arc.session
        return arcs

    @cached_property
    def graph(self) -> nx.DiGraph:
        """The FSM as a networkx graph (nodes carry value and groups, arcs session and cite);
        built on first use, so checking a trace never imports networkx."""
        import networkx as nx

        g = nx.DiGraph(spec=self.spec.name, flags=self.flags)
        order = sorted(self.usable, key=lambda s: self.spec.states[s].value)
        for name in order:
            groups = self.spec.group_of(name)
            g.add_node(name, value=self.spec.states[name].value, groups=groups)
        for arc in self.spec.arcs:
            if arc.src in self.usable and arc.dst in self.usable and arc.condition.holds(
                self.flag_names
            ):
                g.add_edge(arc.src, arc.dst, session=arc.session, cite=arc.cite)
        return g

    @property
    def status(self) -> str:
        """'defined', 'reserved' (has the mandatory flags, not a defined set) or 'undefined'."""
        if self.undefined:
            return "undefined"
        return "reserved" if self.reserved else "defined"

    def single_arcs(self) -> list[Step]:
        """The arcs a driver must implement under these flags, in state-number order."""
        value = {s: self.spec.states[s].value for s in self.usable}
        edges = sorted(((a, b) for a, dsts in self._arcs.items() for b in dsts),
                       key=lambda e: (value[e[0]], value[e[1]]))
        return [Step(a, b, self._arcs[a][b]) for a, b in edges]

    # --- path rules ------------------------------------------------------------------------
    def path_allowed(self, path: list[str] | tuple[str, ...]) -> bool:
        """Do the spec's path rules (other than 'shortest') accept this state sequence?"""
        if any(b not in self._arcs.get(a, {}) for a, b in zip(path, path[1:])):
            return False
        first, last = path[0], path[-1]
        for i in range(1, len(path) - 1):
            state = path[i]
            for group in self.spec.path.no_interior:
                members = self.spec.groups[group]
                if state in members and not self._interior_refined(group, path, first, last):
                    return False
        return True

    def _interior_refined(self, group: str, path, first: str, last: str) -> bool:
        if not self.use_refinements:
            return False
        members = self.spec.groups[group]
        for ref in self.spec.path.refinements:
            if ref.group != group:
                continue
            if ref.kind == "interior_allowed_within_group" and all(s in members for s in path):
                return True
        return False

    def valid_shortest_paths(self, src: str, dst: str) -> list[tuple[str, ...]]:
        """Every shortest path the rules allow, ordered by the states' numbers."""
        if src == dst:
            return [(src,)]
        best: list[tuple[str, ...]] = []
        # Simple paths suffice: a shortest rule-abiding path never repeats a state, since the
        # rules only look at which states are interior and cutting a loop keeps them valid.
        for path in self._simple_paths(src, dst):
            if not self.path_allowed(path):
                continue
            if not best or len(path) < len(best[0]):
                best = [tuple(path)]
            elif len(path) == len(best[0]):
                best.append(tuple(path))
        value = self.spec.states
        best.sort(key=lambda p: [value[s].value for s in p])
        return best

    def _simple_paths(self, src: str, dst: str) -> list[list[str]]:
        """Every path from src to dst that repeats no state (a graph of at most 8 states)."""
        if src not in self._arcs or dst not in self._arcs:
            return []
        paths: list[list[str]] = []
        stack: list[list[str]] = [[src]]
        while stack:
            path = stack.pop()
            for nxt in self._arcs[path[-1]]:
                if nxt == dst:
                    paths.append([*path, nxt])
                elif nxt not in path:
                    stack.append([*path, nxt])
        return paths

    # --- requests -------------------------------------------------------------------------------
    def blocked_reason(self, src: str, dst: str) -> str | None:
        for b in self.spec.blocked:
            if b.src == src and b.dst == dst and b.condition.holds(self.flag_names):
                return f"{b.reason} ({b.cite})" if b.cite else b.reason
        return None

    def request(self, src: str | int, dst: str | int) -> Answer:
        """Answer ``SET dst`` in state ``src``: the path and its effects, or the error."""
        key = (src, dst)
        if key not in self._answers:
            self._answers[key] = self._request(src, dst)
        return self._answers[key]

    def _fail(self, src, dst, reason: Reason, detail: str) -> Answer:
        return Answer(src, dst, self.flags, False, reason, detail, errno=EINVAL)

    def _request(self, src: str | int, dst: str | int) -> Answer:
        spec = self.spec
        if self.undefined:
            missing = ", ".join(sorted(spec.mandatory_flags - self.flag_names))
            return self._fail(src, dst, Reason.UNDEFINED_FLAGS,
                              f"flag set {self.flags:#x} is undefined: it lacks {missing}, so no "
                              "state is usable and every SET fails (the kernel also WARNs)")
        if isinstance(src, int):
            return self._fail(src, dst, Reason.CURRENT_OUT_OF_RANGE,
                              f"current state {src} is out of range (>= {spec.state_limit})")
        if spec.states[src].error:
            return self._fail(src, dst, Reason.CURRENT_ERROR,
                              f"the device is in {src}: only VFIO_DEVICE_RESET leaves it")
        if src not in self.usable:
            return self._fail(src, dst, Reason.CURRENT_UNSUPPORTED,
                              f"current state {src} is not usable under flags {self.flags:#x}; "
                              "a driver should never be there (the kernel WARNs)")
        if isinstance(dst, int):
            return self._fail(src, dst, Reason.TARGET_OUT_OF_RANGE,
                              f"requested state {dst} is out of range (>= {spec.state_limit})")
        if spec.states[dst].error or not spec.states[dst].requestable:
            return self._fail(src, dst, Reason.TARGET_ERROR,
                              f"{dst} can never be requested")
        if dst not in self.usable:
            need = ", ".join(sorted(spec.states[dst].requires - self.flag_names))
            return self._fail(src, dst, Reason.TARGET_UNSUPPORTED,
                              f"requested state {dst} needs flag(s) {need}, not set in "
                              f"{self.flags:#x}")
        if src == dst:
            return Answer(src, dst, self.flags, True, Reason.NOOP,
                          "already there: a successful no-op, no arc runs and no data fd is made")
        blocked = self.blocked_reason(src, dst)
        if blocked:
            return self._fail(src, dst, Reason.BLOCKED, blocked)
        paths = self.valid_shortest_paths(src, dst)
        if not paths:
            return self._fail(src, dst, Reason.UNREACHABLE,
                              f"no path from {src} to {dst} satisfies the path rules")
        chosen = paths[0]
        steps = tuple(
            Step(a, b, self._arcs[a][b]) for a, b in zip(chosen, chosen[1:])
        )
        kind = "single arc" if len(steps) == 1 else f"combination of {len(steps)} arcs"
        return Answer(src, dst, self.flags, True, Reason.OK, kind, steps,
                      ties=tuple(paths[1:]))

    def failure_outcomes(self, src: str, dst: str | int) -> list[FailureOutcome]:
        """Where a *failed* ``SET dst`` from ``src`` may leave the device.

        A request the model rejects up front changes nothing. Otherwise the device may stop
        at the start state or after any arc of the path (keeping the effects of the arcs
        already done) and, where the spec allows it, in the error state.
        """
        answer = self.request(src, dst)
        if not answer.ok or not answer.steps:
            return [FailureOutcome(src, ())] if isinstance(src, str) else []
        outcomes = [FailureOutcome(src, ())]
        if self.spec.failure_anywhere_on_path:
            for i in range(1, len(answer.steps) + 1):
                outcomes.append(FailureOutcome(answer.steps[i - 1].dst, answer.steps[:i]))
        error = self.spec.error_state
        if self.spec.failure_may_enter_error and error:
            outcomes.append(FailureOutcome(error, answer.steps))
        return outcomes

    def reset(self) -> tuple[str, bool]:
        """What VFIO_DEVICE_RESET does: the state it gives and whether sessions end."""
        return self.spec.reset_state, self.spec.reset_ends_sessions

    def all_states(self) -> list[str]:
        return sorted(self.spec.states, key=lambda s: self.spec.states[s].value)

    def all_requests(self) -> list[Answer]:
        states = self.all_states()
        return [self.request(a, b) for a in states for b in states]


_MODELS: dict[tuple[int, int, bool], FlagModel] = {}


def model_for(spec: Spec, flags: int, refinements: bool = True) -> FlagModel:
    """A shared :class:`FlagModel` per (spec, flags): answers are cached inside it.

    Keyed by ``id(spec)``; the cached model keeps its spec alive, so the id stays unique.
    """
    key = (id(spec), flags, refinements)
    model = _MODELS.get(key)
    if model is None or model.spec is not spec:
        model = _MODELS[key] = FlagModel(spec, flags, refinements)
    return model
