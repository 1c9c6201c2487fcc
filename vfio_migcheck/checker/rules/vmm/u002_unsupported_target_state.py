"""U002 UnsupportedTargetState."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.model.fsm import Answer, Reason

RULE = Rule(
    id="U002", name="UnsupportedTargetState", severity="error", party="vmm", kind="behaviour",
    summary="SET requests a state the device's migration flags do not support",
    cite="vfio.h, MIG_DEVICE_STATE comment: optional states that the device does not support "
         "may not be requested (uAPI:1205-1206)",
    doc="PRE_COPY states need VFIO_MIGRATION_PRE_COPY and the P2P states need "
        "VFIO_MIGRATION_P2P. The kernel refuses such a request with EINVAL.",
    fix="Check the flags from GET MIGRATION and skip the optional states the device lacks; "
        "combination transitions let you ignore them.",
    bad="device d0 flags=0x1\nd0 GET MIGRATION = 0 flags=0x1\n"
        "d0 SET MIG_DEVICE_STATE PRE_COPY = -1 EINVAL\n",
    good="device d0 flags=0x5\nd0 GET MIGRATION = 0 flags=0x5\n"
         "d0 SET MIG_DEVICE_STATE PRE_COPY = 0 data_fd=6\nfd 6 close = 0\n"
         "d0 SET MIG_DEVICE_STATE RUNNING = 0 data_fd=-1\n",
    uapi_rule="R1",
)


def check(answer: Answer, state: str, error_state: str | None) -> str | None:
    """A SET of a state the device's migration flags do not provide."""
    if state == error_state:
        return None
    if answer.reason is Reason.TARGET_UNSUPPORTED:
        return f"SET {answer.dst} in {answer.src}: {answer.detail}"
    if answer.reason is Reason.UNDEFINED_FLAGS:
        return f"SET {answer.dst}: {answer.detail}"
    return None
