"""U005 SetWhileInError."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import HEAD
from vfio_migcheck.model.fsm import Answer

RULE = Rule(
    id="U005", name="SetWhileInError", severity="error", party="vmm", kind="behaviour",
    summary="SET while the device is in ERROR instead of a VFIO_DEVICE_RESET",
    cite="vfio.h, enum vfio_device_mig_state comment: only VFIO_DEVICE_RESET leaves ERROR "
         "(uAPI:1175-1176)",
    doc="A device in ERROR accepts no state change; the kernel refuses every SET.",
    fix="Call VFIO_DEVICE_RESET; the device is then RUNNING and every data fd is dead.",
    bad=HEAD + "d0 SET MIG_DEVICE_STATE STOP = -1 EIO\nd0 GET MIG_DEVICE_STATE = 0 state=ERROR\n"
               "d0 SET MIG_DEVICE_STATE RUNNING = -1 EINVAL\n",
    good=HEAD + "d0 SET MIG_DEVICE_STATE STOP = -1 EIO\nd0 GET MIG_DEVICE_STATE = 0 state=ERROR\n"
                "d0 RESET = 0\n",
    uapi_rule="R19",
)


def check(answer: Answer, state: str, error_state: str | None) -> str | None:
    """Any SET while the device is in the error state."""
    if state != error_state:
        return None
    return f"SET {answer.dst} while the device is in {state}"
