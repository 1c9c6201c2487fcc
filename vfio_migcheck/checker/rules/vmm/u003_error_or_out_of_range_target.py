"""U003 ErrorOrOutOfRangeTarget."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import HEAD
from vfio_migcheck.model.fsm import Answer, Reason

RULE = Rule(
    id="U003", name="ErrorOrOutOfRangeTarget", severity="error", party="vmm",
    kind="behaviour",
    summary="SET requests ERROR or a value that is no state",
    cite="vfio.h, enum vfio_device_mig_state comment: ERROR cannot be requested "
         "(uAPI:1171); core: device_state >= VFIO_DEVICE_STATE_NR is rejected",
    doc="ERROR is only ever an outcome of a failed transition, and values from "
        "VFIO_DEVICE_STATE_NR upwards name no state; both are refused with EINVAL.",
    fix="Request only the states of enum vfio_device_mig_state other than ERROR.",
    bad=HEAD + "d0 SET MIG_DEVICE_STATE ERROR = -1 EINVAL\n",
    good=HEAD + "d0 SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n"
                "d0 SET MIG_DEVICE_STATE RUNNING = 0 data_fd=-1\n",
    uapi_rule="R2",
)


def check(answer: Answer, state: str, error_state: str | None) -> str | None:
    """A SET of ERROR or of a number outside the state enum (not in the error state)."""
    if state == error_state:
        return None
    if answer.reason is Reason.TARGET_OUT_OF_RANGE:
        return f"SET {answer.dst}: {answer.dst} is out of range"
    if answer.reason is Reason.TARGET_ERROR:
        return f"SET {answer.dst}: {answer.dst} can never be requested"
    return None
