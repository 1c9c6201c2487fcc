"""The kernel's own next-state algorithm over its table: the test oracle.

The algorithm is vfio_mig_get_next_state(), drivers/vfio/vfio_main.c:667-860 in Linux
6.12.118 (explained in docs/uapi.md section 2).

Deliberately independent of vfio_migcheck.model: it reads the kernel's table from the JSON
fixture and walks it the way vfio_mig_get_next_state() and the drivers' loops do.
"""

from __future__ import annotations

import json
from pathlib import Path

TABLE_FILE = Path(__file__).parent.parent / "fixtures" / "kernel-6.12-fsm.json"
KERNEL = json.loads(TABLE_FILE.read_text())
STATES: dict[str, int] = KERNEL["states"]
STATE_FLAGS: dict[str, int] = KERNEL["state_flags"]
TABLE: dict[str, dict[str, str]] = KERNEL["next_state_table"]
DEFINED_FLAG_SETS = (0x1, 0x3, 0x5, 0x7)


def usable(state: str, flags: int) -> bool:
    return (STATE_FLAGS[state] & flags) == STATE_FLAGS[state]


def next_step(cur: str, new: str, flags: int) -> str | None:
    """One call of the kernel's next-state function; None stands for -EINVAL."""
    if not usable(cur, flags) or not usable(new, flags):
        return None
    step = TABLE[cur][new]
    while step != "ERROR" and not usable(step, flags):
        step = TABLE[step][new]
    return None if step == "ERROR" else step


def kernel_path(cur: str, new: str, flags: int) -> list[str] | None:
    """The states a driver's set_state loop steps through, or None when the SET fails."""
    if not usable(cur, flags) or not usable(new, flags):
        return None
    path: list[str] = []
    while cur != new:
        step = next_step(cur, new, flags)
        if step is None:
            return None
        path.append(step)
        cur = step
        if len(path) > len(STATES):  # the table would loop: a broken oracle, not a result
            raise AssertionError(f"kernel walk does not terminate for {cur}->{new}")
    return path
