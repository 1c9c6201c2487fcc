"""Source <-> destination pairing: the stream the source read must be the stream resumed.

The uAPI makes the device data an opaque byte stream: everything read from the saving fd
(PRE_COPY and STOP_COPY) must be written, in full, to the resuming fd of the destination.
When both ends of one migration are audited, a length difference means data was lost,
duplicated or truncated on the way (by the VMM, the transport or a driver reporting a
wrong EOF); the audit cannot tell which, hence party "unknown".

Ends are paired three ways: ``--pair SRC DST`` (explicit), a source and a destination
capture with the same device name where the resume starts after the save (by time), and
one capture holding both ends on two devices (a local migration such as QEMU's
``migrate`` to a second device in the same process).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from vfio_migcheck.checker.results import DeviceResult, Finding, SessionStats, TraceResult

RULE_STREAM_LENGTH = "A001"
CITE = ("include/uapi/linux/vfio.h: VFIO_DEVICE_STATE_RESUMING - the data read from the "
        "source's saving fd is written, as read, to the destination's resuming fd")


@dataclass(frozen=True)
class End:
    """One end of a migration: a device and the data session that carried its stream."""

    file: str
    device: str
    line: int | None
    ts: float | None
    bytes: int


@dataclass(frozen=True)
class Pair:
    how: str                   # explicit | matched | same-capture
    source: End
    destination: End

    @property
    def matches(self) -> bool:
        return self.source.bytes == self.destination.bytes


@dataclass(frozen=True)
class Pairing:
    pairs: tuple[Pair, ...]
    problems: tuple[str, ...]      # --pair requests that could not be honoured, and why
    findings: tuple[Finding, ...]


def source_end(file: str, device: DeviceResult) -> End | None:
    """The last saving session that reached STOP_COPY: the stream a migration sends."""
    chosen: SessionStats | None = None
    for s in device.sessions:
        if s.kind == "saving" and (
                s.stop_copy_ts is not None or s.eof_line is not None or s.bytes_read_stopcopy):
            chosen = s
    if chosen is None:
        return None
    hidden_phase = getattr(chosen, "bytes_read_unknown_phase", 0)
    return End(file, device.name, chosen.opened_line, chosen.opened_ts,
               chosen.bytes_read_precopy + chosen.bytes_read_stopcopy + hidden_phase)


def destination_end(file: str, device: DeviceResult) -> End | None:
    """The last resuming session that received data."""
    chosen: SessionStats | None = None
    for s in device.sessions:
        if s.kind == "resuming" and (s.writes or s.bytes_written):
            chosen = s
    if chosen is None:
        return None
    return End(file, device.name, chosen.opened_line, chosen.opened_ts, chosen.bytes_written)


def _ends(result: TraceResult, which) -> list[End]:
    return [e for d in result.devices if (e := which(result.file, d)) is not None]


def pair_explicit(src: TraceResult, dst: TraceResult) -> tuple[list[Pair], list[str]]:
    """Pair the ends of two named captures: the only ones, else by device name."""
    sources, dests = _ends(src, source_end), _ends(dst, destination_end)
    where = f"--pair {src.file} {dst.file}"
    if not sources:
        return [], [f"{where}: {src.file} has no saving session that reached STOP_COPY"]
    if not dests:
        return [], [f"{where}: {dst.file} has no resuming session that received data"]
    if len(sources) == 1 and len(dests) == 1:
        return [Pair("explicit", sources[0], dests[0])], []
    by_name = {d.device: d for d in dests}
    pairs = [Pair("explicit", s, by_name[s.device]) for s in sources if s.device in by_name]
    if not pairs:
        return [], [f"{where}: several devices and no common device name; cannot tell which "
                    "source pairs with which destination"]
    return pairs, []


def pair_matched(results: Sequence[TraceResult], skip: set[str]) -> list[Pair]:
    """Different captures, same device name, the resume opened after the save: nearest first."""
    sources = sorted(
        (e for r in results if r.file not in skip for e in _ends(r, source_end)
         if e.ts is not None),
        key=lambda e: (e.ts, e.file, e.device),
    )
    dests = [e for r in results if r.file not in skip for e in _ends(r, destination_end)
             if e.ts is not None]
    used: set[tuple[str, str]] = set()
    pairs: list[Pair] = []
    for s in sources:
        candidates = [d for d in dests if d.device == s.device and d.file != s.file
                      and (d.file, d.device) not in used and d.ts >= s.ts]
        if not candidates:
            continue
        best = min(candidates, key=lambda d: (d.ts - s.ts, d.file))
        used.add((best.file, best.device))
        pairs.append(Pair("matched", s, best))
    return pairs


def pair_same_capture(result: TraceResult) -> Pair | None:
    """A capture with exactly one source device and one other destination device."""
    sources, dests = _ends(result, source_end), _ends(result, destination_end)
    if len(sources) == 1 and len(dests) == 1 and sources[0].device != dests[0].device:
        return Pair("same-capture", sources[0], dests[0])
    return None


def stream_finding(pair: Pair) -> Finding:
    s, d = pair.source, pair.destination
    return Finding(
        rule=RULE_STREAM_LENGTH, severity="error", party="unknown",
        file=d.file, line=d.line or 0, device=d.device,
        message=(f"migration stream length differs: the source {s.file} ({s.device}) read "
                 f"{s.bytes} bytes while saving, the destination wrote {d.bytes} bytes "
                 "while resuming"),
        observed=f"source read {s.bytes} B; destination wrote {d.bytes} B",
        allowed="the destination resumes exactly the bytes the source saved",
        fingerprint=f"{RULE_STREAM_LENGTH}:{s.device}->{d.device}",
        cite=CITE,
    )


def pair_captures(results: Iterable[TraceResult],
                  requested: Sequence[tuple[str, str]] = ()) -> Pairing:
    """Explicit pairs first, then time-matched ones, then same-capture ones."""
    results = [r for r in results if r.error is None]
    by_file = {r.file: r for r in results}
    pairs: list[Pair] = []
    problems: list[str] = []
    paired: set[str] = set()
    for src, dst in requested:
        missing = [p for p in (src, dst) if p not in by_file]
        if missing:
            problems.append(f"--pair {src} {dst}: {missing[0]} was not audited or is unreadable")
            continue
        found, why = pair_explicit(by_file[src], by_file[dst])
        pairs += found
        problems += why
        paired.update((src, dst))
    matched = pair_matched(results, paired)
    pairs += matched
    paired.update(e.file for p in matched for e in (p.source, p.destination))
    for r in results:
        if r.file not in paired and (pair := pair_same_capture(r)) is not None:
            pairs.append(pair)
    pairs.sort(key=lambda p: (p.source.file, p.source.device, p.destination.file,
                              p.destination.device))
    findings = tuple(stream_finding(p) for p in pairs if not p.matches)
    return Pairing(tuple(pairs), tuple(problems), findings)
