"""The lines of a capture in blocks: :func:`~vfio_migcheck.traces.lines.iter_lines`'s verdicts
without its cost per line.

``iter_lines`` builds a ``Line`` object per line and copies the rest of its buffer after
each one; on a decoded capture of 200k lines that alone cost more than reading the lines.
:func:`iter_line_blocks` reads the same chunks the same way and hands over each chunk's
complete lines as one list: plain ``str`` for a line ``iter_lines`` would give as a
``Line`` (but the last one, if unterminated: its ``Line``), the very ``BadLine`` it would
give otherwise (NUL byte, invalid UTF-8, a line
over the limit, a broken compressed stream). A chunk whose bytes are clean (no NUL, no
CR, valid UTF-8, short enough) is decoded and split in one go; any other chunk goes line
by line through the same decoding as ``iter_lines``. tests/test_line_blocks.py holds
the two equal on hypothesis-generated files. Used by the canonical and QEMU readers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from vfio_migcheck.traces.lines import (
    _CHUNK,
    MAX_LINE_BYTES,
    BadLine,
    Line,
    TraceOpenError,
    _decode,
    _reason,
    open_binary,
)


def iter_line_blocks(path: str | Path) -> Iterator[list[str | BadLine]]:
    """Lists of consecutive lines of ``path`` (numbered on from 1 across the lists): each
    a ``str`` (the line's text) or the ``BadLine`` that :func:`iter_lines` reports; a last
    line without its newline comes as the ``Line`` (``final_unterminated``) it gives."""
    handle = open_binary(path)
    with handle:
        number = 0
        pending = b""
        oversize = False
        while True:
            try:
                chunk = handle.read(_CHUNK)
            except TraceOpenError as exc:
                yield [BadLine(number + 1, _reason(exc, path))]
                return
            if not chunk:
                break
            pending = pending + chunk if pending else chunk
            cut = pending.rfind(b"\n")
            if cut >= 0:
                body, pending = pending[:cut], pending[cut + 1:]
                items, number = _lines(body, number, oversize)
                oversize = False
                yield items
            if len(pending) > MAX_LINE_BYTES:
                oversize = True
                pending = pending[-1:]  # keep scanning for the newline
        if pending or oversize:
            number += 1
            if oversize:
                yield [BadLine(number, f"line longer than {MAX_LINE_BYTES} bytes")]
            else:
                yield [_decode(number, pending, final=True)]


def _lines(body: bytes, number: int, oversize: bool) -> tuple[list[str | BadLine], int]:
    """The complete lines of one chunk (``body``: up to its last newline, excluded)."""
    if not oversize and len(body) <= MAX_LINE_BYTES and b"\0" not in body \
            and b"\r" not in body:
        try:
            texts: list = body.decode("utf-8").split("\n")
        except UnicodeDecodeError:
            pass
        else:
            return texts, number + len(texts)
    items: list[str | BadLine] = []
    for raw in body.split(b"\n"):
        number += 1
        if oversize:
            oversize = False
            items.append(BadLine(number, f"line longer than {MAX_LINE_BYTES} bytes"))
            continue
        item = _decode(number, raw, final=False)
        items.append(item.text if isinstance(item, Line) else item)
    return items, number
