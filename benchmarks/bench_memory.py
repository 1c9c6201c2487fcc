"""Peak memory of ``check`` at 1M and 4M lines of mixed QEMU-like strace, per output format.

Usage: nice python benchmarks/bench_memory.py [--sizes 1000000,4000000]
           [--formats text,json,sarif,junit] [--workloads mixed,violations]
           [--max-repeats N] [--tree DIR] [--keep DIR]

Two workloads, both from ``benchmarks/gen_strace.py`` (shape ``mixed``, seed 1):

* ``mixed``: the capture as generated (one device, pre-copy migrations, one finding);
* ``violations``: the same capture with a wrong-direction ``write()`` on the saving data fd
  after every PRECOPY_INFO call (U006, an error, thousands of times): the case where
  findings, not statistics, would grow with the trace.

Each ``check`` runs in a fresh ``python -m vfio_migcheck`` process; its peak RSS comes from
``os.wait4``. The figure to read is the ratio of the larger size's peak to the smaller one's
(flat memory: close to 1.0), next to the peak of a process that only imports ``check``.
Issue 12's target: at most 100 MB at both sizes, whatever the output format.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gen_strace import generate  # noqa: E402

FORMATS = ("text", "json", "sarif", "junit")
WORKLOADS = ("mixed", "violations")
#: the call after which a wrong-direction write is added (workload ``violations``)
ANCHOR = "ioctl(31<anon_inode:mlx5vf_mig>, VFIO_EEH_PE_OP"
WRONG_WAY = ('{pid}  {ts} write(31<anon_inode:mlx5vf_mig>, "\\0\\0", 4096) = -1 EBADF '
             "(Bad file descriptor) <0.000010>\n")


def with_violations(source: Path, target: Path) -> int:
    """Copy ``source`` adding a U006 write after each PRECOPY_INFO; return how many."""
    added = 0
    with open(source, encoding="utf-8") as src, open(target, "w", encoding="utf-8") as out:
        for line in src:
            out.write(line)
            if ANCHOR in line:
                pid, ts = line.split(maxsplit=2)[:2]
                out.write(WRONG_WAY.format(pid=pid, ts=ts))
                added += 1
    return added


def peak_rss(tree: Path, args: list[str]) -> tuple[float, float, int]:
    """Run ``python -m vfio_migcheck ARGS``: (peak RSS MiB, wall s, exit status)."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "vfio_migcheck", *args], cwd=tree, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"vfio_migcheck {' '.join(args)}: exit {code}")
    return usage.ru_maxrss / 1024, time.perf_counter() - start, code


def import_rss(tree: Path) -> float:
    """Peak RSS of a process that imports ``check`` and does nothing else (the floor)."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    proc = subprocess.Popen([sys.executable, "-c", "import vfio_migcheck.cli.check_cmd"],
                            cwd=tree, env=env)
    _, _, usage = os.wait4(proc.pid, 0)
    return usage.ru_maxrss / 1024


def capture(where: Path, workload: str, lines: int) -> Path:
    base = where / f"mixed-{lines}.strace"
    if not base.exists():
        generate(base, lines, "mixed", seed=1)
    if workload == "mixed":
        return base
    bad = where / f"violations-{lines}.strace"
    if not bad.exists():
        with_violations(base, bad)
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000,4000000",
                        help="comma-separated line counts (the first is the reference)")
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--max-repeats", type=int, default=None,
                        help="passed to check (default: check's own default)")
    parser.add_argument("--tree", type=Path, default=HERE.parent,
                        help="checkout whose vfio_migcheck is measured")
    parser.add_argument("--keep", type=Path, help="generate (and reuse) captures here")
    args = parser.parse_args()
    tree = args.tree.resolve()
    sizes = [int(s) for s in args.sizes.split(",")]
    formats = args.formats.split(",")
    extra = [] if args.max_repeats is None else ["--max-repeats", str(args.max_repeats)]
    with tempfile.TemporaryDirectory() as tmp:
        where = args.keep or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        print(f"package: {tree}; check {' '.join(extra) or '(default --max-repeats)'}; "
              f"peak RSS of a process importing check only: {import_rss(tree):.0f} MiB\n")
        head = " | ".join(f"{n:,} lines" for n in sizes)
        print(f"| workload | output | {head} | ratio last / first |")
        print("|---|---|" + "---|" * len(sizes) + "---|")
        for workload in args.workloads.split(","):
            paths = [capture(where, workload, n) for n in sizes]
            for fmt in formats:
                peaks = [peak_rss(tree, ["check", "--output", fmt, *extra, str(p)])[0]
                         for p in paths]
                cells = " | ".join(f"{p:.0f} MiB" for p in peaks)
                print(f"| {workload} | {fmt} | {cells} | {peaks[-1] / peaks[0]:.2f} |",
                      flush=True)


if __name__ == "__main__":
    main()
