"""The realistic dense loop of benchmarks/gen_dense.py, as events, for engine tests."""

from __future__ import annotations

from pathlib import Path

from tests.test_engine_automaton import _gen_dense
from vfio_migcheck.traces.reading import open_trace


def dense_loop_events(directory: Path, rounds: int = 12) -> tuple[Path, list]:
    """A dense loop capture of ``rounds`` rounds after its set-up, written to ``directory``
    (plain strace, two devices, every payload hidden), and its events."""
    gen = _gen_dense()
    loop = gen.LOOP[1] - gen.LOOP[0] + 1
    path = directory / "loop.strace"
    with open(path, "w", encoding="utf-8") as out:
        gen.generate(out, 60 + rounds * loop)
    return path, list(open_trace(path, "auto").events)
