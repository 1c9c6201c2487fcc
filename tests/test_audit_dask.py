"""audit --scheduler on a real Dask LocalCluster (scheduler + 2 worker processes, 1 thread each).

One cluster for the whole module; each test audits a handful of small captures. The oracle
for identity is ``audit -j 1`` on the same inputs.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.test_audit_builders import fake_check
from vfio_migcheck.audit.collect import collect_captures
from vfio_migcheck.audit.runner import CheckOptions
from vfio_migcheck.cli import cli

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

from vfio_migcheck.audit.distributed import (  # noqa: E402 - after the importorskip
    NoWorkersLeft,
    audit_outcomes_dask,
    dashboard_link,
    died_message,
    local_workers,
    run_checks_dask,
    wait_with_workers,
)
from vfio_migcheck.audit.isolate import TimedCheck  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = str(ROOT / "vfio_migcheck" / "examples")
CORPUS_FLOWS = str(ROOT / "tests" / "corpus" / "lab-mtty-6.12" / "f_y_tt_T" / "flow-*")


@pytest.fixture(scope="module")
def cluster():
    # one retry after a worker dies, so a capture that kills every worker is blamed quickly
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        local = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                         dashboard_address=None, silence_logs=50)
        client = distributed.Client(local)
        yield local, client
        client.close()
        local.close()


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[int, Path]:
    """The oracle: ``audit -j 1`` on the examples and the timed corpus flows."""
    out = tmp_path_factory.mktemp("reference") / "j1.json"
    code, _ = audit(EXAMPLES, CORPUS_FLOWS, "-j", "1", "-q", "--json", str(out))
    return code, out


def audit(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["audit", *args], catch_exceptions=False)
    return result.exit_code, result.output


def hang_or_fake(path: str, options):
    """fake_check, plus a capture whose check never ends."""
    if Path(path).read_text(encoding="utf-8").startswith("hang"):
        time.sleep(3600)
    return fake_check(path, options)


def _captures(tmp_path: Path, commands: dict[str, str]):
    for name, command in commands.items():
        (tmp_path / name).write_text(command + "\n", encoding="utf-8")
    return collect_captures([str(tmp_path)], sniff=lambda p: False)


def test_scheduler_json_is_byte_identical_to_j1(cluster, reference, tmp_path):
    local, _ = cluster
    code1, one = reference
    dist = tmp_path / "dask.json"
    code2, _ = audit(EXAMPLES, CORPUS_FLOWS, "--scheduler", local.scheduler_address, "-q",
                     "--json", str(dist))
    assert code1 == code2
    assert one.read_bytes() == dist.read_bytes()
    doc = json.loads(one.read_text())
    assert doc["totals"]["captures"] == 19 and doc["pairing"]["pairs"]


def test_local_cluster_address_gives_the_same_json(tmp_path):
    one, dist = tmp_path / "j1.json", tmp_path / "local.json"
    code1, _ = audit(EXAMPLES, "-j", "1", "-q", "--json", str(one))
    code2, _ = audit(EXAMPLES, "--scheduler", "local:2", "-q", "--json", str(dist))
    assert code1 == code2 and one.read_bytes() == dist.read_bytes()


def test_jsonl_streams_detail_and_keeps_the_summary(cluster, reference, tmp_path):
    local, _ = cluster
    _, full = reference
    summary, lines = tmp_path / "s.json", tmp_path / "c.jsonl"
    code, out = audit(EXAMPLES, CORPUS_FLOWS, "--scheduler", local.scheduler_address,
                      "--json", str(summary), "--jsonl", str(lines))
    assert code == (1 if whole_failed(full) else 0)
    whole, streamed = json.loads(full.read_text()), json.loads(summary.read_text())
    detail = [json.loads(line) for line in lines.read_text().splitlines()]
    assert streamed["captures"] == []
    assert sorted(detail, key=lambda c: c["path"]) == whole.pop("captures")
    streamed.pop("captures")
    assert streamed == whole
    # every capture still gets its terminal row, in the order the results came
    rows = [line for line in out.splitlines() if line.split()[:1] in (["pass"], ["fail"],
                                                                       ["inconclusive"])]
    assert len(rows) == 19


def whole_failed(path: Path) -> bool:
    t = json.loads(path.read_text())["totals"]
    return bool(t["verdicts"]["fail"] or t["verdicts"]["unreadable"])


@pytest.mark.parametrize("batch", [1, 3])
def test_a_capture_that_kills_its_worker_is_reported_alone(cluster, tmp_path, batch):
    _, client = cluster
    captures = _captures(tmp_path, {"a.vmc": "pass", "b.vmc": "crash", "c.vmc": "fail",
                                    "d.vmc": "raise", "e.vmc": "pass"})
    checked = run_checks_dask(client, captures, CheckOptions(), check=fake_check, batch=batch)
    by_name = {Path(c.capture.path).name: c.result for c in checked}
    crashed = str(tmp_path / "b.vmc")
    assert by_name["b.vmc"].error == died_message(crashed)
    assert "ValueError: malformed capture" in by_name["d.vmc"].error
    assert [by_name[n].error for n in ("a.vmc", "c.vmc", "e.vmc")] == [None] * 3
    assert [by_name[n].devices[0].verdict for n in ("a.vmc", "c.vmc", "e.vmc")] == [
        "pass", "fail", "pass"]
    assert all(by_name[n].error is None for n in ("a.vmc", "c.vmc", "e.vmc"))


def test_timeout_stops_a_hanging_capture_and_isolates_a_crash(cluster, tmp_path):
    _, client = cluster
    captures = _captures(tmp_path, {"a.vmc": "pass", "h.vmc": "hang", "k.vmc": "crash",
                                    "z.vmc": "fail"})
    # the previous test's crashes restarted them; on a loaded machine that can take long
    client.wait_for_workers(2, timeout=240)
    workers = set(client.scheduler_info()["workers"])
    checked = run_checks_dask(client, captures, CheckOptions(),
                              check=TimedCheck(2.0, hang_or_fake))
    by_name = {Path(c.capture.path).name: c.result for c in checked}
    assert "CheckTimeout: no result within 2 s" in by_name["h.vmc"].error
    assert "CheckerDied" in by_name["k.vmc"].error and "status 3" in by_name["k.vmc"].error
    assert by_name["a.vmc"].devices[0].verdict == "pass"
    assert by_name["z.vmc"].devices[0].verdict == "fail"
    # the crash happened in a forked child: no worker was lost
    assert set(client.scheduler_info()["workers"]) == workers


def broken_or_fake(path: str, options):
    """fake_check, plus a capture whose result breaks the summary code on the worker: its
    task fails there (the worker lives on), as a task the engine gives up on does."""
    from dataclasses import replace

    if Path(path).read_text(encoding="utf-8").startswith("broken"):
        return replace(fake_check(path, options), devices=None)
    return fake_check(path, options)


@pytest.mark.parametrize(("batch", "fan_in"), [(1, 3), (2, 2)])
def test_tree_reduction_on_workers_gives_the_in_memory_summary(cluster, tmp_path, batch,
                                                                fan_in):
    """Batches merged on workers, merged again by merge tasks; a failed batch undoes only
    its merge: the other batches of that merge still count, its captures are reported."""
    import io

    from vfio_migcheck.audit.distributed import lost_message
    from vfio_migcheck.audit.jsonout import audit_document
    from vfio_migcheck.audit.runner import CheckedCapture, error_result, run_checks
    from vfio_migcheck.audit.streaming import reduce_outcomes
    from vfio_migcheck.audit.summary import build_audit, finish
    from vfio_migcheck.model.spec import load_spec

    _, client = cluster
    spec = load_spec("linux-6.12")
    commands = ["pass", "fail", "broken", "pass", "raise", "unreadable", "pass", "fail", "pass"]
    captures = _captures(tmp_path, {f"{i:02d}.vmc": c for i, c in enumerate(commands)})
    lines = io.StringIO()
    merged = reduce_outcomes(audit_outcomes_dask(client, captures, CheckOptions(), spec,
                                                 broken_or_fake, batch=batch, fan_in=fan_in),
                             lines)
    broken = captures[2]
    others = [c for c in captures if c != broken]
    lost = CheckedCapture(broken, error_result(broken.path,
                                               lost_message(broken.path, TypeError())))
    expected = audit_document(build_audit(
        [*run_checks(others, CheckOptions(), 1, check=fake_check), lost], spec))
    streamed = audit_document(finish(merged, spec, None))
    detail = sorted((json.loads(x) for x in lines.getvalue().splitlines()),
                    key=lambda c: c["path"])
    assert detail == expected.pop("captures")
    streamed.pop("captures")
    assert streamed == expected
    assert expected["totals"]["verdicts"]["unreadable"] == 3


def test_dashboard_link_only_where_the_dashboard_is_drawn(cluster):
    """The scheduler's web server runs without bokeh, but shows no dashboard then."""
    import importlib.util

    _, client = cluster
    link = dashboard_link(client)
    if importlib.util.find_spec("bokeh") is None:
        assert link is None
    else:
        assert link is not None and link.startswith("http") and link.endswith("/status")


def test_scheduler_usage_errors(tmp_path):
    code, out = audit(EXAMPLES, "--scheduler", "tcp://127.0.0.1:9", "-j", "2")
    assert code == 2 and "exclude each other" in out
    code, out = audit(EXAMPLES, "--jsonl", str(tmp_path / "x.jsonl"), "--html",
                      str(tmp_path / "x.html"))
    assert code == 2 and "--html" in out
    assert local_workers("local:3") == 3 and local_workers("local") == (os.cpu_count() or 1)
    assert local_workers("tcp://h:8786") is None


def test_workers_read_archives_themselves(cluster, tmp_path):
    import tarfile

    local, _ = cluster
    with tarfile.open(tmp_path / "fleet.tar.gz", "w:gz") as tar:
        tar.add(EXAMPLES, arcname="host1")
    one, dist = tmp_path / "j1.json", tmp_path / "dask.json"
    code1, _ = audit(str(tmp_path / "fleet.tar.gz"), "-j", "1", "-q", "--json", str(one))
    code2, _ = audit(str(tmp_path / "fleet.tar.gz"), "--scheduler", local.scheduler_address,
                     "-q", "--json", str(dist))
    assert code1 == code2 and one.read_bytes() == dist.read_bytes()
    assert json.loads(one.read_text())["totals"]["captures"] == 5


def test_a_task_with_no_worker_left_ends_the_wait_instead_of_hanging():
    """After crashes a nanny may fail to bring its worker back; waiting for a re-run on an
    empty cluster must end with NoWorkersLeft (the capture is then reported lost)."""
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None,
                                  silence_logs=50) as empty, distributed.Client(empty) as client:
        future = client.submit(sum, [1, 2], pure=False)
        started = time.monotonic()
        with pytest.raises(NoWorkersLeft, match="no Dask worker was left"):
            wait_with_workers(client, future, grace=1.0, poll=0.2)
        assert time.monotonic() - started < 30
        future.release()


def test_a_task_that_finishes_is_waited_for_normally(cluster):
    _, client = cluster
    future = client.submit(sum, [1, 2], pure=False)
    wait_with_workers(client, future, grace=1.0, poll=0.2)
    assert future.result() == 3
