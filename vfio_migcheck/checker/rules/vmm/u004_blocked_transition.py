"""U004 BlockedTransition."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import HEAD
from vfio_migcheck.model.fsm import Answer, Reason

RULE = Rule(
    id="U004", name="BlockedTransition", severity="error", party="vmm", kind="behaviour",
    summary="SET requests STOP_COPY -> PRE_COPY or STOP_COPY -> PRE_COPY_P2P",
    cite="vfio.h, enum vfio_device_mig_state comment: the arcs STOP_COPY -> PRE_COPY and "
         "STOP_COPY -> PRE_COPY_P2P are not allowed; reserved for a future flag (uAPI:1163-1168)",
    doc="Once a device has stopped and started streaming its final state it cannot go back "
        "to pre-copy. The kernel refuses the request with EINVAL and the state is unchanged.",
    fix="Finish the stop-copy phase (read to EOF, then STOP) or abort it; start a new "
        "pre-copy session from RUNNING.",
    bad=HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\n"
               "d0 SET MIG_DEVICE_STATE PRE_COPY = -1 EINVAL\n",
    good=HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\nfd 6 read 4096 = 96\n"
                "fd 6 read 4096 = 0\nd0 SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\nfd 6 close = 0\n"
                "d0 SET MIG_DEVICE_STATE RUNNING = 0 data_fd=-1\n",
    uapi_rule="R3",
)


def check(answer: Answer, state: str, error_state: str | None) -> str | None:
    """A SET the model blocks from this state (no path)."""
    if state == error_state or answer.reason is not Reason.BLOCKED:
        return None
    return f"SET {answer.src} -> {answer.dst} is not allowed"
