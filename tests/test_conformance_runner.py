"""lab/runner/vmc-run.c outside the VM: it builds warning-free and rejects bad scenarios.

Running scenarios needs the lab VM (VFIO + mtty); what can be tested on the host is that
the runner compiles cleanly against the lab kernel's headers and refuses malformed input
with a one-line error naming file and line, before touching any device.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

RUNNER = Path(__file__).parent.parent / "lab" / "runner" / "vmc-run.c"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
DEFAULT_LAB_BUILD = CACHE / "vfio-migcheck" / "lab-build"
HEADERS = Path(os.environ.get("LAB_BUILD", DEFAULT_LAB_BUILD)) / "kobj" / "usr" / "include"

pytestmark = pytest.mark.skipif(
    shutil.which("gcc") is None or not (HEADERS / "linux" / "iommufd.h").is_file(),
    reason="needs gcc and the lab kernel's uapi headers (lab/build-kernel.sh)")


@pytest.fixture(scope="module")
def runner(tmp_path_factory) -> Path:
    exe = tmp_path_factory.mktemp("runner") / "vmc-run"
    subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{HEADERS}", "-o", str(exe),
                    str(RUNNER)], check=True, capture_output=True, text=True)
    return exe


@pytest.mark.parametrize("body,message", [
    ("dev GET STATE = ?\n", "'dev' is neither a declared device nor 'fd'"),
    ("fd 6 read = ?\n", "read needs a length"),
    ("fd 6 write 8 = ?\n", "write needs the directive src=saved|garbage|zero"),
    ("fd 6 write ? = ?  # run: src=zero\n", "a '?' length needs the directive len=rest"),
    ("fd 6 write 8 = ?  # run: src=saved\n", "src=saved but no stream was kept"),
    ("fd 6 frobnicate = ?\n", "unknown data-fd statement 'frobnicate'"),
    ("fd 6 read 16\n", "statement without '= ?'"),
    ("device dev api=pci\n", "api must be group or cdev"),
])
def test_bad_scenarios_fail_with_file_and_line(runner: Path, tmp_path: Path, body: str,
                                               message: str) -> None:
    scenario = tmp_path / "s.vmc"
    scenario.write_text("# vmc-trace 1\n# a comment\n" + body)
    done = subprocess.run([str(runner), str(scenario)], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 2
    assert done.stderr.startswith(f"vmc-run: {scenario}:3: {message}"), done.stderr
    assert done.stderr.count("\n") == 1


def test_missing_scenario_file(runner: Path, tmp_path: Path) -> None:
    done = subprocess.run([str(runner), str(tmp_path / "nope.vmc")], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 2 and "nope.vmc" in done.stderr
