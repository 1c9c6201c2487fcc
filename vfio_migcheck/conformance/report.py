"""Views of a comparison: a short text summary, a markdown table, and JSON.

All three show the same facts: how many calls were compared, agreed, explained by a known
driver deviation, disagreed or never ran; per variant and per scenario family; and every
call that did not simply agree, with the reason.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from vfio_migcheck.conformance.compare import (
    AGREED,
    DISAGREED,
    EXPLAINED,
    MISSING,
    CallResult,
    Comparison,
)
from vfio_migcheck.conformance.strace_check import StraceCheck

VERDICTS = (AGREED, EXPLAINED, DISAGREED, MISSING)


def _counts(results: list[CallResult], key) -> dict[str, Counter]:
    table: dict[str, Counter] = defaultdict(Counter)
    for r in results:
        table[key(r)][r.verdict] += 1
    return dict(sorted(table.items()))


def summary_line(c: Comparison) -> str:
    parts = ", ".join(f"{c.count(v)} {v}" for v in VERDICTS)
    return f"{c.runs} runs, {len(c.results)} calls compared: {parts}"


def to_text(c: Comparison, strace: StraceCheck | None = None) -> str:
    lines = [f"conformance: {summary_line(c)}"]
    for problem in c.problems:
        lines.append(f"  not compared: {problem}")
    explained = Counter(r.why.split(" ", 1)[0] for r in c.results if r.verdict == EXPLAINED)
    for dev_id, n in sorted(explained.items()):
        lines.append(f"  explained by {dev_id}: {n} calls")
    for r in c.results:
        if r.verdict in (DISAGREED, MISSING):
            lines.append(f"  {r.verdict.upper()} {r.variant}/{r.scenario}.canon:{r.line}: "
                         f"{r.call} = {r.observed}; allowed: {' | '.join(r.allowed)}")
    if strace is not None:
        lines.append(f"strace check: {strace.summary()}")
    return "\n".join(lines) + "\n"


def _table(title: str, counts: dict[str, Counter]) -> list[str]:
    out = [f"| {title} | calls | " + " | ".join(VERDICTS) + " |",
           "|---|---:|" + "---:|" * len(VERDICTS)]
    for name, counter in counts.items():
        total = sum(counter.values())
        out.append(f"| {name} | {total} | " + " | ".join(str(counter[v]) for v in VERDICTS)
                   + " |")
    return out


def to_markdown(c: Comparison, strace: StraceCheck | None = None) -> str:
    md = ["# Conformance: model predictions vs Linux 6.12 mtty", "",
          f"**{summary_line(c)}**", ""]
    if c.problems:
        md += ["## Runs that could not be compared", ""]
        md += [f"- {p}" for p in c.problems] + [""]
    md += ["## By variant", ""] + _table("variant", _counts(c.results, lambda r: r.variant))
    md += ["", "## By scenario family", ""]
    md += _table("family", _counts(c.results, lambda r: r.group))
    explained: dict[str, tuple[str, int]] = {}
    for r in c.results:
        if r.verdict == EXPLAINED:
            dev_id, _, text = r.why.partition(" ")
            explained[dev_id] = (text, explained.get(dev_id, ("", 0))[1] + 1)
    if explained:
        md += ["", "## Known driver deviations seen", ""]
        for dev_id, (text, n) in sorted(explained.items()):
            driver, _, explanation = text.partition(": ")
            md.append(f"- **{dev_id}** {driver.rstrip(')')}, {n} calls): {explanation}")
    md += ["", "## Calls that did not simply agree", ""]
    odd = [r for r in c.results if r.verdict != AGREED]
    if not odd:
        md.append("None: every call's outcome was one the model allows.")
    else:
        md += ["| run | line | call | observed | model allows | verdict | why |",
               "|---|---:|---|---|---|---|---|"]
        for r in odd:
            why = r.why.partition(" ")[0] if r.verdict == EXPLAINED else r.why
            md.append(f"| {r.variant}/{r.scenario} | {r.line} | `{r.call}` | `{r.observed}` | "
                      f"{' / '.join(f'`{a}`' for a in r.allowed)} | {r.verdict} | "
                      f"{why.replace('|', '/')} |")
    if strace is not None:
        md += ["", "## The checker on the strace captures of the same runs", "",
               strace.summary(), ""]
        md += strace.markdown_rows()
    return "\n".join(md) + "\n"


def to_json(c: Comparison, strace: StraceCheck | None = None) -> dict[str, Any]:
    return {
        "runs": c.runs,
        "calls": len(c.results),
        "counts": {v: c.count(v) for v in VERDICTS},
        "problems": c.problems,
        "by_variant": {k: dict(v) for k, v in _counts(c.results, lambda r: r.variant).items()},
        "by_family": {k: dict(v) for k, v in _counts(c.results, lambda r: r.group).items()},
        "results": [r.to_json() for r in c.results],
        "strace_check": strace.to_json() if strace is not None else None,
    }
