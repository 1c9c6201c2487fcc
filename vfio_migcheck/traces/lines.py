"""Line-by-line input with the failure modes real captures have, reported not raised.

Invalid UTF-8, NUL bytes, enormous lines and a truncated final line each become a
:class:`BadLine` with a reason, so readers can account for every line of a file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_LINE_BYTES = 1 << 20  # longer lines are reported, not parsed (strace -s huge payloads)
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Line:
    number: int
    text: str
    final_unterminated: bool = False


@dataclass(frozen=True)
class BadLine:
    number: int
    reason: str


class TraceOpenError(OSError):
    """The trace file cannot be opened at all (exit code 2 territory)."""


def iter_lines(path: str | Path) -> Iterator[Line | BadLine]:
    """Yield each line of ``path`` (without its newline), lazily, in constant memory."""
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise TraceOpenError(f"{path}: cannot open: {exc.strerror or exc}") from exc
    with handle:
        number = 0
        pending = b""
        oversize = False
        while True:
            chunk = handle.read(_CHUNK)
            if not chunk:
                break
            pending += chunk
            while True:
                cut = pending.find(b"\n")
                if cut < 0:
                    if len(pending) > MAX_LINE_BYTES:
                        oversize = True
                        pending = pending[-1:]  # keep scanning for the newline
                    break
                raw, pending = pending[:cut], pending[cut + 1:]
                number += 1
                if oversize:
                    oversize = False
                    yield BadLine(number, f"line longer than {MAX_LINE_BYTES} bytes")
                    continue
                yield _decode(number, raw, final=False)
        if pending or oversize:
            number += 1
            if oversize:
                yield BadLine(number, f"line longer than {MAX_LINE_BYTES} bytes")
            else:
                yield _decode(number, pending, final=True)


def _decode(number: int, raw: bytes, final: bool) -> Line | BadLine:
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if len(raw) > MAX_LINE_BYTES:
        return BadLine(number, f"line longer than {MAX_LINE_BYTES} bytes ({len(raw)})")
    nul = raw.find(b"\0")
    if nul >= 0:
        return BadLine(number, f"NUL byte at column {nul + 1}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return BadLine(number, f"invalid UTF-8 at column {exc.start + 1}")
    return Line(number, text, final_unterminated=final)
