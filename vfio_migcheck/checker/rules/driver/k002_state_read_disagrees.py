"""K002 StateReadDisagrees."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import HEAD

RULE = Rule(
    id="K002", name="StateReadDisagrees", severity="error", party="driver", kind="misfit",
    summary="GET MIG_DEVICE_STATE reports a state no reading of the trace allows",
    cite="vfio.h, enum vfio_device_mig_state comment: only user requests and reset change "
         "the state; a failed SET leaves a state on its path or ERROR (uAPI:1031-1035, "
         "1198-1203)",
    doc="Given every SET and RESET so far, the model knows the states the device may be in; "
        "the driver reported another one.",
    fix="Driver bug: the state changed on its own, or an arc did not do what it reported.",
    bad=HEAD + "d0 SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n"
               "d0 GET MIG_DEVICE_STATE = 0 state=RUNNING\n",
    good=HEAD + "d0 SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n"
                "d0 GET MIG_DEVICE_STATE = 0 state=STOP\n",
    uapi_rule="R4",
)
