"""U010 MalformedRequest."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import HEAD

RULE = Rule(
    id="U010", name="MalformedRequest", severity="error", party="vmm", kind="behaviour",
    summary="a malformed VFIO request: argsz too small, neither GET nor SET, unknown bits",
    cite="vfio.h, struct vfio_device_feature comment and VFIO_MIG_GET_PRECOPY_INFO "
         "(argsz >= 24) (uAPI:59-68, 879-887); core vfio_ioctl_device_feature()",
    doc="The kernel validates argsz and the GET/SET/PROBE bits before anything else and "
        "refuses malformed requests with EINVAL.",
    fix="Set argsz to the full structure size and exactly one of GET or SET (or PROBE).",
    bad=HEAD + "d0 SET MIG_DEVICE_STATE PRE_COPY = 0 data_fd=6\n"
                "fd 6 precopy_info argsz=8 = -1 EINVAL\n",
    good=HEAD + "d0 SET MIG_DEVICE_STATE PRE_COPY = 0 data_fd=6\n"
                 "fd 6 precopy_info argsz=24 = 0 initial=24 dirty=0\n",
    uapi_rule="R21",
)
