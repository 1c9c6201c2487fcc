"""K012 UndefinedMigrationFlags."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule

RULE = Rule(
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
