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
from vfio_migcheck.traces.lines import Line, TraceOpenError, iter_lines

READERS = {
    "canonical": "vfio_migcheck.traces.canonical",
    "strace": "vfio_migcheck.traces.strace",
    "qemu": "vfio_migcheck.traces.qemu",
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
    """A path that does not exist but has ``PATH.<pid>`` siblings is an ``-ff`` prefix."""
    if path.exists():
        return [path]
    siblings = sorted(
        (p for p in path.parent.glob(path.name + ".*") if p.suffix[1:].isdigit()),
        key=lambda p: int(p.suffix[1:]),
    )
    return siblings or [path]
