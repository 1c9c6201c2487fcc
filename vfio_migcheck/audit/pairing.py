"""Source <-> destination pairing: the stream the source read must be the stream resumed.

The uAPI makes the device data an opaque byte stream: everything read from the saving fd
(PRE_COPY and STOP_COPY) must be written, in full, to the resuming fd of the destination.
When both ends of one migration are audited, a length difference means data was lost,
duplicated or truncated on the way (by the VMM, the transport or a driver reporting a
wrong EOF); the audit cannot tell which, hence party "unknown".

Ends are paired three ways: ``--pair SRC DST`` (explicit); by device name and time (a
source capture and a destination capture, different files, same device name, the resume
opened after the save opened and at most ``MATCH_WINDOW`` seconds after the source's stream
ended, nearest first); and one capture holding both ends on two devices (a local migration
to a second device of the same process). Automatic matching skips a device that both saves
and resumes in one capture (a test harness, not one end of a migration) and empty streams,
so unrelated captures that share a generic device name are not paired.

Pairing reads of a capture only its :class:`Candidate`: per device, its source end and its
destination end. A fleet audit keeps one candidate per capture until every capture is in
(a destination may arrive long before its source), so a candidate is packed into one JSON
line of bytes (``pack``) — tens of bytes plus the capture's path — and a capture that could
never be paired (no timed one-sided end on a shared clock, no two-device migration, not
named by ``--pair``) leaves none at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from vfio_migcheck.checker.results import DeviceResult, Finding, SessionStats, TraceResult

RULE_STREAM_LENGTH = "A001"
MATCH_WINDOW = 10.0   # seconds after the source's stream ended in which its resume may start
SHARED_CLOCKS = ("absolute", "time-of-day")   # clocks two captures can be compared on
CITE = ("include/uapi/linux/vfio.h: VFIO_DEVICE_STATE_RESUMING - the data read from the "
        "source's saving fd is written, as read, to the destination's resuming fd")


@dataclass(frozen=True)
class End:
    """One end of a migration: a device and the data session that carried its stream."""

    file: str
    device: str
    line: int | None
    ts: float | None           # the session was opened
    bytes: int
    end_ts: float | None = None   # a source's stream ended (EOF, else the device's last event)


@dataclass(frozen=True)
class Pair:
    how: str                   # explicit | matched (inferred: name and time) | same-capture
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


@dataclass(frozen=True)
class Candidate:
    """What pairing needs of one capture: its clock and, per device that carried a stream,
    the device's source end and destination end (either may be None)."""

    file: str
    clock: str                 # TraceResult.timestamps
    devices: tuple[tuple[str, End | None, End | None], ...]

    def ends(self, source: bool) -> list[End]:
        return [e for _, s, d in self.devices if (e := s if source else d) is not None]


def _hidden_phase(s: SessionStats) -> int:
    return s.bytes_read_unknown_phase


def source_end(file: str, device: DeviceResult) -> End | None:
    """The stream a migration sends: the last saving session that reached STOP_COPY or,
    when the capture hides the phase of the reads, the last one that read data."""
    saving = [s for s in device.sessions if s.kind == "saving"]
    reached = [s for s in saving if s.stop_copy_ts is not None or s.eof_line is not None
               or s.bytes_read_stopcopy]
    hidden = [s for s in saving if _hidden_phase(s)]
    chosen = reached[-1] if reached else (hidden[-1] if hidden else None)
    if chosen is None:
        return None
    end_ts = chosen.eof_ts if chosen.eof_ts is not None else device.last_ts
    return End(file, device.name, chosen.opened_line, chosen.opened_ts,
               chosen.bytes_read_precopy + chosen.bytes_read_stopcopy + _hidden_phase(chosen),
               end_ts)


def destination_end(file: str, device: DeviceResult) -> End | None:
    """The last resuming session that received data."""
    chosen: SessionStats | None = None
    for s in device.sessions:
        if s.kind == "resuming" and (s.writes or s.bytes_written):
            chosen = s
    if chosen is None:
        return None
    return End(file, device.name, chosen.opened_line, chosen.opened_ts, chosen.bytes_written)


def candidate_of(result: TraceResult, keep: bool = False) -> Candidate | None:
    """The capture's pairing candidate; None when pairing could never use it (unless
    ``keep``: the capture is named by --pair) or when it could not be read."""
    if result.error is not None:
        return None
    devices = []
    for d in result.devices:
        s, t = source_end(result.file, d), destination_end(result.file, d)
        if s is not None or t is not None:
            devices.append((d.name, s, t))
    candidate = Candidate(result.file, result.timestamps, tuple(devices))
    if keep or pair_same_capture(candidate) is not None:
        return candidate
    if result.timestamps in SHARED_CLOCKS and any(_one_sided(candidate)):
        return candidate
    return None


def pack(candidate: Candidate) -> bytes:
    """One line of bytes: the candidate without its objects (``unpack`` reverses it)."""
    rows = [[name,
             None if s is None else [s.line, s.ts, s.bytes, s.end_ts],
             None if d is None else [d.line, d.ts, d.bytes]]
            for name, s, d in candidate.devices]
    # ASCII escapes keep a path that is not valid UTF-8 (surrogate escapes) intact
    return json.dumps([candidate.file, candidate.clock, rows],
                      separators=(",", ":")).encode("ascii") + b"\n"


def unpack(packed: bytes | bytearray) -> Iterator[Candidate]:
    """The candidates of concatenated ``pack`` lines (floats round-trip exactly)."""
    for line in bytes(packed).splitlines():
        file, clock, rows = json.loads(line)
        devices = []
        for name, s, d in rows:
            source = None if s is None else End(file, name, s[0], s[1], s[2], s[3])
            dest = None if d is None else End(file, name, d[0], d[1], d[2])
            devices.append((name, source, dest))
        yield Candidate(file, clock, tuple(devices))


def pair_explicit(src: Candidate, dst: Candidate) -> tuple[list[Pair], list[str]]:
    """Pair the ends of two named captures: the only ones, else by device name."""
    sources, dests = src.ends(source=True), dst.ends(source=False)
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


def _one_sided(candidate: Candidate) -> tuple[list[End], list[End]]:
    """Timed, non-empty ends of devices that only save or only resume in this capture."""
    sources, dests = [], []
    for _, s, t in candidate.devices:
        if s is not None and t is None and s.ts is not None and s.bytes:
            sources.append(s)
        if t is not None and s is None and t.ts is not None and t.bytes:
            dests.append(t)
    return sources, dests


def pair_matched(results: Sequence[Candidate], skip: set[str]
                 ) -> tuple[list[Pair], list[str]]:
    """Different captures, same device name, the resume opened after the save opened and
    within MATCH_WINDOW of the end of its stream: paired only when unambiguous.

    A source with several candidate destinations, or a destination that several sources
    could have sent to, is not paired (lab walks run one after another on one device name
    look exactly like that): a mismatch between unrelated captures would be invented. The
    ambiguity is reported instead, with the ``--pair`` that settles it.
    """
    sources: list[End] = []
    dests: list[End] = []
    clock: dict[str, str] = {}
    for r in results:
        # relative clocks (strace -r) start at zero in every capture: not comparable
        if r.file not in skip and r.clock in SHARED_CLOCKS:
            s, d = _one_sided(r)
            sources += s
            dests += d
            clock[r.file] = r.clock
    sources.sort(key=lambda e: (e.ts, e.file, e.device))
    # destinations by device name, in their order: a source looks only at its own name's
    # (every destination for every source was quadratic in a fleet of pairable captures)
    dests_of: dict[str, list[End]] = {}
    for d in dests:
        dests_of.setdefault(d.device, []).append(d)
    candidates: dict[int, list[End]] = {}
    senders: dict[tuple[str, str], list[End]] = {}
    for index, s in enumerate(sources):
        latest = (s.end_ts if s.end_ts is not None else s.ts) + MATCH_WINDOW
        candidates[index] = [d for d in dests_of.get(s.device, ()) if d.file != s.file
                             and clock[d.file] == clock[s.file] and s.ts <= d.ts <= latest]
        for d in candidates[index]:
            senders.setdefault((d.file, d.device), []).append(s)
    pairs: list[Pair] = []
    ambiguous: list[str] = []
    for index, s in enumerate(sources):
        found = candidates[index]
        if not found:
            continue
        # every source that could have sent to any of them, whatever order the
        # destinations came in (the first one alone made the message order-dependent)
        rivals = [r for d in found for r in senders[(d.file, d.device)]]
        if len(found) == 1 and len(rivals) == 1:
            pairs.append(Pair("matched", s, found[0]))
            continue
        others = sorted({d.file for d in found} | {r.file for r in rivals} - {s.file})
        ambiguous.append(f"{s.file} {s.device}: not paired, name and time fit several "
                         f"captures ({', '.join(others[:4])}{' ...' if len(others) > 4 else ''}"
                         f"); pass --pair SRC DST if one of them is its destination")
    return pairs, ambiguous


def pair_same_capture(candidate: Candidate) -> Pair | None:
    """A capture with exactly one source device and one other destination device."""
    sources, dests = candidate.ends(source=True), candidate.ends(source=False)
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
    """The pairing of checked captures (through their candidates, as the audit does)."""
    named = {p for pair in requested for p in pair}
    return pair_candidates([c for r in results
                            if (c := candidate_of(r, keep=r.file in named)) is not None],
                           requested)


def pair_candidates(results: Sequence[Candidate],
                    requested: Sequence[tuple[str, str]] = ()) -> Pairing:
    """Explicit pairs first, then time-matched ones, then same-capture ones."""
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
    matched, ambiguous = pair_matched(results, paired)
    pairs += matched
    problems += ambiguous
    paired.update(e.file for p in matched for e in (p.source, p.destination))
    for r in results:
        if r.file not in paired and (pair := pair_same_capture(r)) is not None:
            pairs.append(pair)
    pairs.sort(key=lambda p: (p.source.file, p.source.device, p.destination.file,
                              p.destination.device))
    findings = tuple(stream_finding(p) for p in pairs if not p.matches)
    return Pairing(tuple(pairs), tuple(problems), findings)
