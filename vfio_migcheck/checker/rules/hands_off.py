"""Rules about touching the device while it must be left alone, and DMA logging pairing."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule

_HEAD = "device d0 flags=0x7\nd0 GET MIGRATION = 0 flags=0x7\n"

REGION_ACCESS = Rule(
    id="U017", name="DeviceTouchedWhileQuiesced", severity="warning", party="vmm",
    kind="behaviour",
    summary="device region I/O or mmap while in STOP_COPY or a P2P state",
    cite="vfio.h, enum vfio_device_mig_state comment: in STOP_COPY and the P2P states the "
         "user must not touch the device (uAPI:1151-1153, 1186-1188)",
    doc="Accessing the device may change its internal state behind the stream being saved, "
        "or make it leave the P2P state.",
    fix="Do region accesses before stopping the device or after it runs again.",
    bad=_HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\nd0 access pwrite64 = 1\n",
    good=_HEAD + "d0 access pwrite64 = 1\nd0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\n",
    uapi_rule="R14, R15",
)

LOGGING_PAIRING = Rule(
    id="U018", name="DmaLoggingUnpaired", severity="warning", party="vmm", kind="behaviour",
    summary="DMA logging START while already started, or REPORT while not started",
    cite="vfio.h, VFIO_DEVICE_FEATURE_DMA_LOGGING_START/REPORT comments (uAPI:1369-1370, "
         "1411-1415)",
    doc="One START is followed by its STOP; REPORT is only meaningful while logging runs.",
    fix="Pair each START with a STOP and report only in between.",
    bad=_HEAD + "d0 SET DMA_LOGGING_START = 0\nd0 SET DMA_LOGGING_START = -1 EINVAL\n",
    good=_HEAD + "d0 SET DMA_LOGGING_START = 0\nd0 GET DMA_LOGGING_REPORT = 0\n"
                 "d0 SET DMA_LOGGING_STOP = 0\n",
    uapi_rule="R22",
)

RULES = (REGION_ACCESS, LOGGING_PAIRING)
