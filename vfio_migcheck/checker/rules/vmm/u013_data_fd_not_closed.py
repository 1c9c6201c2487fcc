"""U013 DataFdNotClosed."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import PRE

RULE = Rule(
    id="U013", name="DataFdNotClosed", severity="note", party="vmm", kind="behaviour",
    summary="a data fd was never closed explicitly (trace end, exec or process exit)",
    cite="vfio.h, MIG_DEVICE_STATE comment: the user owns the data_fd and must close it "
         "(uAPI:1038-1039)",
    doc="Each SET that starts a session hands a new fd to user space; leaking them keeps "
        "driver buffers alive until the process exits.",
    fix="close() each data fd once its session is finished.",
    bad=PRE + "fd 6 read 512 = 24\nd0 SET MIG_DEVICE_STATE RUNNING = 0 data_fd=-1\n",
    good=PRE + "fd 6 read 512 = 24\nd0 SET MIG_DEVICE_STATE RUNNING = 0 data_fd=-1\n"
                "fd 6 close = 0\n",
    uapi_rule="R6",
)
