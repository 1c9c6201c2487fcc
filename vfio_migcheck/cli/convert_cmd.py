"""``vfio-migcheck convert``: read any trace and print its events, canonical or JSON Lines.

Output is streamed event by event (the trace is never held in memory). Exit status: 0 when
every line was read, 1 when some lines were unreadable (they are still reported, on stderr),
2 when the trace cannot be opened or the arguments are wrong.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import TextIO

import click

from vfio_migcheck.cli.common import EXIT_FINDINGS, EXIT_OK, fail_usage
from vfio_migcheck.traces.events import Event, ReadSummary, Unreadable
from vfio_migcheck.traces.lines import TraceOpenError
from vfio_migcheck.traces.reading import (
    FORMATS,
    Reading,
    UnknownFormatError,
    open_trace,
    reading_file,
    unusable_input,
)
from vfio_migcheck.traces.writer import CanonicalWriter, header

TARGETS = ("canonical", "json")


def canonical_lines(reading: Reading, source: str, origins: bool) -> Iterator[str]:
    """The converted trace: header, one line per event, then the summary as comments."""
    yield header()
    yield f"# converted from {source} ({reading.format}) by vfio-migcheck convert"
    writer = CanonicalWriter(origins=origins)
    for event in _reported(reading):
        yield from writer.lines(event)
    summary = reading.summary
    for note in summary.notes:
        yield f"# note: {note}"
    yield (f"# read {summary.lines} lines: {summary.events} events, {summary.irrelevant} "
           f"irrelevant, {len(summary.unreadable)} unreadable")


def json_lines(reading: Reading) -> Iterator[str]:
    """JSON Lines: one object per event, then ``{"summary": {...}}`` as the last line."""
    for event in _reported(reading):
        yield json.dumps(event.to_json(), default=str)
    yield json.dumps({"summary": reading.summary.to_json()}, default=str)


def _reported(reading: Reading) -> Iterator[Event]:
    """Pass events through, telling stderr about each unreadable line as it goes by."""
    for event in reading.events:
        if isinstance(event, Unreadable):
            click.echo(f"{event.origin.file}:{event.origin.line}: {event.reason}", err=True)
        yield event


def _emit(lines: Iterator[str], out: TextIO) -> None:
    for line in lines:
        out.write(line)
        out.write("\n")
    out.flush()


@click.command("convert")
@click.argument("trace", metavar="TRACE")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True,
              help="Input format; auto detects it from the first lines.")
@click.option("--to", "target", type=click.Choice(TARGETS), default="canonical",
              show_default=True,
              help="canonical: a .vmc trace (vfio-migcheck docs canonical-format); json: JSON "
                   "Lines.")
@click.option("--origins", is_flag=True,
              help="Canonical output: add the source FILE:LINE of each event as a comment.")
def convert_cmd(trace: str, fmt: str, target: str, origins: bool) -> None:
    """Read TRACE (canonical, strace or QEMU log) and print what was read.

    A strace -ff prefix (PREFIX.PID files) is read as one trace.
    """
    try:
        reading = open_trace(trace, fmt)
    except (TraceOpenError, UnknownFormatError) as exc:
        fail_usage(str(exc))
    except ImportError as exc:
        fail_usage(f"the {fmt} reader is not available: {exc}")
    lines = (canonical_lines(reading, trace, origins) if target == "canonical"
             else json_lines(reading))
    try:
        _emit(lines, sys.stdout)
    except TraceOpenError as exc:
        fail_usage(str(exc))
    except BrokenPipeError:  # e.g. `convert big.strace | head`: stop quietly
        sys.stderr.close()
        sys.exit(EXIT_OK)
    except Exception as exc:  # a reader bug must still end in one line, not a traceback
        fail_usage(f"internal error in the {reading.format} reader while reading {trace}: "
                   f"{type(exc).__name__}: {exc}")
    unusable = unusable_input(reading.summary, fmt, trace, reading_file(reading, trace))
    if unusable is not None:
        fail_usage(unusable)
    sys.exit(exit_status(reading.summary))


def exit_status(summary: ReadSummary) -> int:
    return EXIT_FINDINGS if summary.unreadable else EXIT_OK
