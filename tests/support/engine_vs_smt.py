"""The checker held against the SMT semantics, event sequence by event sequence.

For every sequence of at most ``k`` events over a small alphabet (one device, data fds 6 and
7, each flag set of the spec; visible and hidden payloads), two independent answers are
compared at the sequence's last event:

- **z3** (``model.smt.lifecycle``): the set of abstract readings the prefix leaves is a
  disjunction of concrete states; z3 decides whether some outcome of the last event fits,
  and, for each behaviour rule the encoding knows, whether every fitting outcome breaks it
  (a finding), only some do (undecided, for error-level rules) or none;
- **the checker**, through its public API only (``checker.api.check_events`` on the canonical
  trace text): whether it reports a misfit at that line, its findings at that line, and the
  rules it lists as undecided there.

Sequences whose prefix already misfits are compared at the misfit and not extended (after a
misfit the checker resynchronises on a reading of its own choice). The SMT answers depend on
the prefix only through its set of readings, so they are memoised on that set; the checker is
run on every sequence. Rules the encoding does not model are left out of the comparison:
K004 (reported once per session), U019 (write errno classes), U013 and the notes (K014).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import z3

from vfio_migcheck.checker.api import check_events
from vfio_migcheck.checker.rules import CATALOGUE
from vfio_migcheck.model.smt.lifecycle import (
    FD_BITS,
    FDS,
    LAppeared,
    LData,
    LEvent,
    LGet,
    LHidden,
    LProbe,
    LReset,
    LSet,
    LVars,
    Semantics,
    fast_and,
    fast_eq,
)
from vfio_migcheck.model.spec import Spec
from vfio_migcheck.traces.canonical.reader import CanonicalTrace, read_lines
from vfio_migcheck.traces.events import Event, ReadSummary
from vfio_migcheck.traces.lines import Line

#: behaviour rules the SMT semantics decides
COMPARED_RULES = ("U002", "U003", "U004", "U005", "U006", "U007", "U008", "U009", "U011",
                  "U012", "U014", "K010", "K011")
DEVICE = "dev"
NEW_FD = -2   # an LSet data_fd placeholder: the lowest fd number not open


@dataclass(frozen=True)
class Verdict:
    """What one side says about the last event of a sequence."""

    fits: bool
    findings: frozenset[str] = frozenset()
    undecided: frozenset[str] = frozenset()


@dataclass
class Comparison:
    k: int
    flags: int
    sequences: int = 0
    misfits: int = 0
    disagreements: list[tuple[list[str], Verdict, Verdict]] = field(default_factory=list)
    seconds: float = 0.0
    smt_queries: int = 0


def alphabet(sem: Semantics, size: str = "full") -> list[LEvent]:
    """The events a sequence is made of; fd events name fd 6 or 7.

    ``full``: every usable target with a successful SET (reply ``data_fd`` a new fd, or -1)
    and a failed one, GET STATE of each usable state, PROBE, hidden feature calls (success,
    failure), RESET, and on each fd: appeared, read (data, 0,
    ENOMSG, ENODEV), write (data, EBADF), PRECOPY_INFO (ok, EINVAL), close.
    ``core``: a smaller set for deep runs, chosen from the same kinds.
    """
    events: list[LEvent] = []
    if size == "full":
        for t in sem.usable:
            events += [LSet(t, True, NEW_FD), LSet(t, True, -1), LSet(t, False)]
        events += [LHidden(True), LHidden(False), LReset(True), LProbe()]
        events += [LGet(t) for t in sem.usable]
        for j in FDS:
            events += [LAppeared(j)]
            events += [LData(j, "read", r) for r in ("data", "zero", "ENOMSG", "ENODEV")]
            events += [LData(j, "write", r) for r in ("data", "EBADF")]
            events += [LData(j, "precopy_info", r) for r in ("ok", "EINVAL")]
            events.append(LData(j, "close"))
        return events
    # core: one saving and one resuming session, the way out, a hidden call, reset; on an
    # open fd: data, end of stream, a write, close
    saving = "PRE_COPY" if "PRE_COPY" in sem.usable else "STOP_COPY"
    events += [LSet(saving, True, NEW_FD), LSet("RESUMING", True, NEW_FD),
               LSet("STOP", True, -1), LHidden(True), LReset(True)]
    for j in FDS:
        events += [LData(j, "read", "data"), LData(j, "read", "zero"),
                   LData(j, "write", "data"), LData(j, "close")]
    return events


# --- the z3 side -------------------------------------------------------------------------------
class SmtSide:
    """Answers for (set of readings, event), memoised; every answer is a z3 check."""

    def __init__(self, sem: Semantics) -> None:
        self.sem = sem
        self.pre = sem.fresh("cmp_pre")
        self.post = sem.fresh("cmp_post")
        self.o = z3.BitVec("cmp_o", 16)
        self.solver = z3.Solver()
        self.solver.add(sem.well_formed(self.pre), sem.well_formed(self.post))
        self._outcomes: dict[LEvent, list] = {}
        self._formulas: dict[tuple[LEvent, bool], tuple] = {}
        self._pins: dict[tuple, z3.BoolRef] = {}
        self._memo: dict[tuple, tuple[Verdict, frozenset, bool]] = {}
        self.queries = 0
        self.severity = {r: CATALOGUE[r].severity for r in COMPARED_RULES}

    def initial(self) -> frozenset:
        self.solver.push()
        try:
            self.solver.add(self.sem.initial(self.pre))
            return self._all_states(self.pre)
        finally:
            self.solver.pop()

    def outcomes(self, event: LEvent):
        if event not in self._outcomes:
            self._outcomes[event] = self.sem.outcomes(self.pre, event)
        return self._outcomes[event]

    def _check(self, *extra) -> bool:
        self.queries += 1
        result = self.solver.check(*extra)
        if result == z3.unknown:  # pragma: no cover - finite problems
            raise RuntimeError(self.solver.reason_unknown())
        return result == z3.sat

    def _values(self, s: LVars, model: z3.ModelRef) -> tuple:
        out = []
        for t in s.terms():
            v = model.eval(t, model_completion=True)
            out.append(str(z3.is_true(v)) if z3.is_bool(t) else
                       str(v.as_long()) if z3.is_bv(t) else v.decl().name())
        return tuple(out)

    def _pin(self, s: LVars, values: tuple) -> z3.BoolRef:
        key = (id(s), values)
        if key not in self._pins:
            self._pins[key] = self._make_pin(s, values)
        return self._pins[key]

    def _make_pin(self, s: LVars, values: tuple) -> z3.BoolRef:
        parts = []
        for term, value in zip(s.terms(), values):
            if z3.is_bool(term):
                parts.append(term if value == "True" else z3.Not(term))
            elif z3.is_bv(term):
                parts.append(fast_eq(term, z3.BitVecVal(int(value), FD_BITS)))
            else:
                parts.append(fast_eq(term, self.sem.const[value]))
        return fast_and(parts)

    def _all_states(self, s: LVars) -> frozenset:
        found = []
        self.solver.push()
        try:
            while self._check():
                values = self._values(s, self.solver.model())
                found.append(values)
                self.solver.add(z3.Not(self._pin(s, values)))
        finally:
            self.solver.pop()
        return frozenset(found)

    def step(self, readings: frozenset, event: LEvent, owned: bool
             ) -> tuple[Verdict, frozenset, bool]:
        """The verdict at ``event``, the readings after it, and whether the fd is owned now."""
        key = (readings, event, owned)
        if key not in self._memo:
            self._memo[key] = self._step(readings, event, owned)
        return self._memo[key]

    def _formula(self, event: LEvent, on_fd: bool) -> tuple[z3.BoolRef, dict]:
        """The fitting steps of ``event`` (outcome selector ``o``) and each rule's tag."""
        key = (event, on_fd)
        if key not in self._formulas:
            outs = [o for o in self.outcomes(event) if not (on_fd and "unbound" in o.marks)]
            picks = [fast_and([fast_eq(self.o, z3.BitVecVal(i, 16)), o.guard, o.fits,
                               self.post.equals(o.post)]) for i, o in enumerate(outs)]
            tags = {}
            for rule in COMPARED_RULES:
                tagged = [z3.And(self.o == i, o.tags[rule]) for i, o in enumerate(outs)
                          if rule in o.tags and not z3.is_false(o.tags[rule])]
                if tagged:
                    tags[rule] = z3.Or(tagged)
            self._formulas[key] = (z3.Or(picks) if picks else z3.BoolVal(False), tags)
        return self._formulas[key]

    def _step(self, readings: frozenset, event: LEvent, owned: bool):
        sem, solver = self.sem, self.solver
        solver.push()
        try:
            solver.add(z3.Or([self._pin(self.pre, r) for r in sorted(readings)]))
            fd = getattr(event, "fd", None)
            if fd is not None:
                # The checker gives a file to the device once a reading can bind it; a file
                # no reading can bind (and never bound) is another process's: ignored.
                if not owned and not self._check(sem.binds(self.pre, fd)):
                    return Verdict(True), readings, False
                owned = True
            step, tags = self._formula(event, fd is not None)
            solver.add(step)
            if not self._check():
                return Verdict(False), frozenset(), owned
            findings, undecided = set(), set()
            for rule, tag in tags.items():
                if not self._check(tag):
                    continue
                if not self._check(z3.Not(tag)):
                    findings.add(rule)
                elif self.severity[rule] == "error":
                    undecided.add(rule)
            after = self._all_states(self.post)
            return Verdict(True, frozenset(findings), frozenset(undecided)), after, owned
        finally:
            solver.pop()


# --- the checker side ---------------------------------------------------------------------------
def engine_verdict(spec: Spec, events: list[Event], line: int) -> Verdict:
    """The checker's verdict at ``line`` of a trace's events, from the public API."""
    result = check_events(events, spec=spec)
    at_line = [f for f in result.findings if f.line == line]
    misfit = any(CATALOGUE[f.rule].kind == "misfit" for f in at_line)
    findings = frozenset(f.rule for f in at_line if f.rule in COMPARED_RULES)
    undecided = frozenset(
        entry.split(": ", 1)[1].split(" ", 1)[0]
        for d in result.devices for entry in d.undecided
        if entry.startswith(f"line {line}: ")) & frozenset(COMPARED_RULES)
    if misfit:
        return Verdict(False)
    return Verdict(True, findings, undecided)


class Reading:
    """The canonical reader along one sequence: each line is parsed once, the reader's state
    (file identities) is copied at every branch."""

    def __init__(self, head: str) -> None:
        self.trace = CanonicalTrace(ReadSummary(format="canonical"))
        self.events = self._feed(self.trace, 1, head)

    @staticmethod
    def _feed(trace: CanonicalTrace, number: int, text: str) -> list[Event]:
        return list(read_lines(FILE, [Line(number, text)], trace))

    def extend(self, text: str) -> Reading:
        nxt = copy.copy(self)
        nxt.trace = copy.deepcopy(self.trace)
        number = len(self.events) + 1
        nxt.events = [*self.events, *self._feed(nxt.trace, number, text)]
        return nxt


FILE = "<sequence>"


# --- enumeration ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Trace:
    """A sequence being built: its canonical lines and the fd numbers it has open."""

    lines: tuple[str, ...]
    open_fds: frozenset[int]
    owned: frozenset[int]

    def extend(self, event: LEvent) -> tuple[Trace, LEvent] | None:
        """The trace with ``event`` appended (a new fd resolved), or None if not available."""
        open_fds, owned = set(self.open_fds), set(self.owned)
        if isinstance(event, LSet) and event.data_fd == NEW_FD:
            free = [j for j in FDS if j not in open_fds]
            if not free:
                return None
            event = LSet(event.target, event.ok, free[0])
            open_fds.add(free[0])
            owned.discard(free[0])
        elif isinstance(event, LAppeared):
            if event.fd in open_fds:
                return None
            open_fds.add(event.fd)
            owned.discard(event.fd)
        elif isinstance(event, LData):
            if event.fd not in open_fds:
                return None
            if event.op == "close":
                open_fds.discard(event.fd)
        return Trace((*self.lines, event.line(DEVICE)), frozenset(open_fds),
                     frozenset(owned)), event


def header(spec: Spec, flags: int) -> str:
    return f"device {DEVICE} fd=5 flags={flags:#x} state={spec.reset_state}"


def compare(spec: Spec, flags: int, k: int, size: str = "full",
            limit: int | None = None) -> Comparison:
    """Every sequence of 1..k events under ``flags``: z3 and the checker must agree."""
    start = time.perf_counter()
    sem = Semantics(spec, flags)
    smt = SmtSide(sem)
    events = alphabet(sem, size)
    report = Comparison(k, flags)
    head = header(spec, flags)

    def walk(trace: Trace, readings: frozenset, reading: Reading) -> Iterator[None]:
        for event in events:
            if limit is not None and report.sequences >= limit:
                return
            ext = trace.extend(event)
            if ext is None:
                continue
            nxt, concrete = ext
            fd = getattr(concrete, "fd", None)
            owned = fd in trace.owned and not isinstance(concrete, LAppeared) and not (
                isinstance(concrete, LSet))
            verdict, after, now_owned = smt.step(readings, concrete, owned)
            if fd is not None and now_owned:
                nxt = Trace(nxt.lines, nxt.open_fds, nxt.owned | {fd})
            if isinstance(concrete, LData) and concrete.op == "close":
                nxt = Trace(nxt.lines, nxt.open_fds, nxt.owned - {fd})
            read = reading.extend(nxt.lines[-1])
            engine = engine_verdict(spec, read.events, len(nxt.lines) + 1)
            report.sequences += 1
            if engine != verdict:
                report.disagreements.append((list(nxt.lines), verdict, engine))
            if not verdict.fits:
                report.misfits += 1
                continue
            if len(nxt.lines) < k:
                yield from walk(nxt, after, read)
        yield None

    for _ in walk(Trace((), frozenset(), frozenset()), smt.initial(), Reading(head)):
        pass
    report.seconds = time.perf_counter() - start
    report.smt_queries = smt.queries
    return report
