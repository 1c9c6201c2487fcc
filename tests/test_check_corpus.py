"""The real mtty-6.12 captures: each gets the verdict its CORPUS-README states, no false alarm.

Two views of each run: the strace capture (payloads hidden) and the ground-truth log converted
to a canonical trace (exact mode, tests/support/gt.py). Soundness across the two: whatever the
checker reports from a strace capture, the ground truth of the same run must confirm.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from tests.support.gt import convert_file
from vfio_migcheck.checker.api import check_events, check_trace
from vfio_migcheck.checker.results import TraceResult
from vfio_migcheck.conformance.files import capture_of, ground_truths, run_name
from vfio_migcheck.traces.canonical.reader import read_text
from vfio_migcheck.traces.events import ReadSummary

CORPUS = Path(__file__).parent / "fixtures" / "mtty-6.12"
SCENARIOS = ("save", "restore", "migrate2", "matrix", "matrix-resumed", "errors", "threads")
VARIANTS = ("f", "f_y_tt_T", "f_y_filtered", "ff_o")
GT_DIRS = ("f", "notrace", "cdev_notrace")


def strace_path(variant: str, scenario: str) -> Path:
    return CORPUS / variant / f"{scenario}.strace"   # ff_o: an -ff prefix


@cache
def strace_result(variant: str, scenario: str) -> TraceResult:
    return check_trace(strace_path(variant, scenario), spec="linux-6.12")


@cache
def gt_result(directory: str, scenario: str) -> tuple[TraceResult, dict[str, tuple[int, int]]]:
    converted = convert_file(CORPUS / directory / f"{scenario}.gt")
    summary = ReadSummary(format="canonical")
    events = list(read_text(converted.text, file=f"{scenario}.vmc", summary=summary))
    assert not summary.unreadable, summary.unreadable
    return check_events(events, spec="linux-6.12", summary=summary), converted.cases


def rules(result: TraceResult, severity: str | None = None) -> Counter:
    return Counter(f.rule for f in result.findings
                   if severity is None or f.severity == severity)


# --- strace captures ----------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_strace_capture_reads_and_never_blames_the_driver(variant: str, scenario: str) -> None:
    result = strace_result(variant, scenario)
    assert result.error is None
    assert result.devices, "the device must be found"
    driver_errors = [f for f in result.findings if f.party == "driver" and f.severity == "error"]
    assert driver_errors == [], driver_errors
    assert not result.read_summary.get("unreadable")


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("scenario", ("save", "restore", "migrate2", "matrix",
                                      "matrix-resumed", "threads"))
def test_clean_scenarios_have_no_error(variant: str, scenario: str) -> None:
    result = strace_result(variant, scenario)
    assert rules(result, "error") == Counter()
    assert all(d.verdict in ("pass", "inconclusive") for d in result.devices)


@pytest.mark.parametrize("variant", VARIANTS)
def test_save_reports_the_zero_read_in_precopy(variant: str) -> None:
    result = strace_result(variant, "save")
    assert rules(result) == Counter({"K004": 1})
    (finding,) = result.findings
    assert finding.severity == "warning" and finding.party == "driver"


@pytest.mark.parametrize("variant", VARIANTS)
def test_strace_verdicts_say_what_was_hidden(variant: str) -> None:
    for scenario in SCENARIOS:
        for device in strace_result(variant, scenario).devices:
            if device.verdict == "inconclusive":
                assert any("hides VFIO ioctl payloads" in r or "mid-migration" in r
                           for r in device.inconclusive_reasons)


@pytest.mark.parametrize("variant", VARIANTS)
def test_errors_capture_fails_on_use_after_session_end(variant: str) -> None:
    result = strace_result(variant, "errors")
    assert result.devices[0].verdict == "fail"
    assert rules(result, "error")["U007"] >= 4


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_strace_findings_are_confirmed_by_ground_truth(variant: str, scenario: str) -> None:
    """Soundness: no rule fires on the strace capture more often than on its ground truth."""
    exact, _ = gt_result("f" if variant != "ff_o" else "f", scenario)
    seen = rules(strace_result(variant, scenario))
    truth = rules(exact)
    truth["U020"] += 1   # strace shows PRECOPY_INFO on the device fd only as an ioctl
    for rule_id, count in seen.items():
        assert count <= truth[rule_id], (rule_id, count, truth[rule_id])


# --- ground truth, exact mode ---------------------------------------------------------------

ERRORS_CASES: dict[str, Counter] = {
    "d1_read_after_precopy_session_ended": Counter({"U007": 2}),
    "d1b_read_after_stopcopy_session_ended": Counter(),
    "d4a_precopy_info_in_stop_copy": Counter({"U009": 1, "U007": 1}),
    "d2_write_on_saving_fd": Counter({"U006": 1}),
    "d4b_precopy_info_short_argsz": Counter({"U010": 1}),
    "d4c_precopy_info_on_device_fd": Counter({"U020": 1}),
    "d13_poll_fcntl_on_saving_fd": Counter(),
    "d9_lseek_pread_on_saving_fd": Counter({"U016": 2}),
    "d14_foreign_ioctl_on_data_fd": Counter({"U020": 1}),
    "d16_zero_length_read": Counter(),
    "d12_set_same_state_again": Counter(),
    "d3_read_on_resuming_fd": Counter({"U006": 1, "U009": 1, "U016": 1}),
    "d5_set_error_and_out_of_range": Counter({"U003": 3}),
    "d10_bad_feature_calls": Counter({"U010": 3}),
    "d6_stop_copy_to_pre_copy": Counter({"U004": 2}),
    "d7a_resume_garbage_header_only": Counter({"U019": 1, "U011": 2}),
    "d7b_resume_garbage_full_length": Counter({"U019": 1, "U011": 1, "K011": 1}),
    "d7c_resume_truncated_then_completed": Counter({"U007": 1}),
    "d7d_resume_truncated_header_then_close_fd_then_stop": Counter(),
    "d7e_resume_overlong_write": Counter({"U019": 2}),
    "d8a_reset_during_precopy_session": Counter({"U007": 2}),
    "d8b_reset_during_stop_copy_session": Counter({"U007": 1}),
    "d8c_reset_during_resuming_session": Counter({"U007": 1}),
    "d11_close_data_fd_in_precopy_then_stop_copy": Counter({"U014": 1, "U008": 1}),
    "d15_two_sessions_fd_numbers": Counter({"U007": 1}),
}


@pytest.mark.parametrize("directory", GT_DIRS)
def test_errors_ground_truth_case_by_case(directory: str) -> None:
    result, cases = gt_result(directory, "errors")
    assert set(cases) == set(ERRORS_CASES)
    for name, (first, last) in cases.items():
        got = Counter(f.rule for f in result.findings if first <= f.line <= last)
        assert got == ERRORS_CASES[name], name
    outside = [f for f in result.findings
               if not any(a <= f.line <= b for a, b in cases.values())]
    assert outside == []
    assert result.devices[0].verdict == "fail"


@pytest.mark.parametrize("directory", GT_DIRS)
def test_matrix_ground_truth(directory: str) -> None:
    result, _ = gt_result(directory, "matrix")
    assert rules(result) == Counter({"U011": 6, "U008": 4, "U004": 2})
    assert all(f.party == "vmm" for f in result.findings)


@pytest.mark.parametrize("directory", GT_DIRS)
@pytest.mark.parametrize("scenario,expected", [
    ("save", Counter({"K004": 1})),
    ("restore", Counter()),
    ("matrix-resumed", Counter()),
    ("migrate2", Counter({"K004": 1, "U015": 1})),
])
def test_clean_ground_truth(directory: str, scenario: str, expected: Counter) -> None:
    result, _ = gt_result(directory, scenario)
    assert rules(result) == expected
    assert {d.verdict for d in result.devices} == {"pass"}


@pytest.mark.parametrize("directory", ("f", "notrace"))
def test_threads_ground_truth_blames_only_the_vmm(directory: str) -> None:
    """The test program polls PRECOPY_INFO in STOP_COPY and its reader thread reads after
    the session ended: VMM misuse the exact trace shows; the driver answers as it must."""
    result, _ = gt_result(directory, "threads")
    assert set(rules(result)) <= {"U009", "U007", "U008", "K004"}
    assert rules(result, "error")["U009"] >= 5


# --- the conformance lab's captures (decoded .canon next to each .strace), when present ------

LAB = Path(__file__).parent / "corpus" / "lab-mtty-6.12"
# (ground truth, single-file capture) of each run; the corpus stores both gzip-compressed
LAB_PAIRS = sorted(
    (canon, capture) for canon in ground_truths(LAB)
    if (capture := capture_of(canon)) is not None and capture.is_file()
) if LAB.is_dir() else []


@pytest.mark.skipif(not LAB_PAIRS, reason="lab corpus not present")
@pytest.mark.parametrize("canon,capture", LAB_PAIRS[:200],
                         ids=[f"{c.parent.name}/{run_name(c)}" for c, _ in LAB_PAIRS[:200]])
def test_lab_capture_strace_findings_are_confirmed_by_its_decoded_trace(canon: Path,
                                                                        capture: Path) -> None:
    """Soundness on model-derived scenarios run on a real kernel: the driver is never
    blamed, and the strace view reports nothing its decoded twin does not."""
    decoded = check_trace(canon, spec="linux-6.12")
    hidden = check_trace(capture, spec="linux-6.12")
    assert decoded.error is None and hidden.error is None
    for result in (decoded, hidden):
        assert [f for f in result.findings if f.party == "driver" and f.severity == "error"] \
            == []
    truth = rules(decoded)
    for rule_id, count in rules(hidden).items():
        assert count <= truth[rule_id], (rule_id, count, truth[rule_id])
