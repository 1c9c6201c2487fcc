"""Where the files of a lab results folder are, fresh from a run or stored compressed.

A lab run writes plain files; the committed corpus keeps the same files gzip-compressed
(``walk-03.canon.gz``, ``ff_o/walk-03.strace.2687.gz``) to stay small. Everything that looks
files up by name goes through here, so both layouts read the same.
"""

from __future__ import annotations

from pathlib import Path

from vfio_migcheck.traces.lines import compressed_twin, strip_compression_suffix
from vfio_migcheck.traces.reading import per_pid_files

GROUND_TRUTH = ".canon"


def run_name(path: Path) -> str:
    """``walk-03`` for ``walk-03.canon`` and ``walk-03.canon.gz``."""
    name = strip_compression_suffix(path.name)
    return name[: -len(GROUND_TRUTH)] if name.endswith(GROUND_TRUTH) else Path(name).stem


def ground_truths(root: Path) -> list[Path]:
    """Every ``<variant>/<run>.canon`` (or ``.canon.gz``), by variant and run name."""
    found = [p for p in root.glob("*/*")
             if p.parent.name != "scenarios" and p.is_file()
             and strip_compression_suffix(p.name).endswith(GROUND_TRUTH)]
    return sorted(found, key=lambda p: (p.parent.name, run_name(p)))


def scenario_file(root: Path, api: str, name: str, suffix: str) -> Path:
    """``scenarios/<api>/<name><suffix>``, plain or compressed (the plain name if neither)."""
    return compressed_twin(root / "scenarios" / api / f"{name}{suffix}")


def capture_of(canon: Path) -> Path | None:
    """The strace capture of a run: a single file, or the ``-ff`` prefix of per-pid files."""
    prefix = canon.parent / f"{run_name(canon)}.strace"
    single = compressed_twin(prefix)
    if single.is_file():
        return single
    return prefix if per_pid_files(prefix) else None
