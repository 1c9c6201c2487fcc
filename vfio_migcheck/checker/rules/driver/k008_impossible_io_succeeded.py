"""K008 ImpossibleIoSucceeded."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import RES

RULE = Rule(
    id="K008", name="ImpossibleIoSucceeded", severity="error", party="driver", kind="misfit",
    summary="a wrong-direction or positioned I/O on a data fd succeeded",
    cite="uapi.md 10.2: saving fds are O_RDONLY, resuming fds O_WRONLY, both stream_open()",
    doc="The VFS refuses these before the driver runs (EBADF, ESPIPE).",
    fix="The fd is probably not the data fd the trace says it is; check the capture.",
    bad=RES + "fd 6 read 512 = 12\n",
    good=RES + "fd 6 read 512 = -1 EBADF\n",
)
