"""Speed and memory of reading, ``convert`` and ``check``, as ratios against bare reading.

Usage: nice python benchmarks/bench_check.py [--workloads mixed-1M,dense-200k,...]
           [--commands reader,check,check_json,convert] [--repeat 5] [--scale 1.0]
           [--tree DIR] [--keep DIR] [--no-startup]

Every workload (benchmarks/gen_strace.py shapes) is generated once; each figure is the
median of ``--repeat`` runs, each in a fresh process whose CPU time (user + sys) and peak RSS
come from ``os.wait4``. Next to every rate the script prints the rate of a bare
``for line in f`` over the same file measured in the same run: on a shared, noisy machine
the ratio (bare CPU time / command CPU time) is the figure to compare, not the absolute
rate. ``reader`` is the trace reader alone (events counted, no checking; CPU time of the
read loop in the child, imports excluded, read as ``check`` reads: collector tuned,
quiet runs collapsed), so reader and engine can be told apart.
``--tree`` measures the package of another checkout (e.g. an exported older commit) on the
same files. ``--scale`` shrinks every workload (0.1 for a quick look). Each tree's byte
code is compiled once into a private cache first (compiled_env.py), as an installed package
ships it, so that no figure pays for compiling the package.

One function per workload shape and per command, so that other measurements (peak RSS at
1M vs 4M lines, startup) can be added or run alone.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from compiled_env import compiled_env  # noqa: E402
from gen_strace import SUFFIX, generate  # noqa: E402

#: name -> (shape, lines)
WORKLOADS = {
    "mixed-1M": ("mixed", 1_000_000),
    "mixed-4M": ("mixed", 4_000_000),
    "corpus-mixed-1M": ("corpus-mixed", 1_000_000),
    "dense-200k": ("dense", 200_000),
    # the mtty save-into-resume loop of gen_dense.py: plain strace, every line VFIO
    "loop-200k": ("loop", 200_000),
    "loop-1M": ("loop", 1_000_000),
    "dense-400k": ("dense", 400_000),
    "dense-1M": ("dense", 1_000_000),
    "canonical-200k": ("canonical", 200_000),
    "qemu-200k": ("qemu", 200_000),
}
DEFAULT = "mixed-1M,mixed-4M,corpus-mixed-1M,dense-200k,canonical-200k,qemu-200k"

#: the reader alone, as ``check`` runs it: under the collector settings of a process that
#: runs one command (cli._import_command) and handing over runs of quiet lines as one event
#: (checker/api.py sets COLLAPSE_RUNS); trees from before either change keep the defaults.
#: So reader and ``check`` figures differ by the engine alone.
_READER_CHILD = """
import gc, sys, time
from pathlib import Path
import vfio_migcheck.cli as cli
import vfio_migcheck.traces.events as events
from vfio_migcheck.traces.reading import open_trace
thresholds = getattr(cli, "ONE_COMMAND_GC_THRESHOLDS", None)
if thresholds is not None:
    gc.freeze()
    gc.set_threshold(*thresholds)
if hasattr(events, "COLLAPSE_RUNS"):
    events.COLLAPSE_RUNS.set(True)
start = time.process_time()
reading = open_trace(Path(sys.argv[1]), "auto")
events = sum(1 for _ in reading.events)
print(time.process_time() - start, events)
"""


def bare_seconds(path: Path) -> float:
    """CPU seconds of the loop every reader needs at least: iterate over the lines."""
    start = time.process_time()
    with open(path, encoding="utf-8", errors="replace") as handle:
        for _line in handle:
            pass
    return max(time.process_time() - start, 1e-9)


#: the children's environment for each tree (compiled_env: byte code compiled once)
_ENVS: dict[Path, dict[str, str]] = {}


def run(tree: Path, argv: list[str], capture: bool = False) -> tuple[float, float, float, str]:
    """Run ``python ARGV`` with ``tree`` first on the path; (wall s, CPU s, peak MiB, stdout)."""
    env = _ENVS.get(tree)
    if env is None:
        cache = Path(tempfile.mkdtemp(prefix="vmc-pyc-"))
        atexit.register(shutil.rmtree, cache, True)
        env = _ENVS[tree] = compiled_env(tree, cache)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *argv], cwd=tree, env=env,
                            stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read() if capture else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"{' '.join(argv)}: exit {code}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out


# --- one function per command: CPU seconds and peak RSS of one run ---------------------------

def reader_run(tree: Path, path: Path) -> tuple[float, float]:
    _, _, rss, out = run(tree, ["-c", _READER_CHILD, str(path)], capture=True)
    return float(out.split()[0]), rss


def cli_run(*args: str) -> Callable[[Path, Path], tuple[float, float]]:
    def measure(tree: Path, path: Path) -> tuple[float, float]:
        _, cpu, rss, _ = run(tree, ["-m", "vfio_migcheck", *args, str(path)])
        return cpu, rss
    return measure


COMMANDS: dict[str, Callable[[Path, Path], tuple[float, float]]] = {
    "reader": reader_run,
    "check": cli_run("check"),
    "check_json": cli_run("check", "--output", "json"),
    "convert": cli_run("convert", "--to", "json"),
}


# --- one function per workload: generate (or reuse) and measure ------------------------------

def workload_file(name: str, where: Path, scale: float) -> tuple[Path, int]:
    shape, lines = WORKLOADS[name]
    lines = int(lines * scale)
    path = where / f"{name}-{lines}{SUFFIX.get(shape, '.strace')}"
    if not path.exists() and shape == "loop":
        import gen_dense

        with open(path, "w", encoding="utf-8") as out:
            lines = gen_dense.generate(out, lines)
    elif not path.exists():
        lines = generate(path, lines, shape, seed=1)
    else:
        with open(path, "rb") as handle:
            lines = sum(1 for _ in handle)
    return path, lines


def measure_workload(tree: Path, path: Path, lines: int, commands: list[str],
                     repeat: int) -> dict:
    bare = statistics.median(bare_seconds(path) for _ in range(repeat))
    figures: dict = {"lines": lines, "bare_rate": lines / bare}
    for command in commands:
        runs = [COMMANDS[command](tree, path) for _ in range(repeat)]
        cpu = statistics.median(r[0] for r in runs)
        figures[command] = {"cpu": cpu, "rate": lines / cpu, "ratio": bare / cpu,
                            "rss": max(r[1] for r in runs)}
    return figures


def startup(tree: Path, repeat: int) -> tuple[float, float]:
    """Median wall seconds of ``check`` on the bundled examples, and of importing the CLI."""
    checks = [run(tree, ["-m", "vfio_migcheck", "check"])[0] for _ in range(repeat)]
    imports = [run(tree, ["-c", "import vfio_migcheck.cli"])[0] for _ in range(repeat)]
    return statistics.median(checks), statistics.median(imports)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", default=DEFAULT,
                        help=f"comma-separated, from: {', '.join(WORKLOADS)}")
    parser.add_argument("--commands", default="reader,check,check_json",
                        help=f"comma-separated, from: {', '.join(COMMANDS)}")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--tree", type=Path, default=HERE.parent,
                        help="checkout whose vfio_migcheck is measured")
    parser.add_argument("--keep", type=Path, help="generate (and reuse) captures here")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument("--no-startup", action="store_true")
    args = parser.parse_args()
    tree = args.tree.resolve()
    commands = args.commands.split(",")
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        where = args.keep or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        print(f"package: {tree}; medians of {args.repeat}; rates per CPU second; ratio = "
              "bare-iteration CPU time / command CPU time, same file, same run\n")
        print("| workload | lines | bare lines/s | " + " | ".join(commands)
              + " | peak RSS (MiB) |")
        print("|---|---|---|" + "---|" * len(commands) + "---|")
        for name in args.workloads.split(","):
            path, lines = workload_file(name, where, args.scale)
            fig = results[name] = measure_workload(tree, path, lines, commands, args.repeat)
            cells = " | ".join(f"{fig[c]['rate']:,.0f}/s ({fig[c]['ratio']:.3f}x)"
                               for c in commands)
            rss = " / ".join(f"{fig[c]['rss']:.0f}" for c in commands)
            print(f"| {name} | {lines:,} | {fig['bare_rate']:,.0f} | {cells} | {rss} |",
                  flush=True)
        if not args.no_startup:
            check_s, import_s = startup(tree, args.repeat)
            results["startup"] = {"check_examples_s": check_s, "import_cli_s": import_s}
            print(f"\nstartup: check on the bundled examples {check_s:.3f} s wall; "
                  f"import vfio_migcheck.cli {import_s:.3f} s ({check_s / import_s:.1f}x)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
