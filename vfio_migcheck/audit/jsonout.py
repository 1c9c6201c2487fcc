"""The JSON summary (schema: docs/audit-schema.json, described in docs/audit.md).

Deterministic by construction: captures sorted by path, every list in a fixed order, floats
rounded to microseconds, no wall-clock time and no worker-dependent value, so the file is
byte-identical whatever ``-j`` is.
"""

from __future__ import annotations

import json
from typing import Any

from vfio_migcheck.audit.coverage import Coverage, FlagCoverage
from vfio_migcheck.audit.merge import Durations
from vfio_migcheck.audit.pairing import End, Pairing
from vfio_migcheck.audit.summary import Audit, CaptureEntry, Tally, Totals
from vfio_migcheck.audit.timing import DeviceTiming
from vfio_migcheck.audit.volume import SessionVolume

SCHEMA_ID = "vfio-migcheck-audit/1"


def _f(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def _stats(d: Durations) -> dict[str, Any]:
    return {
        "count": d.count,
        "total": _f(float(d.total)) if d.count else 0.0,
        "max": _f(d.max),
        "mean": _f(d.mean),
    }


def _tallies(tallies: dict[str, Tally]) -> dict[str, Any]:
    return {k: {"total": t.total, **t.by_severity} for k, t in tallies.items()}


def timing_json(t: DeviceTiming) -> dict[str, Any]:
    return {
        "device": t.device,
        "time_in_state": {s: _f(v) for s, v in t.time_in_state.items()},
        "spans": [{"state": s.state, "line": s.start_line, "start": _f(s.start),
                   "end": _f(s.end)} for s in t.spans],
        "stop_copy": [_f(x) for x in t.stop_copy],
        "stop_windows": [
            {"start_line": w.start_line, "end_line": w.end_line, "start": _f(w.start),
             "end": _f(w.end), "duration": _f(w.duration), "closed": w.closed,
             "states": list(w.states)}
            for w in t.stop_windows
        ],
    }


def session_json(s: SessionVolume) -> dict[str, Any]:
    return {
        "device": s.device, "kind": s.kind, "fd": s.fd, "opened_line": s.opened_line,
        "bytes_precopy": s.bytes_precopy, "bytes_stopcopy": s.bytes_stopcopy,
        "bytes_unknown_phase": s.bytes_unknown_phase, "bytes_written": s.bytes_written,
        "reads": s.reads, "writes": s.writes,
        "read_min": s.read_min, "read_max": s.read_max, "read_mean": _f(s.read_mean),
    }


def capture_json(e: CaptureEntry) -> dict[str, Any]:
    r = e.result
    findings = r.findings
    return {
        "path": e.path,
        "files": list(e.files),
        "format": r.format,
        "timestamps": r.timestamps,
        "error": r.error,
        "verdict": e.verdict,
        "counts": {
            "findings": len(findings),
            "by_severity": {s: sum(1 for f in findings if f.severity == s)
                            for s in ("error", "warning", "note")},
            "by_rule": dict(sorted(_count(f.rule for f in findings).items())),
            "by_party": dict(sorted(_count(f.party for f in findings).items())),
        },
        "devices": [
            {"name": d.name, "flags": d.flags, "verdict": d.verdict,
             "final_states": list(d.final_states),
             "inconclusive_reasons": list(d.inconclusive_reasons),
             "findings": sum(1 for f in findings if f.device == d.name),
             "first_ts": _f(d.first_ts), "last_ts": _f(d.last_ts)}
            for d in r.devices
        ],
        "findings": [
            {**f.to_json(), "related_lines": list(f.related_lines),
             "text": e.lines.get((f.file, f.line))}
            for f in findings
        ],
        "timing": [timing_json(t) for t in e.timing],
        "sessions": [session_json(s) for s in e.sessions],
    }


def _count(items) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out


def totals_json(t: Totals) -> dict[str, Any]:
    v = t.volume
    return {
        "captures": t.captures,
        "verdicts": dict(t.verdicts),
        "devices": t.devices,
        "device_verdicts": dict(t.device_verdicts),
        "findings": t.findings,
        "by_severity": dict(t.by_severity),
        "by_rule": _tallies(t.by_rule),
        "by_party": _tallies(t.by_party),
        "by_device": _tallies(t.by_device),
        "timing": {
            "time_in_state": {s: _f(x) for s, x in t.time_in_state.items()},
            "stop_copy": _stats(t.stop_copy),
            "stop_windows": _stats(t.stop_windows),
        },
        "volume": {
            "sessions": v.sessions, "saving": v.saving, "resuming": v.resuming,
            "bytes_precopy": v.bytes_precopy, "bytes_stopcopy": v.bytes_stopcopy,
            "bytes_unknown_phase": v.bytes_unknown_phase, "bytes_written": v.bytes_written,
            "reads": v.reads, "writes": v.writes,
            "read_size_histogram": dict(v.read_size_histogram),
        },
    }


def flag_coverage_json(c: FlagCoverage) -> dict[str, Any]:
    return {
        "flags": f"{c.flags:#x}",
        "flags_text": c.flags_text,
        "devices": c.devices,
        "states": list(c.states),
        "states_seen": list(c.states_seen),
        "arcs_covered": c.arcs_covered,
        "arcs_total": len(c.arcs),
        "requests_covered": c.requests_covered,
        "requests_total": len(c.requests),
        "other_requests": c.other_requests,
        "hidden_requests": c.hidden_requests,
        "silent_devices": c.silent_devices,
        "arcs": [{"from": a.src, "to": a.dst, "session": a.session, "count": a.count}
                 for a in c.arcs],
        "requests": [{"from": r.src, "to": r.dst, "expected": r.expected, "count": r.count,
                      "succeeded": r.succeeded, "failed": r.failed} for r in c.requests],
        "never": {
            "arcs": [[a, b] for a, b in c.missing_arcs],
            "requests": [[a, b] for a, b in c.missing_requests],
        },
    }


def coverage_json(c: Coverage) -> dict[str, Any]:
    return {
        "flag_sets": [flag_coverage_json(f) for f in c.flag_sets],
        "unknown_flags": [{"capture": cap, "device": dev} for cap, dev in c.unknown_flags],
    }


def _end(e: End) -> dict[str, Any]:
    return {"capture": e.file, "device": e.device, "line": e.line, "bytes": e.bytes}


def pairing_json(p: Pairing) -> dict[str, Any]:
    return {
        "pairs": [{"how": x.how, "source": _end(x.source), "destination": _end(x.destination),
                   "match": x.matches} for x in p.pairs],
        "problems": list(p.problems),
        "findings": [f.to_json() | {"related_lines": list(f.related_lines)}
                     for f in p.findings],
    }


def audit_document(audit: Audit) -> dict[str, Any]:
    return {
        "schema": SCHEMA_ID,
        "spec": audit.spec,
        "flags": None if audit.flags is None else f"{audit.flags:#x}",
        "captures": [capture_json(e) for e in audit.captures],
        "totals": totals_json(audit.totals),
        "coverage": coverage_json(audit.coverage),
        "pairing": pairing_json(audit.pairing),
    }


def dumps(audit: Audit) -> str:
    return json.dumps(audit_document(audit), indent=2, ensure_ascii=False) + "\n"
