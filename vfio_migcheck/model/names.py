"""Parsing the names people type: flag sets and states, in every spelling the CLI accepts."""

from __future__ import annotations

from vfio_migcheck.model.spec import Spec

STATE_PREFIX = "VFIO_DEVICE_STATE_"
FLAG_PREFIX = "VFIO_MIGRATION_"


class NameError_(ValueError):
    """A flag set or state name that the spec does not know."""


def parse_flags(text: str | int | None, spec: Spec) -> int:
    """Accept ``0x7``, ``7``, ``STOP_COPY,P2P`` or ``VFIO_MIGRATION_P2P|...``; None = all flags."""
    if text is None:
        return spec.all_flags_mask
    if isinstance(text, int):
        if text < 0:
            raise NameError_(f"flag set {text} is negative")
        return text
    raw = text.strip()
    if not raw:
        raise NameError_("empty flag set")
    try:
        value = int(raw, 0)
    except ValueError:
        pass
    else:
        if value < 0:
            raise NameError_(f"flag set {raw} is negative")
        return value
    value = 0
    for part in raw.replace("|", ",").replace("+", ",").split(","):
        name = part.strip().upper()
        if name.startswith(FLAG_PREFIX):
            name = name[len(FLAG_PREFIX):]
        if name in ("", "NONE"):
            continue
        if name not in spec.flags:
            known = ", ".join(spec.flags)
            raise NameError_(
                f"unknown flag {part.strip()!r} (known: {known}, or a number like 0x7)")
        value |= spec.flags[name]
    return value


def parse_state(text: str | int, spec: Spec) -> str | int:
    """Return a state name, or the raw integer when the value names no state (out of range)."""
    if isinstance(text, int):
        state = spec.state_by_value(text)
        return state.name if state else text
    raw = text.strip()
    try:
        value = int(raw, 0)
    except ValueError:
        pass
    else:
        state = spec.state_by_value(value)
        return state.name if state else value
    name = raw.upper()
    if name.startswith(STATE_PREFIX):
        name = name[len(STATE_PREFIX):]
    if name in spec.states:
        return name
    known = ", ".join(sorted(spec.states, key=lambda s: spec.states[s].value))
    raise NameError_(f"unknown state {raw!r} (known: {known}, or a number)")


def format_flags(flags: int, spec: Spec) -> str:
    names = [n for n, bit in spec.flags.items() if flags & bit]
    return f"{flags:#x} ({'|'.join(names) if names else 'none'})"
