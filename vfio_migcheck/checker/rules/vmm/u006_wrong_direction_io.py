"""U006 WrongDirectionIO."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import PRE

RULE = Rule(
    id="U006", name="WrongDirectionIO", severity="error", party="vmm", kind="behaviour",
    summary="read() on a resuming data fd or write() on a saving data fd",
    cite="vfio.h, enum vfio_device_mig_state comment: the saving fd is read, the resuming fd "
         "is written (uAPI:1123-1161); fs/read_write.c gives EBADF",
    doc="A saving session's fd is opened O_RDONLY and a resuming session's fd O_WRONLY; "
        "the other direction fails with EBADF and moves no data.",
    fix="Read the fd returned by entering PRE_COPY/STOP_COPY; write the fd returned by "
        "entering RESUMING.",
    bad=PRE + "fd 6 write 1 = -1 EBADF\n",
    good=PRE + "fd 6 read 4096 = 24\n",
    uapi_rule="R8",
)


def check(direction: str, kind: str, fd: int) -> str | None:
    """read() on a resuming fd or write() on a saving fd."""
    wrong = (direction == "read" and kind == "resuming") or (
        direction == "write" and kind == "saving")
    return f"{direction} on the {kind} data fd {fd}" if wrong else None
