"""K012 UndefinedMigrationFlags."""

from __future__ import annotations

from vfio_migcheck.checker.rules.base import Rule

RULE = Rule(
    id="K012", name="UndefinedMigrationFlags", severity="error", party="driver",
    kind="misfit",
    summary="GET MIGRATION reported flags without VFIO_MIGRATION_STOP_COPY, or flags that "
            "contradict the flag set the trace declared",
    cite="include/uapi/linux/vfio.h:989-1009 (Linux 6.12.118): STOP_COPY must be set; "
         "only four flag sets are defined",
    doc="Without STOP_COPY no state is usable; other combinations are reserved.",
    fix="Driver bug: advertise one of the defined flag sets (0x1, 0x3, 0x5, 0x7).",
    bad="device d0\nd0 GET MIGRATION = 0 flags=0x4\n",
    good="device d0\nd0 GET MIGRATION = 0 flags=0x5\n",
)
