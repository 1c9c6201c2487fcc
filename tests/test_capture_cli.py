"""``vfio-migcheck capture``: the command lines it builds and every way it can fail, with fake
bpftrace and strace executables (no root, no BPF needed)."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from vfio_migcheck.capture import commands, preflight
from vfio_migcheck.cli import cli

# Behaves like vfio-mig.bt under bpftrace: header once "attached", then the target's exit
# ends the capture (vfio-mig.bt exits when its last target is gone).
FAKE_BPFTRACE = """#!/bin/sh
echo "Attaching 51 probes..."
pid=$4
echo "vfio-mig-bt 1 attached ts=1 pids=$pid,0,0,0,0,0,0,0"
echo "$@" > "$(dirname "$0")/argv.txt"
while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
echo "2 $pid $pid 0 exit"
echo "vfio-mig-bt 1 end ts=3"
"""
FAILING_BPFTRACE = """#!/bin/sh
echo "ERROR: Unknown error -1: couldn't set RLIMIT_MEMLOCK for bpftrace." >&2
echo "ERROR: Could not resolve symbol: /proc/self/exe:BEGIN_trigger" >&2
exit 1
"""
FAKE_STRACE = """#!/bin/sh
echo "$@" > "$(dirname "$0")/argv.txt"
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out=$2; shift 2;;
    --) shift; break;;
    -p) echo "strace: attach: ptrace(PTRACE_SEIZE, $2): Operation not permitted" >&2
        exit 1;;
    *) shift;;
  esac
done
echo "1 execve(\\"$1\\") = 0" > "$out"
"$@"
"""


def tool(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture
def fake_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH with only the fakes (plus sh and sleep), privileges and tracefs granted."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for helper in ("sh", "sleep", "dirname", "kill", "echo", "true", "cat"):
        real = next((Path(d) / helper for d in os.environ.get("PATH", "").split(":")
                     if (Path(d) / helper).is_file()), None)
        if real is not None:
            (bin_dir / helper).symlink_to(real)
    monkeypatch.setenv("PATH", str(bin_dir))
    tracing = tmp_path / "tracing"
    (tracing / "events" / "syscalls" / "sys_enter_ioctl").mkdir(parents=True)
    monkeypatch.setattr(preflight, "TRACING_ROOTS", (tracing,))
    monkeypatch.setattr(preflight, "has_bpf_privileges", lambda: True)
    return bin_dir


def run(*args: str):
    return CliRunner().invoke(cli, ["capture", *args], catch_exceptions=False)


def one_line_error(result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if "error:" in line]
    assert len(errors) == 1, result.output
    for word in words:
        assert word in errors[0], errors[0]


def test_bpftrace_command_line() -> None:
    argv = commands.bpftrace_command([12, 34])
    assert argv[:3] == ["bpftrace", "-B", "none"]
    assert argv[3].endswith("vfio-mig.bt") and Path(argv[3]).is_file()
    assert argv[4:] == ["12", "34"]
    with pytest.raises(ValueError):
        commands.bpftrace_command(list(range(1, 10)))
    with pytest.raises(ValueError):
        commands.bpftrace_command([0])


def test_the_shipped_program_reads_eight_pids_and_prints_the_header() -> None:
    text = commands.program_path().read_text()
    assert all(f"${n}" in text for n in range(1, commands.MAX_PIDS + 1))
    assert 'printf("vfio-mig-bt 1 attached' in text and 'printf("vfio-mig-bt 1 end' in text
    assert "tracepoint:syscalls:sys_enter_ioctl" in text and "kprobe:" not in text


def test_strace_command_line_has_the_guide_flags() -> None:
    argv = commands.strace_command("out.strace", pids=[5, 6])
    assert argv == ["strace", "-f", "-ttt", "-T", "-yy", "-X", "verbose", "-s", "256", "-o",
                    "out.strace", "-p", "5", "-p", "6"]
    assert commands.strace_command("o", command=["qemu", "-m", "1G"])[-4:] == \
        ["--", "qemu", "-m", "1G"]
    guide = (Path(__file__).resolve().parent.parent / "docs" / "capture-guide.md").read_text()
    assert "strace " + " ".join(commands.STRACE_FLAGS) in guide


def test_the_lab_runs_the_same_bpftrace_line(capsys) -> None:
    assert commands.main(["/usr/share/vfio-migcheck/vfio-mig.bt"]) == 0
    words = capsys.readouterr().out.split()
    assert words == ["bpftrace", "-B", "none", "/usr/share/vfio-migcheck/vfio-mig.bt", "@PID@"]


def test_capture_a_command(fake_env: Path, tmp_path: Path) -> None:
    tool(fake_env, "bpftrace", FAKE_BPFTRACE)
    out = tmp_path / "cap.bpftrace"
    result = run("-o", str(out), "--", "sh", "-c", "exit 3")
    assert result.exit_code == 0, result.output
    assert "exited with status 3" in result.output
    assert f"vfio-migcheck check {out}" in result.output
    lines = out.read_text().splitlines()
    assert lines[1].startswith("vfio-mig-bt 1 attached") and lines[-1].startswith(
        "vfio-mig-bt 1 end")
    argv = (fake_env / "argv.txt").read_text().split()
    assert argv[:2] == ["-B", "none"] and argv[2].endswith("vfio-mig.bt")


def test_capture_running_pids(fake_env: Path, tmp_path: Path) -> None:
    import subprocess

    tool(fake_env, "bpftrace", FAKE_BPFTRACE)
    # not our child (a child would stay a zombie, alive to kill -0, until we reap it)
    spawn = subprocess.run([sys.executable, "-c", "import subprocess, sys; p = subprocess."
                            "Popen([sys.executable, '-c', 'import time; time.sleep(1.5)']); "
                            "print(p.pid)"], capture_output=True, text=True, check=True)
    pid = int(spawn.stdout)
    out = tmp_path / "p.bpftrace"
    result = run("-p", str(pid), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert f"pids={pid}," in out.read_text()


def test_missing_tools(fake_env: Path, tmp_path: Path) -> None:
    one_line_error(run("-o", str(tmp_path / "x"), "--", "true"), "bpftrace", "apt-get install")
    one_line_error(run("--with", "strace", "--", "true"), "strace", "not installed")


def test_no_privileges(fake_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool(fake_env, "bpftrace", FAKE_BPFTRACE)
    monkeypatch.setattr(preflight, "has_bpf_privileges", lambda: False)
    one_line_error(run("--", "true"), "needs root", "--with strace")


def test_no_kernel_support(fake_env: Path, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    tool(fake_env, "bpftrace", FAKE_BPFTRACE)
    empty = tmp_path / "no-tracefs"
    empty.mkdir()
    monkeypatch.setattr(preflight, "TRACING_ROOTS", (empty,))
    one_line_error(run("--", "true"), "no tracing filesystem", "mount -t tracefs")
    (empty / "events").mkdir()
    one_line_error(run("--", "true"), "CONFIG_FTRACE_SYSCALLS")


def test_bpftrace_failure_is_one_line(fake_env: Path, tmp_path: Path) -> None:
    tool(fake_env, "bpftrace", FAILING_BPFTRACE)
    one_line_error(run("-o", str(tmp_path / "f"), "--", "true"),
                   "bpftrace failed", "Could not resolve symbol")


def test_bad_arguments(fake_env: Path) -> None:
    tool(fake_env, "bpftrace", FAKE_BPFTRACE)
    one_line_error(run(), "give -p PID")
    one_line_error(run("-p", "1", "--", "true"), "not both")
    one_line_error(run("-p", "999999999"), "no process with pid 999999999")
    one_line_error(run("--with", "strace", "--program", "x.bt", "--", "true"), "--program")
    one_line_error(run("--program", "/nonexistent.bt", "--", "true"), "no such file")
    args = [a for p in range(2, 11) for a in ("-p", str(os.getpid()))]
    one_line_error(run(*args), "1 to 8 pids")


def test_strace_mode(fake_env: Path, tmp_path: Path) -> None:
    tool(fake_env, "strace", FAKE_STRACE)
    out = tmp_path / "c.strace"
    result = run("--with", "strace", "-o", str(out), "--", "true")
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("1 execve")
    argv = (fake_env / "argv.txt").read_text().split()
    assert argv[:8] == list(commands.STRACE_FLAGS) and argv[-2:] == ["--", "true"]
    one_line_error(run("--with", "strace", "-o", str(tmp_path / "d.strace"), "-p",
                       str(os.getpid())), "strace failed", "Operation not permitted")


def test_capabilities_are_read_from_proc(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text("Name:\tx\nCapEff:\t000001c000200000\n")
    caps = preflight.effective_capabilities(status)
    assert caps & (1 << preflight.CAP_BPF) and caps & (1 << preflight.CAP_SYS_ADMIN)
    status.write_text("Name:\tx\n")
    assert preflight.effective_capabilities(status) == 0
