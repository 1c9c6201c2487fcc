"""U018 DmaLoggingUnpaired."""

from __future__ import annotations

from vfio_migcheck.checker.config import Config
from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import HEAD

RULE = Rule(
    id="U018", name="DmaLoggingUnpaired", severity="warning", party="vmm", kind="behaviour",
    summary="DMA logging START while already started, or REPORT while not started",
    cite="vfio.h, VFIO_DEVICE_FEATURE_DMA_LOGGING_START/REPORT comments (uAPI:1369-1370, "
         "1411-1415)",
    doc="One START is followed by its STOP; REPORT is only meaningful while logging runs.",
    fix="Pair each START with a STOP and report only in between.",
    bad=HEAD + "d0 SET DMA_LOGGING_START = 0\nd0 SET DMA_LOGGING_START = -1 EINVAL\n",
    good=HEAD + "d0 SET DMA_LOGGING_START = 0\nd0 GET DMA_LOGGING_REPORT = 0\n"
                "d0 SET DMA_LOGGING_STOP = 0\n",
    uapi_rule="R22",
)


def check(config: Config, feature: str) -> str | None:
    """DMA logging START while started, or REPORT while stopped (in this reading)."""
    if feature == "DMA_LOGGING_START" and config.logging is True:
        return "DMA logging START while already started"
    if feature == "DMA_LOGGING_REPORT" and config.logging is False:
        return "DMA logging REPORT while logging is off"
    return None
