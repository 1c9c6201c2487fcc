"""Properties P1-P9 of combination transitions, each proved or refuted with z3.

A property is PROVED when z3 finds its negation unsatisfiable over every rule-abiding path of
at most ``bound`` arcs (see ``encode.py`` for why that bound loses nothing), and REFUTED with
every counterexample otherwise. P10 (the kernel's table) lives in ``kernel_table.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import z3

from vfio_migcheck.model.smt.context import ProofContext
from vfio_migcheck.model.smt.encode import all_of, any_of
from vfio_migcheck.model.smt.results import (
    NOT_APPLICABLE,
    PROVED,
    REFUTED,
    Counterexample,
    PropertyResult,
)
from vfio_migcheck.model.smt.walk import walk

NAMES = {
    "P1": "combination paths use only arcs that exist under the flags",
    "P2": "no rule-abiding path is shorter than the chosen one",
    "P3": "no saving-group state inside a path (the uAPI's words)",
    "P4": "a SET creates at most one session, on its final arc, and ends at most one, "
          "on its first",
    "P5": "no successful SET passes through or ends in ERROR",
    "P6": "every pair of usable states is reachable, except the blocked ones",
    "P7": "the chosen shortest path is the only shortest rule-abiding path",
    "P8": "the full flag set's next-hop table with skipping gives each reduced flag set's "
          "shortest path",
    "P9": "optional states are invisible to a user of the mandatory-flag states",
    "P10": "the Linux 6.12 next-state table agrees with the spec's rules",
}


def _result(pid: str, flags: int | None, method: str, cexs: list[Counterexample],
            explanation: str = "", notes: list[str] | None = None) -> PropertyResult:
    return PropertyResult(pid, NAMES[pid], flags, REFUTED if cexs else PROVED, method, cexs,
                          explanation if cexs else "", notes=notes or [])


def _bound_text(ctx: ProofContext) -> str:
    return f"paths of at most k = {ctx.enc.bound} arcs"


def arrow(states) -> str:
    return " -> ".join(states)


def session_summary(effects: list[str]) -> str:
    """Net session effect of a SET in words, e.g. 'ends saving, creates resuming'."""
    parts = [e.replace("_", " ") for e in effects if e not in ("none", "keeps")]
    if parts:
        return ", ".join(parts)
    return "keeps the open session" if "keeps" in effects else "no session change"


# --- P1 -----------------------------------------------------------------------------------------
def p1_arcs_exist(ctx: ProofContext, flags: int) -> PropertyResult:
    enc = ctx.enc
    lits = enc.flag_literals(flags)
    paths = []
    for a, b in ctx.requests(flags):
        ans = ctx.chosen(flags, a, b)
        if ans.ok and ans.steps:
            paths.append((a, *ans.path))

    def missing(states: tuple[str, ...]) -> z3.BoolRef:
        return any_of([z3.Not(enc.arc_exists.get(arc, z3.BoolVal(False)))
                      for arc in zip(states, states[1:])])

    cexs = []
    if enc.check(*lits, any_of([missing(p) for p in paths])) == z3.sat:
        for p in paths:
            bad = [f"{s} -> {t}" for s, t in zip(p, p[1:])
                   if not enc.entails(lits, enc.arc_exists.get((s, t), z3.BoolVal(False)))]
            if bad:
                cexs.append(Counterexample(flags, p[0], p[-1], p[1:],
                                           f"arc(s) {', '.join(bad)} do not exist under "
                                           f"{flags:#x}", {"missing_arcs": bad}))
    method = (f"negation: some arc of the {len(paths)} paths the graph model chooses is "
              "missing from the SMT arc relation under these flags")
    return _result("P1", flags, method, cexs,
                   "The graph model chose a path through an arc the spec does not grant under "
                   "these flags; the two compilations of the spec disagree.")


# --- P2 -----------------------------------------------------------------------------------------
def p2_no_shorter(ctx: ProofContext, flags: int) -> PropertyResult:
    enc = ctx.enc
    claims, chosen_len = [], {}
    for a, b in ctx.requests(flags):
        ans = ctx.chosen(flags, a, b)
        ends = [enc.at[0][a], enc.at[enc.bound][b]]
        if ans.ok:
            chosen_len[(a, b)] = len(ans.steps)
            claims.append(all_of(*ends, *enc.length_le(len(ans.steps) - 1)))
        elif ans.reason.value == "unreachable":
            chosen_len[(a, b)] = None
            claims.append(all_of(*ends))
    found = ctx.find_all([*enc.flag_literals(flags), enc.rules(True)], any_of(claims))
    cexs = []
    for p in found:
        had = chosen_len[(p[0], p[-1])]
        said = "says no path exists" if had is None else f"chose {had} arc(s)"
        cexs.append(Counterexample(flags, p[0], p[-1], p[1:],
                                   f"a rule-abiding path of {len(p) - 1} arc(s) exists; the "
                                   f"model {said}"))
    method = (f"negation: a rule-abiding path shorter than one of the {len(claims)} chosen "
              f"answers (or one where the model finds none); {_bound_text(ctx)}")
    return _result("P2", flags, method, cexs,
                   "The graph model's answer is not a shortest rule-abiding path.")


# --- P3 -----------------------------------------------------------------------------------------
def p3_no_interior(ctx: ProofContext, flags: int) -> PropertyResult:
    enc, spec = ctx.enc, ctx.spec
    groups = spec.path.no_interior
    inside = any_of([all_of(enc.act[i], enc.member[g][i])
                    for i in range(1, enc.bound) for g in groups])
    found = ctx.find_all([*enc.flag_literals(flags), enc.rules(True)],
                         all_of(ctx.shortest_constraint(flags), inside))
    cexs = []
    for p in found:
        interior = [s for s in p[1:-1] if any(s in spec.groups[g] for g in groups)]
        words = ctx.answer(flags, p[0], p[-1], refinements=False)
        extra = {"interior": interior}
        if words.ok:
            wpath = words.chosen
            extra["words_path"] = list(wpath[1:])
            extra["words_effects"] = session_summary(ctx.oracle.effects(flags, wpath))
            alt = (f"the words alone give {arrow(wpath)} ({len(wpath) - 1} arcs: "
                   f"{extra['words_effects']})")
        else:
            alt = f"the words alone reject it ({words.reason})"
        extra["effects"] = session_summary(ctx.oracle.effects(flags, p))
        cexs.append(Counterexample(flags, p[0], p[-1], p[1:],
                                   f"{', '.join(interior)} inside the path ({extra['effects']});"
                                   f" {alt}", extra))
    why = [f"{r.id}: {' '.join(r.text.split())} [{r.cite}]" for r in spec.path.refinements]
    explanation = ("The uAPI's words (" + (spec.path.cite or "the spec's path rules") + ") allow "
                   f"{', '.join(groups)} states only at the start or the end of a combination "
                   "path. The spec's rules, which reproduce the kernel, let such a state sit "
                   "inside a path here. " + " ".join(why))
    method = (f"negation: a shortest rule-abiding path (ties included) with a "
              f"{'/'.join(groups) or 'no_interior'} state inside; {_bound_text(ctx)}")
    result = _result("P3", flags, method, cexs, explanation)
    if groups != ("saving",):  # name the spec's own groups, not Linux's
        result.name = (f"no {'/'.join(groups) or 'no_interior'}-group state inside a path "
                       "(the uAPI's words)")
    return result


# --- P4 -----------------------------------------------------------------------------------------
def _creates(enc, i: int) -> z3.BoolRef:
    return any_of(enc.effect[i]["creates_saving"], enc.effect[i]["creates_resuming"])


def _ends(enc, i: int) -> z3.BoolRef:
    return any_of(enc.effect[i]["ends_saving"], enc.effect[i]["ends_resuming"])


def p4_session_once(ctx: ProofContext, flags: int) -> PropertyResult:
    enc = ctx.enc
    k = enc.bound
    bad = any_of(
        [all_of(_creates(enc, i), enc.act[i + 1]) for i in range(k - 1)]
        + [_ends(enc, i) for i in range(1, k)]
    )
    found = ctx.find_all([*enc.flag_literals(flags), enc.rules(True)],
                         all_of(ctx.shortest_constraint(flags), bad))
    cexs = []
    for p in found:
        effects = ctx.oracle.effects(flags, p)
        where = [f"arc {i + 1} {p[i]} -> {p[i + 1]}: {e}" for i, e in enumerate(effects)
                 if e.startswith(("creates_", "ends_"))]
        cexs.append(Counterexample(flags, p[0], p[-1], p[1:], "; ".join(where),
                                   {"effects": effects}))
    method = ("negation: a shortest rule-abiding path (ties included) that creates a session "
              f"before its final arc or ends one after its first; {_bound_text(ctx)}")
    return _result("P4", flags, method, cexs,
                   "A SET returns at most one data fd, and drivers refuse an fd from any arc "
                   "but the last (e.g. drivers/vfio/pci/mlx5/main.c:1250-1254, Linux 6.12.118); a "
                   "path that opens a session earlier, or "
                   "ends one later than its first arc, cannot be run by a conforming driver.")


# --- P5 -----------------------------------------------------------------------------------------
def p5_no_error(ctx: ProofContext, flags: int) -> PropertyResult:
    enc, spec = ctx.enc, ctx.spec
    error = spec.error_state
    if error is None:
        return PropertyResult("P5", NAMES["P5"], flags, PROVED,
                              "vacuous: the spec declares no error state")
    touches = any_of([enc.at[i][error] for i in range(enc.bound + 1)])
    found = ctx.find_all(enc.flag_literals(flags), all_of(enc.request_ok, touches))
    cexs = [Counterexample(flags, p[0], p[-1], p[1:], f"a rule-abiding path enters {error}")
            for p in found]
    for a, b in ctx.requests(flags):
        ans = ctx.chosen(flags, a, b)
        if ans.ok and error in ans.path:
            cexs.append(Counterexample(flags, a, b, tuple(ans.path),
                                       f"the graph model's path enters {error}"))
    method = (f"negation: any rule-abiding path (not only a shortest; words or refined rules) "
              f"of a valid request that touches {error}, or a path the graph model chooses "
              f"through it; {_bound_text(ctx)}")
    return _result("P5", flags, method, cexs,
                   f"A successful SET may not move the device through {error}.")


def p5_any_flags(ctx: ProofContext) -> PropertyResult:
    """P5 at once for every subset of the spec's flags (reserved and undefined ones too)."""
    enc, spec = ctx.enc, ctx.spec
    error = spec.error_state
    if error is None:
        return PropertyResult("P5", NAMES["P5"], None, PROVED,
                              "vacuous: the spec declares no error state")
    touches = any_of([enc.at[i][error] for i in range(enc.bound + 1)])
    cexs = []
    enc.solver.push()
    try:
        enc.solver.add(all_of(enc.request_ok, touches))
        while len(cexs) < 20 and enc.check() == z3.sat:
            model = enc.solver.model()
            path = enc.path_in(model)
            flags = sum(bit for name, bit in spec.flags.items()
                        if z3.is_true(model.eval(enc.flag[name], model_completion=True)))
            cexs.append(Counterexample(flags, path[0], path[-1], path[1:],
                                       f"a rule-abiding path enters {error}"))
            enc.solver.add(z3.Not(all_of(enc.at[0][path[0]], enc.at[enc.bound][path[-1]])))
    finally:
        enc.solver.pop()
    method = (f"negation with the flags left free: under any of the "
              f"{2 ** len(spec.flags)} flag subsets, any rule-abiding path of a valid request "
              f"that touches {error}; {_bound_text(ctx)}")
    return _result("P5", None, method, cexs,
                   f"A successful SET may not move the device through {error}.")


# --- P6 -----------------------------------------------------------------------------------------
def p6_totality(ctx: ProofContext, flags: int) -> PropertyResult:
    cexs, blocked, witnessed = [], [], 0
    for a, b in ctx.requests(flags):
        ans = ctx.answer(flags, a, b)
        if ans.reason == "blocked":
            words = ctx.oracle.shortest_paths(flags, a, b)
            blocked.append(f"{a} -> {b} is blocked" + (
                f" although {arrow(words[0])} would abide by the rules" if words else ""))
        elif ans.reason == "unreachable":
            cexs.append(Counterexample(flags, a, b, None,
                                       f"no rule-abiding path of at most {ctx.enc.bound} arcs"))
        else:
            witnessed += 1
    method = (f"z3 finds a witness path for each of {witnessed} request(s) and none for "
              f"{len(cexs)}; {len(blocked)} blocked request(s) exempt; {_bound_text(ctx)}")
    return _result("P6", flags, method, cexs,
                   "Some pair of usable states cannot be connected by any rule-abiding path, "
                   "and the spec does not list the request as blocked.", notes=blocked)


# --- P7 -----------------------------------------------------------------------------------------
def p7_unique(ctx: ProofContext, flags: int) -> PropertyResult:
    enc = ctx.enc
    others = []
    for a, b in ctx.requests(flags):
        ans = ctx.chosen(flags, a, b)
        if ans.ok and ans.steps:
            states = (a, *ans.path)
            others.append(all_of(enc.at[0][a], enc.at[enc.bound][b],
                                 *enc.length_eq(len(states) - 1),
                                 z3.Not(all_of(enc.path_is(states)))))
    found = ctx.find_all([*enc.flag_literals(flags), enc.rules(True)], any_of(others))
    cexs = []
    for p in found:
        chosen = ctx.chosen(flags, p[0], p[-1])
        ties = [list(t) for t in ctx.oracle.shortest_paths(flags, p[0], p[-1])]
        cexs.append(Counterexample(flags, p[0], p[-1], tuple(chosen.path),
                                   f"{len(ties)} shortest rule-abiding paths: "
                                   + "; ".join(arrow(t) for t in ties), {"ties": ties}))
    method = ("negation: another rule-abiding path with the chosen path's ends and length; "
              f"{_bound_text(ctx)}")
    return _result("P7", flags, method, cexs,
                   "The rules leave a choice between equally short paths; the model takes the "
                   "one with the smallest state numbers, a driver may take another.")


# --- P8 -----------------------------------------------------------------------------------------
def spec_table(ctx: ProofContext, flags: int) -> dict[str, dict[str, str | None]]:
    """The next-hop table the spec's rules give under ``flags``: first state of each path."""
    table: dict[str, dict[str, str | None]] = {}
    usable = ctx.usable(flags)
    for a in usable:
        row = table.setdefault(a, {})
        for b in usable:
            if a == b:
                row[b] = a
                continue
            ans = ctx.answer(flags, a, b)
            row[b] = ans.chosen[1] if ans.ok and ans.chosen else None
    return table


def compare_walk(ctx: ProofContext, flags: int, table, refinements: bool = True
                 ) -> tuple[int, list[Counterexample]]:
    """Run the skip walk of ``table`` under ``flags`` on every request; list disagreements."""
    usable = set(ctx.usable(flags))
    cexs, agreed = [], 0
    for a, b in ctx.requests(flags):
        result = walk(table, usable, a, b)
        ans = ctx.answer(flags, a, b, refinements)
        shortest = [p[1:] for p in ans.shortest] if ans.ok else []
        if result.ok and result.path in shortest or not result.ok and not ans.ok:
            agreed += 1
            continue
        rules = "the spec's rules" if refinements else "the uAPI's words alone"
        if ans.ok:
            want = f"{rules} give {arrow(ans.chosen)}"
            if len(shortest) > 1:
                want += f" (or {len(shortest) - 1} other shortest path(s))"
        else:
            want = f"{rules} reject it ({ans.reason})"
        got = (f"the walk goes {arrow((a, *result.path))}" if result.ok
               else f"the walk fails after {arrow((a, *result.path))}: {result.problem}")
        cexs.append(Counterexample(flags, a, b, result.path, f"{got}; {want}",
                                   {"rules_path": list(ans.path) if ans.ok else None,
                                    "walk_ok": result.ok}))
    return agreed, cexs


def p8_skip_walk(ctx: ProofContext, flags: int) -> PropertyResult:
    full = ctx.full_flags
    agreed, cexs = compare_walk(ctx, flags, spec_table(ctx, full))
    method = (f"the skip walk over the {full:#x} table agrees on {agreed} of "
              f"{len(ctx.requests(flags))} requests with the shortest paths z3 enumerates "
              f"under {flags:#x}")
    return _result("P8", flags, method, cexs,
                   f"Under {flags:#x} the kernel's way of reusing the {full:#x} table (skip "
                   "unsupported states) does not produce the path the rules require here: one "
                   "table cannot serve both flag sets.")


# --- P9 -----------------------------------------------------------------------------------------
def p9_optional_invisible(ctx: ProofContext) -> PropertyResult:
    spec = ctx.spec
    base = ctx.base_states
    flag_sets = list(spec.defined_flag_sets)
    cexs = []
    for a in base:
        for b in base:
            if a == b or not ctx.enc.requestable[b]:
                continue
            outcomes: dict[int, str] = {}
            for f in flag_sets:
                ans = ctx.answer(f, a, b)
                if not ans.ok:
                    outcomes[f] = f"fails ({ans.reason})"
                    continue
                effects = {session_summary(ctx.oracle.effects(f, p)) for p in ans.shortest}
                outcomes[f] = f"ends in {b}, " + " | ".join(sorted(effects))
            if len(set(outcomes.values())) > 1:
                first = outcomes[flag_sets[0]]
                odd = next(f for f in flag_sets if outcomes[f] != first)
                ans = ctx.answer(odd, a, b)
                cexs.append(Counterexample(
                    odd, a, b, tuple(ans.path) if ans.ok else None,
                    "; ".join(f"{f:#x}: {o}" for f, o in outcomes.items()),
                    {"outcomes": {f"{f:#x}": o for f, o in outcomes.items()}}))
    method = (f"every request between the {len(base)} states needing only the mandatory "
              f"flags ({', '.join(base)}): outcome and session effects of all z3 shortest "
              f"paths compared across the {len(flag_sets)} defined flag sets")
    return _result("P9", None, method, cexs,
                   "A user who knows only the mandatory states sees a different outcome "
                   "depending on optional flags the device reports, contrary to uAPI:1204-1206.")


PER_FLAG_SET: dict[str, Callable[[ProofContext, int], PropertyResult]] = {
    "P1": p1_arcs_exist,
    "P2": p2_no_shorter,
    "P3": p3_no_interior,
    "P4": p4_session_once,
    "P5": p5_no_error,
    "P6": p6_totality,
    "P7": p7_unique,
    "P8": p8_skip_walk,
}


def not_applicable(pid: str, flags: int | None, why: str) -> PropertyResult:
    return PropertyResult(pid, NAMES[pid], flags, NOT_APPLICABLE, why)


def timed(fn: Callable[[], PropertyResult]) -> PropertyResult:
    start = time.perf_counter()
    result = fn()
    result.seconds = time.perf_counter() - start
    return result
