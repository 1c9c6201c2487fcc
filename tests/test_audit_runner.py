"""Capture collection and the parallel runner (with a stand-in checker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_audit_builders import fake_check
from vfio_migcheck.audit.collect import (
    CollectError,
    collect_captures,
    group_captures,
    iter_captures,
)
from vfio_migcheck.audit.runner import CheckOptions, cited_lines, run_checks

FIXTURES = Path(__file__).parent / "fixtures" / "mtty-6.12"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_directory_walk_finds_traces_and_groups_ff_files():
    caps = collect_captures([str(FIXTURES)])
    paths = [c.path for c in caps]
    assert len(caps) == 28                      # 4 variants x 7 scenarios
    assert paths == sorted(paths)
    threads = [c for c in caps if c.path.endswith("ff_o/threads.strace")]
    assert len(threads) == 1 and len(threads[0].files) == 2
    assert not any(p.endswith((".gt", ".md", ".txt", ".hexdump")) for p in paths)


def test_explicit_files_globs_and_prefixes(tmp_path):
    a = _write(tmp_path / "a.strace", "pass\n")
    _write(tmp_path / "sub" / "b.vmc", "pass\n")
    _write(tmp_path / "sub" / "notes.md", "# not a trace\n")
    _write(tmp_path / "run.strace.12", "pass\n")
    _write(tmp_path / "run.strace.9", "pass\n")
    caps = collect_captures([str(a), str(tmp_path / "sub" / "*.vmc"), str(tmp_path / "run.strace"),
                             str(a)])
    assert [Path(c.path).name for c in caps] == ["a.strace", "run.strace", "b.vmc"]
    run = caps[1]
    assert [Path(f).name for f in run.files] == ["run.strace.9", "run.strace.12"]


def test_streamed_listing_is_the_sorted_listing(tmp_path):
    # names whose order as paths differs from a walk's order: '-' and '0' sort around '/'
    for name in ("a/b.vmc", "a-c.vmc", "a0.vmc", "a/z/y.strace", "a.vmc", "b/run.strace.3",
                 "b/run.strace.12", "b/run-x.vmc", "b-/q.log", ".hidden/h.vmc", "a/.h.vmc"):
        _write(tmp_path / name, "pass\n")
    every = [str(tmp_path / "a"), str(tmp_path), str(tmp_path / "b" / "run.strace.3"),
             str(tmp_path / "*" / "*.vmc")]
    streamed = list(iter_captures(every))
    paths = [c.path for c in streamed]
    assert paths == sorted(paths) and len(set(paths)) == len(paths) == 8
    run = next(c for c in streamed if c.path.endswith("run.strace"))
    assert [Path(f).name for f in run.files] == ["run.strace.3", "run.strace.12"]
    assert not any("/." in p for p in paths)


def test_sniffing_decides_for_unknown_extensions(tmp_path):
    _write(tmp_path / "capture.out", "x\n")
    _write(tmp_path / "other.out", "y\n")
    caps = collect_captures([str(tmp_path)], sniff=lambda p: p.name == "capture.out")
    assert [Path(c.path).name for c in caps] == ["capture.out"]


def test_missing_path_and_empty_glob_are_errors(tmp_path):
    with pytest.raises(CollectError, match="no such file"):
        collect_captures([str(tmp_path / "nope.strace")])
    with pytest.raises(CollectError, match="matches no file"):
        collect_captures([str(tmp_path / "*.strace")])


def test_rotated_logs_are_not_grouped(tmp_path):
    caps = group_captures([str(tmp_path / "qemu.log.1"), str(tmp_path / "qemu.log.2")])
    assert len(caps) == 2


def _captures(tmp_path, commands):
    for i, command in enumerate(commands):
        _write(tmp_path / f"c{i:02d}.strace", f"{command}\nsecond line\n")
    return collect_captures([str(tmp_path)])


def test_failures_are_isolated_and_order_is_kept(tmp_path):
    caps = _captures(tmp_path, ["pass", "raise", "crash", "fail", "unreadable", "pass"])
    done = []
    out = run_checks(caps, CheckOptions(), jobs=2, on_done=done.append, check=fake_check)
    assert [c.capture for c in out] == caps and len(done) == len(caps)
    errors = [c.result.error for c in out]
    assert errors[0] is None and errors[3] is None and errors[5] is None
    assert "checker failed: ValueError: malformed capture" in errors[1]
    assert "\n" not in errors[1]
    assert "worker process died" in errors[2]
    assert "not a trace" in errors[4]
    assert out[3].result.devices[0].verdict == "fail"
    # the finding's line text was read in the worker
    assert out[0].lines == {(caps[0].path, 2): "second line"}


def test_results_do_not_depend_on_jobs(tmp_path):
    caps = _captures(tmp_path, ["pass", "fail", "inconclusive", "pass", "fail"])
    one = run_checks(caps, CheckOptions(), jobs=1, check=fake_check)
    three = run_checks(caps, CheckOptions(), jobs=3, check=fake_check)
    assert one == three


def test_cited_lines_survives_missing_files():
    from tests.test_audit_builders import finding, result

    r = result("x", findings=[finding(file="/nonexistent/file", line=3)])
    assert cited_lines(r) == {}


def test_progress_bar_only_for_a_person_at_a_terminal(monkeypatch):
    from vfio_migcheck.cli import audit_cmd

    class Tty:
        @staticmethod
        def isatty() -> bool:
            return True

    monkeypatch.setattr(audit_cmd.sys, "stderr", Tty())
    monkeypatch.delenv("CI", raising=False)
    assert audit_cmd._interactive(quiet=False)
    assert not audit_cmd._interactive(quiet=True)
    monkeypatch.setenv("CI", "true")
    assert not audit_cmd._interactive(quiet=False)


def test_two_crashing_captures_are_each_blamed_alone(tmp_path):
    caps = _captures(tmp_path, ["crash", "pass", "crash", "pass", "fail", "pass"])
    out = run_checks(caps, CheckOptions(), jobs=2, check=fake_check)
    died = [i for i, c in enumerate(out) if c.result.error and "died" in c.result.error]
    assert died == [0, 2]
    assert all(c.result.error is None for i, c in enumerate(out) if i not in died)


def test_biggest_captures_are_started_first_results_stay_in_path_order(tmp_path):
    sizes = {"a.strace": 10, "b.strace": 5000, "c.strace": 300}
    for name, size in sizes.items():
        _write(tmp_path / name, "pass\n" + "x" * size + "\n")
    caps = collect_captures([str(tmp_path)])
    started = []
    out = run_checks(caps, CheckOptions(), jobs=1, check=fake_check,
                     on_done=lambda c: started.append(Path(c.capture.path).name))
    assert started == ["b.strace", "c.strace", "a.strace"]
    assert [Path(c.capture.path).name for c in out] == ["a.strace", "b.strace", "c.strace"]
