"""The environment a benchmark's child interpreters run in: the measured tree first on the
path, its byte code compiled once into a private cache.

An installed package ships its ``.pyc`` files. A checkout run with
``PYTHONDONTWRITEBYTECODE`` set (as on some CI and development machines) would instead
compile every module again in every child: ~0.2–0.4 s of CPU that no user pays, in every
figure. The cache directory is private, so the tree's own ``__pycache__`` is never touched
and two trees measured in one run never share entries.
"""

from __future__ import annotations

import compileall
import os
import sys
from pathlib import Path


def compiled_env(tree: Path, cache: Path) -> dict[str, str]:
    """Environment for ``python`` children measuring ``tree``'s package, with the
    package's byte code compiled into ``cache`` before the first child starts."""
    saved, sys.pycache_prefix = sys.pycache_prefix, str(cache)
    try:   # compileall writes where sys.pycache_prefix points, as the children will read
        compileall.compile_dir(tree / "vfio_migcheck", quiet=1)
    finally:
        sys.pycache_prefix = saved
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=str(tree), PYTHONPYCACHEPREFIX=str(cache))
    return env
