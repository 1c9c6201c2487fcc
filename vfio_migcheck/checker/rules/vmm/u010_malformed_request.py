"""U010 MalformedRequest."""

from __future__ import annotations

from dataclasses import replace

from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.examples import HEAD
from vfio_migcheck.traces.events import UNKNOWN, FeatureCall

RULE = Rule(
    id="U010", name="MalformedRequest", severity="error", party="vmm", kind="behaviour",
    summary="a malformed VFIO request: argsz too small, neither GET nor SET, unknown bits",
    cite="vfio.h, struct vfio_device_feature comment and VFIO_MIG_GET_PRECOPY_INFO "
         "(argsz >= 24) (uAPI:59-68, 879-887); core vfio_ioctl_device_feature()",
    doc="The kernel validates argsz and the GET/SET/PROBE bits before anything else and "
        "refuses malformed requests with EINVAL.",
    fix="Set argsz to the full structure size and exactly one of GET or SET (or PROBE).",
    bad=HEAD + "d0 SET MIG_DEVICE_STATE PRE_COPY = 0 data_fd=6\n"
               "fd 6 precopy_info argsz=8 = -1 EINVAL\n",
    good=HEAD + "d0 SET MIG_DEVICE_STATE PRE_COPY = 0 data_fd=6\n"
                "fd 6 precopy_info argsz=24 = 0 initial=24 dirty=0\n",
    uapi_rule="R21",
)


#: the size of struct vfio_precopy_info
PRECOPY_INFO_ARGSZ = 24


def check_precopy_info(argsz: object) -> str | None:
    """VFIO_MIG_GET_PRECOPY_INFO with an argsz below the structure size."""
    if isinstance(argsz, int) and argsz < PRECOPY_INFO_ARGSZ:
        return f"PRECOPY_INFO with argsz={argsz} (< {PRECOPY_INFO_ARGSZ})"
    return None


# --- VFIO_DEVICE_FEATURE requests (checked by the core before any handler) ----------------

FEATURE_BY_INDEX = {1: "MIGRATION", 2: "MIG_DEVICE_STATE", 6: "DMA_LOGGING_START",
                    7: "DMA_LOGGING_STOP", 8: "DMA_LOGGING_REPORT", 9: "MIG_DATA_SIZE"}
GET_BIT, SET_BIT, PROBE_BIT, KNOWN_BITS = 0x10000, 0x20000, 0x40000, 0x7FFFF
#: total argsz each feature's GET/SET needs (header 8 + payload minsz; uapi.md 8.2)
MIN_ARGSZ = {"MIGRATION": 16, "MIG_DEVICE_STATE": 16, "MIG_DATA_SIZE": 16,
             "DMA_LOGGING_START": 32, "DMA_LOGGING_STOP": 8, "DMA_LOGGING_REPORT": 40}
GET_ONLY = frozenset({"MIGRATION", "MIG_DATA_SIZE", "DMA_LOGGING_REPORT"})
SET_ONLY = frozenset({"DMA_LOGGING_START", "DMA_LOGGING_STOP"})


def decode_raw(event: FeatureCall) -> tuple[str | None, FeatureCall]:
    """Use the raw ``flags`` word of a decoded call: fill op/feature, or say what is malformed
    (the core rejects these before any handler runs, uapi.md 8.1)."""
    raw, argsz = event.raw_flags, event.argsz
    op, feature = event.op, event.feature
    if isinstance(raw, int):
        if raw & ~KNOWN_BITS:
            return f"unknown flag bits {raw & ~KNOWN_BITS:#x} in the feature request", event
        get, set_, probe = bool(raw & GET_BIT), bool(raw & SET_BIT), bool(raw & PROBE_BIT)
        if get and set_ and not probe:
            return "GET and SET both set without PROBE", event
        if not (get or set_):
            return "neither GET nor SET in the feature request", event
        name = FEATURE_BY_INDEX.get(raw & 0xFFFF)
        if op is UNKNOWN:
            op = "PROBE" if probe else ("GET" if get else "SET")
        if feature is UNKNOWN and name is not None:
            feature = name
        if name is not None and not probe:
            if set_ and name in GET_ONLY:
                return f"SET of the GET-only feature {name}", event
            if get and name in SET_ONLY:
                return f"GET of the SET-only feature {name}", event
        event = replace(event, op=op, feature=feature)
    if isinstance(argsz, int) and isinstance(feature, str) and op in ("GET", "SET"):
        need = MIN_ARGSZ.get(feature)
        if need is not None and argsz < need:
            return f"argsz={argsz} is below the {need} bytes {op} {feature} needs", event
    return None, event
