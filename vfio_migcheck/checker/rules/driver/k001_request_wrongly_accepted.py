"""K001 RequestWronglyAccepted."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import HEAD

RULE = Rule(
    id="K001", name="RequestWronglyAccepted", severity="error", party="driver", kind="misfit",
    summary="a SET the uAPI refuses (blocked, unsupported, ERROR, out of range) succeeded",
    cite="vfio.h, MIG_DEVICE_STATE comment and enum vfio_device_mig_state comment; core "
         "vfio_mig_get_next_state() (uapi.md section 5)",
    doc="The core rejects these requests before any driver code runs, so success means the "
        "kernel does not follow the uAPI (or the trace misreports the call).",
    fix="Driver/kernel bug: the core's vfio_mig_get_next_state() must reject the request.",
    bad=HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\n"
               "d0 SET MIG_DEVICE_STATE PRE_COPY = 0 data_fd=-1\n",
    good=HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\n"
                "d0 SET MIG_DEVICE_STATE PRE_COPY = -1 EINVAL\n",
    uapi_rule="R3",
)
