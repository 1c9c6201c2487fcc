"""U015 P2pQuiesceOrder."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import TWO

RULE = Rule(
    id="U015", name="P2pQuiesceOrder", severity="warning", party="vmm", kind="behaviour",
    summary="a P2P device stopped while a peer still ran without P2P quiescence, or resumed "
            "RUNNING while a peer was still stopped",
    cite="vfio.h, enum vfio_device_mig_state comment on RUNNING_P2P: peers must not be DMA "
         "targets once stopped (uAPI:1178-1188); ordering as QEMU practises it (qemu.md 2)",
    doc="With several P2P devices, all must reach RUNNING_P2P/PRE_COPY_P2P before any "
        "enters STOP or STOP_COPY, and all must be back in RUNNING_P2P before any returns "
        "to RUNNING, so no device DMAs into a stopped peer.",
    fix="Move every device to its P2P state first, then stop them; on the way back bring all "
        "to RUNNING_P2P before any to RUNNING.",
    bad=TWO + "a SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n",
    good=TWO + "a SET MIG_DEVICE_STATE RUNNING_P2P = 0 data_fd=-1\n"
               "b SET MIG_DEVICE_STATE RUNNING_P2P = 0 data_fd=-1\n"
               "a SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n"
               "b SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n",
    uapi_rule="R16",
)


def phase(states: set[str]) -> str | None:
    """``"stop"`` when every reading has the device stopped, ``"start"`` when RUNNING."""
    if states <= {"STOP", "STOP_COPY"}:
        return "stop"
    if states == {"RUNNING"}:
        return "start"
    return None


def check(name: str, states: set[str], other: str, other_states: set[str]) -> str | None:
    """Device ``name`` stops (starts) while a P2P peer of the same VMM still runs (is stopped).

    Both devices support P2P and belong to one process; the engine picks the pairs.
    """
    moving = phase(states)
    if moving == "stop" and other_states <= {"RUNNING", "PRE_COPY"}:
        return (f"{name} entered {'/'.join(sorted(states))} while {other} "
                f"is still {'/'.join(sorted(other_states))} (not P2P-quiesced)")
    if moving == "start" and other_states <= {"STOP", "STOP_COPY"}:
        return (f"{name} returned to RUNNING while {other} is still "
                f"{'/'.join(sorted(other_states))} (not yet RUNNING_P2P)")
    return None
