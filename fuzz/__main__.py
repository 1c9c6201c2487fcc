"""``python -m fuzz``: run the fuzz targets on mutated seeds; print and save the totals.

Example (the campaign in docs/robustness.md ran this in chunks)::

    nice -n 19 python -m fuzz --inputs 50000 --seed 1 --totals fuzz-out/totals.json

Crashing, wrong and slow inputs are written to ``--out`` (default ``fuzz-out/``) so each
can be replayed with ``python -m fuzz --replay FILE --targets NAME``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

from fuzz.mutate import Mutator
from fuzz.seeds import load_seeds
from fuzz.targets import TARGETS, Finding

#: share of the inputs each target gets (the readers are cheap, the checker is not)
WEIGHTS = {"strace-lines": 10, "qemu-lines": 10, "canonical-lines": 10, "strace": 2, "qemu": 2,
           "canonical": 2, "bpftrace": 2, "auto": 1, "check": 0.3, "roundtrip": 1}


class Hang(BaseException):
    """The input ran past the hard limit (a BaseException: the code under test catches
    Exception to turn reader bugs into one-line errors, and must not swallow this)."""


def _alarm(_signum, _frame) -> None:
    raise Hang()


def _save(out: Path, what: str, target: str, data: str, detail: str) -> Path:
    digest = hashlib.sha1(data.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    folder = out / what
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{target}-{digest}{TARGETS[target].suffix}"
    path.write_text(data, encoding="utf-8", errors="surrogatepass")
    path.with_suffix(path.suffix + ".why").write_text(detail)
    return path


def run_one(target: str, data: str, workdir: Path, budget: float, hard: float
            ) -> tuple[str | None, float, str]:
    """(outcome, seconds, detail): outcome None, "crash", "finding" or "hang"."""
    spec = TARGETS[target]
    path = workdir / f"input{spec.suffix}"
    path.write_text(data, encoding="utf-8", errors="surrogatepass")
    signal.setitimer(signal.ITIMER_REAL, hard)
    start = time.perf_counter()
    try:
        spec.run(path)
        outcome, detail = None, ""
    except Hang:
        outcome, detail = "hang", f"stopped after {hard} s"
    except Finding as exc:
        outcome, detail = "finding", str(exc)
    except Exception:  # noqa: BLE001 - every other exception is what we are looking for
        outcome, detail = "crash", traceback.format_exc()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return outcome, time.perf_counter() - start, detail


def campaign(args: argparse.Namespace) -> dict:
    targets = args.targets.split(",") if args.targets != "all" else list(WEIGHTS)
    rng = random.Random(args.seed)
    mutator = Mutator(load_seeds(), rng)
    weights = [WEIGHTS.get(t, 1) for t in targets]
    totals = {t: {"inputs": 0, "crashes": 0, "findings": 0, "slow": 0, "hangs": 0,
                  "seconds": 0.0, "max_seconds": 0.0} for t in targets}
    out = Path(args.out)
    signal.signal(signal.SIGALRM, _alarm)
    deadline = time.monotonic() + args.time if args.time else None
    with tempfile.TemporaryDirectory(prefix="vmc-fuzz-", dir=args.tmp) as tmp:
        workdir = Path(tmp)
        for target in targets:        # untimed warm-up: imports and grammar builds
            run_one(target, mutator.make(TARGETS[target].kind), workdir, 1e9, 600)
        for _ in range(args.inputs):
            if deadline is not None and time.monotonic() > deadline:
                break
            target = rng.choices(targets, weights)[0]
            data = mutator.make(TARGETS[target].kind, TARGETS[target].window)
            outcome, seconds, detail = run_one(target, data, workdir, args.budget, args.hard)
            row = totals[target]
            row["inputs"] += 1
            row["seconds"] += seconds
            row["max_seconds"] = max(row["max_seconds"], seconds)
            if seconds > args.budget and outcome != "hang":
                row["slow"] += 1
                _save(out, "slow", target, data, f"{seconds:.3f} s")
            if outcome is not None:
                row[{"crash": "crashes", "finding": "findings", "hang": "hangs"}[outcome]] += 1
                saved = _save(out, outcome + "es" if outcome == "crash" else outcome + "s",
                              target, data, detail)
                print(f"{outcome}: {target}: {saved}", file=sys.stderr)
    return totals


def merge(old: dict, new: dict) -> dict:
    for target, row in new.items():
        into = old.setdefault(target, {key: 0 for key in row})
        for key, value in row.items():
            into[key] = max(into.get(key, 0), value) if key == "max_seconds" else \
                into.get(key, 0) + value
    return old


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__.split("\n")[0])
    parser.add_argument("--targets", default="all",
                        help=f"comma-separated: {', '.join(TARGETS)} (default all)")
    parser.add_argument("--inputs", type=int, default=10000, help="inputs in this run")
    parser.add_argument("--time", type=float, default=0, help="stop after this many seconds")
    parser.add_argument("--seed", type=int, default=0, help="random seed (runs are reproducible)")
    parser.add_argument("--budget", type=float, default=1.0,
                        help="an input slower than this many seconds is recorded as slow")
    parser.add_argument("--hard", type=float, default=30.0,
                        help="an input is stopped (and recorded as a hang) after this long")
    parser.add_argument("--out", default="fuzz-out", help="where failing inputs are saved")
    parser.add_argument("--tmp", default=None, help="scratch directory (e.g. /dev/shm)")
    parser.add_argument("--totals", help="JSON file to add this run's totals to")
    parser.add_argument("--replay", help="run one saved input against --targets and report")
    args = parser.parse_args(argv)
    if args.replay:
        data = Path(args.replay).read_text(encoding="utf-8", errors="surrogatepass")
        signal.signal(signal.SIGALRM, _alarm)
        failed = False
        for target in (args.targets.split(",") if args.targets != "all" else TARGETS):
            with tempfile.TemporaryDirectory() as tmp:
                outcome, seconds, detail = run_one(target, data, Path(tmp), args.budget,
                                                   args.hard)
            print(f"{target}: {outcome or 'ok'} in {seconds:.3f} s {detail}")
            failed |= outcome is not None
        return 1 if failed else 0
    totals = campaign(args)
    if args.totals:
        path = Path(args.totals)
        old = json.loads(path.read_text()) if path.exists() else {}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(merge(old, totals), indent=2, sort_keys=True) + "\n")
    print(json.dumps(totals, indent=2, sort_keys=True))
    bad = sum(row["crashes"] + row["hangs"] + row["findings"] for row in totals.values())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
