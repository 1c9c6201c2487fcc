"""U020 ForeignIoctlOnDataFd."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import PRE

RULE = Rule(
    id="U020", name="ForeignIoctlOnDataFd", severity="note", party="vmm", kind="behaviour",
    summary="an ioctl other than VFIO_MIG_GET_PRECOPY_INFO on a data fd, or PRECOPY_INFO on "
            "the device fd",
    cite="vfio.h, VFIO_MIG_GET_PRECOPY_INFO: issued on the saving data fd (uAPI:1225-1283)",
    doc="Data fds implement only VFIO_MIG_GET_PRECOPY_INFO; anything else is ENOTTY.",
    fix="Send device ioctls to the device fd and PRECOPY_INFO to the saving data fd.",
    bad=PRE + "fd 6 ioctl VFIO_DEVICE_RESET = -1 ENOTTY\n",
    good=PRE + "fd 6 precopy_info = 0 initial=24 dirty=0\n",
)


def check_call(what: str, fd: int) -> str:
    """An ioctl meant for another kind of fd, made on a data fd: always refused."""
    return f"{what} on data fd {fd}"


def check_device_call(call: str) -> str | None:
    """The data fd's PRECOPY_INFO ioctl issued on the device fd."""
    if "PRECOPY" not in call.upper():
        return None
    return "VFIO_MIG_GET_PRECOPY_INFO on the device fd"
