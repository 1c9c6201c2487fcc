"""U012 FailedCommitNotReset."""

from __future__ import annotations

from vfio_migcheck.checker.config import Config
from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import RES
from vfio_migcheck.model.fsm import Step

RULE = Rule(
    id="U012", name="FailedCommitNotReset", severity="error", party="vmm", kind="behaviour",
    summary="after RESUMING -> STOP failed, RESUMING is left again with no new data or reset",
    cite="vfio.h, enum vfio_device_mig_state comment: RESUMING -> STOP fails on an invalid "
         "or incomplete image; a reset aborts the resume (uAPI:1094-1102)",
    doc="A failed commit means the image is bad or short. Retrying another SET without "
        "supplying the missing data cannot succeed and hides the failure.",
    fix="Write the rest of the stream and retry, or reset the device.",
    bad=RES + "fd 6 write 88 = 88\nd0 SET MIG_DEVICE_STATE STOP = -1 EINVAL\n"
              "d0 GET MIG_DEVICE_STATE = 0 state=RESUMING\n"
              "d0 SET MIG_DEVICE_STATE RUNNING = -1 EINVAL\n",
    good=RES + "fd 6 write 88 = 88\nd0 SET MIG_DEVICE_STATE STOP = -1 EINVAL\n"
               "fd 6 write 8 = 8\nd0 SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n",
    uapi_rule="R18",
)


def check(config: Config, steps: tuple[Step, ...]) -> str | None:
    """RESUMING left again after a failed commit, with no new data accepted in between."""
    session = config.session
    if session is None or not steps or session.opaque:
        return None
    if config.state == "RESUMING" and steps[0].dst != "RESUMING" and session.moved \
            and session.failed_commit:
        return ("RESUMING left again after a failed RESUMING -> STOP with no new "
                "data in between: reset the device instead")
    return None
