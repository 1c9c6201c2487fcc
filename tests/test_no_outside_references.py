"""Nothing in the product cites or depends on a file outside the repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).parent.parent
FORBIDDEN = [
    re.compile(r"(?<![\w.-])/work/"),
    re.compile(r"shared/reference"),
    re.compile(r"\.\./shared/"),
    re.compile(r"qemu\.md"),
    # the uAPI notes are the repository's own docs/uapi.md, linked as such
    re.compile(r"(?<!docs/)(?<![\[(])uapi\.md"),
]
SKIP_SUFFIXES = {".gz", ".xz", ".bz2", ".png", ".svg"}


def tracked_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout
        return [ROOT / line for line in out.splitlines() if line]
    except (OSError, subprocess.CalledProcessError):   # not a git checkout: walk the tree
        return [p for p in ROOT.rglob("*") if p.is_file() and ".git" not in p.parts]


def test_no_file_outside_the_repository_is_cited() -> None:
    me = Path(__file__).resolve()
    offenders = []
    for path in tracked_files():
        if path.suffix in SKIP_SUFFIXES or not path.is_file() or path.resolve() == me:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if any(p.search(line) for p in FORBIDDEN) and '" not in ' not in line:
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:80]}")
    assert offenders == [], "\n".join(offenders)
