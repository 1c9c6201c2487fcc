"""What one fuzz input is fed to. A target returns normally or raises :class:`Finding`;
any other exception is a crash (a user would have seen a traceback or "internal error")."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from vfio_migcheck.traces.events import DeviceOpen, Event, Origin, ReadSummary, Unreadable
from vfio_migcheck.traces.lines import TraceOpenError
from vfio_migcheck.traces.reading import UnknownFormatError, open_trace


class Finding(Exception):
    """A wrong answer that is not a crash (accounting, round trip)."""


@dataclasses.dataclass(frozen=True)
class Target:
    name: str
    kind: str | None          # the seed kind it starts from (None: any)
    suffix: str               # the input file's name ending
    run: Callable[[Path], None]
    window: int = 6           # at most this many seed lines per input


def _read(path: Path, fmt: str) -> tuple[list[Event], ReadSummary]:
    reading = open_trace(path, fmt)
    events = list(reading.events)
    return events, reading.summary


def _accounted(events: list[Event], summary: ReadSummary) -> None:
    """Every unreadable event is listed in the summary (issue 11, item 9)."""
    unreadable = sum(1 for e in events if isinstance(e, Unreadable))
    if unreadable != len(summary.unreadable):
        raise Finding(f"{unreadable} Unreadable events but {len(summary.unreadable)} listed "
                      "in summary.unreadable")


def reader(fmt: str) -> Callable[[Path], None]:
    def run(path: Path) -> None:
        try:
            events, summary = _read(path, fmt)
        except (UnknownFormatError, TraceOpenError):
            return                    # a clean one-line refusal
        _accounted(events, summary)
    return run


def check(path: Path) -> None:
    """The whole check: read, engine, verdicts, and every report rendered."""
    from vfio_migcheck.checker.api import check_trace

    result = check_trace(path)
    if result.error and "internal error" in result.error:
        raise RuntimeError(result.error)
    _render_all([result])


def _render_all(results: list) -> None:
    """Every report format, as the CLI writes them (JSON-serialisable, rendered text)."""
    import io
    import json

    from rich.console import Console

    from vfio_migcheck.checker.reports.json import to_json
    from vfio_migcheck.checker.reports.junit import to_junit
    from vfio_migcheck.checker.reports.sarif import to_sarif
    from vfio_migcheck.checker.reports.text import render

    json.dumps(to_json(results))
    json.dumps(to_sarif(results))
    to_junit(results)
    render(results, Console(file=io.StringIO(), width=100))


_HERE = Origin("fuzz", 0)


def _comparable(events: list[Event]) -> list[Event]:
    return [dataclasses.replace(e, origin=_HERE, **({"file": ""} if hasattr(e, "file") else {}))
            for e in events
            if not (isinstance(e, DeviceOpen) and e.text and "declared by the converter" in e.text)]


def roundtrip(path: Path) -> None:
    """Events of any reader, written as canonical text, read back equal (convert's promise)."""
    from vfio_migcheck.traces.canonical.reader import read_text
    from vfio_migcheck.traces.writer import write_events

    try:
        events, _ = _read(path, "auto")
    except (UnknownFormatError, TraceOpenError):
        return
    events = [e for e in events if not isinstance(e, Unreadable)]
    lines = list(write_events(events))
    summary = ReadSummary()
    back = list(read_text("\n".join(lines) + "\n", summary=summary))
    if summary.unreadable:
        raise Finding(f"the writer wrote an unreadable line: {summary.unreadable[0]}")
    if _comparable(back) != _comparable(events):
        raise Finding("events read back from the canonical text differ from the originals")


# --- line-level targets: the readers' per-line code without file I/O (cheap inputs) ---------


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8", errors="surrogatepass").split("\n")


def strace_lines(path: Path) -> None:
    """The strace session fed line by line (what _read_one does after its fast loop)."""
    from vfio_migcheck.traces.strace.session import Session

    summary = ReadSummary(format="strace")
    session = Session(summary)
    events: list[Event] = []
    for number, text in enumerate(_lines(path), start=1):
        if "\x00" in text or not text:
            continue                  # the line splitter reports these before a reader sees them
        session.line(str(path), number, text)
        events.extend(session.out)
        session.out.clear()
    events.extend(session.finish())
    _accounted(events, summary)


def qemu_lines(path: Path) -> None:
    """Every QEMU line parser: records, prefixes, error reports, QMP events (sniffing and
    the write() payload path are driven by the auto and strace targets)."""
    from vfio_migcheck.traces.qemu.reader import parse_line

    for number, text in enumerate(_lines(path), start=1):
        parse_line(text, Origin(str(path), number), ("v1", None, "v2")[number % 3])


def canonical_lines(path: Path) -> None:
    from vfio_migcheck.traces.canonical.reader import read_text

    lines = _lines(path)
    summary = ReadSummary(format="canonical")
    events = list(read_text("\n".join(lines), str(path), summary))
    _accounted(events, summary)


TARGETS = {t.name: t for t in (
    Target("strace-lines", "strace", ".strace", strace_lines, window=3),
    Target("qemu-lines", "qemu", ".log", qemu_lines, window=2),
    Target("canonical-lines", "canonical", ".vmc", canonical_lines, window=2),
    Target("strace", "strace", ".strace", reader("strace")),
    Target("qemu", "qemu", ".log", reader("qemu")),
    Target("canonical", "canonical", ".vmc", reader("canonical")),
    Target("bpftrace", "bpftrace", ".bpftrace", reader("bpftrace")),
    Target("auto", None, ".txt", reader("auto")),
    Target("check", None, ".txt", check),
    Target("roundtrip", None, ".txt", roundtrip),
)}
