"""Lark parsers for the grammars in ``vfio_migcheck/grammar/``, their tables cached on disk.

Building an LALR parser means parsing the grammar and analysing it: ~0.1 s for the four
grammars, paid by every ``check`` before reading one line. Lark can save the analysed
parser and load it again in a few milliseconds. The file's name carries a hash of what the
tables depend on (grammar text, options, lark and Python versions); lark also records its own
hash inside and rebuilds (and rewrites) a file that does not match or does not load, so a
damaged file only costs one build.

The files go to ``$VFIO_MIGCHECK_CACHE_DIR``, else ``$XDG_CACHE_HOME/vfio-migcheck``, else
``~/.cache/vfio-migcheck`` (created private to the user: the files are pickles, loaded only
from a directory the user owns). ``VFIO_MIGCHECK_CACHE_DIR=""`` turns caching off; a
directory that cannot be created or written only means no cache.
"""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:
    import fcntl
except ImportError:  # not POSIX: no lock, hence no cache
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from lark import Lark

CACHE_ENV = "VFIO_MIGCHECK_CACHE_DIR"


def cache_dir() -> Path | None:
    """Where parser tables are cached, or None when caching is off or impossible."""
    configured = os.environ.get(CACHE_ENV)
    if configured is not None:
        if not configured.strip():
            return None
        base = Path(configured)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "vfio-migcheck"
    try:
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None
    if not _private(base) or not os.access(base, os.W_OK | os.X_OK):
        return None
    return base


def _private(path: Path) -> bool:
    """Owned by this user and writable by nobody else (pickles are loaded from it)."""
    try:
        info = path.stat()
    except OSError:
        return False
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return False
    return not info.st_mode & 0o022


def grammar_text(name: str) -> str:
    return resources.files("vfio_migcheck.grammar").joinpath(f"{name}.lark").read_text(
        encoding="utf-8")


def cache_key(text: str, options: dict[str, Any]) -> str:
    """What the tables depend on: the grammar, the options that shape them, lark, Python."""
    import hashlib

    import lark

    shaping = sorted((k, repr(v)) for k, v in options.items() if k != "transformer")
    basis = f"{text}\0{shaping}\0{lark.__version__}\0{sys.version_info[:2]}"
    return hashlib.sha256(basis.encode()).hexdigest()[:20]


def load_parser(name: str, **options: Any) -> Lark:
    """The LALR parser of ``grammar/<name>.lark`` with lark ``options``, from the cache when
    it holds this grammar with these options (built and saved there otherwise).

    A file is named after everything its tables depend on, so it is never stale; it is read
    and written under an exclusive lock, so processes starting together (``audit -j``) never
    read or interleave each other's half-written files (loading takes milliseconds).

    lark is imported here, at the first parser asked for: a trace whose every line takes a
    reader's fast path need not import it (start-up of ``check``)."""
    from lark import Lark

    text = grammar_text(name)
    where = cache_dir()
    if where is None or fcntl is None:
        return Lark(text, **options)
    final = where / f"{name}-{cache_key(text, options)}.lark-tables"
    try:
        lock = open(where / f".{final.name}.lock", "a+b")  # noqa: SIM115 - held below
    except OSError:
        return Lark(text, **options)
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return Lark(text, cache=str(final), **options)
