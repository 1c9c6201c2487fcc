"""Line-by-line input with the failure modes real captures have, reported not raised.

Invalid UTF-8, NUL bytes, enormous lines and a truncated final line each become a
:class:`BadLine` with a reason, so readers can account for every line of a file.

Captures are often archived compressed: a gzip, xz or bzip2 file (recognised by its magic
bytes, whatever its name) is decompressed on the fly, still in constant memory. A corrupt
or truncated compressed stream is reported once, naming the file, never as a traceback.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MAX_LINE_BYTES = 1 << 20  # longer lines are reported, not parsed (strace -s huge payloads)
_CHUNK = 1 << 16

#: name endings of compressed captures; the contents decide, the name is only a hint
COMPRESSED_SUFFIXES = (".gz", ".xz", ".bz2")
_BZIP2_BLOCK = bytes.fromhex("314159265359")   # first block, or ...
_BZIP2_END = bytes.fromhex("177245385090")     # ... end of stream (empty input)
_DECOMPRESS_ERRORS = (EOFError, zlib.error, lzma.LZMAError, gzip.BadGzipFile, OSError)


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


def compression_of(head: bytes) -> str | None:
    """``gzip``, ``xz``, ``bzip2`` or None, from the first 12 bytes of a file.

    Only a complete, well-formed header counts (so text that merely starts with a magic
    number stays text): gzip needs deflate, no reserved flag and valid XFL/OS bytes; xz its
    stream flags' CRC32; bzip2 the block (or end-of-stream) magic after ``BZh1``..``BZh9``.
    """
    if (head[:3] == b"\x1f\x8b\x08" and len(head) >= 10 and not head[3] & 0xE0
            and head[8] in (0, 2, 4) and (head[9] <= 13 or head[9] == 255)):
        return "gzip"
    if (head[:6] == b"\xfd7zXZ\x00" and len(head) >= 12 and head[6] == 0 and head[7] < 16
            and zlib.crc32(head[6:8]) == int.from_bytes(head[8:12], "little")):
        return "xz"
    if (head[:3] == b"BZh" and head[3:4].isdigit() and head[3:4] != b"0"
            and head[4:10] in (_BZIP2_BLOCK, _BZIP2_END)):
        return "bzip2"
    return None


def strip_compression_suffix(name: str) -> str:
    """``x.strace.12.gz`` -> ``x.strace.12``; other names unchanged."""
    for suffix in COMPRESSED_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def compressed_twin(path: Path) -> Path:
    """``path`` when it exists, else its one existing ``.gz``/``.xz``/``.bz2`` twin.

    Lets code that knows a file's plain name (``run.canon``) find it in a corpus stored
    compressed; when neither exists, ``path`` is returned so the caller's error names it.
    """
    if path.exists():
        return path
    for suffix in COMPRESSED_SUFFIXES:
        twin = path.with_name(path.name + suffix)
        if twin.exists():
            return twin
    return path


class _CheckedStream(io.RawIOBase):
    """A decompressing reader whose stream errors name the file (one clear message)."""

    def __init__(self, inner: BinaryIO, raw: BinaryIO, path: str | Path, kind: str) -> None:
        super().__init__()
        self._inner, self._raw, self._path, self._kind = inner, raw, path, kind

    def readable(self) -> bool:
        return True

    def _fail(self, exc: BaseException) -> TraceOpenError:
        return TraceOpenError(f"{self._path}: corrupt or truncated {self._kind} stream "
                              f"({str(exc) or type(exc).__name__})")

    def readinto(self, buffer) -> int:  # type: ignore[override]
        try:
            return self._inner.readinto1(buffer)
        except _DECOMPRESS_ERRORS as exc:
            raise self._fail(exc) from exc

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        """Up to ``size`` bytes; short reads (read1) keep what precedes a broken-off stream."""
        try:
            return self._inner.read(size) if size is None or size < 0 else self._inner.read1(size)
        except _DECOMPRESS_ERRORS as exc:
            raise self._fail(exc) from exc

    def readline(self, size: int | None = -1) -> bytes:  # type: ignore[override]
        try:
            return self._inner.readline(-1 if size is None else size)
        except _DECOMPRESS_ERRORS as exc:
            raise self._fail(exc) from exc

    def close(self) -> None:
        try:
            self._inner.close()   # the decompressors leave a file object they were given open
        finally:
            self._raw.close()
            super().close()


_OPENERS = {"gzip": lambda raw: gzip.GzipFile(fileobj=raw, mode="rb"),
            "xz": lzma.LZMAFile, "bzip2": bz2.BZ2File}


def open_binary(path: str | Path) -> BinaryIO:
    """Open a capture for reading bytes, decompressing gzip/xz/bzip2 transparently.

    Failing to open is a :class:`TraceOpenError`; so is a stream that turns out corrupt
    or truncated while it is read.
    """
    try:
        raw = open(path, "rb")
    except OSError as exc:
        raise TraceOpenError(f"{path}: cannot open: {exc.strerror or exc}") from exc
    try:
        kind = compression_of(raw.peek(12)[:12])   # peek: pipes and FIFOs cannot seek back
    except OSError as exc:
        raw.close()
        raise TraceOpenError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if kind is None:
        return raw
    return _CheckedStream(_OPENERS[kind](raw), raw, path, kind)  # type: ignore[return-value]


def open_text(path: str | Path) -> io.TextIOWrapper:
    """Open a UTF-8 text file, plain or compressed (corpus files, predictions)."""
    return io.TextIOWrapper(open_binary(path), encoding="utf-8")


def read_text(path: str | Path) -> str:
    """The whole text of a small file, plain or compressed; errors are OSError/ValueError."""
    with open_text(path) as handle:
        return handle.read()


def iter_lines(path: str | Path) -> Iterator[Line | BadLine]:
    """Yield each line of ``path`` (without its newline), lazily, in constant memory.

    A compressed stream that breaks off ends the file with one BadLine saying so (the
    partial line it cut is part of that report).
    """
    handle = open_binary(path)
    with handle:
        number = 0
        pending = b""
        oversize = False
        while True:
            try:
                chunk = handle.read(_CHUNK)
            except TraceOpenError as exc:
                yield BadLine(number + 1, _reason(exc, path))
                return
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


def _reason(exc: TraceOpenError, path: str | Path) -> str:
    """The stream error without the leading file name (readers prefix FILE:LINE)."""
    text = str(exc)
    prefix = f"{path}: "
    return text[len(prefix):] if text.startswith(prefix) else text


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
