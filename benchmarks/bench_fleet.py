#!/usr/bin/env python3
"""Fleet audit on Dask: overhead of ``--scheduler local:N`` against ``-j N``, and the client's
peak memory as the fleet grows (it must stay flat with ``--jsonl``).

The fleet is the bundled canonical examples (small ``.vmc`` captures: a PRE_COPY source, its
destination, two P2P devices) copied into ``host<i>/`` directories until there are CAPTURES
of them, as thousands of migrations a day would give. With ``--timed`` every host gets its
own device name and epoch timestamps an hour apart, its destination resuming right after
its source's stream ends: each host's source and destination pair by name and time, and
every capture keeps a pairing candidate until the end (the worst case for the client).
Each audit runs as its own process (``python -m vfio_migcheck audit ...``) so that its
wall time includes starting the cluster, and the client's peak RSS is read from its own
``/proc/self/status`` (``VmHWM``; the Dask workers are separate processes and not counted;
with ``local:N`` the scheduler runs in the client and is). CPU seconds (user + system of
the audit and the processes it reaped) are printed beside wall times: on a shared machine
they are the steadier measure. Every fleet is audited with ``--jsonl`` both on
``--scheduler local:N`` and on ``-j N`` (streamed too); their JSON summaries are compared,
as are those of the in-memory runs: an overhead figure means nothing if the work differs.

    nice python benchmarks/bench_fleet.py [--captures 1000] [--big 10000 [20000 ...]]
                                          [--workers 2] [--skip-overhead] [--skip-jobs]
                                          [--timed]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "vfio_migcheck" / "examples"
SMALL = ("source-precopy.vmc", "destination.vmc", "two-devices-p2p.vmc")

# Run in the child: the audit command, then the peak RSS of this process on stderr.
CHILD = """
import sys
from vfio_migcheck.cli import cli
try:
    cli.main(sys.argv[1:], prog_name="vfio-migcheck")
except SystemExit as exit:
    code = exit.code
else:
    code = 0
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        print("PEAK_RSS_KB", line.split()[1], file=sys.stderr)
sys.exit(code)
"""


EPOCH = 1767225600.0
DEST_SHIFT = -195.0   # destination.vmc resumes at 400 s; its source's stream ends at 201 s
_STAMP = re.compile(r"^@(\d+\.\d+)", re.M)


def build_fleet(root: Path, captures: int, timed: bool = False) -> Path:
    per_host = len(SMALL)
    for i in range((captures + per_host - 1) // per_host):
        host = root / f"host{i:05d}"
        host.mkdir(parents=True)
        for name in SMALL[: min(per_host, captures - i * per_host)]:
            if not timed:
                shutil.copyfile(EXAMPLES / name, host / name)
                continue
            shift = EPOCH + 3600.0 * i + (DEST_SHIFT if name == "destination.vmc" else 0.0)
            text = _STAMP.sub(lambda m, by=shift: f"@{float(m[1]) + by:.6f}",
                              (EXAMPLES / name).read_text(encoding="utf-8"))
            bdf = f"{i // 65536:04x}:{i // 256 % 256:02x}:{i % 256 // 8:02x}.{i % 8}"
            (host / name).write_text(text.replace("0000:3b:00.1", bdf), encoding="utf-8")
    return root


def audit(args: list[str]) -> tuple[float, int, int, float]:
    """Wall seconds, exit status, the client's peak RSS (KiB) and the CPU seconds (user +
    system) of one audit: the client and every process it started and reaped (the -j
    workers; the Dask nannies' workers), which the shared machine's load does not inflate
    the way it inflates wall time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, "audit", *args], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "CI": "1"})
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak = [int(line.split()[1]) for line in proc.stderr.splitlines()
            if line.startswith("PEAK_RSS_KB")]
    if proc.returncode not in (0, 1) or not peak:
        sys.exit(f"bench_fleet: audit {' '.join(args)} failed ({proc.returncode}):\n"
                 f"{proc.stderr[-2000:]}")
    return elapsed, proc.returncode, peak[0], cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--captures", type=int, default=1000)
    ap.add_argument("--big", type=int, nargs="+", default=[10000],
                    help="the larger fleets for the RSS runs")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-overhead", action="store_true",
                    help="no in-memory -j / --scheduler comparison")
    ap.add_argument("--skip-jobs", action="store_true",
                    help="no -j N --jsonl runs beside the --scheduler ones")
    ap.add_argument("--timed", action="store_true",
                    help="hosts whose source and destination pair (every capture pairable)")
    args = ap.parse_args()
    n = args.workers
    print(f"{os.cpu_count()} cores; load average before: "
          + " ".join(f"{x:.1f}" for x in os.getloadavg()))
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        tmp_path = Path(tmp)
        small = build_fleet(tmp_path / "small", args.captures, args.timed)
        if not args.skip_overhead:
            j_json, d_json = tmp_path / "j.json", tmp_path / "d.json"
            tj, _, rss_j, cj = audit([str(small), "-j", str(n), "-q", "--json", str(j_json)])
            td, _, rss_d, cd = audit([str(small), "--scheduler", f"local:{n}", "-q", "--json",
                                      str(d_json)])
            same = j_json.read_bytes() == d_json.read_bytes()
            print(f"{args.captures} captures in memory: -j {n} {tj:.1f} s ({cj:.1f} s CPU), "
                  f"--scheduler local:{n} {td:.1f} s ({cd:.1f} s CPU), overhead ratio "
                  f"{td / tj:.2f} wall, {cd / cj:.2f} CPU; summaries identical: {same}")
            print(f"  client peak RSS (captures kept in memory): -j {n} {rss_j / 1024:.0f} MiB,"
                  f" --scheduler {rss_d / 1024:.0f} MiB")
            if not same:
                sys.exit("bench_fleet: -j and --scheduler summaries differ")
        fleets = [(small, args.captures)] + [
            (build_fleet(tmp_path / f"big{count}", count, args.timed), count)
            for count in args.big]
        modes = [("--scheduler", f"local:{n}")] + ([] if args.skip_jobs else [("-j", str(n))])
        rows: dict[str, list[tuple[int, float, int, float]]] = {m[0]: [] for m in modes}
        for fleet, count in fleets:
            summaries = []
            for mode in modes:
                out_json, out_jsonl = tmp_path / f"s{count}.json", tmp_path / f"s{count}.jsonl"
                elapsed, _, rss, cpu = audit([str(fleet), *mode, "-q", "--json", str(out_json),
                                              "--jsonl", str(out_jsonl)])
                doc = json.loads(out_json.read_text())
                done = doc["totals"]["captures"]
                lines = sum(1 for _ in out_jsonl.open())
                if done != count or lines != count:
                    sys.exit(f"bench_fleet: {count} captures gave {done} totals, {lines} lines")
                summaries.append(out_json.read_bytes())
                rows[mode[0]].append((count, elapsed, rss, cpu))
                print(f"{' '.join(mode)} --jsonl, {count} captures: {elapsed:.1f} s "
                      f"({cpu:.1f} s CPU), client peak RSS {rss / 1024:.1f} MiB; "
                      f"{len(doc['pairing']['pairs'])} pairs, "
                      f"{len(doc['pairing']['problems'])} pairing problems", flush=True)
            if len(set(summaries)) != 1:
                sys.exit(f"bench_fleet: the --jsonl summaries of {count} captures differ")
            if len(modes) == 2:
                (_, td, _, cd), (_, tj, _, cj) = rows[modes[0][0]][-1], rows[modes[1][0]][-1]
                print(f"  overhead --scheduler local:{n} / -j {n} with --jsonl, {count} "
                      f"captures: {td / tj:.2f} wall, {cd / cj:.2f} CPU", flush=True)
        for mode, mode_rows in rows.items():
            c1, _, r1, _ = mode_rows[0]
            for c2, _, r2, _ in mode_rows[1:]:
                print(f"{mode}: client peak RSS {c2}/{c1} captures: {r2 / r1:.3f}x "
                      f"({(r2 - r1) / 1024:+.1f} MiB for {c2 - c1} more captures, "
                      f"{(r2 - r1) * 1024 / (c2 - c1):.0f} B per capture)")
    print("load average after: " + " ".join(f"{x:.1f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
