"""Standard input as a trace: ``check -``, ``convert -``, ``check /dev/stdin``, ``check < f``.

Readers need a file they can read twice (format sniffing, the QEMU era scan), so stdin is
first copied to a private temporary file in fixed-size chunks (constant memory, any size,
compressed or not: the magic bytes decide as for any file). Events and reports then name
the trace ``<stdin>``, never the temporary path.
"""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from vfio_migcheck.traces.events import Event

STDIN_NAME = "<stdin>"
STDIN_ARGS = ("-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0")
_CHUNK = 1 << 16


def is_stdin(arg: str | Path) -> bool:
    """Does a TRACE argument name standard input?"""
    return str(arg) in STDIN_ARGS


def stdin_is_terminal(stream=None) -> bool:
    stream = stream if stream is not None else sys.stdin
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# (stream, its copy): the stream is kept so that its id cannot be reused by another one
_spooled: list[tuple[object, Path]] = []


def spool(stream: BinaryIO | None = None) -> Path:
    """Copy ``stream`` (default: stdin, as bytes) to a temporary file removed at exit.

    Standard input can be read once: later calls for the same stream return the same file.
    """
    if stream is None:
        stream = getattr(sys.stdin, "buffer", sys.stdin)
    for seen, known in _spooled:
        if seen is stream and known.exists():
            return known
    folder = Path(tempfile.mkdtemp(prefix="vfio-migcheck-stdin-"))
    atexit.register(shutil.rmtree, folder, True)
    path = folder / "stdin"
    with path.open("wb") as out:
        while True:
            chunk = stream.read(_CHUNK)
            if not chunk:
                break
            out.write(chunk if isinstance(chunk, bytes) else chunk.encode("utf-8",
                                                                          "surrogateescape"))
    _spooled.append((stream, path))
    return path


def renamed(events: Iterator[Event], spooled: str) -> Iterator[Event]:
    """Events whose origin names the spool file, renamed to ``<stdin>``."""
    for event in events:
        if event.origin.file == spooled:
            event = replace(event, origin=replace(event.origin, file=STDIN_NAME))
        yield event


def rename_text(text: str, spooled: str) -> str:
    """A message or note that quotes the spool file's path, naming ``<stdin>`` instead."""
    return text.replace(spooled, STDIN_NAME)
