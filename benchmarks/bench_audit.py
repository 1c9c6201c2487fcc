#!/usr/bin/env python3
"""Measure the audit's parallel speed-up: -j N against -j 1 on the same set of captures.

The capture set is the real mtty-6.12 strace corpus copied COPIES times into a temporary
directory (each copy is a distinct capture, as a fleet of hosts would give). The settings run
alternately (1, N, 1, N, ...) REPEAT times each, so load drifting on a shared machine hits
both alike, and each one's best run is kept; the results of every run are compared so that a
speed-up can never come from doing less work. Worker CPU time and the load average are
printed too: a wall-clock speed-up only means something next to the CPU the machine gave.

    python benchmarks/bench_audit.py [--copies 8] [--jobs 2] [--repeat 3] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from vfio_migcheck.audit.collect import collect_captures
from vfio_migcheck.audit.jsonout import dumps
from vfio_migcheck.audit.runner import CheckOptions, run_checks
from vfio_migcheck.audit.summary import build_audit
from vfio_migcheck.model.spec import load_spec

DEFAULT_CORPUS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "mtty-6.12"


def build_set(corpus: Path, copies: int, root: Path) -> list:
    for i in range(copies):
        shutil.copytree(corpus, root / f"host{i:02d}",
                        ignore=shutil.ignore_patterns("*.gt", "*.md", "*.kmsg", "*.hexdump",
                                                      "*.txt"))
    return collect_captures([str(root)])


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_run(captures, jobs: int, spec_name: str) -> tuple[float, float, str]:
    """Wall time, the workers' CPU time and the JSON summary of one audit run."""
    start, cpu_start = time.perf_counter(), _children_cpu()
    checked = run_checks(captures, CheckOptions(spec=spec_name), jobs=jobs)
    elapsed = time.perf_counter() - start
    used = _children_cpu() - cpu_start   # the pool's workers have been reaped by now
    return elapsed, used, dumps(build_audit(checked, load_spec(spec_name)))


def interleaved(captures, settings: list[int], repeat: int, spec_name: str):
    """Alternate the settings (1, N, 1, N, ...) so that load drifting on a shared machine
    hits both alike; keep each setting's best run."""
    best: dict[int, tuple[float, float]] = {}
    documents: dict[int, str] = {}
    for _ in range(repeat):
        for jobs in settings:
            elapsed, used, text = one_run(captures, jobs, spec_name)
            if documents.setdefault(jobs, text) != text:
                sys.exit(f"bench_audit: -j {jobs} gave different results between runs")
            if jobs not in best or elapsed < best[jobs][0]:
                best[jobs] = (elapsed, used)
    return best, documents


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=8)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--spec", default="linux-6.12")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        captures = build_set(args.corpus, args.copies, Path(tmp))
        lines = sum(sum(1 for _ in open(f, "rb")) for c in captures for f in c.files)
        print(f"{len(captures)} captures ({lines} lines) from {args.copies} copies of "
              f"{args.corpus}")
        print(f"{os.cpu_count()} cores; load average before: "
              + " ".join(f"{x:.1f}" for x in os.getloadavg()))
        best, documents = interleaved(captures, [1, args.jobs], args.repeat, args.spec)
        (serial, cpu1), (parallel, cpun) = best[1], best[args.jobs]
        doc1, docn = documents[1], documents[args.jobs]
        if doc1 != docn:
            keep = Path(tempfile.gettempdir())
            (keep / "bench-audit-j1.json").write_text(doc1)
            (keep / f"bench-audit-j{args.jobs}.json").write_text(docn)
            sys.exit(f"bench_audit: -j 1 and -j {args.jobs} summaries differ (kept in {keep}/"
                     "bench-audit-j*.json; was the checker's code edited during the run?)")
        unreadable = doc1.count('"verdict": "unreadable"')
        if unreadable:
            print(f"warning: {unreadable} captures unreadable; the figure measures less work")
        print(f"-j 1: {serial:.3f} s wall ({cpu1:.1f} s CPU)   -j {args.jobs}: {parallel:.3f} s "
              f"wall ({cpun:.1f} s CPU)   speed-up {serial / parallel:.2f}x   "
              f"({len(captures) / parallel:.1f} captures/s)")
        print(f"CPU available per wall second: -j 1 {cpu1 / serial:.2f}, -j {args.jobs} "
              f"{cpun / parallel:.2f} (below 1.0 and {args.jobs}.0: other load on the machine)")


if __name__ == "__main__":
    main()
