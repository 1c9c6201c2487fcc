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
from vfio_migcheck.traces.stdin import STDIN_NAME, is_stdin, rename_text, renamed, spool

# format name -> the reader module of its subpackage (traces/<format>/reader.py)
READERS = {
    "canonical": "vfio_migcheck.traces.canonical.reader",
    "strace": "vfio_migcheck.traces.strace.reader",
    "qemu": "vfio_migcheck.traces.qemu.reader",
    "bpftrace": "vfio_migcheck.traces.bpftrace.reader",
}
# format name -> its sniff module (traces/<format>/sniff.py): ``bound(lines)`` is at least what
# the reader's ``sniff`` answers, found from the text without importing the reader
SNIFFERS = {
    "canonical": "vfio_migcheck.traces.canonical.sniff",
    "strace": "vfio_migcheck.traces.strace.sniff",
    "qemu": "vfio_migcheck.traces.qemu.sniff",
    "bpftrace": "vfio_migcheck.traces.bpftrace.sniff",
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
    spooled: Path | None = None      # standard input's copy on disk (traces/stdin.py)


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


def detect_lines(head: list[str]) -> str | None:
    """The format whose reader is most confident about ``head`` (None: no reader is).

    A reader whose bound cannot beat the best answer so far is neither imported nor asked:
    checking a strace capture does not import the QEMU and eBPF readers (docs/startup.md).
    """
    best, score = None, 0.0
    for fmt in READERS:
        if importlib.import_module(SNIFFERS[fmt]).bound(head) <= score:
            continue
        confidence = _reader(fmt).sniff(head)
        if confidence > score:
            best, score = fmt, confidence
        if score >= 1.0:
            break   # certain (a header): no later reader can win, none need be imported
    return best


def detect_format(path: Path) -> str:
    """Pick the reader most confident about the first lines of ``path`` (detect_lines)."""
    best = detect_lines(sniff_lines(path))
    if best is None:
        raise UnknownFormatError(
            f"{path}: not recognised as a canonical trace, strace output, a QEMU trace log or "
            "a vfio-migcheck capture (bpftrace); "
            "pass --format to force one"
        )
    return best


def open_trace(path: str | Path, fmt: str = "auto") -> Reading:
    """Open one trace (a strace ``-ff`` prefix opens every ``PREFIX.PID`` file).

    ``-`` and ``/dev/stdin`` read standard input (traces/stdin.py).
    """
    if is_stdin(path):
        return _open_stdin(fmt)
    paths = expand_paths(Path(path))
    for p in paths:
        if p.is_dir():
            raise TraceOpenError(f"{p}: is a directory, not a trace; 'vfio-migcheck audit {p}' "
                                 "checks every capture in it")
        if not p.is_file():
            raise TraceOpenError(f"{p}: no such file")
    chosen = detect_format(paths[0]) if fmt == "auto" else fmt
    if chosen not in READERS:
        raise UnknownFormatError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    summary = ReadSummary(format=chosen)
    events = _reader(chosen).read(paths, summary)
    return Reading(paths, chosen, events, summary)


def reading_file(reading: Reading, given) -> Path:
    """The file on disk behind a reading (stdin's spool file, else the first path)."""
    return reading.spooled or reading.paths[0] if is_stdin(given) else reading.paths[0]


def _open_stdin(fmt: str) -> Reading:
    spooled = spool()
    try:
        reading = open_trace(spooled, fmt)
    except (UnknownFormatError, TraceOpenError) as exc:
        raise type(exc)(rename_text(str(exc), str(spooled))) from None
    events = _stdin_events(reading, str(spooled))
    return Reading([Path(STDIN_NAME)], reading.format, events, reading.summary, spooled)


def _stdin_events(reading: Reading, spooled: str) -> Iterator[Event]:
    yield from renamed(reading.events, spooled)
    summary = reading.summary
    summary.notes[:] = [rename_text(note, spooled) for note in summary.notes]
    summary.unreadable[:] = [(n, rename_text(r, spooled)) for n, r in summary.unreadable]


def _detected(path: Path) -> str | None:
    try:
        return detect_format(path) if path.is_file() else None
    except (UnknownFormatError, TraceOpenError):
        return None


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


def unusable_input(summary: ReadSummary, fmt: str, path, real_path=None) -> str | None:
    """A file forced into a format (--format) in which (almost) no line reads: exit 2.

    Auto-detection already refuses files no reader recognises; with --format the user
    overrode it, and a file whose every line is unreadable (``--format canonical /bin/ls``)
    or that gave no event while it reads as another format (``--format qemu`` on strace
    output, whose lines the QEMU reader skips as foreign text) was not a trace of that
    format at all. ``real_path``: the file to sniff when ``path`` is a display name.
    """
    if fmt != "auto" and not summary.events:
        other = _detected(Path(real_path if real_path is not None else path))
        if other is not None and other != fmt:
            return (f"{path}: --format {fmt} read no event from it, and it reads as {other} "
                    f"(drop --format, or use --format {other})")
    unreadable = len(summary.unreadable)
    if fmt == "auto" or not unreadable or summary.events * 20 >= unreadable or (
            summary.events and unreadable < 20):
        return None                  # some of it reads: a damaged trace, still checked
    first_line, reason = summary.unreadable[0]
    return (f"{path}:{first_line}: not a {fmt} trace: {unreadable} line(s) do not read as "
            f"{fmt} and {summary.events} do (first: {reason})")
