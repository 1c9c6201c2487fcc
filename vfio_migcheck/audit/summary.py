"""The audit as one value: per-capture entries, totals, coverage, timing, volume, pairing.

Built from the checked captures only (a pure function), so the JSON summary, the HTML page
and the terminal table are three views of the same numbers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from vfio_migcheck.audit.coverage import Coverage, coverage_counts, freeze_coverage
from vfio_migcheck.audit.merge import Durations, Partial, finding_key, merge_all, partial_of
from vfio_migcheck.audit.pairing import Pairing, pair_candidates, unpack
from vfio_migcheck.audit.runner import CheckedCapture
from vfio_migcheck.audit.timing import DeviceTiming, device_timing
from vfio_migcheck.audit.volume import SessionVolume, VolumeTotals, session_volumes
from vfio_migcheck.checker.results import SEVERITIES, VERDICTS, Finding, TraceResult
from vfio_migcheck.model.spec import Spec

CAPTURE_VERDICTS = ("pass", "fail", "inconclusive", "unchecked", "unreadable")
DEVICE_VERDICTS = VERDICTS


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
    stop_copy: Durations                # per saving session that reached EOF
    stop_windows: Durations             # durations of closed windows with timestamps
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


def build_audit(checked: Sequence[CheckedCapture], spec: Spec, flags: int | None = None,
                pairs: Sequence[tuple[str, str]] = ()) -> Audit:
    """Everything in memory; the totals are the merge of each capture's partial summary,
    exactly as the streaming audit (``merge.py``) computes them."""
    entries = tuple(sorted((capture_entry(c) for c in checked), key=lambda e: e.path))
    named = frozenset(p for pair in pairs for p in pair)
    merged = merge_all(partial_of(e, spec, flags, named) for e in entries)
    return finish(merged, spec, flags, pairs, entries)


def finish(partial: Partial, spec: Spec, flags: int | None,
           pairs: Sequence[tuple[str, str]] = (),
           captures: Sequence[CaptureEntry] = ()) -> Audit:
    """The :class:`Audit` of a merged partial; ``captures`` are the per-capture
    entries when they were kept in memory (empty when their detail was streamed out)."""
    pairing = pair_candidates(sorted(unpack(partial.pairing), key=lambda c: c.file),
                              pairs)
    counts = Counter(partial.findings)
    counts.update(finding_key(f) for f in pairing.findings)

    def tallies(index: int) -> dict[str, Tally]:
        per: dict[str, dict[str, int]] = {}
        for key, n in counts.items():
            row = per.setdefault(key[index], {s: 0 for s in SEVERITIES})
            row[key[3]] = row.get(key[3], 0) + n
        return {k: Tally(sum(v.values()), v) for k, v in sorted(per.items())}

    by_severity = {s: sum(n for key, n in counts.items() if key[3] == s) for s in SEVERITIES}
    totals = Totals(
        captures=partial.captures,
        verdicts={v: partial.verdicts[v] for v in CAPTURE_VERDICTS},
        devices=partial.devices,
        device_verdicts={v: partial.device_verdicts[v] for v in DEVICE_VERDICTS},
        findings=sum(counts.values()),
        by_severity=by_severity,
        by_rule=tallies(0),
        by_party=tallies(1),
        by_device=tallies(2),
        time_in_state={s: float(x) for s, x in sorted(partial.time_in_state.items())},
        stop_copy=partial.stop_copy,
        stop_windows=partial.stop_windows,
        volume=partial.volume,
    )
    coverage = partial.coverage
    if flags is not None and flags not in coverage.per_flags:
        coverage = coverage_counts((), spec, flags)   # no capture at all: the empty flag set
    return Audit(spec=spec.name, flags=flags, captures=tuple(captures), totals=totals,
                 coverage=freeze_coverage(coverage, spec), pairing=pairing)
