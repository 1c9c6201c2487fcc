#!/usr/bin/env python3
"""The checker against the SMT lifecycle semantics, every event sequence up to length k.

For each flag set, every sequence of 1..k events over the alphabet (one device, data fds 6
and 7; visible and hidden payloads) is checked twice: z3 decides from the semantics in
``model/smt/lifecycle.py`` whether the last event fits and which behaviour rules every / some
fitting reading breaks; the checker answers through ``checker.api.check_events``. Any
difference is printed and makes the exit status 1. (tests/support/engine_vs_smt.py.)

    nice python benchmarks/bench_engine_vs_smt.py --k 6 --alphabet core     # the deep run
    nice python benchmarks/bench_engine_vs_smt.py --k 3 --alphabet full
    python benchmarks/bench_engine_vs_smt.py --k 2 --flags 0x7 --spec linux-6.12

CPU-heavy: run it `nice`d on a shared machine. ``.ci/run`` runs k = 2 (full alphabet) and
k = 3 (core) through tests/test_engine_vs_smt.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.engine_vs_smt import compare  # noqa: E402
from vfio_migcheck.model.names import parse_flags  # noqa: E402
from vfio_migcheck.model.spec import load_spec  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=6, help="longest sequence (default 6)")
    parser.add_argument("--alphabet", choices=("core", "full"), default="core")
    parser.add_argument("--spec", default="linux-6.12")
    parser.add_argument("--flags", default=None, help="one flag set (default: every defined)")
    parser.add_argument("--json", dest="json_out", default=None, help="write results here")
    args = parser.parse_args()
    spec = load_spec(args.spec)
    flag_sets = ([parse_flags(args.flags, spec)] if args.flags
                 else list(spec.defined_flag_sets))
    start = time.perf_counter()
    rows, disagreements = [], 0
    for flags in flag_sets:
        r = compare(spec, flags, args.k, args.alphabet)
        disagreements += len(r.disagreements)
        rows.append({"flags": f"{flags:#x}", "k": r.k, "sequences": r.sequences,
                     "misfit_sequences": r.misfits, "disagreements": len(r.disagreements),
                     "smt_queries": r.smt_queries, "seconds": round(r.seconds, 1)})
        print(f"{args.spec} {flags:#x} k={r.k} ({args.alphabet}): {r.sequences} sequences "
              f"({r.misfits} end in a misfit), {len(r.disagreements)} disagreements, "
              f"{r.smt_queries} z3 queries, {r.seconds:.1f} s", flush=True)
        for lines, smt, engine in r.disagreements[:20]:
            print("  DISAGREE: " + " ; ".join(lines))
            print(f"    z3:      {smt}\n    checker: {engine}")
    total = sum(row["sequences"] for row in rows)
    print(f"total: {total} sequences, {disagreements} disagreements, "
          f"{time.perf_counter() - start:.1f} s")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"spec": args.spec, "alphabet": args.alphabet,
                                                   "results": rows}, indent=2) + "\n")
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
