"""Compile a spec into z3: states, flag bits, arcs, bounded paths, session effects, path rules.

Everything here is built once per spec and then queried many times with assumptions, because
building z3 expressions from Python costs far more than solving these small problems.

Why a bound of k = (number of non-error states - 1) arcs is enough: a *shortest* path that
satisfies the path rules never visits a state twice. The rules only ask which states sit in
the interior of a path (no_interior groups), whether every state of the path lies in one
group (refinement K1), and what the two ends are (blocked requests). Cutting a loop out of a
rule-abiding path keeps its ends, removes interior states and keeps "all states in the
group" true, so the shorter path is rule-abiding too. A path without repeated states has at
most one arc fewer than there are states that can be on it, and ERROR is never on one.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

import z3

from vfio_migcheck.model.spec import Condition, Spec

SESSION_KINDS = ("creates_saving", "creates_resuming", "ends_saving", "ends_resuming", "keeps")

_sort_ids = itertools.count()


def _terms(items: tuple) -> list:
    if len(items) == 1 and isinstance(items[0], (list, tuple)):
        return list(items[0])
    return list(items)


def any_of(*items) -> z3.BoolRef:
    """Disjunction that is plainly False when empty (z3's empty Or is not safe to assume)."""
    terms = _terms(items)
    if not terms:
        return z3.BoolVal(False)
    return terms[0] if len(terms) == 1 else z3.Or(terms)


def all_of(*items) -> z3.BoolRef:
    """Conjunction that is plainly True when empty."""
    terms = _terms(items)
    if not terms:
        return z3.BoolVal(True)
    return terms[0] if len(terms) == 1 else z3.And(terms)


class Encoding:
    """The spec as z3 terms, plus one incremental solver holding the path constraints.

    Free variables: one Bool per spec flag, ``use_refinements`` (the spec's path refinements
    apply when true, the uAPI's plain words when false), the path states ``x[0..k]`` and
    ``act[0..k-1]`` (arc ``i`` is taken). Untaken positions repeat the last state, so
    ``x[k]`` is always the path's end and the path has ``sum(act)`` arcs.
    """

    def __init__(self, spec: Spec, bound: int | None = None) -> None:
        """``bound`` overrides the path bound; only tests that the default loses nothing use it."""
        self.spec = spec
        self.state_names: list[str] = sorted(spec.states, key=lambda s: spec.states[s].value)
        # A fresh sort name per encoding: z3 keeps datatypes per context, and two specs may
        # be encoded in one process (tests, --spec next to the built-in one).
        self.sort, consts = z3.EnumSort(f"State{next(_sort_ids)}", self.state_names)
        self.const: dict[str, z3.ExprRef] = dict(zip(self.state_names, consts))
        self.flag: dict[str, z3.BoolRef] = {n: z3.Bool(f"flag_{n}") for n in spec.flags}
        self.use_refinements = z3.Bool("use_refinements")
        self.defined = all_of([self.flag[f] for f in sorted(spec.mandatory_flags)])

        self.usable = {name: self.usable_term(name) for name in self.state_names}
        self.requestable = {
            n: spec.states[n].requestable and not spec.states[n].error for n in self.state_names
        }

        # Each declared arc with its full existence condition (flags and usable ends).
        self.arc_decls: list[tuple[str, str, z3.BoolRef, str]] = []
        for arc in spec.arcs:
            cond = all_of(self.condition(arc.condition), self.usable[arc.src],
                          self.usable[arc.dst])
            self.arc_decls.append((arc.src, arc.dst, cond, arc.session))
        self.arc_exists: dict[tuple[str, str], z3.BoolRef] = {}
        for src, dst, cond, _ in self.arc_decls:
            prior = self.arc_exists.get((src, dst))
            self.arc_exists[(src, dst)] = cond if prior is None else any_of(prior, cond)

        self.bound = self.default_bound(spec) if bound is None else bound
        k = self.bound
        self.x = [z3.Const(f"x{i}", self.sort) for i in range(k + 1)]
        self.act = [z3.Bool(f"act{i}") for i in range(k)]
        self.member = {
            g: [self._in(members, xi) for xi in self.x] for g, members in spec.groups.items()
        }
        self.effect = [
            {kind: self._effect_at(i, kind) for kind in SESSION_KINDS} for i in range(k)
        ]
        self.start, self.end = self.x[0], self.x[k]
        self.blocked_path = any_of([
            all_of(self.start == self.const[b.src], self.end == self.const[b.dst],
                   self.condition(b.condition))
            for b in spec.blocked
        ])
        self.request_ok = all_of(
            self.state_is(self.start, lambda n: self.usable[n]),
            self.state_is(self.end, lambda n: all_of(self.usable[n], self.requestable[n])),
            z3.Not(self.blocked_path),
        )
        # Literal names for "x[i] is state n": z3 answers assumption queries several times
        # faster when every assumption is a plain literal.
        self.at = [{n: z3.Bool(f"at{i}_{n}") for n in self.state_names} for i in range(k + 1)]
        # The general solver: on these queries its models come out several times cheaper
        # than QF_FD's, and models are read after most checks (benchmarks/bench_prove.py).
        self.solver = z3.Solver()
        self.solver.add(*self.path_constraints())
        for i, xi in enumerate(self.x):
            self.solver.add(*[self.at[i][n] == (xi == self.const[n]) for n in self.state_names])

    @staticmethod
    def default_bound(spec: Spec) -> int:
        """Arcs on a path without repeated states: one fewer than the non-error states."""
        return max(0, sum(1 for s in spec.states.values() if not s.error) - 1)

    def usable_term(self, name: str) -> z3.BoolRef:
        """The kernel's state_flags rule; the error state's mask can never be met."""
        state = self.spec.states[name]
        if state.error:
            return z3.BoolVal(False)
        return all_of([self.defined, *[self.flag[f] for f in sorted(state.requires)]])

    # --- building blocks -------------------------------------------------------------------
    def condition(self, cond: Condition) -> z3.BoolRef:
        parts = [self.flag[f] for f in sorted(cond.requires)]
        parts += [z3.Not(self.flag[f]) for f in sorted(cond.forbids)]
        return all_of(parts)

    def _in(self, members: Iterable[str], term: z3.ExprRef) -> z3.BoolRef:
        return any_of([term == self.const[m] for m in sorted(members)])

    def state_is(self, term: z3.ExprRef, pred) -> z3.BoolRef:
        """``pred(state)`` for the state that ``term`` denotes (a finite case split)."""
        return any_of([all_of(term == self.const[n], pred(n)) for n in self.state_names])

    def _effect_at(self, i: int, kind: str) -> z3.BoolRef:
        return all_of(self.act[i], any_of([
            all_of(self.x[i] == self.const[src], self.x[i + 1] == self.const[dst], cond)
            for src, dst, cond, session in self.arc_decls if session == kind
        ]))

    def step(self, i: int) -> z3.BoolRef:
        """Arc ``i`` of the path is an arc that exists under the flags."""
        return any_of([
            all_of(self.x[i] == self.const[src], self.x[i + 1] == self.const[dst], cond)
            for (src, dst), cond in self.arc_exists.items()
        ])

    def refined(self, group: str) -> z3.BoolRef:
        """The spec's refinements let this path keep ``group`` states in its interior."""
        options = []
        for ref in self.spec.path.refinements:
            if ref.group == group and ref.kind == "interior_allowed_within_group":
                options.append(all_of(self.member[group]))
        return all_of(self.use_refinements, any_of(options))

    def interior_ok(self, i: int) -> z3.BoolRef:
        return all_of([
            z3.Implies(self.member[g][i], self.refined(g)) for g in self.spec.path.no_interior
        ])

    def path_constraints(self) -> list[z3.BoolRef]:
        """A rule-abiding path of at most ``bound`` arcs (no 'shortest' here)."""
        k = self.bound
        out: list[z3.BoolRef] = []
        for i in range(k):
            out.append(z3.If(self.act[i], self.step(i), self.x[i + 1] == self.x[i]))
            if i + 1 < k:
                out.append(z3.Implies(self.act[i + 1], self.act[i]))
            if i >= 1:
                # x[i] is interior exactly when an arc leaves it (and one enters it: i >= 1).
                out.append(z3.Implies(self.act[i], self.interior_ok(i)))
        return out

    def blocked_request(self, src: str, dst: str) -> z3.BoolRef:
        """The spec blocks ``SET dst`` in ``src``: a condition on the flags alone.

        Kept apart from the path variables on purpose: with the ends pinned, an unreachable
        pair leaves no model at all, and every claim about it would hold vacuously.
        """
        return any_of([self.condition(b.condition) for b in self.spec.blocked
                       if (b.src, b.dst) == (src, dst)])

    # --- assumptions ---------------------------------------------------------------------------
    def flag_literals(self, flags: int) -> list[z3.BoolRef]:
        """The flag bits of ``flags`` as literals; bits no flag defines are ignored."""
        return [
            self.flag[n] if flags & bit else z3.Not(self.flag[n])
            for n, bit in self.spec.flags.items()
        ]

    def rules(self, refinements: bool) -> z3.BoolRef:
        return self.use_refinements if refinements else z3.Not(self.use_refinements)

    def length_eq(self, n: int) -> list[z3.BoolRef]:
        out = []
        if n > 0:
            out.append(self.act[n - 1])
        if n < self.bound:
            out.append(z3.Not(self.act[n]))
        return out

    def length_le(self, n: int) -> list[z3.BoolRef]:
        return [z3.Not(self.act[n])] if n < self.bound else []

    def path_is(self, states: Sequence[str]) -> list[z3.BoolRef]:
        """Pin the path to ``states`` (first state included)."""
        n = len(states) - 1
        pins = [self.at[i][s] for i, s in enumerate(states)]
        pins += [self.at[i][states[-1]] for i in range(n + 1, self.bound + 1)]
        return pins + self.length_eq(n)

    def endpoints(self, src: str, dst: str) -> list[z3.BoolRef]:
        return [self.at[0][src], self.at[self.bound][dst]]

    # --- reading models -----------------------------------------------------------------------
    def path_in(self, model: z3.ModelRef, length: int | None = None) -> tuple[str, ...]:
        """The path of a model, first state included (``length``: its arcs, if known)."""
        if length is None:
            length = sum(1 for a in self.act if z3.is_true(model.eval(a, model_completion=True)))
        return tuple(str(model.eval(self.x[i], model_completion=True))
                     for i in range(length + 1))

    def check(self, *assumptions: z3.BoolRef) -> z3.CheckSatResult:
        result = self.solver.check(*assumptions)
        if result == z3.unknown:  # pragma: no cover - finite problems; would be a z3 bug
            raise RuntimeError(f"z3 returned unknown: {self.solver.reason_unknown()}")
        return result

    def entails(self, assumptions: Sequence[z3.BoolRef], claim: z3.BoolRef) -> bool:
        """Does ``claim`` hold in every model of the constraints and ``assumptions``?

        Meant for claims about the flags: the path constraints always have a model then
        (the empty path), so the answer is never vacuous.
        """
        return self.check(*assumptions, z3.Not(claim)) == z3.unsat
