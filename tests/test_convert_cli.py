"""``vfio-migcheck convert`` end to end: exit codes, stderr reports, the JSON Lines contract,
and conversion of strace and QEMU captures into canonical text that reads back the same."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from vfio_migcheck.cli import cli
from vfio_migcheck.traces.canonical.reader import read_text
from vfio_migcheck.traces.events import EVENT_TYPES, Origin, ReadSummary, Unreadable
from vfio_migcheck.traces.reading import open_trace

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
EXAMPLES = ROOT / "vfio_migcheck" / "examples"
BAD = FIXTURES / "canonical" / "bad-lines.vmc"
STRACE = FIXTURES / "mtty-6.12" / "f_y_tt_T" / "save.strace"
QEMU = FIXTURES / "qemu" / "dev-source-precopy.log"


def run(*args: str):
    return CliRunner().invoke(cli, ["convert", *args])


def json_objects(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


@pytest.mark.parametrize("name", ["source-precopy.vmc", "destination.vmc",
                                  "two-devices-p2p.vmc"])
def test_examples_convert_cleanly_and_read_back_identically(name: str) -> None:
    path = EXAMPLES / name
    result = run(str(path))
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.startswith("# vmc-trace 1\n")
    original = list(open_trace(path, "canonical").events)
    summary = ReadSummary()
    converted = list(read_text(result.stdout, summary=summary))
    assert summary.unreadable == []
    strip = [dataclasses.replace(e, origin=Origin("x", 0)) for e in original]
    assert [dataclasses.replace(e, origin=Origin("x", 0)) for e in converted] == strip


def test_json_lines_contract() -> None:
    path = EXAMPLES / "source-precopy.vmc"
    result = run(str(path), "--to", "json")
    assert result.exit_code == 0, result.output
    objects = json_objects(result.stdout)
    *events, last = objects
    summary = last["summary"]
    total_lines = len(path.read_text().splitlines())
    assert summary["lines"] == total_lines
    assert summary["events"] == len(events) == 25
    assert summary["irrelevant"] == total_lines - 25
    assert summary["unreadable"] == []
    assert summary["format"] == "canonical"
    for obj in events:
        assert obj["kind"] in EVENT_TYPES and isinstance(obj["line"], int)
    first_set = next(o for o in events if o["kind"] == "feature" and o["op"] == "SET"
                     and o["feature"] == "MIG_DEVICE_STATE")
    assert (first_set["target"], first_set["data_fd"], first_set["ret"]) == ("PRE_COPY", 45, 0)
    reads = [o for o in events if o["kind"] == "data_io"]
    assert [(o["line"], o["ret"]) for o in reads][-1] == (35, 0)


def test_unreadable_lines_exit_1_and_are_reported_on_stderr() -> None:
    result = run(str(BAD))
    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    assert errors == [
        f"{BAD}:6: column 15: unknown state 'SOON' (known: ERROR, STOP, RUNNING, STOP_COPY, "
        "RESUMING, RUNNING_P2P, PRE_COPY, PRE_COPY_P2P, or a number)",
        f"{BAD}:8: column 1: device 'dst' is used before its declaration "
        "(write 'device dst ...' first)",
        f"{BAD}:9: column 18: expected '= RESULT', ?, a quoted string, an argument or "
        "key=value, found the end of the line",
    ]
    # everything readable is still printed
    assert "fd 6 read 1048576 = 0" in result.stdout
    assert "src SET STATE STOP = 0 data_fd=-1" in result.stdout
    assert result.stdout.count("# unreadable: ") == 3


def test_unreadable_lines_in_json_summary() -> None:
    result = run(str(BAD), "--to", "json")
    assert result.exit_code == 1
    *events, last = json_objects(result.stdout)
    assert [u["line"] for u in last["summary"]["unreadable"]] == [6, 8, 9]
    assert last["summary"]["events"] == 6
    assert [e["line"] for e in events if e["kind"] == "unreadable"] == [6, 8, 9]


def test_notes_reach_the_output() -> None:
    path = FIXTURES / "canonical" / "unaccounted-fd.vmc"
    result = run(str(path))
    assert result.exit_code == 0
    assert re.search(r"# note: .*unaccounted-fd.vmc:5: fd 7 is used", result.stdout)
    *_, last = json_objects(run(str(path), "--to", "json").stdout)
    assert len(last["summary"]["notes"]) == 1


def test_origins_option_adds_source_lines() -> None:
    result = run(str(EXAMPLES / "destination.vmc"), "--origins")
    assert result.exit_code == 0
    assert re.search(r"fd 40 close = 0  # from .*destination\.vmc:22$", result.stdout, re.M)


def test_missing_file_and_bad_arguments_exit_2(tmp_path: Path) -> None:
    result = run(str(tmp_path / "nope.vmc"))
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "nope.vmc" in result.stderr
    assert run(str(BAD), "--format", "pcap").exit_code == 2
    assert run(str(BAD), "--to", "yaml").exit_code == 2
    assert run().exit_code == 2


def test_undetectable_file_exits_2(tmp_path: Path) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\nworld\n")
    result = run(str(junk))
    assert result.exit_code == 2
    assert "not recognised" in result.stderr and "--format" in result.stderr


def test_forced_canonical_on_foreign_text_reports_every_line(tmp_path: Path) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\nworld\n")
    result = run(str(junk), "--format", "canonical", "--to", "json")
    assert result.exit_code == 1
    assert len(result.stderr.splitlines()) == 2
    *_, last = json_objects(result.stdout)
    assert last["summary"]["lines"] == 2 and last["summary"]["events"] == 0


@pytest.mark.parametrize("fmt,path", [("strace", STRACE), ("qemu", QEMU)])
def test_foreign_traces_convert_to_canonical_that_reads_back(fmt: str, path: Path) -> None:
    reading = open_trace(path, fmt)
    original = [e for e in reading.events if not isinstance(e, Unreadable)]
    expected_exit = 1 if reading.summary.unreadable else 0

    as_json = run(str(path), "--format", fmt, "--to", "json")
    assert as_json.exit_code == expected_exit, as_json.output
    *objects, last = json_objects(as_json.stdout)
    assert last["summary"]["lines"] == len(path.read_text(errors="replace").splitlines())
    assert all("kind" in o and "line" in o for o in objects)

    auto = run(str(path))
    assert auto.exit_code == expected_exit, auto.output
    assert f"({fmt}) by vfio-migcheck convert" in auto.stdout
    summary = ReadSummary()
    back = [e for e in read_text(auto.stdout, summary=summary)]
    assert summary.unreadable == [], summary.unreadable[:3]
    declared_by_converter = sum("declared by the converter" in line
                                for line in auto.stdout.splitlines())
    assert len(back) == len(original) + declared_by_converter

    def comparable(events):
        return [dataclasses.replace(e, origin=Origin("x", 0),
                                    **({"file": ""} if hasattr(e, "file") else {}))
                for e in events if not (e.kind == "device_open" and e.fd is not None
                                        and e.text and "declared by the converter" in e.text)]

    assert comparable(back) == comparable(original)


@pytest.mark.parametrize("scenario", ["save", "restore", "migrate2", "errors", "threads"])
def test_checker_reaches_the_same_verdicts_on_the_converted_trace(scenario: str,
                                                                   tmp_path: Path) -> None:
    """Conversion keeps everything the checker uses: same findings, same device verdicts."""
    capture = FIXTURES / "mtty-6.12" / "f_y_tt_T" / f"{scenario}.strace"
    converted = tmp_path / f"{scenario}.vmc"
    result = run(str(capture))
    assert result.exit_code == 0, result.output
    converted.write_text(result.stdout)

    def check(path: Path) -> dict:
        out = CliRunner().invoke(cli, ["check", str(path), "--output", "json", "--exit-zero"])
        assert out.exit_code == 0, out.output
        return json.loads(out.stdout)

    direct, via_canonical = check(capture), check(converted)
    assert ([(f["rule"], f["severity"], f["device"], f["fingerprint"])
             for f in via_canonical["findings"]]
            == [(f["rule"], f["severity"], f["device"], f["fingerprint"])
                for f in direct["findings"]])
    assert ([(d["name"], d["verdict"], d["final_states"]) for d in via_canonical["devices"]]
            == [(d["name"], d["verdict"], d["final_states"]) for d in direct["devices"]])


def test_conversion_streams_event_by_event() -> None:
    """Output lines come out while the reader is still reading (an endless reader works)."""
    import itertools

    from vfio_migcheck.cli.convert_cmd import canonical_lines, json_lines
    from vfio_migcheck.traces.events import DeviceReset
    from vfio_migcheck.traces.reading import Reading

    def endless():
        yield from read_text("device src fd=5\n")
        for n in itertools.count(2):
            yield DeviceReset(Origin("t.vmc", n), device="src", fd=5, ret=0, errno=None)

    def reading() -> Reading:
        return Reading([Path("t.vmc")], "canonical", endless(), ReadSummary(format="canonical"))

    first = list(itertools.islice(canonical_lines(reading(), "t.vmc", False), 5))
    assert first[2:] == ["device src fd=5", "src RESET = 0", "src RESET = 0"]
    objects = [json.loads(x) for x in itertools.islice(json_lines(reading()), 3)]
    assert [o["kind"] for o in objects] == ["device_open", "device_reset", "device_reset"]
