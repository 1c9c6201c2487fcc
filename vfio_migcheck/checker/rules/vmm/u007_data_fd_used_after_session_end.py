"""U007 DataFdUsedAfterSessionEnd."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import PRE

RULE = Rule(
    id="U007", name="DataFdUsedAfterSessionEnd", severity="error", party="vmm",
    kind="behaviour",
    summary="a data fd is used after its session ended (arc, reset or device close)",
    cite="vfio.h, enum vfio_device_mig_state comment: leaving the saving/resuming states "
         "ends the data transfer session (uAPI:1074-1161); drivers answer ENODEV",
    doc="Closing the session is done by the state change, not by close(); afterwards the "
        "fd stays open but every read/write fails with ENODEV (PRECOPY_INFO with EINVAL).",
    fix="Stop using the fd once the state left its session's group; close it.",
    bad=PRE + "d0 SET MIG_DEVICE_STATE RUNNING = 0 data_fd=-1\nfd 6 read 512 = -1 ENODEV\n",
    good=PRE + "fd 6 read 512 = 24\nd0 SET MIG_DEVICE_STATE RUNNING = 0 data_fd=-1\n"
               "fd 6 close = 0\n",
    uapi_rule="R8",
)


def check(how: str, what: str, fd: int) -> str | None:
    """I/O or PRECOPY_INFO on a data fd whose session already ended (``how == "dead"``)."""
    if how != "dead":
        return None
    return f"{what} on data fd {fd} after its session ended"
