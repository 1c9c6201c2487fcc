"""The spec loader: built-in specs load, malformed specs get errors naming file and key."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vfio_migcheck.model.fsm import model_for
from vfio_migcheck.model.spec import (
    BUILTIN_SPECS,
    SpecError,
    builtin_spec_path,
    load_spec,
    parse_spec,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FIXTURES = Path(__file__).parent / "fixtures" / "specs"
BASE = tomllib.loads(builtin_spec_path("linux-6.12").read_text())


@pytest.mark.parametrize("name", BUILTIN_SPECS)
def test_builtin_specs_load(name: str) -> None:
    spec = load_spec(name)
    assert spec.name == name
    assert spec.mandatory_flags == {"STOP_COPY"}


def mutate(change) -> dict:
    doc = copy.deepcopy(BASE)
    change(doc)
    return doc


CASES = [
    ("flags.P2P", "single bit", lambda d: d["flags"].update(P2P=3)),
    ("states.STOP.value", "already used", lambda d: d["states"]["STOP"].update(value=2)),
    ("states.STOP.value", "outside", lambda d: d["states"]["STOP"].update(value=9)),
    ("states.STOP.requires[0]", "unknown flag", lambda d: d["states"]["STOP"].update(
        requires=["NOPE"])),
    ("arcs[0].from", "unknown state", lambda d: d["arcs"][0].update({"from": "LIMBO"})),
    ("arcs[0].session", "not one of", lambda d: d["arcs"][0].update(session="maybe")),
    ("arcs[4].requires", "missing", lambda d: d["arcs"][4].pop("from")),
    ("arcs[0].colour", "unknown key", lambda d: d["arcs"][0].update(colour="red")),
    ("arcs[0]", "loop", lambda d: d["arcs"][0].update(to="STOP")),
    ("blocked[0].to", "unknown state", lambda d: d["blocked"][0].update(to="X")),
    ("path.no_interior[0]", "unknown group", lambda d: d["path"].update(no_interior=["nope"])),
    ("path.refinements[0].kind", "not one of", lambda d: d["path"]["refinements"][0].update(
        kind="magic")),
    ("flag_sets.defined[0]", "lacks mandatory", lambda d: d["flag_sets"].update(defined=[0x2])),
    ("spec.state_limit", "must be int", lambda d: d["spec"].update(state_limit="8")),
    ("reset.state", "unknown state", lambda d: d["reset"].update(state="NOWHERE")),
    ("spec", "missing table", lambda d: d.pop("spec")),
    ("extra", "unknown top-level key", lambda d: d.update(extra=1)),
    ("states.ERROR.requestable", "cannot be requestable", lambda d: d["states"]["ERROR"].update(
        requestable=True)),
]


@pytest.mark.parametrize(("key", "problem", "change"), CASES, ids=[c[0] for c in CASES])
def test_malformed_spec_names_file_key_and_problem(key, problem, change) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(mutate(change), "my.toml")
    message = str(info.value)
    assert message.startswith("my.toml: ")
    assert info.value.key.startswith(key.split(".")[0])
    assert key in message or info.value.key in message
    assert problem in message


def test_unreadable_and_invalid_toml_files(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read spec"):
        load_spec(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[spec\nname=1")
    with pytest.raises(SpecError, match="bad.toml: not valid TOML"):
        load_spec(bad)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(SpecError, match="not UTF-8"):
        load_spec(binary)


def test_what_if_spec_changes_answers_without_code_change() -> None:
    spec = load_spec(FIXTURES / "what-if-stopcopy-to-precopy.toml")
    assert model_for(spec, 0xF).request("STOP_COPY", "PRE_COPY").path == ["PRE_COPY"]
    assert not model_for(spec, 0x7).request("STOP_COPY", "PRE_COPY").ok
    # what did not change stays as Linux 6.12 has it
    linux = load_spec("linux-6.12")
    assert (model_for(spec, 0x7).request("RUNNING", "STOP_COPY").path
            == model_for(linux, 0x7).request("RUNNING", "STOP_COPY").path)


# --- property-based: arbitrary edits never crash the loader --------------------------------
scalars = st.one_of(st.integers(-3, 20), st.text(max_size=8), st.booleans(), st.none(),
                    st.lists(st.text(max_size=6), max_size=3))


@settings(max_examples=200, deadline=None)
@given(section=st.sampled_from(sorted(BASE)), key=st.text(min_size=1, max_size=12),
       value=scalars)
def test_arbitrary_edits_give_a_spec_or_a_spec_error(section, key, value) -> None:
    doc = copy.deepcopy(BASE)
    target = doc[section]
    if isinstance(target, list):
        target = target[0] if target else {}
    if isinstance(target, dict):
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    try:
        parse_spec(doc, "fuzz.toml")
    except SpecError as exc:
        assert str(exc).startswith("fuzz.toml: ")
