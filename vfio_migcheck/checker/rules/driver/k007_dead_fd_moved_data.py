"""K007 DeadFdMovedData."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import PRE

RULE = Rule(
    id="K007", name="DeadFdMovedData", severity="error", party="driver", kind="misfit",
    summary="I/O on a data fd whose session ended succeeded",
    cite="vfio.h, enum vfio_device_mig_state comment: leaving the state ends the data "
         "session; drivers disable the file (uapi.md 10.4: ENODEV)",
    doc="After the session-ending arc, reset or device close, the driver must refuse I/O.",
    fix="Driver bug: disable the migration file when its session ends.",
    bad=PRE + "d0 SET MIG_DEVICE_STATE RUNNING = 0 data_fd=-1\nfd 6 read 512 = 24\n",
    good=PRE + "d0 SET MIG_DEVICE_STATE RUNNING = 0 data_fd=-1\nfd 6 read 512 = -1 ENODEV\n",
    uapi_rule="R8",
)
