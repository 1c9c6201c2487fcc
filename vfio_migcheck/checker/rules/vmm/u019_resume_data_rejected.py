"""U019 ResumeDataRejected."""

from __future__ import annotations

from vfio_migcheck.checker.config import Config
from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import RES
from vfio_migcheck.traces.events import DataIO

RULE = Rule(
    id="U019", name="ResumeDataRejected", severity="error", party="vmm", kind="behaviour",
    summary="the device rejected resume data (write() failed on the resuming fd)",
    cite="vfio.h, enum vfio_device_mig_state comment: data written in RESUMING must come "
         "from a saving fd of a compatible device, in order (uAPI:1039-1042, 1157-1159)",
    doc="Drivers refuse data that is not a valid image (EFAULT, EINVAL) or too long (ENOMEM, "
        "EOVERFLOW).",
    fix="Forward exactly the bytes read from the source's saving fd, in order, once.",
    bad=RES + "fd 6 write 97 = -1 ENOMEM\n",
    good=RES + "fd 6 write 96 = 96\n",
    uapi_rule="R7",
)


#: errnos with which an early VFS/driver check refuses a call before anything happens
TRANSIENT_ERRNOS = frozenset({"EAGAIN", "EINTR", "ERESTARTSYS", "EWOULDBLOCK"})


def check(config: Config, event: DataIO, result: bool | None, errno: str | None) -> str | None:
    """A write of resume data refused for good (not a transient errno) in RESUMING."""
    if config.state != "RESUMING" or result is not False or errno in TRANSIENT_ERRNOS:
        return None
    return f"write of {event.requested} bytes refused with {errno}"
