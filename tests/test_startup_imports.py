"""What ``check`` imports at start-up (issue 12: ``check`` on the bundled examples in ≤ 0.3 s).

Not a timed test: each case runs in a fresh interpreter and reads ``sys.modules`` after the
work, so a module-level import that creeps back (rich for piped output, networkx for a
7-node graph, z3 outside ``prove``) fails here whatever the machine's speed.
benchmarks/bench_startup.py measures the time itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vfio_migcheck.cli import ONE_COMMAND_GC_THRESHOLDS

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "vfio_migcheck" / "examples"

#: never needed by ``check`` (networkx: ``graph``/``render``/audit; z3: ``prove``)
NEVER = ("networkx", "z3")


def _modules_after(code: str) -> set[str]:
    """The top-level packages imported by ``code`` run in a fresh interpreter (stdout of
    the work itself goes to a pipe, as in ``check | grep``)."""
    script = (f"{code}\nimport json, sys\n"
              "sys.__stderr__.write(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert done.stderr, done
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def _check(*args: str) -> str:
    return ("from vfio_migcheck.cli import main\n"
            "try:\n"
            f"    main(['check', *{list(args)!r}])\n"
            "except SystemExit:\n"
            "    pass")


def test_importing_the_cli_imports_no_heavy_package() -> None:
    loaded = _modules_after("import vfio_migcheck.cli")
    assert not loaded & {*NEVER, "rich", "lark", "regex"}


@pytest.mark.parametrize("args", [
    (str(EXAMPLES / "source-precopy.vmc"),),
    (str(EXAMPLES / "source-precopy.vmc"), "--output", "json"),
    (str(EXAMPLES / "mtty-save.strace"),),
    (),                                      # the bundled examples, as in the quickstart
], ids=["vmc-text", "vmc-json", "strace-text", "examples"])
def test_piped_check_imports_neither_rich_nor_networkx_nor_z3(args) -> None:
    loaded = _modules_after(_check(*args))
    assert "vfio_migcheck" in loaded and "click" in loaded   # the check did run
    assert not loaded & {*NEVER, "rich"}


@pytest.mark.parametrize("args", [
    (str(EXAMPLES / "source-precopy.vmc"),),
    (str(EXAMPLES / "mtty-save.strace"),),
    (),
], ids=["vmc", "strace", "examples"])
def test_the_bundled_examples_are_read_without_lark(args) -> None:
    """Their every line takes a reader's fast path (the strace captures' ``execve`` line
    with its argument array included) and format detection parses nothing: the syntax
    modules import lark only for a parse, so neither lark nor ``regex`` is loaded."""
    loaded = _modules_after(_check(*args))
    assert "vfio_migcheck" in loaded and "click" in loaded
    assert not loaded & {"lark", "regex"}


def test_a_text_report_into_a_file_does_not_import_rich(tmp_path: Path) -> None:
    out = tmp_path / "report.txt"
    loaded = _modules_after(_check(str(EXAMPLES / "two-devices-p2p.vmc"), "-o", str(out)))
    assert "PASS" in out.read_text()
    assert not loaded & {*NEVER, "rich"}


def test_a_one_command_process_freezes_what_the_command_imported() -> None:
    """main() pauses the collector for the command's imports and freezes what they made;
    running a command in process (CliRunner, as the tests do) leaves the collector alone."""
    code = ("import gc, sys\n"
            "from click.testing import CliRunner\n"
            "from vfio_migcheck.cli import cli, main\n"
            f"CliRunner().invoke(cli, ['check', {str(EXAMPLES / 'source-precopy.vmc')!r}])\n"
            "in_process = gc.get_freeze_count()\n"
            "young = gc.get_threshold()[0]\n"
            "try:\n"
            f"    main(['check', {str(EXAMPLES / 'source-precopy.vmc')!r}])\n"
            "except SystemExit:\n"
            "    pass\n"
            "sys.__stderr__.write(f'{in_process} {young} {gc.get_freeze_count()} '\n"
            "                     f'{gc.isenabled()} {gc.get_threshold()[0]}')")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=120)
    in_process, young, after_main, enabled, young_after = done.stderr.split()[-5:]
    assert in_process == "0" and int(young) < ONE_COMMAND_GC_THRESHOLDS[0]
    assert int(after_main) > 10_000 and enabled == "True"
    assert int(young_after) == ONE_COMMAND_GC_THRESHOLDS[0]


@pytest.mark.parametrize("source", ["null", "empty-file", "trace-file", "trace-pipe"])
def test_an_empty_stdin_is_known_without_a_spool(source, tmp_path: Path) -> None:
    """``check`` with no TRACE: stdin that surely holds nothing (the null device, an empty
    file) means the bundled examples without copying stdin to a temporary folder; a trace
    on stdin, redirected or piped, is still checked (and spooled)."""
    code = ("import sys\n"
            "import vfio_migcheck.traces.stdin as S\n"
            "made = []\n"
            "real = S.spool\n"
            "def spool(*a):\n"
            "    made.append(1)\n"
            "    return real(*a)\n"
            "import vfio_migcheck.cli.check_cmd as C\n"
            "C.spool = spool\n"
            "from vfio_migcheck.cli import main\n"
            "try:\n"
            "    main(['check', '--output', 'json'])\n"
            "except SystemExit:\n"
            "    pass\n"
            "sys.__stderr__.write(f'spooled={len(made)}')")
    trace = EXAMPLES / "source-precopy.vmc"
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    feed: dict = {"null": {"stdin": subprocess.DEVNULL},
                  "empty-file": {"stdin": empty.open("rb")},
                  "trace-file": {"stdin": trace.open("rb")},
                  "trace-pipe": {"input": trace.read_bytes()}}[source]
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          timeout=120, **feed)
    spooled = done.stderr.decode().split()[-1]
    checked = sorted(Path(t["file"]).name for t in json.loads(done.stdout)["traces"])
    if source in ("null", "empty-file"):
        assert spooled == "spooled=0"
        assert checked == sorted(p.name for p in EXAMPLES.iterdir()
                                 if p.suffix in (".vmc", ".strace", ".log"))
    else:
        assert spooled == "spooled=1"
        assert checked == ["<stdin>"]
