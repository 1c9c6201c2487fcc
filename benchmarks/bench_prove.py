#!/usr/bin/env python3
"""Measure `vfio-migcheck prove`: all properties for all defined flag sets, target < 5 s wall.

Two measurements, each repeated REPEAT times (best and median kept):
  * end to end: a fresh `python -m vfio_migcheck prove --json` process, so interpreter start,
    z3 import, spec loading, every property and the table synthesis are all included;
  * in process: prove_spec() alone, with the time of each property and table proof.
The results of every run are compared, so a faster run can never come from doing less.

    python benchmarks/bench_prove.py [--spec linux-6.12] [--repeat 5] [--target 5.0]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections import defaultdict


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def end_to_end(spec: str, repeat: int) -> tuple[list[float], list[float], set[str]]:
    """Wall and CPU seconds of fresh processes (CPU shows how much of the wall is load)."""
    times, cpu, outputs = [], [], set()
    for _ in range(repeat):
        start, cpu_start = time.perf_counter(), _child_cpu()
        proc = subprocess.run([sys.executable, "-m", "vfio_migcheck", "prove", "--spec", spec,
                               "--json"], capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        cpu.append(_child_cpu() - cpu_start)
        if proc.returncode not in (0, 1):
            sys.exit(f"prove failed (exit {proc.returncode}): {proc.stderr.strip()}")
        doc = json.loads(proc.stdout)
        outputs.add(json.dumps(_verdicts(doc), sort_keys=True))
    return times, cpu, outputs


def _verdicts(doc: dict) -> list:
    """What a run concluded, without its timings."""
    return [(p["id"], p["flags"], p["status"], p["counterexamples"]) for p in doc["properties"]]


def in_process(spec_name: str, repeat: int) -> tuple[list[float], dict[str, list[float]]]:
    from vfio_migcheck.model.smt.prove import prove_spec
    from vfio_migcheck.model.spec import load_spec

    totals, parts = [], defaultdict(list)
    for _ in range(repeat):
        spec = load_spec(spec_name)  # a fresh Spec: no cached answers carry over
        report = prove_spec(spec)
        totals.append(report.seconds)
        per_id: dict[str, float] = defaultdict(float)
        for r in report.results:
            per_id[r.id] += r.seconds
        for t in report.tables:
            per_id[f"table ({t.rules})"] += t.seconds
        for key, value in per_id.items():
            parts[key].append(value)
    return totals, parts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="linux-6.12")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--target", type=float, default=5.0, help="seconds, end to end")
    args = parser.parse_args()

    print(f"spec {args.spec}; {os.cpu_count()} CPU(s) visible; python {sys.version.split()[0]}")
    wall, cpu, outputs = end_to_end(args.spec, args.repeat)
    if len(outputs) != 1:
        print("ERROR: runs disagree on their verdicts")
        return 1
    print(f"end to end (fresh process, {args.repeat} runs): wall best {min(wall):.2f} s, "
          f"median {statistics.median(wall):.2f} s, worst {max(wall):.2f} s; "
          f"CPU median {statistics.median(cpu):.2f} s")
    print(f"load average now: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    totals, parts = in_process(args.spec, args.repeat)
    print(f"prove_spec in process: best {min(totals):.2f} s, "
          f"median {statistics.median(totals):.2f} s")
    for key, values in sorted(parts.items(), key=lambda kv: -statistics.median(kv[1])):
        print(f"  {key:<16} median {statistics.median(values) * 1000:7.1f} ms")
    verdict = "within" if statistics.median(wall) <= args.target else "OVER"
    print(f"median end-to-end time is {verdict} the {args.target:.1f} s target")
    return 0 if verdict == "within" else 1


if __name__ == "__main__":
    sys.exit(main())
