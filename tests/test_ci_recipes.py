"""The pre-commit hook definition and the CI recipes of docs/ci.md: valid YAML, the files
they pick, and their vfio-migcheck command lines run as written."""

from __future__ import annotations

import json
import re
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from vfio_migcheck.cli import cli

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
BAD = """# vmc-trace 1
device d0 flags=0x7 state=RUNNING
d0 GET MIGRATION = 0 flags=0x7
d0 SET STATE STOP_COPY = 0 data_fd=6
d0 SET STATE PRE_COPY = -1 EINVAL
"""


def run(args: list[str]):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def recipe_blocks() -> list:
    text = (ROOT / "docs" / "ci.md").read_text()
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)]


def check_commands(node) -> list[str]:
    """Every 'vfio-migcheck check ...' command line in a YAML document."""
    if isinstance(node, dict):
        return [c for v in node.values() for c in check_commands(v)]
    if isinstance(node, list):
        return [c for v in node for c in check_commands(v)]
    if isinstance(node, str):
        return re.findall(r"vfio-migcheck check[^\n|]*", node.replace("\\\n", " "))
    return []


def test_pre_commit_hook_definition(tmp_path: Path, monkeypatch) -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "vfio-migcheck" and hook["language"] == "python"
    files = re.compile(hook["files"])
    for name in ("a.vmc", "c/x.strace", "x.bpftrace", "x.strace.gz", "x.vmc.xz"):
        assert files.search(name), name
    for name in ("x.py", "x.strace.1234", "notes.md", "x.vmcx"):
        assert not files.search(name), name
    argv = shlex.split(hook["entry"])
    assert argv[0] == "vfio-migcheck"
    monkeypatch.chdir(tmp_path)
    Path("bad.vmc").write_text(BAD)
    result = run([*argv[1:], "bad.vmc"])     # pre-commit appends the staged files
    assert result.exit_code == 1
    assert result.output.startswith("bad.vmc:5:1: U004 [error] d0: ")


def test_ci_recipes_are_yaml_and_their_commands_run(tmp_path: Path, monkeypatch) -> None:
    blocks = recipe_blocks()
    assert len(blocks) == 4            # pre-commit (2), GitHub Actions, GitLab CI
    github, gitlab = blocks[2], blocks[3]
    steps = github["jobs"]["vfio-migcheck"]["steps"]
    upload = next(s for s in steps if "upload-sarif" in s.get("uses", ""))
    assert upload["with"]["sarif_file"] == "vfio-migcheck.sarif" and "if" in upload
    assert github["permissions"]["security-events"] == "write"
    assert gitlab["vfio-migcheck"]["artifacts"]["reports"]["junit"] == "vfio-migcheck.xml"

    monkeypatch.chdir(tmp_path)
    Path("captures").mkdir()
    Path("captures/bad.vmc").write_text(BAD)
    commands = check_commands(github) + check_commands(gitlab)
    assert len(commands) == 3
    for command in commands:
        argv = shlex.split(command)[1:]
        result = run([*argv, "captures/bad.vmc"])
        assert result.exit_code == (0 if "--exit-zero" in argv else 1), command
    sarif = json.loads(Path("vfio-migcheck.sarif").read_text())
    (res,) = sarif["runs"][0]["results"]
    assert res["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "captures/bad.vmc", "uriBaseId": "%SRCROOT%"}
    junit = ET.parse("vfio-migcheck.xml").getroot()
    assert junit.get("failures") == "1"
