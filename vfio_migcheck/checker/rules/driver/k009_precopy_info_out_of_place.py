"""K009 PrecopyInfoOutOfPlace."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import HEAD

RULE = Rule(
    id="K009", name="PrecopyInfoOutOfPlace", severity="error", party="driver",
    kind="misfit",
    summary="VFIO_MIG_GET_PRECOPY_INFO succeeded outside a live PRE_COPY session",
    cite="vfio.h, VFIO_MIG_GET_PRECOPY_INFO comment: drivers should return EINVAL outside "
         "the PRE_COPY states (uAPI:1233-1234)",
    doc="Every 6.12 driver refuses the ioctl outside PRE_COPY/PRE_COPY_P2P and on dead fds.",
    fix="Driver bug: check the device state in the precopy ioctl.",
    bad=HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\n"
               "fd 6 precopy_info = 0 initial=0 dirty=0\n",
    good=HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\n"
                "fd 6 precopy_info = -1 EINVAL\n",
    uapi_rule="R11",
)
