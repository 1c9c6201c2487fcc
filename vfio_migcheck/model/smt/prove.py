"""Run every property over a spec and collect one report (pure: no printing, no exit codes)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from vfio_migcheck.model.smt import kernel_table as kt_mod
from vfio_migcheck.model.smt import properties as props
from vfio_migcheck.model.smt.context import ProofContext
from vfio_migcheck.model.smt.lifecycle_properties import lifecycle_for
from vfio_migcheck.model.smt.results import PropertyResult
from vfio_migcheck.model.spec import Spec


@dataclass
class ProofReport:
    """Everything ``vfio-migcheck prove`` shows, in one object."""

    spec: Spec
    bound: int
    flag_sets: list[int]
    results: list[PropertyResult]
    kernel_applicable: bool
    kernel_note: str
    words_vs_kernel: list = field(default_factory=list)
    tables: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rules_reproduce_kernel(self) -> bool | None:
        """Every P10 check proved (None when the kernel's table does not apply)."""
        if not self.kernel_applicable:
            return None
        return all(r.status == "proved" for r in self.results if r.id == "P10")

    @property
    def ok(self) -> bool:
        """Every property holds or fails only in a way the spec declares as known."""
        return all(r.acceptable for r in self.results)

    def to_json(self) -> dict:
        return {
            "spec": self.spec.name,
            "spec_file": self.spec.file,
            "bound": self.bound,
            "bound_reason": BOUND_REASON,
            "flag_sets": [f"{f:#x}" for f in self.flag_sets],
            "known_refutations": list(self.spec.known_refutations),
            "ok": self.ok,
            "properties": [r.to_json() for r in self.results],
            "kernel_table": {
                "applicable": self.kernel_applicable,
                "spec_rules_reproduce_kernel": self.rules_reproduce_kernel,
                "note": self.kernel_note,
                "words_vs_kernel": [c.to_json() for c in self.words_vs_kernel],
                "tables": [t.to_json() for t in self.tables],
            },
            "rule_set": rule_set(self.spec),
            "refinements": [
                {"id": r.id, "kind": r.kind, "group": r.group, "text": " ".join(r.text.split()),
                 "cite": r.cite}
                for r in self.spec.path.refinements
            ],
            "seconds": round(self.seconds, 4),
        }


def rule_set(spec: Spec) -> list[str]:
    """The spec's path rules as numbered sentences: the rule set the proofs are about."""
    rules = ["A SET that is not a single arc runs a shortest path of single arcs that exist "
             "under the device's flags."]
    for group in spec.path.no_interior:
        members = ", ".join(sorted(spec.groups[group]))
        rules.append(f"No {group}-group state ({members}) may be inside the path, only at its "
                     "start or end (the uAPI's words).")
    for ref in spec.path.refinements:
        rules.append(f"{ref.id}: {' '.join(ref.text.split())}")
    for b in spec.blocked:
        cond = [*(f"with {f}" for f in sorted(b.condition.requires)),
                *(f"without {f}" for f in sorted(b.condition.forbids))]
        when = f" ({', '.join(cond)})" if cond else ""
        rules.append(f"SET {b.dst} in {b.src} fails with EINVAL{when}: {b.reason}.")
    return rules


BOUND_REASON = (
    "paths are searched up to k = (number of non-error states - 1) arcs: a shortest path that "
    "obeys the path rules never repeats a state (cutting a loop keeps its ends, only removes "
    "interior states and keeps 'all states in one group' true), so it has at most k arcs"
)


def prove_spec(spec: Spec, only_flags: int | None = None) -> ProofReport:
    """Prove P1-P10 and the lifecycle properties L1-L7 for each defined flag set (or just
    ``only_flags``) of ``spec``."""
    start = time.perf_counter()
    ctx = ProofContext(spec)
    flag_sets = [only_flags] if only_flags is not None else list(spec.defined_flag_sets)
    results: list[PropertyResult] = []
    for flags in flag_sets:
        for pid, check in props.PER_FLAG_SET.items():
            if pid == "P8" and flags == ctx.full_flags:
                results.append(props.not_applicable(
                    "P8", flags, "this is the full flag set whose table the walk reuses"))
                continue
            results.append(props.timed(lambda c=check, f=flags: c(ctx, f)))
    results.append(props.timed(lambda: props.p5_any_flags(ctx)))
    results.append(props.timed(lambda: props.p9_optional_invisible(ctx)))

    kernel = kt_mod.load_kernel_table()
    why_not = kt_mod.inapplicable_reason(ctx, kernel)
    words: list = []
    if why_not:
        results.append(kt_mod.p10_not_applicable(why_not))
    else:
        for flags in flag_sets:
            results.append(props.timed(lambda f=flags: kt_mod.p10_walk(ctx, kernel, f)))
        results.append(props.timed(lambda: kt_mod.p10_data(ctx, kernel)))
        words = kt_mod.words_vs_kernel(ctx, kernel)
    results.extend(lifecycle_for(spec, flag_sets, ctx.oracle))
    for result in results:
        result.known = result.status == "refuted" and result.id in spec.known_refutations
    tables = [kt_mod.synthesize(ctx, True, None if why_not else kernel)]
    if spec.path.refinements:
        tables.append(kt_mod.synthesize(ctx, False, None if why_not else kernel))
    return ProofReport(spec, ctx.enc.bound, flag_sets, results, why_not is None,
                       why_not or "", words, tables, time.perf_counter() - start)
