"""The committed lab corpus: every kernel answer predicted by the model or explained.

tests/corpus/lab-mtty-6.12 is one run of lab/run-all.sh (Linux 6.12, mtty, both device
paths, plain and under strace). These tests hold the model, the readers and the checker
against it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest
from click.testing import CliRunner

from vfio_migcheck.cli import cli
from vfio_migcheck.conformance.compare import (
    AGREED,
    DISAGREED,
    EXPLAINED,
    MISSING,
    Comparison,
    compare_results,
)
from vfio_migcheck.conformance.deviations import load_deviations
from vfio_migcheck.conformance.statements import Statement, parse_file
from vfio_migcheck.conformance.strace_check import (
    CONSISTENT,
    call_sequence,
    captures,
    check_captures,
    first_difference,
)
from vfio_migcheck.traces.lines import compressed_twin, read_text, strip_compression_suffix
from vfio_migcheck.traces.reading import open_trace

CORPUS = Path(__file__).parent / "corpus" / "lab-mtty-6.12"
STRACE_VARIANTS = ("f_y_tt_T", "f_Xverbose_ttt", "ff_o", "yy_r")
STATES = ("STOP", "RUNNING", "STOP_COPY", "RESUMING", "RUNNING_P2P", "PRE_COPY", "PRE_COPY_P2P")
#: the files the code reads are stored gzip-compressed; these stay plain for people
PLAIN_FILES = {"README.md", "CONFORMANCE.md", "env.txt", "status.txt", "timing.txt",
               "overhead.txt", "bt-run.txt", "pids.txt"}


def corpus_file(relative: str) -> Path:
    """A corpus file by its plain name (``plain/x.canon`` finds ``plain/x.canon.gz``)."""
    return compressed_twin(CORPUS / relative)


def corpus_text(relative: str) -> str:
    return read_text(corpus_file(relative))


def test_corpus_is_stored_compressed_and_small() -> None:
    files = [p for p in CORPUS.rglob("*") if p.is_file()]
    plain = sorted(p.relative_to(CORPUS).as_posix() for p in files
                   if not p.name.endswith(".gz") and p.name not in PLAIN_FILES)
    assert plain == []
    assert len([p for p in files if p.name.endswith(".gz")]) > 500
    assert sum(p.stat().st_size for p in files) < 1_000_000     # bytes; it was 1.9 MB plain
    names = [strip_compression_suffix(p.relative_to(CORPUS).as_posix()) for p in files]
    assert len(names) == len(set(names))         # never a file both plain and compressed


@lru_cache(maxsize=1)
def comparison() -> Comparison:
    return compare_results(CORPUS, load_deviations())


def test_every_call_is_predicted_or_explained() -> None:
    c = comparison()
    assert c.problems == []
    bad = [r for r in c.results if r.verdict in (DISAGREED, MISSING)]
    assert bad == [], "\n".join(f"{r.variant}/{r.scenario}:{r.line} {r.call} = {r.observed}; "
                                f"allowed {r.allowed}" for r in bad[:20])
    assert c.count(AGREED) > 0.99 * len(c.results)
    assert c.runs >= 2 * 43


def test_every_known_deviation_is_still_needed() -> None:
    """Like an unused-waiver check: a deviation no corpus call needs is stale."""
    used = {r.why.split(" ", 1)[0] for r in comparison().results if r.verdict == EXPLAINED}
    assert {d.id for d in load_deviations()} == used


def test_corpus_covers_pairs_flows_errors_walks_reopen_on_both_paths() -> None:
    runs = {(r.variant, r.scenario, r.group) for r in comparison().results}
    variants = {v for v, _, _ in runs}
    assert {"plain", "cdev_plain", *STRACE_VARIANTS} <= variants
    for variant in ("plain", "cdev_plain", *STRACE_VARIANTS):
        groups = {g for v, _, g in runs if v == variant}
        assert groups == {"pairs", "flows", "errors", "walks", "reopen"}, variant
        walks = {s for v, s, g in runs if v == variant and g == "walks"}
        assert len(walks) >= 20, variant
    apis = {json.loads(read_text(p))["api"] for p in CORPUS.glob("scenarios/*/*.json.gz")}
    assert apis == {"group", "cdev"}


@pytest.mark.parametrize("variant", ["plain", "cdev_plain"])
def test_every_ordered_state_pair_ran_against_the_kernel(variant: str) -> None:
    seen = set()
    for src in STATES:
        statements = [s for s in parse_file(corpus_file(f"{variant}/pairs-{src}.canon"))
                      if isinstance(s, Statement) and s.verb == "SET"]
        seen |= {(src, s.args[1]) for s in statements if s.args[1] != src}
        assert all(s.ret is not None for s in statements)
    assert seen == {(a, b) for a in STATES for b in STATES if a != b}


def test_the_kernel_agrees_on_blocked_and_combination_requests() -> None:
    """Spot facts behind the agreement: blocked requests refused, combinations run."""
    text = corpus_text("plain/pairs-STOP_COPY.canon")
    assert "dev SET STATE PRE_COPY = -1 EINVAL" in text
    assert "dev SET STATE PRE_COPY_P2P = -1 EINVAL" in text
    migrate = corpus_text("plain/flow-qemu-migrate.canon")
    assert "dst SET STATE RESUMING = 0 data_fd=" in migrate
    assert "dst GET STATE = 0 state=RUNNING" in migrate


def _ground_truth_files() -> list[Path]:
    return sorted(CORPUS.glob("*/*.canon.gz")) + sorted(CORPUS.glob("scenarios/*/*.vmc.gz"))


def test_canonical_reader_reads_every_scenario_and_ground_truth_line() -> None:
    files = _ground_truth_files()
    assert files
    for path in files:
        reading = open_trace(path)
        events = list(reading.events)
        assert reading.format == "canonical", path
        assert reading.summary.unreadable == [], (path, reading.summary.unreadable[:3])
        assert events, path


@pytest.mark.parametrize("variant", STRACE_VARIANTS)
def test_strace_reader_reads_every_capture_line(variant: str) -> None:
    runs = [c for c in captures(CORPUS) if c[0] == variant]
    assert len(runs) >= 43
    for _, _, capture, _ in runs:
        reading = open_trace(capture, "strace")
        events = list(reading.events)
        assert reading.summary.unreadable == [], (capture, reading.summary.unreadable[:3])
        lines = sum(len(read_text(p).splitlines()) for p in reading.paths)
        assert reading.summary.lines == lines, capture          # every line accounted for
        assert any(e.kind == "feature" for e in events), capture


@pytest.mark.parametrize("variant", STRACE_VARIANTS)
def test_strace_reader_sees_the_calls_the_runner_made(variant: str) -> None:
    """Every call both sides show has the same fd, result and errno in capture and truth."""
    runs = [c for c in captures(CORPUS) if c[0] == variant]
    for _, _, capture, canon in runs:
        truth = call_sequence(canon, "canonical")
        seen = call_sequence(capture, "strace")
        assert truth == seen, (capture, first_difference(truth, seen))
        assert len(truth) >= 10


FLOWS_AND_ERRORS = ("flow-", "errors-", "pairs-STOP_COPY", "pairs-RESUMING", "walk-0")


@pytest.mark.parametrize("variant", STRACE_VARIANTS)
def test_checker_on_captures_is_consistent_with_ground_truth(variant: str, tmp_path) -> None:
    """No false alarm and nothing missed on a clean verdict, per strace variant.

    A representative subset (flows, error paths, the pairs with refused requests, ten walks)
    keeps the suite fast; lab/run-all.sh checks every capture.
    """
    root = tmp_path / "corpus"
    (root / "scenarios").mkdir(parents=True)
    (root / variant).mkdir()
    for path in (CORPUS / variant).iterdir():
        if path.name.startswith(FLOWS_AND_ERRORS):
            (root / variant / path.name).symlink_to(path)
    result = check_captures(root)
    assert result.skipped is None
    assert len(result.runs) >= 20
    bad = [r for r in result.runs if r.status != CONSISTENT]
    assert bad == [], [(r.capture, r.status, r.note) for r in bad]
    by_name = {r.scenario: r for r in result.runs}
    for flow in ("flow-qemu-source", "flow-qemu-migrate", "flow-save-restore"):
        assert by_name[flow].truth_verdict == "pass"     # clean VMM flows pass when decoded
    assert by_name["errors-requests"].truth_verdict == "fail"


def test_conformance_command_on_the_corpus(tmp_path) -> None:
    md, js = tmp_path / "c.md", tmp_path / "c.json"
    result = CliRunner().invoke(cli, ["conformance", str(CORPUS), "--no-strace",
                                      "--markdown", str(md), "--json", str(js)])
    assert result.exit_code == 0, result.output
    assert "0 disagreed, 0 missing" in result.output
    assert "mtty-precopy-end-read-zero" in md.read_text()
    data = json.loads(js.read_text())
    assert data["counts"]["disagreed"] == 0 and data["calls"] == len(data["results"])


def test_conformance_command_reports_a_disagreement(tmp_path) -> None:
    """A ground truth the model does not allow makes the command fail and name the line."""
    root = tmp_path / "r"
    (root / "plain").mkdir(parents=True)
    (root / "scenarios").symlink_to(CORPUS / "scenarios")
    text = corpus_text("plain/pairs-STOP_COPY.canon")
    bad = text.replace("dev SET STATE PRE_COPY = -1 EINVAL", "dev SET STATE PRE_COPY = 0 "
                       "data_fd=-1", 1)
    (root / "plain" / "pairs-STOP_COPY.canon").write_text(bad)
    result = CliRunner().invoke(cli, ["conformance", str(root), "--no-strace"])
    assert result.exit_code == 1
    assert "DISAGREED plain/pairs-STOP_COPY.canon:" in result.output


def test_conformance_command_rejects_a_folder_without_results(tmp_path) -> None:
    result = CliRunner().invoke(cli, ["conformance", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "no scenarios/ folder" in result.output


def _semantic(sidecar: dict) -> list:
    """Predictions without the prose, so rewording a model message does not matter."""
    table = sidecar["outcomes"]
    return [(c["line"], c["states"], c["fd_kind"],
             sorted(json.dumps({k: v for k, v in table[i].items() if k != "why"},
                               sort_keys=True) for i in c["allowed"]))
            for c in sidecar["calls"]]


def test_committed_scenarios_are_what_the_model_generates_today() -> None:
    """If the model's answers change, the lab must be re-run (lab/run-all.sh)."""
    from vfio_migcheck.conformance.scenarios import APIS, all_scenarios
    from vfio_migcheck.model.spec import load_spec

    spec = load_spec("linux-6.12")
    for api in APIS:
        for scenario in all_scenarios(spec, 0x7, api):
            folder = CORPUS / "scenarios" / api
            assert read_text(folder / f"{scenario.name}.vmc.gz") == scenario.text, scenario.name
            committed = json.loads(read_text(folder / f"{scenario.name}.predict.json.gz"))
            assert _semantic(committed) == _semantic(scenario.sidecar(spec, 0x7)), scenario.name
