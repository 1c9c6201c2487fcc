"""Mergeable audit summaries: what is left of a capture once its detail has been written out.

A :class:`Partial` holds the counters of some captures (verdicts, findings by rule, party and
device, coverage, time in state, stop-copy and stop-window durations, data volume) and the
*pairing candidates* (each pairable capture's migration ends, packed: ``pairing.pack``).
Two partials merge into the partial of both, whatever the order or grouping: counters add,
durations are summed exactly (as fractions, turned into floats only at the end), and the
pairing candidates are paired once, in capture order, when the audit is finished
(``summary.finish``). So the
summary of a run does not depend on which worker checked what, or when a result arrived, and
``build_audit`` (everything in memory) and the streaming audit (``--jsonl``) agree exactly.

The memory a partial needs grows with the distinct rules, devices and flag sets, and with
the number of pairable captures (tens of bytes plus the path each), not with the captures'
detail.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Protocol

from vfio_migcheck.audit.coverage import CoverageCounts, coverage_counts
from vfio_migcheck.audit.pairing import candidate_of, pack
from vfio_migcheck.audit.timing import DeviceTiming
from vfio_migcheck.audit.volume import SessionVolume, VolumeTotals, bucket_labels, volume_totals
from vfio_migcheck.checker.results import Finding, TraceResult
from vfio_migcheck.model.spec import Spec


class EntryLike(Protocol):
    """What a partial needs of a capture's entry (``summary.CaptureEntry``)."""

    path: str
    result: TraceResult
    verdict: str
    timing: tuple[DeviceTiming, ...]
    sessions: tuple[SessionVolume, ...]


@dataclass
class Durations:
    """Count, exact total and maximum of some durations (seconds)."""

    count: int = 0
    total: Fraction = Fraction(0)
    max: float | None = None

    def add(self, seconds: float) -> None:
        self.count += 1
        self.total += Fraction(seconds)
        self.max = seconds if self.max is None else max(self.max, seconds)

    def merge(self, other: Durations) -> None:
        self.count += other.count
        self.total += other.total
        if other.max is not None:
            self.max = other.max if self.max is None else max(self.max, other.max)

    @property
    def mean(self) -> float | None:
        return float(self.total / self.count) if self.count else None

    def __len__(self) -> int:
        return self.count


@dataclass
class Partial:
    """The mergeable summary of some captures (see the module docstring)."""

    captures: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    devices: int = 0
    device_verdicts: Counter[str] = field(default_factory=Counter)
    findings: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    time_in_state: dict[str, Fraction] = field(default_factory=dict)
    stop_copy: Durations = field(default_factory=Durations)
    stop_windows: Durations = field(default_factory=Durations)
    volume: VolumeTotals = field(default_factory=lambda: volume_totals(()))
    coverage: CoverageCounts = field(default_factory=CoverageCounts)
    pairing: bytearray = field(default_factory=bytearray)   # packed candidates, any order

    def merge(self, other: Partial) -> Partial:
        """Add ``other`` into this partial (in place) and return it."""
        self.captures += other.captures
        self.verdicts.update(other.verdicts)
        self.devices += other.devices
        self.device_verdicts.update(other.device_verdicts)
        self.findings.update(other.findings)
        for state, seconds in other.time_in_state.items():
            self.time_in_state[state] = self.time_in_state.get(state, Fraction(0)) + seconds
        self.stop_copy.merge(other.stop_copy)
        self.stop_windows.merge(other.stop_windows)
        self.volume = add_volumes(self.volume, other.volume)
        self.coverage.merge(other.coverage)
        self.pairing += other.pairing
        return self

    def add_findings(self, findings: Iterable[Finding]) -> None:
        self.findings.update(finding_key(f) for f in findings)


def finding_key(f: Finding) -> tuple[str, str, str, str]:
    """What the totals count of a finding: rule, party, device and severity."""
    return (f.rule, f.party, f.device or "-", f.severity)


def add_volumes(a: VolumeTotals, b: VolumeTotals) -> VolumeTotals:
    return VolumeTotals(
        sessions=a.sessions + b.sessions, saving=a.saving + b.saving,
        resuming=a.resuming + b.resuming, bytes_precopy=a.bytes_precopy + b.bytes_precopy,
        bytes_stopcopy=a.bytes_stopcopy + b.bytes_stopcopy,
        bytes_unknown_phase=a.bytes_unknown_phase + b.bytes_unknown_phase,
        bytes_written=a.bytes_written + b.bytes_written, reads=a.reads + b.reads,
        writes=a.writes + b.writes,
        read_size_histogram={k: a.read_size_histogram.get(k, 0) + b.read_size_histogram.get(k, 0)
                             for k in bucket_labels()},
    )


def partial_of(entry: EntryLike, spec: Spec, flags: int | None,
               paired: frozenset[str] = frozenset()) -> Partial:
    """The partial summary of one capture; ``paired`` are the
    capture paths named by --pair, whose pairing view is kept even without data."""
    result = entry.result
    p = Partial(captures=1)
    p.verdicts[entry.verdict] += 1
    p.devices = len(result.devices)
    p.device_verdicts.update(d.verdict for d in result.devices)
    p.add_findings(result.findings)
    for t in entry.timing:
        for state, seconds in t.time_in_state.items():
            p.time_in_state[state] = p.time_in_state.get(state, Fraction(0)) + Fraction(seconds)
        for x in t.stop_copy:
            p.stop_copy.add(x)
        for w in t.stop_windows:
            if w.closed and w.duration is not None:
                p.stop_windows.add(w.duration)
    p.volume = volume_totals(entry.sessions)
    p.coverage = coverage_counts([result], spec, flags)
    candidate = candidate_of(result, keep=entry.path in paired)
    if candidate is not None:
        p.pairing += pack(candidate)
    return p


def merge_all(partials: Iterable[Partial]) -> Partial:
    total = Partial()
    for p in partials:
        total.merge(p)
    return total
