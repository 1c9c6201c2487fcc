"""What each QEMU migration trace event may look like, across QEMU versions.

The grammar (grammar/qemu.lark) knows the argument *shapes*; this table says which shapes
each raw event name may take, which newest name it normalises to, and which shapes are
evidence of the deprecated v1 protocol or of v2. Facts come from ``hw/vfio/trace-events``
of QEMU 5.1 (v1) through the 2026 VFIO maintainer tree (see docs/qemu-logs.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Strings QEMU's ``mig_state_to_str`` prints for v2 device states.
QEMU_STATE_NAMES = frozenset({
    "ERROR", "STOP", "RUNNING", "STOP_COPY", "RESUMING", "RUNNING_P2P", "PRE_COPY",
    "PRE_COPY_P2P",
})
#: ``mig_state_to_str``'s fallback for a value it does not know.
QEMU_UNKNOWN_STATE = "UNKNOWN STATE"


@dataclass(frozen=True)
class EventFormat:
    """One raw event name: its normalised name and the argument shapes it may take."""

    name: str                      # normalised, without the "vfio_" prefix
    shapes: frozenset[str]
    has_device: bool = True        # vfio events print " (%s)" first; the others do not


def _fmt(name: str, *shapes: str, has_device: bool = True) -> EventFormat:
    return EventFormat(name, frozenset(shapes), has_device)


NO_ARGS = "no_args"

#: raw event name -> format. Renamed events map to their newest name.
EVENTS: dict[str, EventFormat] = {
    # destination side
    "vfio_load_bufs_thread_start": _fmt("load_bufs_thread_start", NO_ARGS),
    "vfio_load_bufs_thread_end": _fmt("load_bufs_thread_end", NO_ARGS),
    "vfio_load_cleanup": _fmt("load_cleanup", NO_ARGS),
    "vfio_load_device_config_state": _fmt("load_device_config_state", NO_ARGS),
    "vfio_load_device_config_state_start": _fmt("load_device_config_state_start", NO_ARGS),
    "vfio_load_device_config_state_end": _fmt("load_device_config_state_end", NO_ARGS),
    "vfio_load_state": _fmt("load_state", "marker"),
    "vfio_load_state_device_data": _fmt("load_state_device_data", "size_ret",
                                        "v1_offset_size"),
    "vfio_v1_load_state_device_data": _fmt("load_state_device_data", "v1_offset_size"),
    "vfio_load_state_device_buffer_incoming": _fmt("load_state_device_buffer_incoming", "idx"),
    "vfio_load_state_device_buffer_start": _fmt("load_state_device_buffer_start", NO_ARGS),
    "vfio_load_state_device_buffer_starved": _fmt("load_state_device_buffer_starved", "idx"),
    "vfio_load_state_device_buffer_load_start": _fmt("load_state_device_buffer_load_start",
                                                     "idx"),
    "vfio_load_state_device_buffer_load_end": _fmt("load_state_device_buffer_load_end", "idx"),
    "vfio_load_state_device_buffer_end": _fmt("load_state_device_buffer_end", NO_ARGS),
    # device setup and state changes
    "vfio_migration_init": _fmt("migration_init", "migration_init"),
    "vfio_migration_probe": _fmt("migration_probe", NO_ARGS, "v1_region"),
    "vfio_migration_realize": _fmt("migration_realize", NO_ARGS),
    "vfio_migration_set_device_state": _fmt("migration_set_device_state", "state"),
    "vfio_migration_set_state": _fmt("migration_set_state", "state", "new_recover_state"),
    "vfio_migration_v1_set_state": _fmt("migration_set_state", "state"),
    "vfio_migration_state_notifier": _fmt("migration_state_notifier", "state"),
    "vfio_migration_data_notifier": _fmt("migration_data_notifier", "stopcopy"),
    "vfio_vmstate_change": _fmt("vmstate_change", "vmstate_change"),
    "vfio_vmstate_change_prepare": _fmt("vmstate_change_prepare", "vmstate_change"),
    "vfio_v1_vmstate_change": _fmt("vmstate_change", "vmstate_change"),
    # size queries
    "vfio_query_precopy_size": _fmt("query_precopy_size", "precopy_size"),
    "vfio_query_precopy_size_request_switchover_ack": _fmt(
        "query_precopy_size_request_switchover_ack", NO_ARGS),
    "vfio_query_stop_copy_size": _fmt("query_stop_copy_size", "stopcopy_ret"),
    "vfio_state_pending": _fmt("state_pending", "state_pending"),
    "vfio_state_pending_estimate": _fmt("state_pending", "pending"),
    "vfio_state_pending_exact": _fmt("state_pending", "pending"),
    "vfio_save_pending": _fmt("save_pending", "pending"),
    "vfio_v1_save_pending": _fmt("save_pending", "pending"),
    "vfio_update_pending": _fmt("update_pending", "v1_pending"),
    # source side
    "vfio_save_setup": _fmt("save_setup", "buffer_size", NO_ARGS),
    "vfio_v1_save_setup": _fmt("save_setup", NO_ARGS),
    "vfio_save_block": _fmt("save_block", "data_size"),
    "vfio_save_buffer": _fmt("save_buffer", "v1_offset_size"),
    "vfio_save_block_precopy_empty_hit": _fmt("save_block_precopy_empty_hit", NO_ARGS),
    "vfio_save_iterate_empty_hit": _fmt("save_block_precopy_empty_hit", NO_ARGS),
    "vfio_save_iterate": _fmt("save_iterate", "iterate_sizes", "data_size"),
    "vfio_save_iterate_start": _fmt("save_iterate_start", NO_ARGS),
    "vfio_save_iterate_started": _fmt("save_iterate_start", NO_ARGS),
    "vfio_save_complete_precopy": _fmt("save_complete_precopy", "ret", NO_ARGS),
    "vfio_v1_save_complete_precopy": _fmt("save_complete_precopy", NO_ARGS),
    "vfio_save_complete_precopy_start": _fmt("save_complete_precopy_start", NO_ARGS),
    "vfio_save_complete_precopy_started": _fmt("save_complete_precopy_start", NO_ARGS),
    "vfio_save_complete_precopy_thread_start": _fmt("save_complete_precopy_thread_start",
                                                    "idstr_instance"),
    "vfio_save_complete_precopy_thread_started": _fmt("save_complete_precopy_thread_start",
                                                      "idstr_instance"),
    "vfio_save_complete_precopy_thread_end": _fmt("save_complete_precopy_thread_end", "ret"),
    "vfio_save_complete_precopy_thread_finished": _fmt("save_complete_precopy_thread_end",
                                                       "ret"),
    "vfio_save_device_config_state": _fmt("save_device_config_state", NO_ARGS),
    "vfio_save_cleanup": _fmt("save_cleanup", NO_ARGS),
    "vfio_send_init_data_flag": _fmt("send_init_data_flag", NO_ARGS),
    # non-vfio events kept for correlation (device "")
    "vm_state_notify": _fmt("vm_state_notify", "vm_state_notify", has_device=False),
    "migrate_set_state": _fmt("migrate_set_state", "new_state", has_device=False),
}

#: Raw names that exist only in QEMU builds speaking the v1 protocol.
V1_ONLY_NAMES = frozenset({
    "vfio_migration_v1_set_state", "vfio_v1_vmstate_change", "vfio_v1_save_setup",
    "vfio_v1_save_pending", "vfio_v1_save_complete_precopy", "vfio_v1_load_state_device_data",
    "vfio_save_buffer", "vfio_update_pending",
})
#: Raw names that only v2 builds have.
V2_ONLY_NAMES = frozenset({
    "vfio_migration_init", "vfio_migration_realize", "vfio_migration_set_device_state",
    "vfio_migration_data_notifier", "vfio_vmstate_change_prepare", "vfio_state_pending",
    "vfio_state_pending_estimate", "vfio_state_pending_exact", "vfio_query_precopy_size",
    "vfio_query_precopy_size_request_switchover_ack", "vfio_query_stop_copy_size",
    "vfio_save_block", "vfio_save_block_precopy_empty_hit", "vfio_save_iterate_empty_hit",
    "vfio_save_iterate_start", "vfio_save_iterate_started", "vfio_save_complete_precopy_start",
    "vfio_save_complete_precopy_started", "vfio_save_complete_precopy_thread_start",
    "vfio_save_complete_precopy_thread_started", "vfio_save_complete_precopy_thread_end",
    "vfio_save_complete_precopy_thread_finished", "vfio_load_bufs_thread_start",
    "vfio_load_bufs_thread_end", "vfio_load_device_config_state_start",
    "vfio_load_device_config_state_end", "vfio_load_state_device_buffer_incoming",
    "vfio_load_state_device_buffer_start", "vfio_load_state_device_buffer_starved",
    "vfio_load_state_device_buffer_load_start", "vfio_load_state_device_buffer_load_end",
    "vfio_load_state_device_buffer_end",
})
#: Shapes that only the v1 region protocol prints.
V1_SHAPES = frozenset({"v1_offset_size", "v1_pending", "v1_region"})
#: Shapes that only v2 builds print (device-state names, data-fd sizes, precopy info).
V2_SHAPES = frozenset({
    "new_recover_state", "migration_init", "precopy_size", "stopcopy", "stopcopy_ret",
    "state_pending", "iterate_sizes", "buffer_size", "size_ret", "idstr_instance",
})
#: Events whose state value is a device state (an integer there means v1).
DEVICE_STATE_EVENTS = frozenset({
    "migration_set_state", "migration_set_device_state", "vmstate_change",
    "vmstate_change_prepare",
})


def protocol_evidence(raw_name: str, shape: str, fields: dict) -> str | None:
    """'v1', 'v2' or None: what this one event says about the log's protocol era.

    Integer device states, the migration-region shapes and the ``_v1_`` names are v1;
    device-state names and the data-fd era's shapes are v2; the rest says nothing.
    """
    fmt = EVENTS.get(raw_name)
    if raw_name in V1_ONLY_NAMES or shape in V1_SHAPES:
        return "v1"
    if fmt is not None and fmt.name in DEVICE_STATE_EVENTS:
        value = fields.get("device_state", fields.get("state", fields.get("new_state")))
        if isinstance(value, int):
            return "v1"
        if isinstance(value, str):
            return "v2"
    if fmt is not None and fmt.name == "save_pending":
        return "v2" if "stopcopy_size" in fields else "v1"
    if fmt is not None and fmt.name == "save_iterate" and shape == "data_size":
        return "v1"
    if raw_name in V2_ONLY_NAMES or shape in V2_SHAPES:
        return "v2"
    return None


_V1_WORDS = ("_v1_", "vfio_save_buffer", "vfio_update_pending", "vfio_save_pending", "Offset ",
             "Region ")
_INTEGER_STATE = re.compile(r"state -?\d")


def may_hold_v1_evidence(line: str) -> bool:
    """Cheap pre-check: False only if no record in ``line`` can be v1 evidence.

    Lets the era scan skip the bulk of a v2 log once v2 evidence is found; it must never
    answer False for a line :func:`protocol_evidence` would call v1.
    """
    if any(word in line for word in _V1_WORDS):
        return True
    if "data_size" in line and "vfio_save_iterate" in line:
        return True
    return _INTEGER_STATE.search(line) is not None


# one pattern each (a literal start is searched fast; an alternation is tried everywhere)
_ITERATE_THEN_SIZE = re.compile(r"vfio_save_iterate[^\n]*data_size")
_SIZE_THEN_ITERATE = re.compile(r"data_size[^\n]*vfio_save_iterate")


def may_hold_v1_evidence_in(block: str) -> bool:
    """:func:`may_hold_v1_evidence` for many lines joined by newlines at once: False only
    if it is False for every one of them (each test finds what it finds in any line)."""
    if any(word in block for word in _V1_WORDS):
        return True
    return _INTEGER_STATE.search(block) is not None or \
        _ITERATE_THEN_SIZE.search(block) is not None or \
        _SIZE_THEN_ITERATE.search(block) is not None
