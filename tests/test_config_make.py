"""``make_config`` / ``make_session`` build what the frozen dataclasses' constructors build.

The engine builds readings without the generated ``__init__`` (checker/config.py); the
result must be indistinguishable: the same fields, equality, hash, repr, and still frozen.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vfio_migcheck.checker.config import Config, Session, make_config, make_session

names = st.frozensets(st.sampled_from(["f1#0", "f2#0", "f3#1"]), max_size=3)
maybe_int = st.none() | st.integers(min_value=-1, max_value=40)
sessions = st.none() | st.tuples(
    st.sampled_from(["saving", "resuming", "unknown"]), st.none() | st.sampled_from(["f1#0"]),
    maybe_int, st.booleans(), st.booleans(), st.booleans(), st.booleans(), st.booleans(),
    maybe_int, st.booleans())
readings = st.tuples(st.sampled_from([1, 3, 5, 7]),
                     st.sampled_from(["RUNNING", "STOP", "STOP_COPY", "RESUMING"]),
                     sessions, names, st.booleans(), st.booleans(),
                     st.none() | st.booleans(), names)


def _same(made, built) -> None:
    assert type(made) is type(built)
    assert vars(made) == vars(built)
    assert made == built and hash(made) == hash(built) and repr(made) == repr(built)
    for name in (f.name for f in dataclasses.fields(built)):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(made, name, None)


@given(readings)
def test_made_readings_equal_constructed_ones(fields) -> None:
    flags, state, session_fields, dead, ghost, queried, logging, foreign = fields
    session = made_session = None
    if session_fields is not None:
        session = Session(*session_fields)
        made_session = make_session(*session_fields)
        _same(made_session, session)
    _same(make_config(flags, state, made_session, dead, ghost, queried, logging, foreign),
          Config(flags, state, session, dead, ghost, queried, logging, foreign))
