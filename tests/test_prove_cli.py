"""``vfio-migcheck prove`` end to end: JSON contract, exit codes, pictures, ITF, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from vfio_migcheck.cli import cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "docs" / "examples" / "what-if-stopcopy-to-precopy.toml")
SPEC_612 = ROOT / "vfio_migcheck" / "model" / "specs" / "linux-6.12.toml"


def run(*args: str):
    return CliRunner().invoke(cli, ["prove", *args])


@pytest.fixture(scope="module")
def doc_612() -> dict:
    result = run("--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_json_contract(doc_612):
    props = doc_612["properties"]
    assert {p["id"] for p in props} == ({f"P{i}" for i in range(1, 11)}
                                        | {f"L{i}" for i in range(1, 8)})
    for p in props:
        assert set(p) >= {"id", "name", "flags", "status", "counterexamples", "seconds"}
        assert p["status"] in ("proved", "refuted", "not_applicable", "undecided")
        assert isinstance(p["seconds"], float)
    refuted = [p for p in props if p["status"] == "refuted"]
    assert [(p["id"], p["flags"]) for p in refuted] == [("P3", "0x7")]
    (cex,) = refuted[0]["counterexamples"]
    assert {k: cex[k] for k in ("from", "to", "path")} == {
        "from": "PRE_COPY", "to": "STOP_COPY", "path": ["PRE_COPY_P2P", "STOP_COPY"]}
    assert refuted[0]["known_refutation"] is True
    assert doc_612["bound"] == 6 and "never repeats a state" in doc_612["bound_reason"]
    rules = doc_612["rule_set"]
    assert len(rules) == 5 and rules[2].startswith("K1: ")
    assert "PRE_COPY, PRE_COPY_P2P, STOP_COPY" in rules[1]


def test_json_reports_the_table_proofs(doc_612):
    tables = {t["rules"]: t for t in doc_612["kernel_table"]["tables"]}
    assert tables["refined"]["kernel_table_satisfies"] is True
    assert tables["refined"]["unique"] is True
    assert tables["words"]["table_exists"] is False
    assert [(c["flags"], c["from"]) for c in doc_612["kernel_table"]["words_vs_kernel"]] == [
        ("0x7", "PRE_COPY")]


def test_text_output_shows_the_refutation_and_its_explanation():
    result = run()
    assert result.exit_code == 0
    out = " ".join(result.output.split())
    assert "PRE_COPY -> PRE_COPY_P2P -> STOP_COPY" in out
    assert "known_refutations" in out
    assert "the words alone give PRE_COPY -> RUNNING -> RUNNING_P2P -> STOP -> STOP_COPY" in out
    assert "it is the only table that does: PROVED" in out
    assert "no next-hop table satisfies them" in out


def test_unknown_refutation_exits_1(tmp_path):
    text = SPEC_612.read_text().replace('known_refutations = ["P3"]', "")
    spec = tmp_path / "no-known.toml"
    spec.write_text(text)
    result = run("--spec", str(spec), "--flags", "0x7")
    assert result.exit_code == 1
    assert "REFUTED" in result.output


def test_what_if_example_is_refuted_where_the_single_table_breaks():
    result = run("--spec", EXAMPLE, "--json")
    assert result.exit_code == 1
    doc = json.loads(result.output)
    refuted = {(p["id"], p["flags"]) for p in doc["properties"] if p["status"] == "refuted"}
    assert {("P8", "0x5"), ("P8", "0x7"), ("P10", "0xd"), ("P10", "0xf")} <= refuted
    # the new arc keeps the saving session out of STOP_COPY: the end of stream is no longer
    # final (L3) and the EOF seen there survives into PRE_COPY (L7), under the new flag only
    assert {("L3", "0xd"), ("L3", "0xf"), ("L7", "0xd"), ("L7", "0xf")} <= refuted
    assert all(pid in ("P3", "P8", "P10", "L3", "L7") for pid, _ in refuted)
    assert all(f in ("0xd", "0xf") for pid, f in refuted if pid.startswith("L"))
    refined = next(t for t in doc["kernel_table"]["tables"] if t["rules"] == "refined")
    assert refined["table_exists"] is False


def test_older_spec_has_no_kernel_table():
    doc = json.loads(run("--spec", "linux-5.18", "--json").output)
    p10 = [p for p in doc["properties"] if p["id"] == "P10"]
    assert [p["status"] for p in p10] == ["not_applicable"]
    assert doc["kernel_table"]["applicable"] is False


def test_itf_and_pictures_for_each_counterexample(tmp_path):
    out = tmp_path / "itf"
    result = run("--json", "--itf", str(out), "--picture", "mermaid")
    assert result.exit_code == 0
    doc = json.loads(result.output)
    cex = next(p for p in doc["properties"] if p["status"] == "refuted")["counterexamples"][0]
    assert Path(cex["itf"]).exists()
    trace = json.loads(Path(cex["itf"]).read_text())
    assert [s["device_state"] for s in trace["states"]] == [
        "PRE_COPY", "PRE_COPY_P2P", "STOP_COPY"]
    assert "PRE_COPY_P2P" in cex["picture"] and cex["picture"].lstrip().startswith(
        ("flowchart", "stateDiagram", "graph"))


def test_picture_defaults_to_dot():
    result = run("--flags", "0x7", "--picture")
    assert result.exit_code == 0
    assert "digraph" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--flags", "0x6"], "undefined"),
    (["--flags", "0x18"], "does not define"),
    (["--flags", "BOGUS"], "unknown flag"),
    (["--spec", "/nonexistent.toml"], "cannot read spec"),
])
def test_bad_usage_is_one_line_and_exit_2(args, message):
    result = run(*args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_unwritable_itf_dir_is_a_usage_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run("--itf", str(blocker / "sub"))
    assert result.exit_code == 2
    assert "cannot write ITF traces" in result.output


def test_other_commands_do_not_import_z3():
    code = ("import sys; from vfio_migcheck.cli import cli; "
            "import vfio_migcheck.cli.prove_cmd, vfio_migcheck.cli.model_cmds; "
            "sys.exit(1 if 'z3' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
