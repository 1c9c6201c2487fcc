"""Seed traces for the fuzzer: every trace the repository holds, as lists of lines."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vfio_migcheck.traces.lines import Line, iter_lines

ROOT = Path(__file__).resolve().parent.parent
SEED_DIRS = ("tests/fixtures", "tests/corpus", "vfio_migcheck/examples")
#: huge hostile shapes: the scaling tests cover them; as seeds they only make inputs slow
SKIP_DIRS = ("tests/fixtures/robustness",)
MAX_SEED_LINES = 400        # a window of a big capture is as good a seed as all of it


@dataclass(frozen=True)
class Seed:
    name: str
    kind: str                # "strace", "qemu", "canonical"
    lines: tuple[str, ...]


def _kind(path: Path) -> str | None:
    """The format of a seed file from its name (``x.strace``, ``x.strace.940``, ``x.log.gz``)."""
    name = path.name.removesuffix(".gz")
    if name.endswith((".vmc", ".canon")):
        return "canonical"
    if name.endswith(".log"):
        return "qemu"
    if name.endswith(".strace") or ".strace." in name:
        return "strace"
    if name.endswith(".bpftrace"):
        return "bpftrace"
    return None


def _candidates() -> list[Path]:
    out = []
    for folder in SEED_DIRS:
        base = ROOT / folder
        if base.is_dir():
            out.extend(p for p in sorted(base.rglob("*")) if p.is_file() and _kind(p)
                       and not str(p.relative_to(ROOT)).startswith(SKIP_DIRS))
    return out


def load_seeds() -> list[Seed]:
    """Every seed trace, at most MAX_SEED_LINES lines of each, grouped by kind."""
    seeds = []
    for path in _candidates():
        kind = _kind(path)
        if kind is None:
            continue
        lines: list[str] = []
        for item in iter_lines(path):
            if isinstance(item, Line):
                lines.append(item.text)
            if len(lines) >= MAX_SEED_LINES:
                break
        if lines:
            seeds.append(Seed(str(path.relative_to(ROOT)), kind, tuple(lines)))
    return seeds
