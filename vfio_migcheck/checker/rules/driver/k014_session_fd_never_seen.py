"""K014 SessionFdNeverSeen."""

from __future__ import annotations

from vfio_migcheck.checker.config import Session
from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import HEAD, PRE

RULE = Rule(
    id="K014", name="SessionFdNeverSeen", severity="note", party="unknown", kind="behaviour",
    summary="a session ended before its data fd was ever seen in the trace",
    cite="vfio.h, MIG_DEVICE_STATE comment (uAPI:1037-1045); core: EMFILE/EFAULT after the "
         "arc leaves a session without an fd (uapi.md 8.4)",
    doc="Either the VMM never used the fd, or the fd never reached user space.",
    fix="Use or close the fd; if the SET failed with EMFILE, reset the device.",
    bad=HEAD + "d0 SET MIG_DEVICE_STATE PRE_COPY = 0\n"
               "d0 SET MIG_DEVICE_STATE RUNNING = 0 data_fd=-1\n",
    good=PRE + "fd 6 read 512 = 24\nd0 SET MIG_DEVICE_STATE RUNNING = 0 data_fd=-1\n"
               "fd 6 close = 0\n",
)


def check(ended: Session | None) -> str | None:
    """A session ends (an arc's ``ends_*`` effect) although its fd was never used."""
    if ended is None or ended.file is not None or ended.fd is not None or ended.opaque:
        return None
    return (f"the {ended.kind} session started at line {ended.created_line} ended before its "
            "fd was used")
