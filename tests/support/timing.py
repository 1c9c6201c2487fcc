"""The one timing the complexity guards share: the fastest of a few runs.

The guards compare an input with one four times its size (the time may grow at most 8x),
so the fastest run, least disturbed by a shared machine, is the figure to compare.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def fastest(run: Callable[[], object], repeat: int = 3,
            clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds (by ``clock``) of the fastest of ``repeat`` calls of ``run``."""
    best = float("inf")
    for _ in range(repeat):
        start = clock()
        run()
        best = min(best, clock() - start)
    return best
