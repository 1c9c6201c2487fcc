"""Turn the PATH arguments of ``audit`` into a sorted list of captures.

A capture is what one ``check`` run reads: a single trace file, or a strace ``-ff`` prefix
whose per-thread files ``PREFIX.<tid>`` belong together. Directories are searched
recursively; files there count as traces by extension (also under ``.gz``/``.xz``/``.bz2``:
``x.strace.gz``, ``x.strace.123.gz``) or, failing that, by sniffing the first lines with the
reader registry, which reads through compression. Files named explicitly are always taken:
if they are not traces, the check says so for that capture alone.
"""

from __future__ import annotations

import glob
import heapq
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from vfio_migcheck.traces.lines import strip_compression_suffix
from vfio_migcheck.traces.reading import per_pid_files

TRACE_SUFFIXES = (".strace", ".vmc", ".log", ".trace")
# Files that are never traces; skipping them saves a sniff and avoids false positives.
NOT_TRACE_SUFFIXES = (".md", ".json", ".html", ".htm", ".svg", ".png", ".gt", ".kmsg",
                      ".hexdump", ".bin", ".py", ".toml", ".zst", ".tar", ".zip")
_PER_THREAD = re.compile(r"^(?P<prefix>.+)\.(?P<tid>\d+)$")
_GLOB_CHARS = re.compile(r"[*?\[]")
SNIFF_THRESHOLD = 0.5


class CollectError(ValueError):
    """A PATH argument names nothing: no file, directory, ``-ff`` prefix or glob match."""


@dataclass(frozen=True, order=True)
class Capture:
    """One unit of checking: ``path`` is what ``check_trace`` opens, ``files`` what it reads."""

    path: str
    files: tuple[str, ...]


def collect_captures(
    args: Iterable[str], sniff: Callable[[Path], bool] | None = None
) -> list[Capture]:
    """Expand PATH arguments into captures, sorted by path, each listed once."""
    return list(iter_captures(args, sniff))


def iter_captures(
    args: Iterable[str], sniff: Callable[[Path], bool] | None = None
) -> Iterator[Capture]:
    """``collect_captures`` as a stream: the same captures in the same order, listed as
    they are yielded. A directory is walked in the order of the paths it yields, so the
    client holds one directory's names at a time, not the fleet's; an argument that names
    nothing is an error before anything is yielded."""
    is_trace = sniff or sniff_is_trace
    explicit: set[str] = set()
    streams: list[Iterator[Capture]] = []
    for arg in args:
        target = Path(arg)
        if target.is_file():
            explicit.add(_norm(target))
        elif target.is_dir():
            streams.append(walk_captures(target, is_trace))
        elif _per_thread_files(target):
            explicit.update(_norm(p) for p in _per_thread_files(target))
        elif _GLOB_CHARS.search(arg):
            matches = sorted(glob.glob(arg, recursive=True))
            if not matches:
                raise CollectError(f"{arg}: the pattern matches no file")
            for match in matches:
                m = Path(match)
                if m.is_dir():
                    streams.append(walk_captures(m, is_trace))
                elif m.is_file():
                    explicit.add(_norm(m))
        else:
            raise CollectError(f"{arg}: no such file, directory, strace -ff prefix or pattern")
    if explicit:
        streams.append(iter(group_captures(explicit)))
    return merge_sorted(streams)


def merge_sorted(streams: list[Iterator[Capture]]) -> Iterator[Capture]:
    """Sorted capture streams as one sorted stream; a capture met twice (two arguments
    naming the same file, or threads of one ``-ff`` prefix found apart) is one capture."""
    last: Capture | None = None
    for capture in heapq.merge(*streams):
        if last is not None and capture.path == last.path:
            last = Capture(last.path, tuple(sorted(set(last.files) | set(capture.files),
                                                   key=_thread_order)))
            continue
        if last is not None:
            yield last
        last = capture
    if last is not None:
        yield last


def group_captures(files: Iterable[str]) -> list[Capture]:
    """Group ``PREFIX.<tid>`` files under their prefix (when the prefix is no file itself)."""
    groups: dict[str, list[str]] = {}
    for name in files:
        m = _PER_THREAD.match(strip_compression_suffix(name))
        if m and not os.path.isfile(m["prefix"]) and _looks_per_thread(m["prefix"]):
            groups.setdefault(m["prefix"], []).append(name)
        else:
            groups.setdefault(name, []).append(name)
    captures = []
    for path, members in groups.items():
        members.sort(key=_thread_order)
        captures.append(Capture(path, tuple(members)))
    return sorted(captures)


def _looks_per_thread(prefix: str) -> bool:
    """``x.strace.123`` or a suffix-less ``-ff -o out`` prefix (not a rotated ``qemu.log.1``)."""
    return prefix.endswith(".strace") or not Path(prefix).suffix


def _thread_order(name: str) -> tuple[int, str]:
    m = _PER_THREAD.match(strip_compression_suffix(name))
    return (int(m["tid"]) if m else -1, name)


def _per_thread_files(prefix: Path) -> list[Path]:
    if prefix.exists():
        return []
    try:
        return per_pid_files(prefix)
    except OSError:   # a pid both plain and compressed: check_trace reports it for the capture
        return [p for p in prefix.parent.iterdir() if p.name.startswith(prefix.name + ".")]


def walk_captures(root: Path, is_trace: Callable[[Path], bool]) -> Iterator[Capture]:
    """The captures under ``root`` in path order, one directory listed at a time.

    Within a directory a capture sorts by its name and a subdirectory by its name plus the
    separator, which is where every path under it sorts; so the captures come out in the
    order ``sorted`` would give them. Hidden entries are skipped; symbolic links to
    directories are not followed (as ``os.walk`` does)."""
    base = os.path.normpath(str(root))
    try:
        entries = list(os.scandir(base))
    except OSError:
        return
    files: list[str] = []
    subdirs: list[str] = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if is_dir:
            if not entry.is_symlink():
                subdirs.append(entry.name)
            continue
        plain = strip_compression_suffix(entry.name)
        path = Path(base) / entry.name
        if _by_extension(plain) or (not plain.endswith(NOT_TRACE_SUFFIXES) and is_trace(path)):
            files.append(_norm(path))
    del entries
    captures = [(os.path.basename(c.path), c) for c in group_captures(files)]
    del files
    yield from in_path_order(captures, [(name + os.sep, name) for name in subdirs],
                             lambda name: walk_captures(Path(base) / name, is_trace))


def in_path_order(captures: list[tuple[str, Capture]], subdirs: list[tuple[str, str]],
                  descend: Callable[[str], Iterator[Capture]]) -> Iterator[Capture]:
    """One directory's captures and subdirectories merged by sort key (a subdirectory's
    key ends with its separator), each subdirectory walked by ``descend`` in its turn: the
    order a sorted list of every path would give, without holding that list."""
    order: list[tuple[str, Capture | str]] = [*captures, *subdirs]
    order.sort(key=lambda item: item[0])
    for _, item in order:
        if isinstance(item, Capture):
            yield item
        else:
            yield from descend(item)


def _by_extension(name: str) -> bool:
    m = _PER_THREAD.match(name)
    stem = m["prefix"] if m else name
    return stem.endswith(TRACE_SUFFIXES)


def sniff_is_trace(path: Path) -> bool:
    """Ask every registered reader; a reader that cannot be imported simply abstains."""
    from vfio_migcheck.traces import reading

    try:
        head = reading.sniff_lines(path)
    except OSError:
        return False
    if not head:
        return False
    for fmt in reading.READERS:
        try:
            score = reading._reader(fmt).sniff(head)
        except Exception:  # noqa: BLE001 - a missing or broken reader must not stop collection
            continue
        if score >= SNIFF_THRESHOLD:
            return True
    return False


def _norm(path: Path) -> str:
    return os.path.normpath(str(path))
