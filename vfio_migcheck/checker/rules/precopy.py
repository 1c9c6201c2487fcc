"""Rules about VFIO_MIG_GET_PRECOPY_INFO and malformed feature requests."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule

_HEAD = "device d0 flags=0x7\nd0 GET MIGRATION = 0 flags=0x7\n"

PRECOPY_INFO_PLACEMENT = Rule(
    id="U009", name="PrecopyInfoMisplaced", severity="error", party="vmm", kind="behaviour",
    summary="VFIO_MIG_GET_PRECOPY_INFO outside PRE_COPY/PRE_COPY_P2P or on a resuming fd",
    cite="vfio.h, VFIO_MIG_GET_PRECOPY_INFO comment: only valid in PRE_COPY states; drivers "
         "return EINVAL elsewhere (uAPI:1233-1234)",
    doc="The pre-copy counters only exist while a saving session is in a PRE_COPY state; "
        "in STOP_COPY the ioctl fails with EINVAL, on a resuming fd with ENOTTY.",
    fix="Query PRECOPY_INFO only on the saving fd while the device is in PRE_COPY or "
        "PRE_COPY_P2P; in STOP_COPY just read to EOF.",
    bad=_HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\n"
                "fd 6 precopy_info = -1 EINVAL\n",
    good=_HEAD + "d0 SET MIG_DEVICE_STATE PRE_COPY = 0 data_fd=6\n"
                 "fd 6 precopy_info = 0 initial=24 dirty=0\n",
    uapi_rule="R11",
)

MALFORMED_REQUEST = Rule(
    id="U010", name="MalformedRequest", severity="error", party="vmm", kind="behaviour",
    summary="a malformed VFIO request: argsz too small, neither GET nor SET, unknown bits",
    cite="vfio.h, struct vfio_device_feature comment and VFIO_MIG_GET_PRECOPY_INFO "
         "(argsz >= 24) (uAPI:59-68, 879-887); core vfio_ioctl_device_feature()",
    doc="The kernel validates argsz and the GET/SET/PROBE bits before anything else and "
        "refuses malformed requests with EINVAL.",
    fix="Set argsz to the full structure size and exactly one of GET or SET (or PROBE).",
    bad=_HEAD + "d0 SET MIG_DEVICE_STATE PRE_COPY = 0 data_fd=6\n"
                "fd 6 precopy_info argsz=8 = -1 EINVAL\n",
    good=_HEAD + "d0 SET MIG_DEVICE_STATE PRE_COPY = 0 data_fd=6\n"
                 "fd 6 precopy_info argsz=24 = 0 initial=24 dirty=0\n",
    uapi_rule="R21",
)

PRECOPY_INFO_ANSWERED = Rule(
    id="K009", name="PrecopyInfoOutOfPlace", severity="error", party="driver",
    kind="misfit",
    summary="VFIO_MIG_GET_PRECOPY_INFO succeeded outside a live PRE_COPY session",
    cite="vfio.h, VFIO_MIG_GET_PRECOPY_INFO comment: drivers should return EINVAL outside "
         "the PRE_COPY states (uAPI:1233-1234)",
    doc="Every 6.12 driver refuses the ioctl outside PRE_COPY/PRE_COPY_P2P and on dead fds.",
    fix="Driver bug: check the device state in the precopy ioctl.",
    bad=_HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\n"
                "fd 6 precopy_info = 0 initial=0 dirty=0\n",
    good=_HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\n"
                 "fd 6 precopy_info = -1 EINVAL\n",
    uapi_rule="R11",
)

RULES = (PRECOPY_INFO_PLACEMENT, MALFORMED_REQUEST, PRECOPY_INFO_ANSWERED)
