"""Build hooks only (metadata is in pyproject.toml): ship docs/ inside the package, and
build the optional C line scanner.

Messages and ``vfio-migcheck docs TOPIC`` point to the documentation; an installed user has
no repository, so the wheel carries ``docs/`` as ``vfio_migcheck/docs/``. The repository
keeps one copy, in ``docs/``; this copies it at build time.

The C line scanner (vfio_migcheck/traces/strace/_linescan.c) makes the reading of big
strace captures several times faster; it is optional, so a machine without a C compiler
still installs the package, and the reader then does the same work in Python
(vfio_migcheck/traces/strace/linescan.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

DOCS = Path(__file__).resolve().parent / "docs"


class BuildWithDocs(build_py):
    def run(self) -> None:
        super().run()
        if not DOCS.is_dir():
            raise SystemExit(f"{DOCS}: missing; the package ships the documentation")
        target = Path(self.build_lib) / "vfio_migcheck" / "docs"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(DOCS, target, ignore=shutil.ignore_patterns("*.pyc", "__pycache__"))


LINESCAN = Extension("vfio_migcheck.traces.strace._linescan",
                     ["vfio_migcheck/traces/strace/_linescan.c"], optional=True)

setup(cmdclass={"build_py": BuildWithDocs}, ext_modules=[LINESCAN])
