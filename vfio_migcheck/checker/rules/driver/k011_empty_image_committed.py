"""K011 EmptyImageCommitted."""

from __future__ import annotations

from vfio_migcheck.checker.config import Config
from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import RES
from vfio_migcheck.model.fsm import Step

RULE = Rule(
    id="K011", name="EmptyImageCommitted", severity="warning", party="driver",
    kind="behaviour",
    summary="RESUMING -> STOP succeeded although the device accepted no resume data",
    cite="vfio.h, enum vfio_device_mig_state comment: RESUMING -> STOP must fail if the data "
         "is incomplete or invalid (uAPI:1089-1097)",
    doc="Every write was refused, so the device cannot hold a valid image; mtty counts "
        "refused bytes and commits anyway.",
    fix="Driver: validate the image at RESUMING -> STOP and fail when it is incomplete.",
    bad=RES + "fd 6 write 96 = -1 EFAULT\nd0 SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n",
    good=RES + "fd 6 write 96 = 96\nd0 SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n",
    uapi_rule="R18",
)


def check(config: Config, steps: tuple[Step, ...]) -> str | None:
    """A successful RESUMING -> STOP although the resuming fd accepted no data."""
    session = config.session
    if config.state == "RESUMING" and steps and session is not None \
            and session.kind == "resuming" and not session.moved and not session.opaque \
            and steps[0].dst == "STOP":
        return "RESUMING -> STOP succeeded although no resume data was accepted"
    return None
