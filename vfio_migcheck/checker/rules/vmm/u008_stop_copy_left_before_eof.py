"""U008 StopCopyLeftBeforeEof."""

from __future__ import annotations

from vfio_migcheck.checker.config import Config
from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import HEAD
from vfio_migcheck.model.fsm import Step

RULE = Rule(
    id="U008", name="StopCopyLeftBeforeEof", severity="warning", party="vmm",
    kind="behaviour",
    summary="STOP_COPY was left before read() returned 0",
    cite="vfio.h, enum vfio_device_mig_state comment: STOP_COPY streams the complete state; "
         "VFIO_MIG_GET_PRECOPY_INFO comment: read() == 0 marks its end (uAPI:1146-1149)",
    doc="Leaving STOP_COPY ends the saving session; unless the migration is being "
        "abandoned, the image is incomplete.",
    fix="Read the saving fd until read() returns 0 before requesting STOP.",
    bad=HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\nfd 6 read 64 = 64\n"
               "d0 SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n",
    good=HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\nfd 6 read 64 = 64\n"
                "fd 6 read 64 = 0\nd0 SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n",
    uapi_rule="R9",
)


def check(config: Config, steps: tuple[Step, ...]) -> str | None:
    """A SET whose path leaves STOP_COPY before the saving fd returned end of stream."""
    session = config.session
    if session is None or not steps or session.opaque:
        return None
    if config.state == "STOP_COPY" and session.kind == "saving" and not session.eof:
        return f"STOP_COPY -> {steps[0].dst} before read() returned 0 on the saving fd"
    return None
