"""K005 DataAfterEof."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import HEAD

RULE = Rule(
    id="K005", name="DataAfterEof", severity="error", party="driver", kind="misfit",
    summary="read() returned data after it had returned 0 (EOF) in STOP_COPY",
    cite="vfio.h, VFIO_MIG_GET_PRECOPY_INFO comment: in STOP_COPY end of stream is permanent "
         "(uAPI:1146-1149, 1268-1270)",
    doc="In STOP_COPY, read() == 0 means the whole device state has been transferred; "
        "it must keep returning 0.",
    fix="Driver bug: keep returning 0 once the stop-copy image is exhausted.",
    bad=HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\nfd 6 read 512 = 0\n"
               "fd 6 read 512 = 8\n",
    good=HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\nfd 6 read 512 = 0\n"
                "fd 6 read 512 = 0\n",
    uapi_rule="R9",
)
