"""[tool.vfio-migcheck] in pyproject.toml: discovery upwards, options override, bad values
are one line naming the file and the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from vfio_migcheck.cli import cli
from vfio_migcheck.cli.config import find_config

ROOT = Path(__file__).resolve().parents[1]
SAVE = ROOT / "vfio_migcheck" / "examples" / "mtty-save.strace"
WHAT_IF = ROOT / "docs" / "examples" / "what-if-stopcopy-to-precopy.toml"


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:
    """A project folder with a nested working directory (config is found upwards)."""
    (tmp_path / "captures" / "deep").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "captures" / "deep")
    return tmp_path


def write(project: Path, text: str) -> Path:
    path = project / "pyproject.toml"
    path.write_text("[project]\nname = 'demo'\n\n" + text)
    return path


def test_found_from_the_working_directory_upwards(project: Path) -> None:
    config = write(project, '[tool.vfio-migcheck]\noutput = "concise"\n')
    assert find_config() == config
    # a nearer pyproject.toml without the table does not hide it
    (project / "captures" / "pyproject.toml").write_text("[tool.ruff]\nline-length = 9\n")
    assert find_config() == config
    out = run("check", str(SAVE)).output
    assert out.splitlines()[-1].startswith("1 trace(s), 1 device(s)")   # concise summary
    assert run("check", "--output", "json", str(SAVE)).output.startswith("{")   # option wins
    assert run("--no-config", "check", str(SAVE)).output.rstrip().splitlines()[-1].startswith(
        "Summary:")


def test_values_apply_and_options_override(project: Path) -> None:
    write(project, '[tool.vfio-migcheck]\ndriver = "generic"\nselect = ["K"]\n'
                   'flags = "0x5"\n\n[tool.vfio-migcheck.check]\noutput = "json"\n')
    data = json.loads(run("check", str(SAVE)).output)
    assert {f["rule"] for f in data["findings"]} == {"K004"}        # generic driver, K only
    assert data["devices"][0]["flags"] == "0x5"
    data = json.loads(run("check", "--select", "U", "--driver", "mtty", str(SAVE)).output)
    assert all(f["rule"].startswith("U") for f in data["findings"])
    arcs = json.loads(run("arcs", "--json").output)                  # flags apply to arcs too
    assert arcs["flags"] == "0x5"
    assert json.loads(run("arcs", "--json", "--flags", "0x7").output)["flags"] == "0x7"


def test_a_spec_file_is_relative_to_the_config(project: Path) -> None:
    (project / "specs").mkdir()
    (project / "specs" / "what-if.toml").write_text(WHAT_IF.read_text())
    write(project, '[tool.vfio-migcheck]\nspec = "specs/what-if.toml"\n')
    doc = json.loads(run("path", "STOP_COPY", "PRE_COPY", "--json").output)
    assert doc["spec"] != "linux-6.12"
    assert json.loads(run("path", "STOP_COPY", "PRE_COPY", "--json", "--spec",
                          "linux-6.12").output)["spec"] == "linux-6.12"


def test_explicit_config_file(project: Path, tmp_path: Path) -> None:
    other = tmp_path / "ci.toml"
    other.write_text('[tool.vfio-migcheck]\nflags = "STOP_COPY"\n')
    assert json.loads(run("--config", str(other), "arcs", "--json").output)["flags"] == "0x1"
    missing = run("--config", str(tmp_path / "nope.toml"), "arcs")
    assert missing.exit_code == 2 and "nope.toml: no such file" in missing.output


@pytest.mark.parametrize(("text", "command", "expected"), [
    ('[tool.vfio-migcheck]\noutptu = "json"\n', ["check"],
     "[tool.vfio-migcheck] outptu: unknown key"),
    ('[tool.vfio-migcheck]\noutput = "yaml"\n', ["check"],
     "[tool.vfio-migcheck] output: check has no output 'yaml'"),
    ('[tool.vfio-migcheck]\noutput = "sarif"\n', ["audit", "."],
     "[tool.vfio-migcheck] output: audit has no output 'sarif'"),
    ('[tool.vfio-migcheck]\nflags = "0x100"\n', ["arcs"],
     "[tool.vfio-migcheck] flags: bits 0x100 are not flags of linux-6.12"),
    ('[tool.vfio-migcheck]\nflags = "BOGUS"\n', ["arcs"],
     "[tool.vfio-migcheck] flags: unknown flag 'BOGUS'"),
    ('[tool.vfio-migcheck]\ndriver = "nvidia"\n', ["check"], "[tool.vfio-migcheck] driver: "),
    ('[tool.vfio-migcheck.check]\nselect = ["X9"]\n', ["check"],
     "[tool.vfio-migcheck.check] select: no rule matches 'X9'"),
    ('[tool.vfio-migcheck]\nselect = 4\n', ["check"],
     "[tool.vfio-migcheck] select: must be a list of strings"),
    ('[tool.vfio-migcheck]\nspec = "missing.toml"\n', ["arcs"],
     "[tool.vfio-migcheck] spec: "),
    ('[tool.vfio-migcheck.chek]\noutput = "json"\n', ["check"],
     "[tool.vfio-migcheck].chek: no command 'chek'"),
    ('[tool.vfio-migcheck\noutput = "json"\n', ["check"], "invalid TOML: "),
])
def test_bad_config_is_one_line_naming_file_and_key(project: Path, text: str, command,
                                                    expected: str) -> None:
    config = write(project, text)
    result = run(*command, str(SAVE)) if command == ["check"] else run(*command)
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith(f"vfio-migcheck: error: {config}: ") and expected in line, line


def test_commands_without_the_option_ignore_the_key(project: Path) -> None:
    write(project, '[tool.vfio-migcheck]\nselect = ["K"]\noutput = "json"\n')
    assert run("rules").exit_code == 0 and "U004" in run("rules").output
    assert run("specs").exit_code == 0
    graph = run("graph")
    assert graph.exit_code == 0 and graph.output.startswith("digraph")
