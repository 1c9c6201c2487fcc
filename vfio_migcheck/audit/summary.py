"""The audit as one value: per-capture entries, totals, coverage, timing, volume, pairing.

Built from the checked captures only (a pure function), so the JSON summary, the HTML page
and the terminal table are three views of the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from vfio_migcheck.audit.coverage import Coverage, arc_coverage
from vfio_migcheck.audit.pairing import Pairing, pair_captures
from vfio_migcheck.audit.runner import CheckedCapture
from vfio_migcheck.audit.timing import DeviceTiming, device_timing
from vfio_migcheck.audit.volume import SessionVolume, VolumeTotals, session_volumes, volume_totals
from vfio_migcheck.checker.results import SEVERITIES, VERDICTS, Finding, TraceResult
from vfio_migcheck.model.spec import Spec

CAPTURE_VERDICTS = ("pass", "fail", "inconclusive", "unchecked", "unreadable")


@dataclass(frozen=True)
class CaptureEntry:
    path: str
    files: tuple[str, ...]
    result: TraceResult            # .file is the capture path
    verdict: str
    timing: tuple[DeviceTiming, ...]
    sessions: tuple[SessionVolume, ...]
    lines: dict[tuple[str, int], str]


@dataclass(frozen=True)
class Tally:
    """Findings counted by severity under one key (a rule, a party or a device)."""

    total: int
    by_severity: dict[str, int]


@dataclass(frozen=True)
class Totals:
    captures: int
    verdicts: dict[str, int]
    devices: int
    device_verdicts: dict[str, int]
    findings: int
    by_severity: dict[str, int]
    by_rule: dict[str, Tally]
    by_party: dict[str, Tally]
    by_device: dict[str, Tally]
    time_in_state: dict[str, float]
    stop_copy: tuple[float, ...]
    stop_windows: tuple[float, ...]     # durations of closed windows with timestamps
    volume: VolumeTotals


@dataclass(frozen=True)
class Audit:
    spec: str
    flags: int | None
    captures: tuple[CaptureEntry, ...]
    totals: Totals
    coverage: Coverage
    pairing: Pairing

    @property
    def failed(self) -> bool:
        return bool(self.totals.verdicts["fail"] or self.totals.verdicts["unreadable"]
                    or self.pairing.findings)


def capture_verdict(result: TraceResult) -> str:
    """Worst device verdict; error findings fail; nothing checked at all is "unchecked"."""
    if result.error is not None:
        return "unreadable"
    verdicts = {d.verdict for d in result.devices}
    if "fail" in verdicts or result.has_errors:
        return "fail"
    if result.checked_nothing:
        return "unchecked"
    if "inconclusive" in verdicts:
        return "inconclusive"
    return "pass"


def capture_entry(checked: CheckedCapture) -> CaptureEntry:
    result = checked.result
    if result.file != checked.capture.path:
        result = replace(result, file=checked.capture.path)
    return CaptureEntry(
        path=checked.capture.path,
        files=checked.capture.files,
        result=result,
        verdict=capture_verdict(result),
        timing=tuple(device_timing(d) for d in result.devices),
        sessions=tuple(session_volumes([result])),
        lines=dict(checked.lines),
    )


def tally(findings: Iterable[Finding], key) -> dict[str, Tally]:
    counts: dict[str, dict[str, int]] = {}
    for f in findings:
        per = counts.setdefault(key(f), {s: 0 for s in SEVERITIES})
        per[f.severity] = per.get(f.severity, 0) + 1
    return {k: Tally(sum(v.values()), v) for k, v in sorted(counts.items())}


def totals_of(entries: Sequence[CaptureEntry], extra_findings: Sequence[Finding]) -> Totals:
    findings = [f for e in entries for f in e.result.findings] + list(extra_findings)
    devices = [d for e in entries for d in e.result.devices]
    in_state: dict[str, float] = {}
    for e in entries:
        for t in e.timing:
            for state, seconds in t.time_in_state.items():
                in_state[state] = in_state.get(state, 0.0) + seconds
    return Totals(
        captures=len(entries),
        verdicts={v: sum(1 for e in entries if e.verdict == v) for v in CAPTURE_VERDICTS},
        devices=len(devices),
        device_verdicts={v: sum(1 for d in devices if d.verdict == v) for v in VERDICTS},
        findings=len(findings),
        by_severity={s: sum(1 for f in findings if f.severity == s) for s in SEVERITIES},
        by_rule=tally(findings, lambda f: f.rule),
        by_party=tally(findings, lambda f: f.party),
        by_device=tally(findings, lambda f: f.device or "-"),
        time_in_state=dict(sorted(in_state.items())),
        stop_copy=tuple(x for e in entries for t in e.timing for x in t.stop_copy),
        stop_windows=tuple(w.duration for e in entries for t in e.timing
                           for w in t.stop_windows if w.closed and w.duration is not None),
        volume=volume_totals([s for e in entries for s in e.sessions]),
    )


def build_audit(checked: Sequence[CheckedCapture], spec: Spec, flags: int | None = None,
                pairs: Sequence[tuple[str, str]] = ()) -> Audit:
    entries = tuple(sorted((capture_entry(c) for c in checked), key=lambda e: e.path))
    results = [e.result for e in entries]
    pairing = pair_captures(results, pairs)
    return Audit(
        spec=spec.name,
        flags=flags,
        captures=entries,
        totals=totals_of(entries, pairing.findings),
        coverage=arc_coverage(results, spec, flags),
        pairing=pairing,
    )
