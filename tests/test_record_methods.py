"""Records compare, hash and print exactly as ``@dataclass(frozen=True)`` would make them.

The events and the model's records (``vfio_migcheck/records.py``) inherit ``__eq__``,
``__hash__`` and ``__repr__`` written once, instead of letting dataclasses generate and
compile them for each class at import (start-up of ``check``, issue 12). The reference
here is dataclasses itself: a subclass of each record class run through
``dataclass(frozen=True)`` gets the generated methods over the very same fields; both are
fed the same generated field values.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vfio_migcheck.checker import results
from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.model import fsm, profiles, spec
from vfio_migcheck.records import Record
from vfio_migcheck.traces import events as E

CLASSES = [*E.EVENT_TYPES.values(), E.Event, E.Run, E.DataRun, E.QuietRun,
           spec.State, spec.Condition, spec.Arc, spec.Blocked, spec.Refinement,
           spec.PathRules, spec.Spec, fsm.Step, fsm.Answer, fsm.FailureOutcome,
           profiles.Fact, profiles.ArcFailure, profiles.DriverProfile,
           results.Finding, results.StateObservation, results.RequestObservation,
           results.SessionStats, results.DeviceResult, results.TraceResult, Rule]

_VALUES = st.one_of(st.none(), st.integers(-2, 3), st.sampled_from(["a", "b", "x y"]),
                    st.just(E.UNKNOWN), st.booleans(),
                    st.builds(E.Origin, st.sampled_from(["f", "g"]), st.integers(1, 3)))


def _reference(cls: type) -> type:
    """The event class with dataclasses' own generated methods (same fields)."""
    return dataclass(frozen=True)(type(cls.__name__, (cls,), {"__qualname__": cls.__qualname__}))


def _is_dict(f) -> bool:
    return str(f.type).startswith("dict")


def _hashable(cls: type) -> bool:
    return not any(_is_dict(f) for f in fields(cls))


@st.composite
def field_values(draw, cls: type) -> dict:
    out = {}
    for f in fields(cls):
        if _is_dict(f):
            out[f.name] = draw(st.dictionaries(st.sampled_from(["k", "l"]), st.integers(0, 2)))
        elif f.name in ("texts", "shapes"):
            out[f.name] = tuple(draw(st.lists(st.sampled_from(["s", "t"]), max_size=2)))
        elif f.name in ("devices", "names"):
            out[f.name] = frozenset(draw(st.lists(st.sampled_from(["d", "e"]), max_size=2)))
        elif f.name == "build":
            out[f.name] = None
        elif f.default is MISSING and f.default_factory is MISSING or draw(st.booleans()):
            out[f.name] = draw(_VALUES)
    return out


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_event_methods_are_the_dataclass_ones(cls, data) -> None:
    reference = _reference(cls)
    first, second = data.draw(field_values(cls)), data.draw(field_values(cls))
    if data.draw(st.booleans()):
        second = {**first, "text": "other text"} if "text" in first else dict(first)
    a, b = cls(**first), cls(**second)
    ra, rb = reference(**first), reference(**second)
    assert repr(a) == repr(ra) and repr(b) == repr(rb)
    assert (a == b) == (ra == rb) and (a != b) == (ra != rb)
    assert a == cls(**first) and a != ra     # another class is never equal
    if _hashable(cls):
        assert hash(a) == hash(ra) and hash(b) == hash(rb)
    else:
        with pytest.raises(TypeError):
            hash(a)
        with pytest.raises(TypeError):
            hash(ra)
    with pytest.raises(AttributeError):
        setattr(a, fields(cls)[0].name, 1)    # still frozen


def test_the_methods_are_written_once() -> None:
    """Not generated per class: every record class shares Record's three methods."""
    for cls in CLASSES:
        for name in ("__eq__", "__hash__", "__repr__"):
            assert getattr(cls, name) is getattr(Record, name), (cls.__name__, name)
