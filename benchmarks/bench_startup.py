"""Start-up of ``check``: the README quickstart (``check`` on the bundled examples) timed.

Usage: python benchmarks/bench_startup.py [--repeat 11] [--tree DIR] [--json FILE]

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
the bundled examples in ≤ 0.3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def run_once(tree: Path, argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """One fresh interpreter: (wall s, CPU s user+sys, exit status)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *argv], cwd=tree, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, proc.returncode


def measure(tree: Path, repeat: int, names: list[str]) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="vmc-pyc-") as pyc:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(PYTHONPATH=str(tree), PYTHONPYCACHEPREFIX=pyc)
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
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--tree", type=Path, default=ROOT,
                        help="checkout to measure (default: this one)")
    parser.add_argument("--commands", default=",".join(COMMANDS),
                        help="comma-separated subset of: " + ", ".join(COMMANDS))
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    names = [n.strip() for n in args.commands.split(",") if n.strip()]
    unknown = [n for n in names if n not in COMMANDS]
    if unknown:
        parser.error(f"unknown command(s): {', '.join(unknown)}")
    tree = args.tree.resolve()
    before = os.getloadavg()
    print(f"tree {tree}; {args.repeat} runs per command; load average {before[0]:.2f}")
    figures = measure(tree, args.repeat, names)
    after = os.getloadavg()
    print(f"load average after: {after[0]:.2f} (1 min), {after[1]:.2f} (5 min)")
    if args.json:
        args.json.write_text(json.dumps({"tree": str(tree), "repeat": args.repeat,
                                         "load_before": before, "load_after": after,
                                         "figures": figures}, indent=2) + "\n")


if __name__ == "__main__":
    main()
