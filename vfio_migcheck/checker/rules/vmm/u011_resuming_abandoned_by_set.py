"""U011 ResumingAbandonedBySet."""

from __future__ import annotations

from vfio_migcheck.checker.config import Config
from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import RES
from vfio_migcheck.model.fsm import Step

RULE = Rule(
    id="U011", name="ResumingAbandonedBySet", severity="error", party="vmm",
    kind="behaviour",
    summary="RESUMING left by a SET although no resume data was accepted",
    cite="vfio.h, enum vfio_device_mig_state comment: to abort a RESUMING session the "
         "device must be reset (uAPI:1102)",
    doc="Leaving RESUMING commits the image; with nothing written there is no image. An "
        "unfinished RESUMING session is abandoned with VFIO_DEVICE_RESET.",
    fix="Use VFIO_DEVICE_RESET to abandon a resume; SET STOP only after writing the whole "
        "stream.",
    bad=RES + "d0 SET MIG_DEVICE_STATE STOP = -1 EINVAL\n",
    good=RES + "d0 RESET = 0\n",
    uapi_rule="R17",
)


def check(config: Config, steps: tuple[Step, ...]) -> str | None:
    """A SET whose path leaves RESUMING although no resume data was accepted."""
    session = config.session
    if session is None or not steps or session.opaque:
        return None
    if config.state == "RESUMING" and steps[0].dst != "RESUMING" and not session.moved:
        return ("RESUMING left by SET with no resume data accepted: "
                "abandon a resume with VFIO_DEVICE_RESET")
    return None
