"""End-to-end speed and memory of ``convert`` and ``check``, as ratios against bare reading.

Usage: nice python benchmarks/bench_check.py [--workloads mixed-1M,dense-200k,...]
           [--repeat 5] [--scale 1.0] [--tree DIR] [--keep DIR]

Every workload (benchmarks/gen_strace.py shapes) is generated once, then each figure is the
median of ``--repeat`` runs, each command in a fresh ``python -m vfio_migcheck`` process whose
CPU time and peak RSS come from ``os.wait4``. Next to every rate the script prints the rate of
a bare ``for line in f`` over the same file measured in the same run: on a shared, noisy
machine the ratio is the figure to compare, not the absolute rate. ``--tree`` measures the
package in another checkout (e.g. an exported older commit) with the same workloads.
``--scale`` shrinks every workload (0.1 for a quick look).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gen_strace import SUFFIX, generate  # noqa: E402

#: name -> (shape, lines)
WORKLOADS = {
    "mixed-1M": ("mixed", 1_000_000),
    "mixed-4M": ("mixed", 4_000_000),
    "dense-200k": ("dense", 200_000),
    "dense-400k": ("dense", 400_000),
    "dense-1M": ("dense", 1_000_000),
    "canonical-200k": ("canonical", 200_000),
    "qemu-200k": ("qemu", 200_000),
}
DEFAULT = "mixed-1M,mixed-4M,dense-200k,dense-400k,canonical-200k,qemu-200k"


def bare_seconds(path: Path) -> float:
    """CPU seconds of the loop every reader needs at least: iterate over the lines."""
    start = time.process_time()
    with open(path, encoding="utf-8", errors="replace") as handle:
        for _line in handle:
            pass
    return max(time.process_time() - start, 1e-9)


def run(tree: Path, args: list[str]) -> tuple[float, float, float]:
    """Run ``python -m vfio_migcheck ARGS``; return (wall s, CPU s, peak RSS MiB)."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "vfio_migcheck", *args], cwd=tree, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"vfio_migcheck {' '.join(args)}: exit {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def measure(tree: Path, path: Path, lines: int, repeat: int) -> dict:
    bare = statistics.median(bare_seconds(path) for _ in range(repeat))
    out: dict = {"lines": lines, "bare_rate": lines / bare}
    commands = {
        "convert": ["convert", "--to", "json", str(path)],
        "check": ["check", str(path)],
        "check_json": ["check", "--output", "json", str(path)],
    }
    for name, args in commands.items():
        runs = [run(tree, args) for _ in range(repeat)]
        cpu = statistics.median(r[1] for r in runs)
        out[name] = {"rate": lines / cpu, "ratio": bare / cpu,
                     "wall": statistics.median(r[0] for r in runs),
                     "rss": max(r[2] for r in runs)}
    return out


def startup(tree: Path, repeat: int) -> tuple[float, float]:
    """Median wall seconds of ``check`` on the bundled examples, and of importing the CLI."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    checks, imports = [], []
    for _ in range(repeat):
        checks.append(run(tree, ["check"])[0])
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import vfio_migcheck.cli"], cwd=tree, env=env,
                       check=True)
        imports.append(time.perf_counter() - start)
    return statistics.median(checks), statistics.median(imports)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", default=DEFAULT,
                        help=f"comma-separated, from: {', '.join(WORKLOADS)}")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--tree", type=Path, default=HERE.parent,
                        help="checkout whose vfio_migcheck is measured")
    parser.add_argument("--keep", type=Path, help="generate (and reuse) captures here")
    parser.add_argument("--no-startup", action="store_true")
    args = parser.parse_args()
    tree = args.tree.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        where = args.keep or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        print(f"package: {tree}; medians of {args.repeat}; rates per CPU second; ratio = "
              "bare-iteration CPU time / command CPU time, same file, same run\n")
        print("| workload | lines | bare lines/s | convert | check (text) | check (json) "
              "| check peak RSS text / json |")
        print("|---|---|---|---|---|---|---|")
        for name in args.workloads.split(","):
            shape, lines = WORKLOADS[name]
            lines = int(lines * args.scale)
            path = where / f"{name}-{lines}{SUFFIX[shape]}"
            if not path.exists():
                lines = generate(path, lines, shape, seed=1)
            else:
                lines = sum(1 for _ in open(path, "rb"))
            fig = measure(tree, path, lines, args.repeat)

            def cell(key: str, figures: dict = fig) -> str:
                f = figures[key]
                return f"{f['rate']:,.0f}/s ({f['ratio']:.3f}x)"

            print(f"| {name} | {lines:,} | {fig['bare_rate']:,.0f} | {cell('convert')} | "
                  f"{cell('check')} | {cell('check_json')} | {fig['check']['rss']:.0f} / "
                  f"{fig['check_json']['rss']:.0f} MiB |", flush=True)
        if not args.no_startup:
            check_s, import_s = startup(tree, args.repeat)
            print(f"\nstartup: check on the bundled examples {check_s:.3f} s wall; "
                  f"import vfio_migcheck.cli {import_s:.3f} s ({check_s / import_s:.1f}x)")


if __name__ == "__main__":
    main()
