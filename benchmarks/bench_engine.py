"""The engine's own speed on dense plain strace (benchmarks/gen_dense.py), and end to end.

Usage: nice python benchmarks/bench_engine.py [--sizes 50000,100000,200000,400000]
           [--repeat 3] [--end-to-end] [--keep DIR] [--trace FILE ...]

For each size the capture is generated once and read into events once (not timed); then the
engine (``Engine.feed_one`` over the events, ``finish``) is timed in CPU seconds, median of
``--repeat`` runs. ``--end-to-end`` also times ``python -m vfio_migcheck check FILE`` in a
fresh process (CPU seconds from ``os.wait4``). Next to every figure: the rate in lines/s and
the ratio of time to the previous size's time (time doubling with input gives ~2.0 per
doubling), plus the automaton's cache misses, which stop growing once the loop repeats.

``--trace FILE`` (repeatable) instead times the given captures (a decoded canonical trace,
a QEMU log, any format): the reader alone, then the engine over its events with and
without the fast lane for data events (``Engine(fast=False)``), in CPU seconds, medians of
``--repeat`` runs, with the number of events the fast lane settled.
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
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from gen_dense import generate  # noqa: E402

from vfio_migcheck.checker.engine import Engine  # noqa: E402
from vfio_migcheck.model.spec import load_spec  # noqa: E402
from vfio_migcheck.traces.reading import open_trace  # noqa: E402


def engine_seconds(events: list, spec, fast: bool = True) -> tuple[float, Engine]:
    start = time.process_time()
    engine = Engine(spec, fast=fast)
    for event in events:
        engine.feed_one(event)
    engine.finish()
    return time.process_time() - start, engine


def reader_seconds(path: Path) -> tuple[float, list]:
    start = time.process_time()
    events = list(open_trace(path, "auto").events)
    return time.process_time() - start, events


def time_traces(paths: list[Path], repeat: int, spec) -> None:
    """Reader and engine (fast lane on and off) on given captures."""
    print(f"{'trace':<28} {'lines':>8} {'reader s':>9} {'lines/s':>9} {'engine s':>9} "
          f"{'lines/s':>9} {'no-lane s':>9} {'lane hits':>9}")
    for path in paths:
        with open(path, "rb") as handle:
            lines = sum(1 for _ in handle)
        reads = [reader_seconds(path) for _ in range(repeat)]
        reader = statistics.median(r[0] for r in reads)
        events = reads[0][1]
        lane = [engine_seconds(events, spec) for _ in range(repeat)]
        plain = [engine_seconds(events, spec, fast=False) for _ in range(repeat)]
        cpu = statistics.median(r[0] for r in lane)
        print(f"{path.name:<28} {lines:>8} {reader:>9.2f} {lines / reader:>9.0f} {cpu:>9.2f} "
              f"{lines / cpu:>9.0f} {statistics.median(r[0] for r in plain):>9.2f} "
              f"{lane[0][1].fast_hits:>9}", flush=True)


def check_seconds(path: Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "vfio_migcheck", "check", str(path)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"check {path}: exit {os.waitstatus_to_exitcode(status)}")
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50000,100000,200000,400000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--end-to-end", action="store_true")
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument("--trace", type=Path, action="append", default=[])
    args = parser.parse_args()
    spec = load_spec()
    if args.trace:
        time_traces(args.trace, args.repeat, spec)
        return
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="vmc-bench-engine-"))
    workdir.mkdir(parents=True, exist_ok=True)
    previous: dict[str, float] = {}
    print(f"{'lines':>9} {'events':>9} {'engine s':>9} {'lines/s':>10} {'x prev':>7} "
          f"{'misses':>7} {'nodes':>6}" + (f" {'check s':>8} {'lines/s':>9} {'x prev':>7}"
                                          if args.end_to_end else ""))
    for size in (int(s) for s in args.sizes.split(",")):
        path = workdir / f"dense-{size}.strace"
        with open(path, "w", encoding="utf-8") as out:
            lines = generate(out, size)
        events = list(open_trace(path, "auto").events)
        runs = [engine_seconds(events, spec) for _ in range(args.repeat)]
        cpu = statistics.median(r[0] for r in runs)
        engine = runs[0][1]
        row = (f"{lines:>9} {len(events):>9} {cpu:>9.2f} {lines / cpu:>10.0f} "
               f"{cpu / previous['engine'] if 'engine' in previous else 0:>7.2f} "
               f"{engine.automaton.misses:>7} {len(engine.automaton.nodes):>6}")
        previous["engine"] = cpu
        if args.end_to_end:
            total = statistics.median(check_seconds(path) for _ in range(args.repeat))
            row += (f" {total:>8.2f} {lines / total:>9.0f} "
                    f"{total / previous['check'] if 'check' in previous else 0:>7.2f}")
            previous["check"] = total
        print(row, flush=True)
        if args.keep is None:
            path.unlink()


if __name__ == "__main__":
    main()
