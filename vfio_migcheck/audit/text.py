"""The terminal summary of an audit: one line per capture, then totals, coverage, pairing."""

from __future__ import annotations

from vfio_migcheck.audit.summary import Audit, CaptureEntry
from vfio_migcheck.audit.svg_timeline import format_seconds


def summary_lines(audit: Audit, per_capture: bool = True) -> list[str]:
    t = audit.totals
    out: list[str] = []
    if per_capture:
        width = max((len(e.path) for e in audit.captures), default=10)
        out.append(f"{'verdict':<13}{'err':>4}{'warn':>5}{'note':>5}  capture")
        out += [capture_line(e, width) for e in audit.captures]
        out.append("")
    v = t.verdicts
    out.append(f"{t.captures} captures: {v['pass']} pass, {v['fail']} fail, "
               f"{v['inconclusive']} inconclusive, {v['unchecked']} unchecked (nothing to "
               f"check), {v['unreadable']} unreadable; "
               f"{t.devices} devices; {t.findings} findings ("
               + ", ".join(f"{n} {s}" for s, n in t.by_severity.items()) + ")")
    if t.by_party:
        out.append("findings by party: " + ", ".join(
            f"{p} {x.total}" for p, x in t.by_party.items()))
    for c in audit.coverage.flag_sets:
        out.append(f"coverage {c.flags_text}: {c.arcs_covered}/{len(c.arcs)} single arcs, "
                   f"{c.requests_covered}/{len(c.requests)} requests, "
                   f"{len(c.states_seen)}/{len(c.states)} states"
                   + (f" ({c.hidden_requests} requests hidden by the capture)"
                      if c.hidden_requests else ""))
        if c.missing_arcs:
            out.append("  arcs never exercised: " + ", ".join(
                f"{a}->{b}" for a, b in c.missing_arcs))
    if audit.coverage.unknown_flags:
        out.append(f"coverage: {len(audit.coverage.unknown_flags)} devices not counted, their "
                   "flag set is unknown (pass --flags)")
    if t.stop_windows:
        out.append(f"stop windows: {len(t.stop_windows)}, longest "
                   f"{format_seconds(t.stop_windows.max)}")
    vol = t.volume
    if vol.sessions:
        hidden = (f", {vol.bytes_unknown_phase} B in a hidden phase"
                  if vol.bytes_unknown_phase else "")
        out.append(f"data: {vol.bytes_precopy} B read in PRE_COPY, {vol.bytes_stopcopy} B in "
                   f"STOP_COPY{hidden}, {vol.bytes_written} B written while RESUMING "
                   f"({vol.sessions} sessions)")
    for p in audit.pairing.pairs:
        state = "match" if p.matches else "MISMATCH (A001)"
        how = "inferred from device name and time" if p.how == "matched" else p.how
        out.append(f"pair ({how}): {p.source.file} {p.source.device} read {p.source.bytes} B"
                   f" -> {p.destination.file} {p.destination.device} wrote "
                   f"{p.destination.bytes} B: {state}")
    out += [f"pairing: {m}" for m in audit.pairing.problems]
    return out


def capture_line(e: CaptureEntry, width: int = 0) -> str:
    """One capture's row: verdict, error/warning/note counts, path (and why unreadable)."""
    sev = {s: sum(1 for f in e.result.findings if f.severity == s)
           for s in ("error", "warning", "note")}
    line = (f"{e.verdict:<13}{sev['error']:>4}{sev['warning']:>5}{sev['note']:>5}  "
            f"{e.path:<{width}}")
    if e.result.error:
        line += f"  ({e.result.error})"
    return line.rstrip()
