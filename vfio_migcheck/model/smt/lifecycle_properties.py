"""Lifecycle properties L1-L7 of the data-fd semantics, proved for runs of every length.

Method (per flag set): the transition relation of ``lifecycle.Semantics`` over its whole proof
alphabet, restricted to the outcomes the model allows. An inductive invariant is found
Houdini-style: start from candidate lemmas generated from the spec (which session each state
may hold, where EOF and accepted resume data may be), keep those true initially, and drop every
lemma z3 shows is not preserved by some step from a state satisfying all remaining ones, until
nothing changes. The survivors form an inductive invariant ``Inv`` (z3 checked it), so every
reachable state satisfies it. A property is PROVED when ``Inv(s) and step(s, e, s') and
bad(s, e, s')`` is unsat: no step of any run, however long, breaks it. Otherwise a bounded
search from the initial state looks for a real run that breaks it: REFUTED with that run as a
canonical trace (``.vmc``) and an ITF trace; if none exists up to the search depth either, the
property is reported UNDECIDED (never proved by default).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass

import z3

from vfio_migcheck.model.smt.answers import SmtOracle
from vfio_migcheck.model.smt.encode import Encoding, all_of, any_of
from vfio_migcheck.model.smt.lifecycle import (
    FDS,
    Behaviour,
    LEvent,
    LSet,
    LVars,
    Semantics,
    fast_and,
    fast_eq,
    proof_alphabet,
)
from vfio_migcheck.model.smt.results import (
    PROVED,
    REFUTED,
    UNDECIDED,
    Counterexample,
    PropertyResult,
)
from vfio_migcheck.model.spec import Spec

SEARCH_DEPTH = 12
OUTCOME_BITS = 16
DEVICE = "dev"

NAMES = {
    "L1": "at most one live data session per device: no SET creates one while one is live",
    "L2": "no data moves on a data fd whose session ended",
    "L3": "STOP_COPY's read() == 0 is final: no arc leaves STOP_COPY keeping that session",
    "L4": "a RESUMING session is committed only by leaving RESUMING, and leaving it ends it",
    "L5": "a successful RESET ends every session and yields RUNNING",
    "L6": "ERROR is left only by RESET",
    "L7": "PRE_COPY's temporary end keeps the session live, and PRE_COPY -> STOP_COPY keeps "
          "that session",
}
WHY = {
    "L1": "A device has one data session at a time (uAPI: each saving or resuming state has "
          "its data_fd); a second live session means a lost or doubled stream.",
    "L2": "After the session ends its fd must answer ENODEV and move nothing (uAPI: the fd is "
          "no longer valid after leaving the saving/resuming states).",
    "L3": "read() == 0 in STOP_COPY marks the end of the device state; an arc that keeps the "
          "session after it would let the image grow after its end.",
    "L4": "The resume image is committed by the arc out of RESUMING (uAPI: RESUMING -> STOP "
          "loads it); a session that survives RESUMING or ends elsewhere breaks that.",
    "L5": "uAPI: VFIO_DEVICE_RESET returns the device to RUNNING and ends every data transfer.",
    "L6": "uAPI: ERROR can only be left by VFIO_DEVICE_RESET.",
    "L7": "ENOMSG in PRE_COPY is a temporary end: the same session goes on to STOP_COPY, so the "
          "precopy data already read stays part of the image.",
}


@dataclass
class Relation:
    """The step relation of one flag set: pre ``a``, event ``ev``, outcome ``o``, post ``b``."""

    sem: Semantics
    alphabet: list[LEvent]
    a: LVars
    b: LVars
    o: z3.ArithRef
    step: z3.BoolRef
    outcome_event: list[int]
    marks: dict[str, z3.BoolRef]
    reset: z3.BoolRef
    failed: z3.BoolRef    # the step is a failed SET (counterexamples avoid them if they can)

    @classmethod
    def build(cls, sem: Semantics, alphabet: list[LEvent] | None = None) -> Relation:
        alphabet = alphabet or proof_alphabet(sem)
        a, b = sem.fresh("a"), sem.fresh("b")
        # Steps start only in states a device can be in: usable under the flags, or ERROR.
        # The invariant keeps "st is one of these" only if z3 shows every step preserves it.
        sources = [n for n in sem.names if n in sem.usable or n == sem.error]
        o = z3.BitVec("o", OUTCOME_BITS)
        clauses, owner = [], []
        marks: dict[str, list] = {}
        resets, failed = [], []
        for i, event in enumerate(alphabet):
            for out in sem.outcomes(a, event, sources):
                if _impossible(out) or (not out.marks and _unchanged(a, out.post)):
                    continue  # a misfit for sure, or a step that changes nothing
                j = len(owner)
                owner.append(i)
                pick = fast_eq(o, z3.BitVecVal(j, OUTCOME_BITS))
                clauses.append(fast_and([pick, out.guard, out.fits, b.equals(out.post)]))
                for name, cond in out.marks.items():
                    marks.setdefault(name, []).append(fast_and([pick, cond]))
                if name_is_reset(event):
                    resets.append(pick)
                if isinstance(event, LSet) and not event.ok:
                    failed.append(pick)
        step = all_of(sem.well_formed(a), sem.well_formed(b), sem.is_state(a, sources),
                      any_of(clauses))
        return cls(sem, alphabet, a, b, o, step, owner,
                   {k: any_of(v) for k, v in marks.items()}, any_of(resets), any_of(failed))

    def mark(self, name: str) -> z3.BoolRef:
        return self.marks.get(name, z3.BoolVal(False))


def _impossible(out) -> bool:
    return any(z3.is_true(c) for c in out.misfit.values())


def _unchanged(a: LVars, post: LVars) -> bool:
    return all(x.eq(y) for x, y in zip(a.terms(), post.terms()))


def name_is_reset(event: LEvent) -> bool:
    from vfio_migcheck.model.smt.lifecycle import LReset

    return isinstance(event, LReset) and event.ok


def _check(solver: z3.Solver, *assumptions: z3.BoolRef) -> z3.CheckSatResult:
    """sat or unsat; z3's unknown is an error, never read as either."""
    result = solver.check(*assumptions)
    if result == z3.unknown:
        raise RuntimeError(f"z3 returned unknown on a lifecycle query: "
                           f"{solver.reason_unknown().splitlines()[0]}")
    return result


# --- candidate lemmas and the invariant ---------------------------------------------------------
def candidate_lemmas(sem: Semantics, session: bool = True
                     ) -> list[Callable[[LVars], z3.BoolRef]]:
    """Facts that may hold in every reachable state: z3 keeps only the inductive ones.

    ``session``: include the per-state guesses about the session's shape.
    """
    out: list[Callable[[LVars], z3.BoolRef]] = [
        lambda s: sem.is_state(s, [n for n in sem.names if n in sem.usable or n == sem.error])]
    for name in sem.names:
        c = sem.const[name]
        if session:
            out += [
                lambda s, c=c: z3.Implies(s.st == c, z3.Not(s.live)),
                lambda s, c=c: z3.Implies(s.st == c, all_of(s.live, s.sav)),
                lambda s, c=c: z3.Implies(s.st == c, all_of(s.live, z3.Not(s.sav))),
                lambda s, c=c: z3.Implies(all_of(s.st == c, s.live), s.sav),
                lambda s, c=c: z3.Implies(all_of(s.st == c, s.live), z3.Not(s.sav)),
            ]
        out += [
            lambda s, c=c: z3.Implies(s.st == c, z3.Not(s.eof)),
            lambda s, c=c: z3.Implies(s.st == c, z3.Not(s.moved)),
            lambda s, c=c: z3.Implies(s.st == c, z3.Not(s.fcom)),
        ]
    out += [
        lambda s: z3.Implies(s.eof, all_of(s.live, s.sav)),
        lambda s: z3.Implies(s.moved, all_of(s.live, z3.Not(s.sav))),
        lambda s: z3.Implies(s.fcom, all_of(s.live, z3.Not(s.sav))),
    ]
    return out


def session_shapes(sem: Semantics) -> dict[str, set[str]]:
    """Which session (none / saving / resuming) a device may hold in each state, from the
    spec's paths, failures, reset and device close: a guess that z3 then checks."""
    shapes: dict[str, set[str]] = {n: set() for n in sem.names}
    todo = [(sem.spec.reset_state, "none")]
    while todo:
        state, kind = todo.pop()
        if kind in shapes[state]:
            continue
        shapes[state].add(kind)
        nxt = [(state, "none")]
        if sem.behaviour.reset_ends_sessions:
            nxt.append((sem.behaviour.reset_state, "none"))
        for target in sem.usable:
            ok, _, states, effects = sem.path(state, target)
            if not ok or not effects:
                continue
            cur = kind
            for i, effect in enumerate(effects):
                cur = ("none" if effect.startswith("ends_") else
                       effect.removeprefix("creates_") if effect.startswith("creates_")
                       else cur)
                nxt.append((states[i + 1], cur))
            if sem.error:
                nxt.append((sem.error, cur))
        todo.extend(nxt)
    return shapes


def guided_lemmas(sem: Semantics) -> list[Callable[[LVars], z3.BoolRef]]:
    """The lemmas :func:`session_shapes` expects to hold, plus where EOF and resume data may
    be: usually inductive at once, so Houdini needs one or two rounds."""
    shape = {"none": lambda s: z3.Not(s.live), "saving": lambda s: all_of(s.live, s.sav),
             "resuming": lambda s: all_of(s.live, z3.Not(s.sav))}
    out = candidate_lemmas(sem, session=False)
    def lemma(c: z3.ExprRef, kinds: tuple[str, ...]) -> Callable[[LVars], z3.BoolRef]:
        return lambda s: z3.Implies(s.st == c, any_of([shape[k](s) for k in kinds]))

    for name, kinds in session_shapes(sem).items():
        out.append(lemma(sem.const[name], tuple(sorted(kinds))))
    return out


def houdini(rel: Relation, solver: z3.Solver, lemmas: list | None = None
            ) -> list[Callable[[LVars], z3.BoolRef]]:
    """The largest inductive subset of the candidate lemmas (checked by z3, never assumed).

    Each lemma gets two literals, "holds before" and "holds after" the step, asserted once;
    every round then only changes which literals are assumed.
    """
    sem = rel.sem
    lemmas = candidate_lemmas(sem) if lemmas is None else lemmas
    init = sem.fresh("init")
    solver.push()
    solver.add(sem.initial(init))
    # The initial state is one concrete state: one model decides every lemma there.
    if _check(solver) != z3.sat:
        raise RuntimeError("the lifecycle encoding has no initial state")
    model = solver.model()
    solver.pop()
    lemmas = [lem for lem in lemmas
              if z3.is_true(model.eval(lem(init), model_completion=True))]
    before = [z3.Bool(f"lemma_pre{i}") for i in range(len(lemmas))]
    after = [z3.Bool(f"lemma_post{i}") for i in range(len(lemmas))]
    solver.push()
    try:
        solver.add(rel.step)
        for lem, p, q in zip(lemmas, before, after):
            solver.add(z3.Implies(p, lem(rel.a)), q == lem(rel.b))
        kept = list(range(len(lemmas)))
        for round_no in itertools.count():
            broken = z3.Bool(f"lemma_broken{round_no}")
            solver.add(z3.Implies(broken, any_of([z3.Not(after[i]) for i in kept])))
            if _check(solver, broken, *[before[i] for i in kept]) == z3.unsat:
                return [lemmas[i] for i in kept]
            model = solver.model()
            kept = [i for i in kept if z3.is_true(model.eval(after[i], model_completion=True))]
    finally:
        solver.pop()
    raise AssertionError("unreachable")  # pragma: no cover


# --- the properties -----------------------------------------------------------------------------
def bad_conditions(rel: Relation) -> dict[str, z3.BoolRef]:
    sem, a, b = rel.sem, rel.a, rel.b
    running = sem.const["RUNNING"] if "RUNNING" in sem.const else sem.const[
        sem.behaviour.reset_state]
    error = sem.const[sem.error] if sem.error else None
    out = {
        "L1": rel.mark("double"),
        "L2": rel.mark("dead_data"),
        "L3": rel.mark("eof_kept"),
        "L4": any_of(rel.mark("resume_outlives"), rel.mark("resume_ended_elsewhere")),
        "L5": all_of(rel.reset, any_of(b.st != running, b.live)),
        "L6": (all_of(a.st == error, b.st != error, z3.Not(rel.reset)) if error is not None
               else z3.BoolVal(False)),
        "L7": any_of(rel.mark("precopy_session_lost"),
                     all_of(rel.mark("precopy_end"), any_of(z3.Not(b.live), b.eof))),
    }
    return out


@dataclass
class LifecycleRun:
    """Everything one flag set's proofs share."""

    rel: Relation
    solver: z3.Solver
    invariant: list[Callable[[LVars], z3.BoolRef]]
    seconds: float


def prepare(spec: Spec, flags: int, oracle: SmtOracle | None = None,
            behaviour: Behaviour | None = None) -> LifecycleRun:
    start = time.perf_counter()
    sem = Semantics(spec, flags, behaviour, oracle)
    rel = Relation.build(sem)
    # QF_FD: every variable has a finite domain, so z3 bit-blasts to SAT; several times
    # faster here than the general solver (benchmarks/bench_prove.py).
    solver = z3.SolverFor("QF_FD")
    inv = houdini(rel, solver, guided_lemmas(sem))
    return LifecycleRun(rel, solver, inv, time.perf_counter() - start)


def prove_lifecycle(spec: Spec, flags: int, oracle: SmtOracle | None = None,
                    behaviour: Behaviour | None = None) -> list[PropertyResult]:
    """L1-L7 under ``flags``: proved by the invariant, or refuted by a concrete run."""
    run = prepare(spec, flags, oracle, behaviour)
    rel, solver = run.rel, run.solver
    bads = bad_conditions(rel)
    results = []
    share = run.seconds / len(bads)
    inductive = _decided_by(run, bads)
    wider: dict[str, bool] | None = None   # the verdicts of the wider invariant, when needed
    unrolled: Unrolling | None = None
    for pid, bad in bads.items():
        start = time.perf_counter()
        trace = None
        if not inductive[pid]:
            # a run of successful SETs reads best; a failed SET's partial path only if needed
            if unrolled is None:
                unrolled = Unrolling(rel)
            trace = unrolled.search(bad, SEARCH_DEPTH, True) or unrolled.search(
                bad, SEARCH_DEPTH, False)
            if trace is None and wider is None:
                # No run found and the guided lemmas were not enough: the strongest
                # invariant over all candidate lemmas.
                run.invariant = houdini(rel, solver)
                wider = _decided_by(run, bads)
        if inductive[pid] or (trace is None and wider is not None and wider[pid]):
            result = PropertyResult(pid, NAMES[pid], flags, PROVED, _method(run))
        elif trace is None:
            result = PropertyResult(
                pid, NAMES[pid], flags, UNDECIDED,
                f"not implied by the inductive invariant, and no run of at most "
                f"{SEARCH_DEPTH} events breaks it: undecided")
        else:
            cex = counterexample(rel, pid, trace)
            result = PropertyResult(
                pid, NAMES[pid], flags, REFUTED,
                f"a run of {len(trace[1])} events from the opened device breaks it "
                "(bounded search from the initial state, shortest first)", [cex],
                explanation=WHY[pid])
        result.seconds = time.perf_counter() - start + share
        results.append(result)
    return results


def _method(run: LifecycleRun) -> str:
    rel = run.rel
    return (f"inductive invariant of {len(run.invariant)} lemmas (Houdini: candidate "
            "lemmas from the spec, each checked by z3 to hold initially and be kept by "
            "every step); the property's violation in one step "
            f"from any state satisfying it is unsat, over {len(rel.alphabet)} event kinds "
            f"and {len(rel.outcome_event)} outcomes: holds for runs of every length")


def _decided_by(run: LifecycleRun, bads: dict[str, z3.BoolRef]) -> dict[str, bool]:
    """Which properties the invariant proves: no bad step from a state satisfying it."""
    solver, rel = run.solver, run.rel
    solver.push()
    try:
        solver.add(rel.step, *[lem(rel.a) for lem in run.invariant])
        return {pid: _check(solver, bad) == z3.unsat for pid, bad in bads.items()}
    finally:
        solver.pop()


# --- counterexamples ----------------------------------------------------------------------------
class Unrolling:
    """Runs from the initial state, unrolled step by step once and shared by every search.

    The general solver: QF_FD answers unknown once new variables arrive after a check. Each
    step has a literal "this step is not a failed SET", assumed when a search avoids them.
    """

    def __init__(self, rel: Relation) -> None:
        self.rel = rel
        self.solver = z3.Solver()
        self.states = [rel.sem.fresh("s0")]
        self.solver.add(rel.sem.initial(self.states[0]))
        self.outs: list[z3.BitVecRef] = []
        self.pairs: list[list] = []
        self.calm: list[z3.BoolRef] = []

    def extend(self, depth: int) -> None:
        rel = self.rel
        while len(self.pairs) < depth:
            i = len(self.pairs)
            nxt = rel.sem.fresh(f"s{i + 1}")
            oi = z3.BitVec(f"o{i}", OUTCOME_BITS)
            pairs = list(zip(rel.a.terms(), self.states[-1].terms())) + list(
                zip(rel.b.terms(), nxt.terms())) + [(rel.o, oi)]
            self.solver.add(z3.substitute(rel.step, *pairs))
            calm = z3.Bool(f"calm{i}")
            self.solver.add(z3.Implies(calm, z3.Not(z3.substitute(rel.failed, *pairs))))
            self.states.append(nxt)
            self.outs.append(oi)
            self.pairs.append(pairs)
            self.calm.append(calm)

    def search(self, bad: z3.BoolRef, depth: int, avoid_failed: bool):
        """The shortest run whose last step satisfies ``bad`` (states, events), or None."""
        rel = self.rel
        for d in range(1, depth + 1):
            self.extend(d)
            assume = [z3.substitute(bad, *self.pairs[d - 1])]
            if avoid_failed:
                assume += self.calm[:d]
            if _check(self.solver, *assume) == z3.sat:
                model = self.solver.model()
                picks = [model.eval(x, model_completion=True).as_long()
                         for x in self.outs[:d]]
                events = [rel.alphabet[rel.outcome_event[p]] for p in picks]
                values = [_state_values(model, st) for st in self.states[:d + 1]]
                return values, events
        return None


def search(rel: Relation, bad: z3.BoolRef, depth: int, avoid_failed: bool = False):
    """The shortest run from the initial state whose last step satisfies ``bad``, or None."""
    return Unrolling(rel).search(bad, depth, avoid_failed)


def _state_values(model: z3.ModelRef, s: LVars) -> dict:
    ev = lambda t: model.eval(t, model_completion=True)  # noqa: E731
    session = "none"
    if z3.is_true(ev(s.live)):
        session = "saving" if z3.is_true(ev(s.sav)) else "resuming"
    fd = ev(s.fdn).as_long()
    return {
        "device_state": str(ev(s.st)),
        "session": session,
        "session_fd": fd if fd else None,
        "eof": z3.is_true(ev(s.eof)),
        "resume_data_accepted": z3.is_true(ev(s.moved)),
        "fd_closed": z3.is_true(ev(s.closed)),
        "dead_fds": [j for j in FDS if z3.is_true(ev(s.dead[j]))],
    }


def vmc_text(spec: Spec, flags: int, events: list[LEvent]) -> str:
    lines = ["# vmc-trace 1", f"# counterexample run, spec {spec.name}",
             f"device {DEVICE} fd=5 flags={flags:#x} state={spec.reset_state}"]
    lines += [e.line(DEVICE) for e in events]
    return "\n".join(lines) + "\n"


def counterexample(rel: Relation, pid: str, trace) -> Counterexample:
    values, events = trace
    sem = rel.sem
    lines = [e.line(DEVICE) for e in events]
    path = tuple(v["device_state"] for v in values[1:])
    detail = (f"the run {' ; '.join(lines)} ends in {values[-1]['device_state']} "
              f"(session {values[-1]['session']}) and its last step breaks {pid}")
    return Counterexample(sem.flags, values[0]["device_state"], values[-1]["device_state"], path,
                          detail, {"events": lines, "states": values,
                                   "vmc": vmc_text(sem.spec, sem.flags, events)})


def lifecycle_for(spec: Spec, flag_sets, oracle: SmtOracle | None = None,
                  behaviour: Behaviour | None = None) -> list[PropertyResult]:
    """L1-L7 for each flag set, in property order then flag order (as ``prove`` lists them)."""
    oracle = oracle or SmtOracle(Encoding(spec))
    by_flags = {f: prove_lifecycle(spec, f, oracle, behaviour) for f in flag_sets}
    ids = list(NAMES)
    return [r for pid in ids for f in flag_sets for r in by_flags[f] if r.id == pid]
