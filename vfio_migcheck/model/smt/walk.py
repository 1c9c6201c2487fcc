"""The kernel's way of running a combination SET: a next-hop table plus 'skip unusable states'.

Linux keeps one table for the full flag set and, under a smaller flag set, replaces a next
state the device does not support by that state's own table entry for the same target,
until it reaches a supported state or ERROR (drivers/vfio/vfio_main.c:667-860, Linux
6.12.118). Cells are state names; a cell of ``None`` (the kernel's ERROR cell) rejects the request.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

Table = Mapping[str, Mapping[str, str | None]]


@dataclass(frozen=True)
class WalkResult:
    """The states the device enters (after ``src``), or why the walk stopped."""

    ok: bool
    path: tuple[str, ...]
    problem: str = ""


def next_step(table: Table, usable: Collection[str], cur: str, dst: str, limit: int
              ) -> tuple[str | None, str]:
    """One call of the kernel's next-state function: the next usable state, or None."""
    step = table.get(cur, {}).get(dst)
    skipped = 0
    while step is not None and step not in usable:
        skipped += 1
        if skipped > limit:
            return None, f"the skip walk from {cur} towards {dst} loops through unusable states"
        step = table.get(step, {}).get(dst)
    if step is None:
        return None, f"the table rejects {cur} -> {dst} (an ERROR cell)"
    return step, ""


def walk(table: Table, usable: Collection[str], src: str, dst: str) -> WalkResult:
    """The driver loop: call :func:`next_step` until the target is reached or it fails."""
    limit = len(table) + 1
    cur, path = src, []
    while cur != dst:
        step, problem = next_step(table, usable, cur, dst, limit)
        if step is None:
            return WalkResult(False, tuple(path), problem)
        path.append(step)
        cur = step
        if len(path) > limit:
            return WalkResult(False, tuple(path), f"the walk {src} -> {dst} never arrives")
    return WalkResult(True, tuple(path))
