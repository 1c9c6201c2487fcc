"""Faster twins of :func:`vfio_migcheck.traces.lines.iter_lines` for big strace captures.

QEMU captures run to millions of lines, and building a ``Line`` object per line costs
more than the whole pre-filter. :func:`iter_text_lines` yields plain ``(number, text)``
tuples, :func:`iter_blocks` whole blocks of decoded lines; both report the bad lines
(invalid UTF-8, NUL bytes, enormous lines, a cut final line) as the very same
:class:`~vfio_migcheck.traces.lines.BadLine` verdicts, and read with bounded sizes so
memory stays flat whatever the input.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

from vfio_migcheck.traces import lines
from vfio_migcheck.traces.lines import MAX_LINE_BYTES, BadLine, Line, _decode

READ_LIMIT = MAX_LINE_BYTES + 2  # the longest acceptable line plus "\r\n"
_SKIP_CHUNK = 1 << 16


def open_binary(path: str | Path):
    """Open a capture in binary mode (gzip/xz/bzip2 decompressed); see lines.open_binary."""
    return lines.open_binary(path)


def slow_item(number: int, raw: bytes, handle) -> tuple[int, str] | BadLine:
    """Decode a raw line the fast check did not accept (bad bytes, no newline, too long)."""
    if raw[-1:] == b"\n":
        body = raw[:-1]
        if body[-1:] == b"\r":
            body = body[:-1]
        item = _decode(number, body, final=False)
    elif len(raw) >= READ_LIMIT:
        _skip_rest_of_line(handle)
        return BadLine(number, f"line longer than {MAX_LINE_BYTES} bytes")
    else:
        item = _decode(number, raw, final=True)
    if isinstance(item, Line):
        if item.final_unterminated and _looks_cut(item.text):
            return BadLine(number, "truncated final line (no newline at end of file)")
        return number, item.text
    return item


def iter_text_lines(path: str | Path) -> Iterator[tuple[int, str] | BadLine]:
    """Yield ``(number, text)`` per line (no newline), or a BadLine with its reason.

    A final line without a newline is yielded when it ends like a complete strace line
    and reported as truncated otherwise.
    """
    handle = open_binary(path)
    with handle:
        readline = handle.readline
        number = 0
        while True:
            raw = readline(READ_LIMIT)  # bounded: memory stays flat on enormous lines
            if not raw:
                return
            number += 1
            if raw[-1:] == b"\n" and b"\0" not in raw and raw[-2:-1] != b"\r":
                try:
                    yield number, raw[:-1].decode("utf-8")
                    continue
                except UnicodeDecodeError:
                    pass
            yield slow_item(number, raw, handle)


def _skip_rest_of_line(handle) -> None:
    while True:
        chunk = handle.readline(_SKIP_CHUNK)
        if not chunk or chunk[-1:] == b"\n":
            return


def _looks_cut(text: str) -> bool:
    """A final line without newline is cut when strace had not finished writing it.

    Complete strace lines end with a result (``= 0``, ``= -1 EINVAL (...)``), a duration
    ``<0.000123>``, ``+++``, ``---``, ``<unfinished ...>`` or a strace message; anything
    else at end of file is a write that was interrupted (the tracer was killed, the disk
    filled up, the log was copied live).
    """
    stripped = text.rstrip()
    if not stripped:
        return False
    return not (
        stripped.endswith(("+++", "---", "...>", ">", "]", "attached", "detached"))
        or _RESULT_END.search(stripped) is not None
    )


_RESULT_END = re.compile(r"= (?:-?\d+|0x[0-9a-f]+|\?)(?: [A-Z][A-Z0-9_]*(?: \([^()]*\))?)?"
                         r"(?: \(.*\))?$")


BLOCK_BYTES = 1 << 18
CLEAN = 0   # payload: list[str] of complete, valid lines
RAW = 1     # payload: list[tuple[int, str] | BadLine] decoded one by one (the slow way)


def iter_blocks(handle) -> Iterator[tuple[int, list]]:
    """The lines of an open binary file in blocks, for loops that must be fast.

    A block whose bytes are all well-formed (no NUL, no CR, valid UTF-8, no line over
    the limit) is decoded and split in one go and comes as ``(CLEAN, [text, ...])``;
    any other block comes line by line as ``(RAW, [(number, text) | BadLine, ...])`` with
    exactly the verdicts of :func:`iter_text_lines`. Line numbers are implicit: they run
    on from block to block. Memory stays bounded by the block size and the line limit.
    """
    for kind, payload in iter_text_blocks(handle):
        yield kind, (payload[1:-1].split("\n") if kind == CLEAN else payload)


def iter_text_blocks(handle, lines_read: Callable[[], int] | None = None
                     ) -> Iterator[tuple[int, str | list]]:
    """As :func:`iter_blocks`, but a clean block comes as one string, ``"\n" + the lines
    joined by "\n" + "\n"``, so that a compiled pattern can search it without a Python
    loop per line (strace/scan.py): every line sits between two newlines.

    ``lines_read``: a consumer that counts the lines of the clean blocks itself (the strace
    reader does, stretch by stretch) passes how many lines it has read so far; the clean
    blocks are then not counted here (a pass over every byte, ~4 % of the reader on a QEMU
    capture), and the numbers of a block read line by line start after its answer. It is
    asked only when such a block comes, after the blocks before it were consumed.
    """
    # what follows the last newline read so far, that newline included: a clean block is
    # then decoded straight from the bytes read (no copy to put newlines around it)
    carry = b"\n"
    number = 0
    while True:
        chunk = handle.read(BLOCK_BYTES)
        if not chunk:
            break
        data = carry + chunk
        cut = data.rfind(b"\n")
        if cut == 0:
            carry = data
            if len(carry) > READ_LIMIT + 1:  # one enormous line: report it, skip its rest
                if lines_read is not None:
                    number = lines_read()
                number += 1
                yield RAW, [BadLine(number, f"line longer than {MAX_LINE_BYTES} bytes")]
                _skip_rest_of_line(handle)
                carry = b"\n"
            continue
        # the lines lie between data[0] and data[cut], both newlines
        carry = data[cut:]
        if data.find(b"\0", 1, cut) < 0 and data.find(b"\r", 1, cut) < 0:
            try:
                text = str(memoryview(data)[:cut + 1], "utf-8")
            except UnicodeDecodeError:
                text = None
            if text is not None and (cut - 1 <= MAX_LINE_BYTES
                                     or _longest_line(text) <= MAX_LINE_BYTES // 4):
                if lines_read is None:
                    number += data.count(b"\n", 1, cut + 1)
                yield CLEAN, text
                continue
        if lines_read is not None:
            number = lines_read()
        items: list = []
        for raw in data[1:cut].split(b"\n"):
            number += 1
            items.append(slow_item(number, raw + b"\n", handle) if len(raw) <= MAX_LINE_BYTES
                         else BadLine(number, f"line longer than {MAX_LINE_BYTES} bytes"))
        yield RAW, items
    if len(carry) > 1:
        if lines_read is not None:
            number = lines_read()
        number += 1
        yield RAW, [slow_item(number, carry[1:], handle)]


def _longest_line(text: str) -> int:
    return max(map(len, text.split("\n")))
