"""The report's data-volume section, kept short however many sessions the captures hold.

Sessions are added up per capture, device and kind (a strace capture of a long run opens
hundreds of data fds); the groups that moved bytes are listed biggest first, in pages; the
groups that moved nothing (typically data fds whose kind plain strace cannot tell) are
counted in one sentence and listed only inside a collapsed table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from vfio_migcheck.audit.html_parts import cap_link, common_folder, esc, human_bytes, paged_table
from vfio_migcheck.audit.summary import Audit, CaptureEntry
from vfio_migcheck.audit.volume import SessionVolume


@dataclass
class SessionGroup:
    """Every session of one kind on one device of one capture, added up."""

    capture: int                 # index of the capture in the audit
    path: str
    device: str
    kind: str
    sessions: int = 0
    first_line: int | None = None
    bytes_precopy: int = 0
    bytes_stopcopy: int = 0
    bytes_unknown_phase: int = 0
    bytes_written: int = 0
    reads: int = 0
    writes: int = 0
    read_sizes: list[int] = field(default_factory=list)

    def add(self, s: SessionVolume) -> None:
        self.sessions += 1
        if s.opened_line is not None and (self.first_line is None
                                          or s.opened_line < self.first_line):
            self.first_line = s.opened_line
        self.bytes_precopy += s.bytes_precopy
        self.bytes_stopcopy += s.bytes_stopcopy
        self.bytes_unknown_phase += s.bytes_unknown_phase
        self.bytes_written += s.bytes_written
        self.reads += s.reads
        self.writes += s.writes
        self.read_sizes += s.read_sizes

    @property
    def bytes_moved(self) -> int:
        return (self.bytes_precopy + self.bytes_stopcopy + self.bytes_unknown_phase
                + self.bytes_written)


def session_groups(captures: Sequence[CaptureEntry]) -> list[SessionGroup]:
    """Groups in capture, device, kind order of first appearance."""
    groups: dict[tuple[int, str, str], SessionGroup] = {}
    for i, e in enumerate(captures):
        for s in e.sessions:
            key = (i, s.device, s.kind)
            group = groups.get(key)
            if group is None:
                group = groups[key] = SessionGroup(i, e.path, s.device, s.kind)
            group.add(s)
    return list(groups.values())


def by_bytes(groups: Sequence[SessionGroup]) -> list[SessionGroup]:
    """Biggest first; ties in capture, device, kind order (stable across runs)."""
    return sorted(groups, key=lambda g: (-g.bytes_moved, g.path, g.device, g.kind))


def _n(value: int) -> str:
    return f'<td class="n" data-sort="{value}">{human_bytes(value) if value else ""}</td>'


def _moved_row(g: SessionGroup, folder: str) -> str:
    sizes = g.read_sizes
    spread = (f"{min(sizes)} / {sum(sizes) / len(sizes):.0f} / {max(sizes)}" if sizes else "")
    calls = " · ".join(x for x in (f"{g.reads} reads" if g.reads else "",
                                    f"{g.writes} writes" if g.writes else "") if x)
    return (
        f'<tr data-bytes="{g.bytes_moved}"><td>{cap_link(g.capture, g.path, folder)}</td>'
        f"<td><code>{esc(g.device)}</code></td><td>{esc(g.kind)}</td>"
        f'<td class="n">{g.sessions}</td>'
        f"{_n(g.bytes_moved)}{_n(g.bytes_precopy)}{_n(g.bytes_stopcopy)}"
        f"{_n(g.bytes_unknown_phase)}{_n(g.bytes_written)}"
        f'<td class="n" data-sort="{g.reads + g.writes}">{calls}</td>'
        f'<td class="n" data-sort="{max(sizes) if sizes else 0}">{spread}</td></tr>'
    )


MOVED_HEAD = ["capture", "device", "kind", "sessions", "bytes moved", "read in PRE_COPY",
              "read in STOP_COPY", "read, phase hidden", "written (RESUMING)", "calls",
              "read size min / mean / max"]


def _empty_part(empty: Sequence[SessionGroup], folder: str) -> str:
    if not empty:
        return ""
    sessions = sum(g.sessions for g in empty)
    kinds = Counter()
    for g in empty:
        kinds[g.kind] += g.sessions
    kind_text = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
    captures = len({g.capture for g in empty})
    rows = [
        f"<tr><td>{cap_link(g.capture, g.path, folder)}</td><td><code>{esc(g.device)}"
        f'</code></td><td>{esc(g.kind)}</td><td class="n">{g.sessions}</td>'
        f'<td class="n">{g.first_line or ""}</td><td class="n">{g.reads or ""}</td>'
        f'<td class="n">{g.writes or ""}</td></tr>'
        for g in empty]
    table = paged_table("volume-empty", ["capture", "device", "kind", "sessions",
                                         "first opened at line", "reads", "writes"], rows)
    return (f'<details class="empty-sessions"><summary>{sessions} sessions in {captures} '
            f"captures moved no data ({esc(kind_text)})</summary>"
            '<p class="muted">A data fd was opened but no read or write on it moved a byte; '
            "a session of kind <i>unknown</i> is one whose direction the capture does not "
            f"show.</p>{table}</details>")


def volume_section(audit: Audit) -> str:
    groups = session_groups(audit.captures)
    folder = common_folder([e.path for e in audit.captures])
    moved = by_bytes([g for g in groups if g.bytes_moved])
    empty = [g for g in groups if not g.bytes_moved]
    vol = audit.totals.volume
    if moved:
        intro = (f'<p class="muted">{vol.sessions} data sessions, added up per capture, '
                 f"device and kind: {len(moved)} groups moved data, biggest first.</p>")
        rows = [_moved_row(g, folder) for g in moved]
        table = intro + paged_table("volume-moved", MOVED_HEAD, rows)
    elif groups:
        table = '<p class="muted">No data session moved a byte.</p>'
    else:
        table = '<p class="muted">No data session.</p>'
    hist = vol.read_size_histogram
    top = max(hist.values()) if hist and max(hist.values()) else 1
    bars = "".join(
        f'<div class="hcol" title="{n} reads of {esc(k)} bytes"><div class="hbar" '
        f'style="height:{100 * n / top:.1f}%"></div><div class="hn">{n}</div>'
        f'<div class="hl">{esc(k)}</div></div>' for k, n in hist.items())
    return (f'<section id="volume"><h2>Data volume</h2>{table}{_empty_part(empty, folder)}'
            f'<h3>Read sizes (bytes)</h3><div class="hist">{bars}</div></section>')
