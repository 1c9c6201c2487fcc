"""Measure the strace reader: lines per second and peak RSS on generated captures.

Usage: python benchmarks/bench_reader.py [--lines N] [--keep DIR] [FILE ...]

Without FILE arguments it generates a mixed and a dense capture (benchmarks/gen_strace.py)
in a temporary directory and reads each in a fresh subprocess, so the peak RSS figure
belongs to that one read (ru_maxrss of the child). Both wall-clock and CPU-time rates are
printed: on a shared, busy machine the CPU figure is the one that says how fast the
reader is.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def measure(path: Path) -> dict:
    """Read ``path`` completely in this process; return the figures."""
    from vfio_migcheck.traces.reading import open_trace

    start = time.perf_counter()
    cpu_start = time.process_time()
    reading = open_trace(path, "strace")
    events = sum(1 for _ in reading.events)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    summary = reading.summary
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    floor = baseline_rate(path)
    return {
        "file": str(path), "lines": summary.lines, "events": events,
        "irrelevant": summary.irrelevant, "unreadable": len(summary.unreadable),
        "seconds": round(elapsed, 3), "lines_per_s": round(summary.lines / elapsed),
        "cpu_seconds": round(cpu, 3), "lines_per_cpu_s": round(summary.lines / cpu),
        "baseline_lines_per_cpu_s": floor,
        "peak_rss_mib": round(peak_kib / 1024, 1),
    }


def baseline_rate(path: Path) -> int:
    """CPU rate of the bare loop every reader needs (read, decode, one head regex).

    Printed next to the reader's rate so a figure taken on a busy or slow machine can be
    judged: the ratio between the two hardly depends on the machine.
    """
    from vfio_migcheck.traces.strace.session import FAST_HEAD

    match = FAST_HEAD.match
    count = 0
    start = time.process_time()
    with open(path, "rb") as handle:
        for raw in handle:
            match(raw[:-1].decode("utf-8"))
            count += 1
    return round(count / max(time.process_time() - start, 1e-9))


def run_child(path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(path)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="write the generated captures here")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    files = list(args.files)
    with tempfile.TemporaryDirectory() as tmp:
        if not files:
            from gen_strace import generate

            where = args.keep or Path(tmp)
            where.mkdir(parents=True, exist_ok=True)
            for name, dense in (("mixed", False), ("dense", True)):
                target = where / f"{name}.strace"
                generate(target, args.lines if not dense else args.lines // 5, dense=dense, seed=1)
                files.append(target)
        for path in files:
            result = run_child(path)
            print(f"{result['file']}: {result['lines']} lines in {result['seconds']} s = "
                  f"{result['lines_per_s']:,} lines/s wall, "
                  f"{result['lines_per_cpu_s']:,} lines/s CPU (bare read+regex loop: "
                  f"{result['baseline_lines_per_cpu_s']:,}/s), {result['events']} events, "
                  f"{result['unreadable']} unreadable, peak RSS {result['peak_rss_mib']} MiB")


if __name__ == "__main__":
    main()
