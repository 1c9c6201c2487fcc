"""Lark parsers for the grammars in ``vfio_migcheck/grammar/``, their tables cached on disk.

Building an LALR parser means parsing the grammar and analysing it: ~0.1 s for the four
grammars, paid by every ``check`` before reading one line. Lark can save the analysed
parser and load it again in a few milliseconds; the cache file records a hash of the
grammar text, the options, the lark version and the Python version, and lark rebuilds (and
rewrites) it whenever any of them differs, so a stale or damaged file only costs one build.

The files go to ``$VFIO_MIGCHECK_CACHE_DIR``, else ``$XDG_CACHE_HOME/vfio-migcheck``, else
``~/.cache/vfio-migcheck`` (created private to the user: the files are pickles, loaded only
from a directory the user owns). ``VFIO_MIGCHECK_CACHE_DIR=""`` turns caching off; a
directory that cannot be created or written only means no cache.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

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


def load_parser(name: str, **options: Any) -> Lark:
    """The LALR parser of ``grammar/<name>.lark`` with lark ``options``, from the cache when
    it holds this grammar with these options (built and saved there otherwise)."""
    text = grammar_text(name)
    where = cache_dir()
    if where is not None:
        options["cache"] = str(where / f"{name}.lark-tables")
    return Lark(text, **options)
