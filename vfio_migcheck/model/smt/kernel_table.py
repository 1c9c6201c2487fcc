"""P10 and table synthesis: the Linux 6.12 next-state table held against the spec's rules.

``load_kernel_table`` reads the kernel's data (vfio_migcheck/data/kernel-6.12-fsm.json, a copy
of vfio_from_fsm_table and friends). ``p10_*`` compare it with the spec; ``synthesize`` asks z3
for every next-hop table whose skip walk (``walk.py``) satisfies the rules under all defined
flag sets, which shows whether the kernel's table is the only one.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import z3

from vfio_migcheck.model.smt.context import ProofContext
from vfio_migcheck.model.smt.encode import all_of, any_of
from vfio_migcheck.model.smt.properties import NAMES, compare_walk
from vfio_migcheck.model.smt.results import (
    NOT_APPLICABLE,
    PROVED,
    REFUTED,
    Counterexample,
    PropertyResult,
)

KERNEL_TABLE_FILE = "kernel-6.12-fsm.json"
FLAG_PREFIX = "VFIO_MIGRATION_"
REJECT = "REJECT"
_problem_ids = itertools.count()


@dataclass(frozen=True)
class KernelTable:
    """The kernel's FSM data. Table cells of ``None`` are ERROR cells (request rejected)."""

    states: dict[str, int]
    flags: dict[str, int]
    state_flags: dict[str, int]
    table: dict[str, dict[str, str | None]]
    required_arcs: dict[int, frozenset[tuple[str, str]]]
    blocked: frozenset[tuple[str, str]]
    session_arcs: dict[tuple[str, str], str]
    error: str = "ERROR"


def kernel_table_path() -> Path:
    return Path(str(resources.files("vfio_migcheck") / "data" / KERNEL_TABLE_FILE))


def load_kernel_table(path: Path | None = None) -> KernelTable:
    data = json.loads((path or kernel_table_path()).read_text(encoding="utf-8"))
    error = next(n for n, v in data["states"].items() if v == 0)
    table = {
        row: {col: (None if cell == error else cell) for col, cell in cols.items()}
        for row, cols in data["next_state_table"].items() if row != error
    }
    sessions = {(a, b): kind for kind, arcs in data["session_arcs"].items() for a, b in arcs}
    return KernelTable(
        states=dict(data["states"]),
        flags={n.removeprefix(FLAG_PREFIX): v for n, v in data["flags"].items()},
        state_flags=dict(data["state_flags"]),
        table=table,
        required_arcs={int(k, 16): frozenset(map(tuple, v))
                       for k, v in data["required_arcs"].items()},
        blocked=frozenset(map(tuple, data["blocked"])),
        session_arcs=sessions,
        error=error,
    )


def inapplicable_reason(ctx: ProofContext, kt: KernelTable) -> str | None:
    """Why the kernel's table says nothing about this spec (None: it applies)."""
    spec = ctx.spec
    ours = {n: s.value for n, s in spec.states.items()}
    if ours != kt.states:
        return (f"not applicable: spec {spec.name} has states {ours}, the Linux 6.12 table "
                f"has {kt.states}")
    if any(kt.flags.get(n, bit) != bit for n, bit in spec.flags.items()):
        return f"not applicable: spec {spec.name} numbers its flags differently from Linux 6.12"
    return None


def kernel_usable(kt: KernelTable, flags: int) -> set[str]:
    """The kernel's state_flags rule; flag bits it does not know are ignored."""
    known = flags & sum(kt.flags.values())
    return {s for s, need in kt.state_flags.items()
            if s != kt.error and need & known == need}


def p10_walk(ctx: ProofContext, kt: KernelTable, flags: int) -> PropertyResult:
    """Every request under ``flags``: the kernel's walk against the spec's rules."""
    enc = ctx.enc
    cexs: list[Counterexample] = []
    usable_kernel = kernel_usable(kt, flags)
    usable_spec = set(ctx.usable(flags))
    if usable_kernel != usable_spec:
        cexs.append(Counterexample(flags, "-", "-", None,
                                   f"usable states differ: kernel {sorted(usable_kernel)}, "
                                   f"spec {sorted(usable_spec)}"))
    agreed, walk_cexs = compare_walk(ctx, flags, kt.table)
    cexs += walk_cexs
    known = flags & sum(kt.flags.values())
    required = kt.required_arcs.get(known)
    lits = enc.flag_literals(flags)
    arc_note = ""
    if required is not None:
        granted = {arc for arc, cond in enc.arc_exists.items() if enc.entails(lits, cond)}
        for a, b in sorted(required - granted):
            cexs.append(Counterexample(flags, a, b, (b,),
                                       "the kernel requires this single arc; the spec lacks it"))
        for a, b in sorted(granted - required):
            cexs.append(Counterexample(flags, a, b, (b,),
                                       "the spec grants this single arc; the kernel does not "
                                       "require it"))
        arc_note = f"; single arcs compared with the kernel's {len(required)} required arcs"
    method = (f"the kernel's walk agrees with the spec's rules on {agreed} of "
              f"{len(ctx.requests(flags))} requests{arc_note}")
    return PropertyResult("P10", NAMES["P10"], flags, REFUTED if cexs else PROVED, method, cexs,
                          "" if not cexs else
                          "Linux 6.12 does something else than the spec's rules here.")


def p10_data(ctx: ProofContext, kt: KernelTable) -> PropertyResult:
    """Flag-independent data: usable-state masks, session effects of arcs, blocked cells."""
    spec, enc = ctx.spec, ctx.enc
    cexs: list[Counterexample] = []
    for name, st in spec.states.items():
        want = kt.state_flags.get(name)
        ours = 0xFFFFFFFF if st.error else sum(
            spec.flags[f] for f in st.requires | spec.mandatory_flags)
        if want != ours:
            cexs.append(Counterexample(0, name, name, None,
                                       f"state_flags: kernel {want:#x}, spec {ours:#x}"))
    # The kernel knows only its own flags: compare under those (extra spec flags clear).
    flags = ctx.full_flags & sum(kt.flags.values())
    lits = enc.flag_literals(flags)
    kernel_arcs = kt.required_arcs.get(flags, frozenset())
    for src, dst, cond, session in enc.arc_decls:
        kernel = kt.session_arcs.get((src, dst), "none")
        if (src, dst) in kernel_arcs and enc.entails(lits, cond) and kernel != session:
            cexs.append(Counterexample(flags, src, dst, (dst,),
                                       f"session effect: kernel {kernel}, spec {session}"))
    spec_blocked = {(a, b) for a, b in ctx.requests(flags)
                    if ctx.answer(flags, a, b).reason == "blocked"}
    for a, b in sorted(kt.blocked ^ spec_blocked):
        side = "kernel" if (a, b) in kt.blocked else "spec"
        cexs.append(Counterexample(flags, a, b, None, f"only the {side} blocks it"))
    method = ("state masks, the session effect of each of the kernel's arcs and the blocked "
              f"requests under {flags:#x} compared with the kernel's data")
    return PropertyResult("P10", NAMES["P10"], None, REFUTED if cexs else PROVED, method, cexs,
                          "" if not cexs else "The spec's data differ from Linux 6.12's.")


def p10_not_applicable(why: str) -> PropertyResult:
    return PropertyResult("P10", NAMES["P10"], None, NOT_APPLICABLE, why)


def words_vs_kernel(ctx: ProofContext, kt: KernelTable) -> list[Counterexample]:
    """Every request where the uAPI's plain words (no refinements) and Linux 6.12 differ."""
    out: list[Counterexample] = []
    for flags in ctx.spec.defined_flag_sets:
        out += compare_walk(ctx, flags, kt.table, refinements=False)[1]
    return out


# --- table synthesis ----------------------------------------------------------------------------
@dataclass
class TableVerdict:
    """What z3 says about next-hop tables for one rule set (words or refined)."""

    rules: str
    exists: bool
    cells: int
    requirements: int
    table: dict[str, dict[str, str | None]] = field(default_factory=dict)
    kernel_satisfies: bool | None = None
    unique: bool | None = None
    reference: str = ""
    alternatives: dict[str, list[str]] = field(default_factory=dict)
    conflict: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {
            "rules": self.rules, "table_exists": self.exists, "cells": self.cells,
            "requirements": self.requirements, "kernel_table_satisfies": self.kernel_satisfies,
            "unique": self.unique, "compared_with": self.reference,
            "alternatives": self.alternatives, "conflict": self.conflict,
            "seconds": round(self.seconds, 4),
        }


class _TableProblem:
    """Unknown cells T(cur, target) and, per (flags, request), the walk they induce."""

    def __init__(self, ctx: ProofContext, refinements: bool) -> None:
        self.ctx = ctx
        self.uid = next(_problem_ids)  # z3 sort and constant names must be fresh per problem
        spec = ctx.spec
        self.names = [n for n in ctx.enc.state_names if not spec.states[n].error]
        self.sort, consts = z3.EnumSort(f"Hop{self.uid}", [*self.names, REJECT])
        self.const = dict(zip([*self.names, REJECT], consts))
        self.cell = z3.Function(f"T{self.uid}", self.sort, self.sort, self.sort)
        self.targets = [b for b in self.names if ctx.enc.requestable[b]]
        self.cells = [(c, b) for b in self.targets for c in self.names if c != b]
        self.solver = z3.Solver()
        self.tracks: dict[z3.BoolRef, tuple[int, str, str, str]] = {}
        self._fresh = 0
        self._stops: dict[int, z3.FuncDeclRef] = {}
        for flags in spec.defined_flag_sets:
            for a, b in ctx.requests(flags):
                self._require(flags, a, b, refinements)

    def var(self) -> z3.ExprRef:
        self._fresh += 1
        return z3.Const(f"h{self.uid}_{self._fresh}", self.sort)

    def T(self, cur: z3.ExprRef, target: str) -> z3.ExprRef:
        return self.cell(cur, self.const[target])

    def stops(self, flags: int) -> z3.FuncDeclRef:
        """Where the skip walk under ``flags`` stops: a usable state or REJECT.

        One predicate per flag set, fixed by a fact per value, keeps each hop's formula small.
        """
        if flags not in self._stops:
            stop = z3.Function(f"stop{self.uid}_{flags}", self.sort, z3.BoolSort())
            usable = set(self.ctx.usable(flags)) | {REJECT}
            for name, const in self.const.items():
                self.solver.add(stop(const) == z3.BoolVal(name in usable))
            self._stops[flags] = stop
        return self._stops[flags]

    def _hop(self, cur: z3.ExprRef, target: str, stop: z3.FuncDeclRef, unusable: int,
             track: z3.BoolRef) -> z3.ExprRef:
        """One next_step call: look up the cell, then skip unusable states."""
        step = self.var()
        self.solver.add(step == self.T(cur, target))
        for _ in range(unusable):
            nxt = self.var()
            self.solver.add(nxt == z3.If(stop(step), step, self.T(step, target)))
            step = nxt
        # A table whose skip walk runs out of states without stopping loops in the kernel.
        self.solver.add(z3.Implies(track, stop(step)))
        return step

    def _require(self, flags: int, a: str, b: str, refinements: bool) -> None:
        ctx = self.ctx
        stop = self.stops(flags)
        unusable = len(self.names) - len(ctx.usable(flags))
        ans = ctx.answer(flags, a, b, refinements)
        track = z3.Bool(f"req{self.uid}_{flags}_{a}_{b}")
        if ans.ok:
            paths = [p[1:] for p in ans.shortest]
            cur: z3.ExprRef = self.const[a]
            hops = []
            for _ in range(len(paths[0])):
                nxt = self.var()
                self.solver.add(z3.Implies(track, nxt == z3.If(
                    cur == self.const[b], cur, self._hop(cur, b, stop, unusable, track))))
                hops.append(nxt)
                cur = nxt
            need = any_of([all_of([h == self.const[s] for h, s in zip(hops, p)]) for p in paths])
            what = "go " + " | ".join(" -> ".join((a, *p)) for p in paths)
        else:
            need = self._hop(self.const[a], b, stop, unusable, track) == self.const[REJECT]
            what = f"reject ({ans.reason})"
        self.solver.add(z3.Implies(track, need))
        self.tracks[track] = (flags, a, b, what)

    def table_of(self, model: z3.ModelRef) -> dict[str, dict[str, str | None]]:
        out: dict[str, dict[str, str | None]] = {}
        for c, b in self.cells:
            value = str(model.eval(self.T(self.const[c], b), model_completion=True))
            out.setdefault(c, {})[b] = None if value == REJECT else value
        return out

    def equals(self, table: dict[str, dict[str, str | None]], cells) -> list[z3.BoolRef]:
        return [self.T(self.const[c], b) == self.const[table[c][b] or REJECT] for c, b in cells]


def synthesize(ctx: ProofContext, refinements: bool, kernel: KernelTable | None
               ) -> TableVerdict:
    """Is there a next-hop table for these rules; is the kernel's one; is it the only one?"""
    start = time.perf_counter()
    problem = _TableProblem(ctx, refinements)
    solver, tracks = problem.solver, list(problem.tracks)
    verdict = TableVerdict("refined" if refinements else "words", False, len(problem.cells),
                           len(tracks))
    if solver.check(*tracks) == z3.unsat:
        verdict.conflict = [
            {"flags": f"{f:#x}", "from": a, "to": b, "rules_require": what}
            # z3's unsat core: requirements that cannot hold together. Not shrunk further:
            # proving a smaller subset satisfiable means solving for a whole table each time.
            for f, a, b, what in (problem.tracks[t] for t in solver.unsat_core())
        ]
        verdict.seconds = time.perf_counter() - start
        return verdict
    verdict.exists = True
    verdict.table = problem.table_of(solver.model())
    reference = verdict.table
    verdict.reference = "the table z3 found"
    if kernel is not None:
        pins = problem.equals(kernel.table, problem.cells)
        verdict.kernel_satisfies = solver.check(*tracks, *pins) == z3.sat
        if verdict.kernel_satisfies:
            reference, verdict.reference = kernel.table, "the Linux 6.12 table"
    differs = any_of([z3.Not(p) for p in problem.equals(reference, problem.cells)])
    verdict.unique = solver.check(*tracks, differs) == z3.unsat
    if not verdict.unique:
        for c, b in problem.cells:
            values = []
            solver.push()
            solver.add(z3.Not(problem.equals(reference, [(c, b)])[0]))
            while solver.check(*tracks) == z3.sat:
                value = str(solver.model().eval(problem.T(problem.const[c], b),
                                                model_completion=True))
                values.append(value)
                solver.add(problem.T(problem.const[c], b) != problem.const[value])
            solver.pop()
            if values:
                verdict.alternatives[f"{c}->{b}"] = [reference[c][b] or REJECT, *values]
    verdict.seconds = time.perf_counter() - start
    return verdict

