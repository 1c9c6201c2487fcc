"""Rules about SET MIG_DEVICE_STATE requests: what the VMM may ask, what the kernel must answer."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.model.fsm import Answer, Reason

_HEAD = "device d0 flags=0x7\nd0 GET MIGRATION = 0 flags=0x7\n"

QUERY_FIRST = Rule(
    id="U001", name="SetBeforeQuery", severity="warning", party="vmm", kind="behaviour",
    summary="SET MIG_DEVICE_STATE before reading VFIO_DEVICE_FEATURE_MIGRATION",
    cite="vfio.h, struct vfio_device_feature_migration comment: the flags say which states "
         "exist; vfio.h, MIG_DEVICE_STATE comment: optional states must not be requested "
         "unless supported",
    doc="The supported states depend on the migration flags, which only a GET of "
        "VFIO_DEVICE_FEATURE_MIGRATION reveals. A VMM that sets states without asking may "
        "request one the device does not have.",
    fix="Issue VFIO_DEVICE_FEATURE GET MIGRATION once after opening the device and request "
        "only states its flags allow.",
    bad="device d0\nd0 SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n",
    good="device d0\nd0 GET MIGRATION = 0 flags=0x7\nd0 SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n",
    uapi_rule="R1",
)

UNSUPPORTED_TARGET = Rule(
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

INVALID_TARGET = Rule(
    id="U003", name="ErrorOrOutOfRangeTarget", severity="error", party="vmm",
    kind="behaviour",
    summary="SET requests ERROR or a value that is no state",
    cite="vfio.h, enum vfio_device_mig_state comment: ERROR cannot be requested "
         "(uAPI:1171); core: device_state >= VFIO_DEVICE_STATE_NR is rejected",
    doc="ERROR is only ever an outcome of a failed transition, and values from "
        "VFIO_DEVICE_STATE_NR upwards name no state; both are refused with EINVAL.",
    fix="Request only the states of enum vfio_device_mig_state other than ERROR.",
    bad=_HEAD + "d0 SET MIG_DEVICE_STATE ERROR = -1 EINVAL\n",
    good=_HEAD + "d0 SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n"
                 "d0 SET MIG_DEVICE_STATE RUNNING = 0 data_fd=-1\n",
    uapi_rule="R2",
)

BLOCKED_TRANSITION = Rule(
    id="U004", name="BlockedTransition", severity="error", party="vmm", kind="behaviour",
    summary="SET requests STOP_COPY -> PRE_COPY or STOP_COPY -> PRE_COPY_P2P",
    cite="vfio.h, enum vfio_device_mig_state comment: the arcs STOP_COPY -> PRE_COPY and "
         "STOP_COPY -> PRE_COPY_P2P are not allowed; reserved for a future flag (uAPI:1163-1168)",
    doc="Once a device has stopped and started streaming its final state it cannot go back "
        "to pre-copy. The kernel refuses the request with EINVAL and the state is unchanged.",
    fix="Finish the stop-copy phase (read to EOF, then STOP) or abort it; start a new "
        "pre-copy session from RUNNING.",
    bad=_HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\n"
                "d0 SET MIG_DEVICE_STATE PRE_COPY = -1 EINVAL\n",
    good=_HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\nfd 6 read 4096 = 96\n"
                 "fd 6 read 4096 = 0\nd0 SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\nfd 6 close = 0\n"
                 "d0 SET MIG_DEVICE_STATE RUNNING = 0 data_fd=-1\n",
    uapi_rule="R3",
)

SET_IN_ERROR = Rule(
    id="U005", name="SetWhileInError", severity="error", party="vmm", kind="behaviour",
    summary="SET while the device is in ERROR instead of a VFIO_DEVICE_RESET",
    cite="vfio.h, enum vfio_device_mig_state comment: only VFIO_DEVICE_RESET leaves ERROR "
         "(uAPI:1175-1176)",
    doc="A device in ERROR accepts no state change; the kernel refuses every SET.",
    fix="Call VFIO_DEVICE_RESET; the device is then RUNNING and every data fd is dead.",
    bad=_HEAD + "d0 SET MIG_DEVICE_STATE STOP = -1 EIO\nd0 GET MIG_DEVICE_STATE = 0 state=ERROR\n"
                "d0 SET MIG_DEVICE_STATE RUNNING = -1 EINVAL\n",
    good=_HEAD + "d0 SET MIG_DEVICE_STATE STOP = -1 EIO\nd0 GET MIG_DEVICE_STATE = 0 state=ERROR\n"
                 "d0 RESET = 0\n",
    uapi_rule="R19",
)

MUST_FAIL_SUCCEEDED = Rule(
    id="K001", name="RequestWronglyAccepted", severity="error", party="driver", kind="misfit",
    summary="a SET the uAPI refuses (blocked, unsupported, ERROR, out of range) succeeded",
    cite="vfio.h, MIG_DEVICE_STATE comment and enum vfio_device_mig_state comment; core "
         "vfio_mig_get_next_state() (uapi.md section 5)",
    doc="The core rejects these requests before any driver code runs, so success means the "
        "kernel does not follow the uAPI (or the trace misreports the call).",
    fix="Driver/kernel bug: the core's vfio_mig_get_next_state() must reject the request.",
    bad=_HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\n"
                "d0 SET MIG_DEVICE_STATE PRE_COPY = 0 data_fd=-1\n",
    good=_HEAD + "d0 SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=6\n"
                 "d0 SET MIG_DEVICE_STATE PRE_COPY = -1 EINVAL\n",
    uapi_rule="R3",
)

NOOP_FAILED = Rule(
    id="K010", name="NoOpSetFailed", severity="warning", party="driver", kind="behaviour",
    summary="a SET to the state the device is already in failed",
    cite="core vfio_mig_get_next_state(): cur == new is a successful no-op (uapi.md 6.5)",
    doc="Requesting the current state runs no arc and must succeed with data_fd = -1 (pds "
        "in ERROR is the only documented exception).",
    fix="Driver bug: return 0 without running an arc when the requested state is current.",
    bad=_HEAD + "d0 SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n"
                "d0 SET MIG_DEVICE_STATE STOP = -1 EIO\n",
    good=_HEAD + "d0 SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n"
                 "d0 SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n",
)

RULES = (QUERY_FIRST, UNSUPPORTED_TARGET, INVALID_TARGET, BLOCKED_TRANSITION, SET_IN_ERROR,
         MUST_FAIL_SUCCEEDED, NOOP_FAILED)


def request_problems(answer: Answer, state: str, error_state: str | None) -> list[tuple[Rule, str]]:
    """The VMM rules a request breaks in this reading (empty when the request is legal)."""
    src, dst = answer.src, answer.dst
    if state == error_state:
        return [(SET_IN_ERROR, f"SET {dst} while the device is in {state}")]
    reason = answer.reason
    if reason is Reason.TARGET_OUT_OF_RANGE:
        return [(INVALID_TARGET, f"SET {dst}: {dst} is out of range")]
    if reason is Reason.TARGET_ERROR:
        return [(INVALID_TARGET, f"SET {dst}: {dst} can never be requested")]
    if reason is Reason.TARGET_UNSUPPORTED:
        return [(UNSUPPORTED_TARGET, f"SET {dst} in {src}: {answer.detail}")]
    if reason is Reason.BLOCKED:
        return [(BLOCKED_TRANSITION, f"SET {src} -> {dst} is not allowed")]
    if reason is Reason.UNDEFINED_FLAGS:
        return [(UNSUPPORTED_TARGET, f"SET {dst}: {answer.detail}")]
    return []
