"""``events.built`` must make the very event the dataclass constructor makes."""

from __future__ import annotations

from dataclasses import MISSING, fields

import pytest

from vfio_migcheck.traces.events import EVENT_TYPES, UNKNOWN, Origin, built, origin_at

SAMPLES = {"origin": Origin("f", 3), "device": "d", "fd": 45, "file": "d:fd45#1",
           "call": "read", "direction": "read", "reason": "why", "what": "exit",
           "name": "save_block", "request": "0x3b79", "cmd": "F_GETFL", "old_fd": 4,
           "new_fd": 5, "tid": 7, "ts": 1.5, "ret": 0, "errno": None, "requested": 8}


def _values(cls) -> dict:
    out = {}
    for f in fields(cls):
        if f.name in SAMPLES:
            out[f.name] = SAMPLES[f.name]
        elif f.default is not MISSING:
            out[f.name] = f.default
        else:
            out[f.name] = f.default_factory()  # type: ignore[misc]
    return out


@pytest.mark.parametrize("cls", EVENT_TYPES.values(), ids=lambda c: c.__name__)
def test_built_equals_constructed(cls) -> None:
    values = _values(cls)
    made = cls(**values)
    fast = built(cls, values)
    assert fast == made and repr(fast) == repr(made) and fast.to_json() == made.to_json()
    assert type(fast) is cls and fast.text == made.text
    with pytest.raises(AttributeError):
        fast.origin = Origin("g", 1)  # type: ignore[misc]   # still frozen


def test_origin_at_equals_origin() -> None:
    assert origin_at("f", 3) == Origin("f", 3)
    assert hash(origin_at("f", 3)) == hash(Origin("f", 3))
    assert str(origin_at("f", 3)) == "f:3" and origin_at("f", 3).last_line is None
    assert UNKNOWN is not None
