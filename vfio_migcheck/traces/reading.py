"""One entry point for every trace format: detection, dispatch, and the line accounting.

Each reader module provides ``sniff(lines: list[str]) -> float`` (confidence 0..1 from the
first lines) and ``read(paths: list[Path], summary: ReadSummary) -> Iterator[Event]``; it
must account for every line in ``summary`` (parsed, irrelevant or unreadable) and yield an
:class:`~vfio_migcheck.traces.events.Unreadable` event for each unreadable one.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from vfio_migcheck.traces.events import Event, ReadSummary
from vfio_migcheck.traces.lines import (
    Line,
    TraceOpenError,
    iter_lines,
    strip_compression_suffix,
)

# format name -> the reader module of its subpackage (traces/<format>/reader.py); a new
# format (the eBPF capture reader, traces/bpftrace/) is one more entry here
READERS = {
    "canonical": "vfio_migcheck.traces.canonical.reader",
    "strace": "vfio_migcheck.traces.strace.reader",
    "qemu": "vfio_migcheck.traces.qemu.reader",
}
FORMATS = ("auto", *READERS)
SNIFF_LINES = 50


class UnknownFormatError(ValueError):
    """No reader recognises the file (and no --format was given)."""


@dataclass
class Reading:
    """A lazily read trace: iterate ``events``; ``summary`` is complete once exhausted."""

    paths: list[Path]
    format: str
    events: Iterator[Event]
    summary: ReadSummary


def _reader(fmt: str):
    return importlib.import_module(READERS[fmt])


def sniff_lines(path: Path, limit: int = SNIFF_LINES) -> list[str]:
    out: list[str] = []
    for item in iter_lines(path):
        if isinstance(item, Line):
            out.append(item.text)
        if len(out) >= limit:
            break
    return out


def detect_format(path: Path) -> str:
    """Pick the reader most confident about the first lines of ``path``."""
    head = sniff_lines(path)
    best, score = None, 0.0
    for fmt in READERS:
        confidence = _reader(fmt).sniff(head)
        if confidence > score:
            best, score = fmt, confidence
    if best is None:
        raise UnknownFormatError(
            f"{path}: not recognised as a canonical trace, strace output or a QEMU trace log; "
            "pass --format to force one"
        )
    return best


def open_trace(path: str | Path, fmt: str = "auto") -> Reading:
    """Open one trace (a strace ``-ff`` prefix opens every ``PREFIX.PID`` file)."""
    paths = expand_paths(Path(path))
    for p in paths:
        if not p.is_file():
            raise TraceOpenError(f"{p}: no such file")
    chosen = detect_format(paths[0]) if fmt == "auto" else fmt
    if chosen not in READERS:
        raise UnknownFormatError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    summary = ReadSummary(format=chosen)
    events = _reader(chosen).read(paths, summary)
    return Reading(paths, chosen, events, summary)


def expand_paths(path: Path) -> list[Path]:
    """A path that does not exist but has ``PATH.<pid>`` siblings is an ``-ff`` prefix.

    The per-pid files may be compressed (``PATH.<pid>.gz``); they are read in pid order.
    """
    if path.exists():
        return [path]
    return per_pid_files(path) or [path]


def pid_of(prefix_name: str, name: str) -> int | None:
    """The pid of ``PREFIX.<pid>`` or ``PREFIX.<pid>.gz`` (``.xz``, ``.bz2``), else None."""
    rest = strip_compression_suffix(name)
    if not rest.startswith(prefix_name + "."):
        return None
    tail = rest[len(prefix_name) + 1:]
    return int(tail) if tail.isdigit() else None


def per_pid_files(prefix: Path) -> list[Path]:
    """The files of a strace ``-ff -o PREFIX`` run, in pid order.

    A pid present both plain and compressed is ambiguous (which one is the capture?), so
    it is an error rather than a silent choice or a double reading.
    """
    if not prefix.parent.is_dir():
        return []
    by_pid: dict[int, Path] = {}
    for candidate in prefix.parent.iterdir():
        pid = pid_of(prefix.name, candidate.name)
        if pid is None or not candidate.is_file():
            continue
        if pid in by_pid:
            raise TraceOpenError(f"{prefix}: pid {pid} is there twice ({by_pid[pid].name} and "
                                 f"{candidate.name}); keep one of them")
        by_pid[pid] = candidate
    return [by_pid[pid] for pid in sorted(by_pid)]
