"""K010 NoOpSetFailed."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import HEAD
from vfio_migcheck.model.fsm import Answer
from vfio_migcheck.traces.events import FeatureCall

RULE = Rule(
    id="K010", name="NoOpSetFailed", severity="warning", party="driver", kind="behaviour",
    summary="a SET to the state the device is already in failed",
    cite="core vfio_mig_get_next_state(): cur == new is a successful no-op (uapi.md 6.5)",
    doc="Requesting the current state runs no arc and must succeed with data_fd = -1 (pds "
        "in ERROR is the only documented exception).",
    fix="Driver bug: return 0 without running an arc when the requested state is current.",
    bad=HEAD + "d0 SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n"
               "d0 SET MIG_DEVICE_STATE STOP = -1 EIO\n",
    good=HEAD + "d0 SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n"
                "d0 SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n",
)


def check(answer: Answer, event: FeatureCall) -> str | None:
    """A failed SET of a legal request whose path is empty (the current state)."""
    if not answer.ok or answer.steps:
        return None
    errno = event.errno if isinstance(event.errno, str) else "an error"
    return f"SET {answer.dst} in {answer.src} failed with {errno}"
