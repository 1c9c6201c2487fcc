"""Build hook only (metadata is in pyproject.toml): ship docs/ inside the package.

Messages and ``vfio-migcheck docs TOPIC`` point to the documentation; an installed user has
no repository, so the wheel carries ``docs/`` as ``vfio_migcheck/docs/``. The repository
keeps one copy, in ``docs/``; this copies it at build time.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
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


setup(cmdclass={"build_py": BuildWithDocs})
