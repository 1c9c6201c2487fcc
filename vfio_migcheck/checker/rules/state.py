"""Rules about what the kernel reports: GET of the state, the migration flags."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule

_HEAD = "device d0 flags=0x7\nd0 GET MIGRATION = 0 flags=0x7\n"

GET_DISAGREES = Rule(
    id="K002", name="StateReadDisagrees", severity="error", party="driver", kind="misfit",
    summary="GET MIG_DEVICE_STATE reports a state no reading of the trace allows",
    cite="vfio.h, enum vfio_device_mig_state comment: only user requests and reset change "
         "the state; a failed SET leaves a state on its path or ERROR (uAPI:1031-1035, "
         "1198-1203)",
    doc="Given every SET and RESET so far, the model knows the states the device may be in; "
        "the driver reported another one.",
    fix="Driver bug: the state changed on its own, or an arc did not do what it reported.",
    bad=_HEAD + "d0 SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n"
                "d0 GET MIG_DEVICE_STATE = 0 state=RUNNING\n",
    good=_HEAD + "d0 SET MIG_DEVICE_STATE STOP = 0 data_fd=-1\n"
                 "d0 GET MIG_DEVICE_STATE = 0 state=STOP\n",
    uapi_rule="R4",
)

BAD_FLAGS = Rule(
    id="K012", name="UndefinedMigrationFlags", severity="error", party="driver",
    kind="misfit",
    summary="GET MIGRATION reported flags without VFIO_MIGRATION_STOP_COPY, or flags that "
            "contradict the flag set the trace declared",
    cite="vfio.h, struct vfio_device_feature_migration comment: STOP_COPY must be set; only "
         "four flag sets are defined (uAPI:989-1009)",
    doc="Without STOP_COPY no state is usable; other combinations are reserved.",
    fix="Driver bug: advertise one of the defined flag sets (0x1, 0x3, 0x5, 0x7).",
    bad="device d0\nd0 GET MIGRATION = 0 flags=0x4\n",
    good="device d0\nd0 GET MIGRATION = 0 flags=0x5\n",
)

RULES = (GET_DISAGREES, BAD_FLAGS)
