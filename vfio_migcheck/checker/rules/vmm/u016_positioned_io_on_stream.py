"""U016 PositionedIoOnStream."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import PRE
from vfio_migcheck.traces.events import DataIO

RULE = Rule(
    id="U016", name="PositionedIoOnStream", severity="warning", party="vmm",
    kind="behaviour",
    summary="lseek/pread/pwrite on a data fd (a stream: always ESPIPE)",
    cite="vfio.h: the data fd is a stream; drivers call stream_open() (uapi.md 10.2)",
    doc="Data fds have no file position; positioned I/O fails with ESPIPE and moves nothing.",
    fix="Use plain read()/write() in order.",
    bad=PRE + "fd 6 lseek = -1 ESPIPE\n",
    good=PRE + "fd 6 read 16 = 16\n",
)


def check(event: DataIO) -> str | None:
    """pread/pwrite on a data fd, which is a stream."""
    if not event.positioned:
        return None
    return f"{event.call} on data fd {event.fd}: data fds are streams (ESPIPE)"


def check_call(what: str, fd: int) -> str:
    """lseek on a data fd: always refused (ESPIPE), so always worth a note."""
    return f"{what} on data fd {fd}"
