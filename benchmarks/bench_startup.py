"""Start-up of ``check``: the README quickstart (``check`` on the bundled examples) timed.

Usage: python benchmarks/bench_startup.py [--repeat 11] [--tree DIR] [--json FILE] [--split]
           [--commands NAME,...]

Each command runs in a fresh interpreter, its standard output piped away (as in
``check | less`` or CI), standard input empty (so that ``check`` with no TRACE checks the
bundled examples). Wall time is measured around the child; CPU time (user + sys) comes from
``os.wait4``, which keeps most of a shared machine's load out of the figure. Medians (and
minima) of ``--repeat`` runs, the load average before and after.

Byte code is compiled once into a private ``PYTHONPYCACHEPREFIX`` (an installed package
ships its ``.pyc`` files; a checkout run with ``PYTHONDONTWRITEBYTECODE`` would otherwise
recompile every module on every start) and a first run of each command is discarded (it
also fills the parser-table cache, as any first run after an install does).

Commands: ``python -c pass`` (the interpreter and its ``site``, the floor), importing the
CLI, ``check`` through the console script's entry point, ``python -m vfio_migcheck
check`` (adds runpy), and ``check`` on one decoded example. Issue 12's target: ``check`` on
the bundled examples in ≤ 0.3 s. ``--split`` adds the CPU time of each phase of that
check measured inside one process (imports, each example read and checked, the report).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from compiled_env import compiled_env

ROOT = Path(__file__).resolve().parent.parent

ENTRY = "from vfio_migcheck.cli import main; main()"
COMMANDS: dict[str, list[str]] = {
    "python -c pass": ["-c", "pass"],
    "import vfio_migcheck.cli": ["-c", "import vfio_migcheck.cli"],
    "check (console-script entry)": ["-c", ENTRY, "check"],
    "python -m vfio_migcheck check": ["-m", "vfio_migcheck", "check"],
    "check source-precopy.vmc": ["-c", ENTRY, "check", "vfio_migcheck/examples/source-precopy.vmc"],
    "check --output json (examples)": ["-c", ENTRY, "check", "--output", "json"],
}


#: one fresh interpreter: CPU seconds of each phase of ``check`` on the bundled examples
SPLIT = """
import time
clock = time.process_time
t0 = clock()
import vfio_migcheck.cli.check_cmd as cc
from vfio_migcheck.checker.api import check_trace
from vfio_migcheck.model.spec import load_spec
t1 = clock()
spec = load_spec(None)
phases = {"imports (CLI, check, checker)": t1 - t0}
results = []
for path in cc.bundled_examples():
    start = clock()
    results.append(check_trace(path, spec=spec, max_repeats=10, observations=False))
    phases["check " + path.name + " (read + engine)"] = clock() - start
import io
from vfio_migcheck.checker.reports import text
start = clock()
if hasattr(text, "PlainText"):
    text.render(results, text.PlainText(io.StringIO()))
else:                                       # a tree from before the plain text writer
    from rich.console import Console
    text.render(results, Console(file=io.StringIO(), soft_wrap=True, width=100_000))
phases["text report"] = clock() - start
print(repr(phases))
"""


def split_once(tree: Path, env: dict[str, str]) -> dict[str, float]:
    """The phases of one in-process run (imports of readers happen in the first check that
    needs them)."""
    done = subprocess.run([sys.executable, "-c", SPLIT], cwd=tree, env=env, check=True,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True)
    return ast.literal_eval(done.stdout.strip().splitlines()[-1])


def run_once(tree: Path, argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """One fresh interpreter: (wall s, CPU s user+sys, exit status)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *argv], cwd=tree, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, proc.returncode


def measure(tree: Path, repeat: int, names: list[str],
            split: bool = False) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="vmc-pyc-") as pyc:
        env = compiled_env(tree, Path(pyc))
        out: dict[str, dict[str, float]] = {}
        for name in names:
            argv = COMMANDS[name]
            run_once(tree, argv, env)                        # compiles, fills caches
            walls, cpus, statuses = [], [], set()
            for _ in range(repeat):
                wall, cpu, status = run_once(tree, argv, env)
                walls.append(wall)
                cpus.append(cpu)
                statuses.add(status)
            out[name] = {"wall_median_s": statistics.median(walls), "wall_min_s": min(walls),
                         "cpu_median_s": statistics.median(cpus), "cpu_min_s": min(cpus),
                         "exit": sorted(statuses)[0] if len(statuses) == 1 else -1}
            print(f"{name:34s} wall {out[name]['wall_median_s']:.3f} s "
                  f"(min {out[name]['wall_min_s']:.3f})  CPU {out[name]['cpu_median_s']:.3f} s "
                  f"(min {out[name]['cpu_min_s']:.3f})  exit {sorted(statuses)}", flush=True)
        if split:
            runs = [split_once(tree, env) for _ in range(repeat + 1)][1:]   # the first compiles
            phases = {phase: statistics.median(r[phase] for r in runs) for phase in runs[0]}
            out["split (CPU s, medians)"] = phases
            for phase, seconds in phases.items():
                print(f"  {phase:48s} {seconds:.3f} s CPU")
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--tree", type=Path, default=ROOT,
                        help="checkout to measure (default: this one)")
    parser.add_argument("--commands", default=",".join(COMMANDS),
                        help="comma-separated subset of: " + ", ".join(COMMANDS))
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--split", action="store_true",
                        help="also the CPU time of each phase of check, in process")
    args = parser.parse_args()
    names = [n.strip() for n in args.commands.split(",") if n.strip()]
    unknown = [n for n in names if n not in COMMANDS]
    if unknown:
        parser.error(f"unknown command(s): {', '.join(unknown)}")
    tree = args.tree.resolve()
    before = os.getloadavg()
    print(f"tree {tree}; {args.repeat} runs per command; load average {before[0]:.2f}")
    figures = measure(tree, args.repeat, names, args.split)
    after = os.getloadavg()
    print(f"load average after: {after[0]:.2f} (1 min), {after[1]:.2f} (5 min)")
    if args.json:
        args.json.write_text(json.dumps({"tree": str(tree), "repeat": args.repeat,
                                         "load_before": before, "load_after": after,
                                         "figures": figures}, indent=2) + "\n")


if __name__ == "__main__":
    main()
