"""K006 EnomsgInStopCopy."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import HEAD, PRE

RULE = Rule(
    id="K006", name="EnomsgInStopCopy", severity="error", party="driver", kind="misfit",
    summary="read() failed with ENOMSG in STOP_COPY",
    cite="vfio.h, VFIO_MIG_GET_PRECOPY_INFO comment: ENOMSG may not be returned in STOP_COPY "
         "(uAPI:1268-1270)",
    doc="ENOMSG is the temporary end of the pre-copy stream; in STOP_COPY the end is "
        "signalled by read() == 0.",
    fix="Driver bug: return 0 at the end of the stop-copy stream.",
    bad=HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\nfd 6 read 512 = -1 ENOMSG\n",
    good=PRE + "fd 6 read 512 = -1 ENOMSG\n",
    uapi_rule="R9",
)
