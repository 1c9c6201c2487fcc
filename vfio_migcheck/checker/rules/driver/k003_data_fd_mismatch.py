"""K003 DataFdMismatch."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import HEAD

RULE = Rule(
    id="K003", name="DataFdMismatch", severity="error", party="driver", kind="misfit",
    summary="a SET's data_fd disagrees with the session its final arc starts",
    cite="vfio.h, MIG_DEVICE_STATE comment: data_fd is returned when the final arc creates a "
         "session, -1 otherwise (uAPI:1037-1045)",
    doc="Exactly the arcs entering PRE_COPY, PRE_COPY_P2P (from a running state), STOP_COPY "
        "(from STOP) and RESUMING start a session and return its fd.",
    fix="Driver bug: return the new migration file from the session-starting arc only.",
    bad=HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=-1\n",
    good=HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\n",
)
