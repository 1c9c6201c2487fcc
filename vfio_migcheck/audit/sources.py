"""Captures where fleets keep them: fsspec URLs (``s3://``, ``gs://``, ``file://``, ...) and
tar/zip archives of captures, listed by the client and read by the workers.

The client only lists names (a directory, a glob or an archive's members); it never reads a
capture. A remote capture's path is its URL (an archive member is the chained URL
``tar://MEMBER::ARCHIVE-URL`` or ``zip://MEMBER::ARCHIVE-URL``). The worker that checks it
copies its files into a temporary directory, checks them there exactly as local files, and
puts the URL back in every place the result names a file, so reports name the URL.
fsspec is imported only when such an input is given; an object store needs its fsspec
package too (``s3fs``, ``gcsfs``, ``adlfs``).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from vfio_migcheck.audit.collect import (
    NOT_TRACE_SUFFIXES,
    Capture,
    CollectError,
    _by_extension,
    _looks_per_thread,
    in_path_order,
    iter_captures,
    merge_sorted,
)
from vfio_migcheck.traces.lines import strip_compression_suffix

ARCHIVES = {".tar": "tar", ".tar.gz": "tar", ".tgz": "tar", ".tar.xz": "tar",
            ".tar.bz2": "tar", ".zip": "zip"}
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_PER_THREAD = re.compile(r"^(?P<prefix>.+)\.(?P<tid>\d+)$")
_GLOB_CHARS = re.compile(r"[*?\[]")


def is_url(arg: str) -> bool:
    return bool(_URL.match(arg)) or "::" in arg


def archive_kind(name: str) -> str | None:
    lower = name.lower()
    for suffix, kind in ARCHIVES.items():
        if lower.endswith(suffix):
            return kind
    return None


def is_remote_capture(path: str) -> bool:
    """A collected capture path is a URL (local ones are normalised: never ``://``)."""
    return "://" in path


def collect_all(args: Iterable[str]) -> list[Capture]:
    """Local PATHs as ``collect_captures`` does, plus URLs and archives (named explicitly)."""
    return list(iter_all(args))


def iter_all(args: Iterable[str]) -> Iterator[Capture]:
    """``collect_all`` as a stream, in the same order: directories, local or at a URL, are
    listed one directory at a time as the captures are taken (``collect.iter_captures``).
    An argument that names nothing is an error before anything is yielded."""
    local: list[str] = []
    streams: list[Iterator[Capture]] = []
    for arg in args:
        if is_url(arg) or (archive_kind(arg) and Path(arg).is_file()):
            streams.append(iter_remote(arg))
        else:
            local.append(arg)
    if local:
        streams.append(iter_captures(local))
    return merge_sorted(streams)


def _fsspec():
    try:
        import fsspec
        from fsspec.core import url_to_fs
    except ImportError as exc:
        raise CollectError(f"URLs and archives need fsspec: pip install "
                           f"'vfio-migcheck[dask]' ({exc})") from None
    return fsspec, url_to_fs


def collect_remote(arg: str) -> list[Capture]:
    """The captures named by a URL (file, directory, glob) or inside an archive."""
    return list(iter_remote(arg))


def iter_remote(arg: str) -> Iterator[Capture]:
    """``collect_remote`` as a stream: a directory is listed one level at a time as its
    captures are taken; a glob's matches and an archive's members are listed at once."""
    _, url_to_fs = _fsspec()
    kind = None if "::" in arg else archive_kind(arg)
    try:
        if kind:   # the archive's members that look like traces
            archive = arg if _URL.match(arg) else Path(arg).resolve().as_uri()
            fs, _ = url_to_fs(f"{kind}://::{archive}")
            urls = [f"{kind}://{n.lstrip('/')}::{archive}" for n in fs.find("")
                    if _looks_like_trace(n)]
            if not urls:
                raise CollectError(f"{arg}: the archive holds no trace")
            return iter(group_remote(urls))
        if "::" in arg:   # some other chained URL: one capture, as named
            return iter([Capture(arg, (arg,))])
        fs, root = url_to_fs(arg)
        if _GLOB_CHARS.search(root):
            names = [n for n in fs.glob(root) if fs.isfile(n)]
            if not names:
                raise CollectError(f"{arg}: the pattern matches no file")
        elif fs.isdir(root):
            walk = _listing_errors(arg, walk_remote(fs, root))
            first = next(walk, None)
            if first is None:
                raise CollectError(f"{arg}: no trace found")
            return itertools.chain([first], walk)
        elif fs.isfile(root):
            names = [root]
        else:
            raise CollectError(f"{arg}: no such file, directory or pattern")
    except CollectError:
        raise
    except Exception as exc:  # noqa: BLE001 - any filesystem error, reported on one line
        raise CollectError(f"{arg}: cannot list: {type(exc).__name__}: {exc}") from None
    return iter(group_remote(fs.unstrip_protocol(n) for n in names))


def walk_remote(fs: Any, root: str) -> Iterator[Capture]:
    """The captures under a directory of ``fs``, in URL order, one level listed at a time
    (as ``collect.walk_captures`` does for local directories)."""
    files: list[str] = []
    subdirs: list[str] = []
    for entry in fs.ls(root, detail=True):
        name = entry["name"].rstrip("/")
        if name == root.rstrip("/"):
            continue
        if entry.get("type") == "directory":
            subdirs.append(name)
        elif _looks_like_trace(name):
            files.append(fs.unstrip_protocol(name))
    captures = [(_member_name(c.path), c) for c in group_remote(files)]
    del files
    yield from in_path_order(captures, [(name.rsplit("/", 1)[-1] + "/", name)
                                        for name in subdirs],
                             lambda name: walk_remote(fs, name))


def _listing_errors(arg: str, captures: Iterator[Capture]) -> Iterator[Capture]:
    """A filesystem error while listing, as a one-line ``CollectError`` naming ``arg``."""
    try:
        yield from captures
    except Exception as exc:  # noqa: BLE001 - any filesystem error, reported on one line
        raise CollectError(f"{arg}: cannot list: {type(exc).__name__}: {exc}") from None


def _looks_like_trace(name: str) -> bool:
    base = os.path.basename(name)
    if base.startswith("."):
        return False
    plain = strip_compression_suffix(base)
    return _by_extension(plain) and not plain.endswith(NOT_TRACE_SUFFIXES)


def group_remote(urls: Iterable[str]) -> list[Capture]:
    """``PREFIX.<tid>`` members under their prefix, as for local strace -ff files."""
    urls = set(urls)
    groups: dict[str, list[str]] = {}
    for url in urls:
        head, sep, tail = url.partition("::")
        m = _PER_THREAD.match(strip_compression_suffix(head))
        if m and m["prefix"] + sep + tail not in urls and _looks_per_thread(m["prefix"]):
            groups.setdefault(m["prefix"] + sep + tail, []).append(url)
        else:
            groups.setdefault(url, []).append(url)
    return sorted(Capture(path, tuple(sorted(members, key=_tid)))
                  for path, members in groups.items())


def _tid(url: str) -> tuple[int, str]:
    m = _PER_THREAD.match(strip_compression_suffix(url.partition("::")[0]))
    return (int(m["tid"]) if m else -1, url)


def _member_name(url: str) -> str:
    return url.partition("::")[0].rstrip("/").rsplit("/", 1)[-1]


def check_remote(capture: Capture, check_local: Callable[[Capture], Any],
                 unreadable: Callable[[str], Any]):
    """Copy the capture's files here, check them as local files (``check_local``, the
    runner's ``check_capture``), name the URLs again; ``unreadable(message)`` when a file
    cannot be fetched."""
    tmp = tempfile.mkdtemp(prefix="vfio-migcheck-")
    try:
        fsspec, _ = _fsspec()
        local_files = []
        names: dict[str, str] = {}
        for url in capture.files:
            local = os.path.join(tmp, _member_name(url))
            try:
                with fsspec.open(url, "rb") as src, open(local, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            except Exception as exc:  # noqa: BLE001 - unreadable, for this capture alone
                return unreadable(f"{url}: cannot read: {type(exc).__name__}: {exc}")
            local_files.append(local)
            names[local] = url
        local_path = os.path.join(tmp, _member_name(capture.path))
        names[local_path] = capture.path
        checked = check_local(Capture(local_path, tuple(local_files)))
        return relabel(checked, capture, names, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def relabel(checked: Any, capture: Capture, names: dict[str, str], tmp: str):
    """Put the URLs back wherever the local copies are named."""
    def name(path: str) -> str:
        return names.get(path, path)

    def text(s):
        if not isinstance(s, str) or tmp not in s:
            return s
        for local in sorted(names, key=len, reverse=True):
            s = s.replace(local, names[local])
        return s

    r = checked.result
    findings = tuple(replace(f, file=name(f.file), message=text(f.message)) for f in r.findings)
    result = replace(r, file=name(r.file), findings=findings, error=text(r.error))
    lines = {(name(file), n): line for (file, n), line in checked.lines.items()}
    return replace(checked, capture=capture, result=result, lines=lines)
