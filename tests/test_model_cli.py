"""The model commands end to end: output contracts, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support import kernel_oracle as K
from tests.support.rvgen_rules import rvgen_problems
from vfio_migcheck.cli import cli

WHAT_IF = str(Path(__file__).parent / "fixtures" / "specs" / "what-if-stopcopy-to-precopy.toml")


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize("flags", ["0x1", "0x3", "0x5", "0x7"])
def test_path_all_json_agrees_with_the_kernel(flags: str) -> None:
    result = run("path", "--all", "--flags", flags, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert len(doc["paths"]) == 64
    for entry in doc["paths"]:
        expected = K.kernel_path(entry["from"], entry["to"], int(flags, 16))
        assert entry["path"] == expected
        assert entry["ok"] is (expected is not None)
        assert entry["errno"] == (None if expected is not None else "EINVAL")


def test_path_contract_example() -> None:
    doc = json.loads(run("path", "RUNNING", "STOP_COPY", "--json").output)
    assert {k: doc[k] for k in ("from", "to", "ok", "path", "errno")} == {
        "from": "RUNNING", "to": "STOP_COPY", "ok": True,
        "path": ["RUNNING_P2P", "STOP", "STOP_COPY"], "errno": None}
    assert doc["creates"] == "saving"


@pytest.mark.parametrize("spelling", ["stop_copy", "VFIO_DEVICE_STATE_STOP_COPY", "3"])
def test_state_spellings(spelling: str) -> None:
    result = run("path", "running", spelling, "--flags", "STOP_COPY,P2P", "--json")
    assert json.loads(result.output)["path"] == ["RUNNING_P2P", "STOP", "STOP_COPY"]


def test_exit_codes() -> None:
    assert run("path", "RUNNING", "STOP").exit_code == 0
    assert run("path", "STOP_COPY", "PRE_COPY").exit_code == 1
    for bad in (["path", "RUNNING", "LIMBO"], ["path", "RUNNING"], ["path", "--flags", "FOO",
                "STOP", "RUNNING"], ["graph", "--format", "png"], ["path", "--all", "STOP"]):
        result = run(*bad)
        assert result.exit_code == 2, bad
        assert "Traceback" not in result.output


def test_bad_spec_is_one_line_naming_file_and_key(tmp_path: Path) -> None:
    spec = tmp_path / "broken.toml"
    spec.write_text(Path(WHAT_IF).read_text().replace('session = "keeps"', 'session = "kept"', 1))
    result = run("arcs", "--spec", str(spec))
    assert result.exit_code == 2
    assert "broken.toml: arcs[" in result.output and "session" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_user_spec_works_with_every_model_command() -> None:
    assert json.loads(run("path", "STOP_COPY", "PRE_COPY", "--spec", WHAT_IF, "--flags", "0xf",
                          "--json").output)["path"] == ["PRE_COPY"]
    arcs = json.loads(run("arcs", "--spec", WHAT_IF, "--flags", "0xf", "--json").output)["arcs"]
    assert {"from": "STOP_COPY", "to": "PRE_COPY", "session": "keeps"} in arcs
    dot = run("graph", "--spec", WHAT_IF, "--flags", "0xf").output.replace('"', "")
    assert "STOP_COPY -> PRE_COPY" in dot
    assert run("specs", WHAT_IF).exit_code == 0


def test_arcs_lists_required_arcs() -> None:
    doc = json.loads(run("arcs", "--flags", "0x5", "--json").output)
    assert sorted([a["from"], a["to"]] for a in doc["arcs"]) == sorted(
        K.KERNEL["required_arcs"]["0x5"])


def test_undefined_flags_are_reported_clearly() -> None:
    result = run("path", "RUNNING", "STOP", "--flags", "0x2")
    assert result.exit_code == 1 and "undefined" in result.output.lower()


@pytest.mark.parametrize("flags", ["0x1", "0x3", "0x5", "0x7"])
def test_rv_output_follows_rvgen_rules(flags: str) -> None:
    text = run("graph", "--format", "rv", "--flags", flags).output
    assert rvgen_problems(text) == []


def test_graph_formats_mark_saving_group_and_highlight() -> None:
    dot = run("graph", "--highlight", "PRE_COPY,PRE_COPY_P2P,STOP_COPY").output
    assert "cluster_saving" in dot and 'color="magenta"' in dot
    mermaid = run("graph", "--format", "mermaid").output
    assert "flowchart TB" in mermaid and 'subgraph saving_group ["saving group"]' in mermaid
    doc = json.loads(run("graph", "--format", "json", "--flags", "0x3").output)
    assert doc["saving_group"] == ["STOP_COPY"] and len(doc["arcs"]) == 8
