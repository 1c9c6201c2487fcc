"""JSON view of check results (the stable contract other tools parse)."""

from __future__ import annotations

from typing import Any

from vfio_migcheck import __version__
from vfio_migcheck.checker.repeats import occurrences
from vfio_migcheck.checker.results import VERDICTS, TraceResult

#: the JSON Schema is package data: vfio_migcheck/data/check-schema.json
SCHEMA_ID = "vfio-migcheck-check/1"


def summary(results: list[TraceResult]) -> dict[str, Any]:
    findings = [f for r in results for f in r.findings]
    devices = [d for r in results for d in r.devices]
    # counted with the findings a capped one stands for (check --max-repeats)
    by_severity = {s: sum(occurrences(f) for f in findings if f.severity == s)
                   for s in ("error", "warning", "note")}
    by_verdict = {v: sum(1 for d in devices if d.verdict == v) for v in VERDICTS}
    return {
        "traces": len(results),
        "unreadable_traces": sum(1 for r in results if r.error),
        "unchecked_traces": sum(1 for r in results if r.checked_nothing),
        "findings": sum(occurrences(f) for f in findings),
        "suppressed": sum(f.suppressed for f in findings),   # counted, not listed
        "by_severity": by_severity,
        "devices": len(devices),
        "verdicts": by_verdict,
        "events": sum(int(r.extra.get("events", 0)) for r in results),
    }


def to_json(results: list[TraceResult]) -> dict[str, Any]:
    findings = []
    for r in results:
        for f in r.findings:
            item = f.to_json()
            item["related_lines"] = list(f.related_lines)
            findings.append(item)
    devices = []
    for r in results:
        for d in r.devices:
            devices.append({
                "file": r.file, "name": d.name, "flags": d.flags,
                "flags_candidates": list(d.flags_candidates), "verdict": d.verdict,
                "final_states": list(d.final_states),
                "inconclusive_reasons": list(d.inconclusive_reasons),
                "undecided": list(d.undecided),
                "sessions": [dict(vars(s)) | {"read_sizes": list(s.read_sizes)}
                             for s in d.sessions],
                "first_ts": d.first_ts, "last_ts": d.last_ts,
            })
    traces = [{"file": r.file, "format": r.format, "error": r.error,
               "timestamps": r.timestamps, "read_summary": r.read_summary,
               "extra": r.extra} for r in results]
    return {"schema": SCHEMA_ID, "version": __version__,
            "findings": findings, "devices": devices, "traces": traces,
            "summary": summary(results)}
