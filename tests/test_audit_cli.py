"""End to end: the audit command on real captures agrees with `check`, whatever -j is."""

from __future__ import annotations

import json
import re
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from tests.test_audit_html import body_attributes, chromium, dump_dom  # noqa: F401 - fixture
from vfio_migcheck.audit.summary import capture_verdict
from vfio_migcheck.checker.api import check_trace
from vfio_migcheck.cli import cli
from vfio_migcheck.model.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "fixtures" / "mtty-6.12"
EXAMPLES = ROOT / "vfio_migcheck" / "examples"
SCHEMA = json.loads((ROOT / "docs" / "audit-schema.json").read_text())
SPEC = load_spec("linux-6.12")
# the hand-written canonical examples: a PRE_COPY source, its destination, two P2P devices
EXAMPLE_VMC = ("source-precopy.vmc", "destination.vmc", "two-devices-p2p.vmc")


def audit(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["audit", *args], catch_exceptions=False)
    return result.exit_code, result.output


def _key(f: dict) -> tuple:
    return (f["rule"], f["severity"], f["party"], f["file"], f["line"], f["device"])


def _check(path: str):
    return check_trace(path, spec=SPEC)


def assert_matches_check(doc: dict) -> None:
    """Every per-capture number of the audit is what check_trace says for that capture.

    The oracle runs check_trace directly (in a plain process pool, not the audit's runner).
    """
    jsonschema.validate(doc, SCHEMA)
    paths = [entry["path"] for entry in doc["captures"]]
    with ProcessPoolExecutor(max_workers=2) as pool:
        direct_results = list(pool.map(_check, paths))
    total_findings = 0
    for entry, direct in zip(doc["captures"], direct_results):
        assert entry["error"] == direct.error, entry["path"]
        assert entry["verdict"] == capture_verdict(direct), entry["path"]
        assert [(d["name"], d["flags"], d["verdict"]) for d in entry["devices"]] == [
            (d.name, d.flags, d.verdict) for d in direct.devices], entry["path"]
        assert [_key(f) for f in entry["findings"]] == [
            (f.rule, f.severity, f.party, f.file, f.line, f.device) for f in direct.findings]
        sessions = [s for d in direct.devices for s in d.sessions]
        assert [(s["bytes_written"], s["reads"]) for s in entry["sessions"]] == [
            (s.bytes_written, s.reads) for s in sessions]
        total_findings += len(direct.findings)
    totals = doc["totals"]
    assert totals["findings"] == total_findings + len(doc["pairing"]["findings"])
    assert sum(totals["verdicts"].values()) == totals["captures"] == len(doc["captures"])


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("audit")
    code, output = audit(str(CORPUS), "-j", "2", "--json", str(out / "j2.json"),
                         "--html", str(out / "report.html"))
    return out, code, output


def test_corpus_audit_matches_check(corpus_run):
    out, code, output = corpus_run
    doc = json.loads((out / "j2.json").read_text())
    assert len(doc["captures"]) == 28
    assert_matches_check(doc)
    assert code == (1 if doc["totals"]["verdicts"]["fail"] + doc["totals"]["verdicts"][
        "unreadable"] or doc["pairing"]["findings"] else 0)
    assert f"{len(doc['captures'])} captures:" in output
    # save.strace then restore.strace of one variant, 0.2 s apart, both with timestamps
    pairs = {(Path(p["source"]["capture"]).parent.name, Path(p["source"]["capture"]).name,
              Path(p["destination"]["capture"]).name, p["match"]) for p in doc["pairing"]["pairs"]}
    assert pairs == {(v, "save.strace", "restore.strace", True) for v in ("f_y_tt_T", "ff_o")}


def test_json_is_byte_identical_whatever_jobs(tmp_path):
    """-j 1 and -j 3 on real captures: -ff grouping, timestamps, several copies."""
    for i in range(3):
        for name in EXAMPLE_VMC:
            (tmp_path / "in" / f"host{i}").mkdir(parents=True, exist_ok=True)
            shutil.copy(EXAMPLES / name, tmp_path / "in" / f"host{i}" / name)
    picks = [CORPUS / "f_y_tt_T" / "save.strace", CORPUS / "ff_o" / "threads.strace",
             tmp_path / "in"]
    outputs = []
    for jobs in ("1", "3"):
        target = tmp_path / f"j{jobs}.json"
        audit(*map(str, picks), "-j", jobs, "--quiet", "--json", str(target))
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1]
    assert len(json.loads(outputs[0])["captures"]) == 11


def test_corpus_report_in_chromium(corpus_run, chromium, tmp_path):  # noqa: F811
    out, _, _ = corpus_run
    doc = json.loads((out / "j2.json").read_text())
    dom = dump_dom(chromium, out / "report.html", tmp_path / "profile")
    body = body_attributes(dom)
    assert "data-js-errors" not in body, body.get("data-js-error")
    assert body["data-rendered"] == "yes" and body["data-consistent"] == "true"
    assert body["data-findings-drawn"] == str(doc["totals"]["findings"])
    assert body["data-captures-drawn"] == "28"
    for fs in doc["coverage"]["flag_sets"]:
        shown = f'{fs["arcs_covered"]}/{fs["arcs_total"]} single arcs'
        assert shown in dom


def _shift_timestamps(text: str, by: float) -> str:
    return re.sub(r"^@(\d+\.\d+)", lambda m: f"@{float(m[1]) + by:.6f}", text, flags=re.M)


def test_examples_pair_by_name_and_time_and_explicitly(tmp_path):
    for name in EXAMPLE_VMC:
        shutil.copy(EXAMPLES / name, tmp_path / name)
    # as written, the destination resumes 200 s after the source's stream ended: no match
    code, output = audit(str(tmp_path), "--quiet", "--json", str(tmp_path / "e.json"))
    doc = json.loads((tmp_path / "e.json").read_text())
    assert_matches_check(doc)
    assert doc["pairing"]["pairs"] == [] and code == 0
    # on a shared time-of-day clock (10:00), the resume opens right after the source's
    # stream ended: matched (times under an hour count as relative, never compared)
    src = tmp_path / "source-precopy.vmc"
    src.write_text(_shift_timestamps(src.read_text(), 36000.0))
    dst = tmp_path / "destination.vmc"
    dst.write_text(_shift_timestamps(dst.read_text(), 36000.0 - 199.0))
    code, output = audit(str(tmp_path), "--quiet", "--json", str(tmp_path / "e.json"))
    doc = json.loads((tmp_path / "e.json").read_text())
    (pair,) = doc["pairing"]["pairs"]
    assert pair["how"] == "matched" and pair["match"]
    # 2 MiB read in PRE_COPY + 1.5 MiB in STOP_COPY, written as 3 x 1 MiB + 512 KiB
    assert pair["source"]["bytes"] == pair["destination"]["bytes"] == 3670016
    assert code == 0 and "match" in output
    src, dst = EXAMPLES / "source-precopy.vmc", EXAMPLES / "destination.vmc"
    code, output = audit(str(src), str(dst), "--pair", str(src), str(dst), "--quiet")
    assert "pair (explicit)" in output and code == 0


def test_examples_mismatch_is_a001(tmp_path):
    """Drop one 1 MiB write from the destination: the audit must report A001."""
    dst = tmp_path / "destination.vmc"
    lines = (EXAMPLES / "destination.vmc").read_text().splitlines(keepends=True)
    dropped = [i for i, line in enumerate(lines) if "fd 40 write 1048576" in line][0]
    dst.write_text("".join(lines[:dropped] + lines[dropped + 1:]))
    src = EXAMPLES / "source-precopy.vmc"
    code, output = audit(str(src), str(dst), "--pair", str(src), str(dst), "--json", "-")
    doc = json.loads(output)
    (finding,) = doc["pairing"]["findings"]
    assert finding["rule"] == "A001" and finding["severity"] == "error"
    assert "3670016" in finding["message"] and "2621440" in finding["message"]
    assert doc["totals"]["by_rule"]["A001"]["error"] == 1
    assert code == 1


def test_one_bad_capture_does_not_stop_the_others(tmp_path):
    (tmp_path / "good.vmc").write_text((EXAMPLES / "destination.vmc").read_text())
    (tmp_path / "bad.vmc").write_bytes(b"\xff\xfe not a trace \x00\n")
    code, output = audit(str(tmp_path), "-j", "2", "--json", "-")
    doc = json.loads(output)
    verdicts = {Path(c["path"]).name: c["verdict"] for c in doc["captures"]}
    assert verdicts["good.vmc"] == "pass"
    assert verdicts["bad.vmc"] in ("unreadable", "inconclusive", "fail")
    assert code == (0 if verdicts["bad.vmc"] == "inconclusive" else 1)


def test_usage_errors_are_one_line(tmp_path):
    code, output = audit(str(tmp_path / "missing.strace"))
    assert code == 2 and output.count("\n") == 1 and "no such file" in output
    (tmp_path / "a.vmc").write_text("# vmc-trace 1\n")
    code, output = audit(str(tmp_path / "a.vmc"), "--pair", str(tmp_path / "a.vmc"),
                         str(tmp_path / "nope.vmc"))
    assert code == 2 and "nope.vmc" in output


def test_select_and_ignore_reach_the_checker(tmp_path):
    errors = CORPUS / "f_y_tt_T" / "errors.strace"
    _, output = audit(str(errors), "--json", "-")
    every = json.loads(output)["captures"][0]["findings"]
    rules = sorted({f["rule"] for f in every})
    assert len(rules) >= 2
    _, output = audit(str(errors), "--json", "-", "--select", rules[0])
    only = json.loads(output)["captures"][0]["findings"]
    assert only and {f["rule"] for f in only} == {rules[0]}
    _, output = audit(str(errors), "--json", "-", "--ignore", rules[0])
    rest = json.loads(output)["captures"][0]["findings"]
    assert rules[0] not in {f["rule"] for f in rest} and len(rest) + len(only) == len(every)
    code, output = audit(str(errors), "--select", "NOPE999")
    assert code == 2 and "NOPE999" in output


def test_unwritable_report_fails_before_any_check(tmp_path):
    code, output = audit(str(CORPUS), "--html", str(tmp_path / "no" / "such" / "r.html"))
    assert code == 2 and "no such directory" in output and "captures:" not in output
