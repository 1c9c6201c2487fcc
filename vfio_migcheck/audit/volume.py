"""How much migration data moved, per data session and in total.

Bytes come from the checker's session accounting: what read() returned on a saving fd in
PRE_COPY and in STOP_COPY (or in a phase the capture hides), and what write() accepted on a
resuming fd. Read sizes are
bucketed by powers of two so that captures with thousands of reads stay readable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from vfio_migcheck.checker.results import SessionStats, TraceResult

# Upper bounds of the read-size buckets (bytes); a read of 0 bytes has its own bucket.
SIZE_BUCKETS = (64, 512, 4096, 32768, 262144, 1048576)


@dataclass(frozen=True)
class SessionVolume:
    file: str
    device: str
    kind: str
    fd: int | None
    opened_line: int | None
    bytes_precopy: int
    bytes_stopcopy: int
    bytes_written: int
    reads: int
    writes: int
    read_sizes: tuple[int, ...]
    bytes_unknown_phase: int = 0     # read while the trace hides PRE_COPY vs STOP_COPY

    @property
    def bytes_read(self) -> int:
        return self.bytes_precopy + self.bytes_stopcopy + self.bytes_unknown_phase

    @property
    def read_min(self) -> int | None:
        return min(self.read_sizes) if self.read_sizes else None

    @property
    def read_max(self) -> int | None:
        return max(self.read_sizes) if self.read_sizes else None

    @property
    def read_mean(self) -> float | None:
        return sum(self.read_sizes) / len(self.read_sizes) if self.read_sizes else None


@dataclass(frozen=True)
class VolumeTotals:
    sessions: int
    saving: int
    resuming: int
    bytes_precopy: int
    bytes_stopcopy: int
    bytes_unknown_phase: int
    bytes_written: int
    reads: int
    writes: int
    read_size_histogram: dict[str, int]


def size_bucket(size: int) -> str:
    """Label of the bucket a read of ``size`` bytes falls into ("0", "<=64", ..., ">1M")."""
    if size <= 0:
        return "0"
    for bound in SIZE_BUCKETS:
        if size <= bound:
            return f"<={_human(bound)}"
    return f">{_human(SIZE_BUCKETS[-1])}"


def bucket_labels() -> list[str]:
    return ["0", *(f"<={_human(b)}" for b in SIZE_BUCKETS), f">{_human(SIZE_BUCKETS[-1])}"]


def _human(n: int) -> str:
    for unit, size in (("M", 1 << 20), ("K", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return str(n)


def session_volume(file: str, device: str, s: SessionStats) -> SessionVolume:
    return SessionVolume(
        file=file, device=device, kind=s.kind, fd=s.fd, opened_line=s.opened_line,
        bytes_precopy=s.bytes_read_precopy, bytes_stopcopy=s.bytes_read_stopcopy,
        bytes_written=s.bytes_written, reads=s.reads, writes=s.writes,
        read_sizes=tuple(s.read_sizes),
        bytes_unknown_phase=s.bytes_read_unknown_phase,
    )


def session_volumes(results: Iterable[TraceResult]) -> list[SessionVolume]:
    """Every session of every device, in capture then device then session order."""
    return [
        session_volume(result.file, device.name, session)
        for result in results
        for device in result.devices
        for session in device.sessions
    ]


def volume_totals(volumes: Sequence[SessionVolume]) -> VolumeTotals:
    histogram = Counter(size_bucket(n) for v in volumes for n in v.read_sizes)
    return VolumeTotals(
        sessions=len(volumes),
        saving=sum(1 for v in volumes if v.kind == "saving"),
        resuming=sum(1 for v in volumes if v.kind == "resuming"),
        bytes_precopy=sum(v.bytes_precopy for v in volumes),
        bytes_stopcopy=sum(v.bytes_stopcopy for v in volumes),
        bytes_unknown_phase=sum(v.bytes_unknown_phase for v in volumes),
        bytes_written=sum(v.bytes_written for v in volumes),
        reads=sum(v.reads for v in volumes),
        writes=sum(v.writes for v in volumes),
        read_size_histogram={label: histogram[label] for label in bucket_labels()},
    )
