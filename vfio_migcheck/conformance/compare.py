"""Model predictions versus what the kernel did, call by call.

A results folder holds ``scenarios/<api>/<name>.predict.json`` (the model's predictions,
written before the run) and ``<variant>/<name>.canon`` (the runner's ground truth of one
run). Each call of each run is *agreed* (the observed result is one the model allows),
*explained* (a known driver deviation matches it) or *disagreed* (neither). A run that
stopped early leaves its remaining calls *missing*.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vfio_migcheck.conformance.deviations import Deviation
from vfio_migcheck.conformance.files import ground_truths, run_name, scenario_file
from vfio_migcheck.conformance.predict import Prediction
from vfio_migcheck.conformance.statements import (
    Declaration,
    Statement,
    StatementError,
    parse_file,
)
from vfio_migcheck.traces.lines import read_text

AGREED, EXPLAINED, DISAGREED, MISSING = "agreed", "explained", "disagreed", "missing"


class ResultsError(ValueError):
    """The results folder is not usable; the message names the file."""


@dataclass(frozen=True)
class CallResult:
    variant: str
    scenario: str
    group: str
    line: int                    # line in the ground-truth (.canon) file; 0 when missing
    call: str
    observed: str
    allowed: tuple[str, ...]
    verdict: str
    why: str = ""                # deviation id + explanation, or what the model expected

    def to_json(self) -> dict[str, Any]:
        return {"variant": self.variant, "scenario": self.scenario, "group": self.group,
                "line": self.line, "call": self.call, "observed": self.observed,
                "allowed": list(self.allowed), "verdict": self.verdict, "why": self.why}


@dataclass
class Comparison:
    results: list[CallResult] = field(default_factory=list)
    runs: int = 0
    problems: list[str] = field(default_factory=list)   # runs that could not be compared

    def count(self, verdict: str) -> int:
        return sum(1 for r in self.results if r.verdict == verdict)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.count(DISAGREED) and not self.count(MISSING)


def observed_text(st: Statement) -> str:
    assert st.ret is not None
    head = f"{st.ret}" if st.errno is None else f"{st.ret} {st.errno}"
    keys = " ".join(f"{k}={v}" for k, v in st.reply.items() if k != "data")
    return f"{head} {keys}".strip()


def load_sidecar(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(read_text(path))
    except (OSError, ValueError) as exc:
        raise ResultsError(f"{path}: cannot read predictions: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("calls"), list) \
            or not isinstance(data.get("outcomes"), list):
        raise ResultsError(f"{path}: not a prediction sidecar (no 'calls'/'outcomes' lists)")
    return data


def prediction_of(sidecar: dict[str, Any], call: dict[str, Any]) -> Prediction:
    """Rebuild one call's prediction from the sidecar's shared outcome table."""
    table = sidecar["outcomes"]
    try:
        outcomes = [table[i] for i in call["allowed"]]
        return Prediction.from_json({"outcomes": outcomes, "states": call["states"],
                                     "fd_kind": call.get("fd_kind")})
    except (KeyError, IndexError, TypeError) as exc:
        raise ResultsError(f"{sidecar.get('scenario')}: bad prediction for line "
                           f"{call.get('line')}: {exc!r}") from exc


def compare_run(variant: str, canon: Path, scenario: Path, sidecar: dict[str, Any],
                deviations: Iterable[Deviation]) -> list[CallResult]:
    """Compare one ground-truth file with its scenario's predictions.

    The n-th call of the scenario is the n-th statement of the ground truth; the sidecar
    names each call by its scenario line.
    """
    deviations = list(deviations)
    name, group = sidecar["scenario"], sidecar.get("group", "?")
    planned = {s.line: s for s in parse_file(scenario) if isinstance(s, Statement)}
    statements = [s for s in parse_file(canon) if isinstance(s, Statement)]
    out: list[CallResult] = []
    for index, call in enumerate(sidecar["calls"]):
        prediction = prediction_of(sidecar, call)
        allowed = tuple(o.describe() for o in prediction.outcomes)
        plan = planned.get(call["line"])
        if plan is None:
            raise ResultsError(f"{scenario}:{call['line']}: the sidecar names a line that "
                               "holds no call")
        if index >= len(statements):
            out.append(CallResult(variant, name, group, 0, plan.call, "(not run)", allowed,
                                  MISSING, "the runner stopped before this call"))
            continue
        st = statements[index]
        if st.ret is None:
            raise ResultsError(f"{canon}:{st.line}: result is '?' in a ground-truth file")
        if (st.subject, st.verb) != (plan.subject, plan.verb):
            raise ResultsError(f"{canon}:{st.line}: {st.call!r} does not match scenario call "
                               f"{plan.call!r} ({scenario.name}:{plan.line})")
        observed = observed_text(st)
        if prediction.matches(st.ret, st.errno, st.reply):
            out.append(CallResult(variant, name, group, st.line, st.call, observed, allowed,
                                  AGREED))
            continue
        match = next((d for d in deviations
                      if d.explains(st.kind, prediction, st.ret, st.errno)), None)
        if match:
            out.append(CallResult(variant, name, group, st.line, st.call, observed, allowed,
                                  EXPLAINED, f"{match.id} ({match.driver}): {match.explanation}"))
        else:
            whys = "; ".join(o.why for o in prediction.outcomes if o.why)
            out.append(CallResult(variant, name, group, st.line, st.call, observed, allowed,
                                  DISAGREED, f"model: {whys}"))
    for extra in statements[len(sidecar["calls"]):]:
        if extra.verb != "close":      # the runner's teardown closes what is left, nothing else
            raise ResultsError(f"{canon}:{extra.line}: {extra.call!r} is not in the scenario")
    return out


def api_of(canon: Path) -> str:
    for item in parse_file(canon):
        if isinstance(item, Declaration):
            return item.keys.get("api", "group")
    raise ResultsError(f"{canon}: no device declaration (the runner failed at setup?)")


def compare_results(root: Path, deviations: Iterable[Deviation]) -> Comparison:
    """Compare every ``<variant>/<name>.canon`` (or ``.canon.gz``) under ``root``."""
    deviations = list(deviations)
    scen_dir = root / "scenarios"
    if not scen_dir.is_dir():
        raise ResultsError(f"{root}: no scenarios/ folder with the predictions")
    canons = ground_truths(root)
    if not canons:
        raise ResultsError(f"{root}: no <variant>/<scenario>.canon ground-truth files")
    comparison = Comparison()
    for canon in canons:
        variant, name = canon.parent.name, run_name(canon)
        try:
            api = api_of(canon)
            sidecar = load_sidecar(scenario_file(root, api, name, ".predict.json"))
            comparison.results.extend(compare_run(variant, canon,
                                                  scenario_file(root, api, name, ".vmc"),
                                                  sidecar, deviations))
            comparison.runs += 1
        except (ResultsError, StatementError) as exc:
            comparison.problems.append(str(exc))
    return comparison
