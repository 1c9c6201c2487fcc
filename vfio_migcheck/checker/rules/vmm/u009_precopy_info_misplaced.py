"""U009 PrecopyInfoMisplaced."""

from __future__ import annotations

from vfio_migcheck.checker.config import PRECOPY_STATES
from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import HEAD

RULE = Rule(
    id="U009", name="PrecopyInfoMisplaced", severity="error", party="vmm", kind="behaviour",
    summary="VFIO_MIG_GET_PRECOPY_INFO outside PRE_COPY/PRE_COPY_P2P or on a resuming fd",
    cite="vfio.h, VFIO_MIG_GET_PRECOPY_INFO comment: only valid in PRE_COPY states; drivers "
         "return EINVAL elsewhere (uAPI:1233-1234)",
    doc="The pre-copy counters only exist while a saving session is in a PRE_COPY state; "
        "in STOP_COPY the ioctl fails with EINVAL, on a resuming fd with ENOTTY.",
    fix="Query PRECOPY_INFO only on the saving fd while the device is in PRE_COPY or "
        "PRE_COPY_P2P; in STOP_COPY just read to EOF.",
    bad=HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\n"
               "fd 6 precopy_info = -1 EINVAL\n",
    good=HEAD + "d0 SET MIG_DEVICE_STATE PRE_COPY = 0 data_fd=6\n"
                "fd 6 precopy_info = 0 initial=24 dirty=0\n",
    uapi_rule="R11",
)


def check(kind: str, state: str) -> str | None:
    """PRECOPY_INFO on a resuming fd or outside PRE_COPY/PRE_COPY_P2P."""
    if kind != "resuming" and state in PRECOPY_STATES:
        return None
    where = "a resuming fd" if kind == "resuming" else state
    return f"PRECOPY_INFO on {where}"
