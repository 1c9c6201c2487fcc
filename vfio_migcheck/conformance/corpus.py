"""Refresh the committed lab corpus (tests/corpus/lab-mtty-6.12) from one lab run.

Copies what the tests need and nothing else: the scenarios with their predictions, the
runner's ground truth of every run, the strace captures of the variants listed in
:data:`CORPUS_VARIANTS`, and the run's environment, status and timing. Kernel logs stay in
the results folder (they are large and the tests do not use them). The corpus README is
written by hand and left alone.

The files the code reads (scenarios, predictions, ground truths, captures) are stored
gzip-compressed, deterministically (level 9, no name, no timestamp: the same run gives the
same bytes), which keeps the corpus a few hundred kilobytes; the readers open them as they
are (``zcat`` or ``vfio-migcheck convert FILE.gz`` to look at one). The small files meant
for people (env, status, timing, README, CONFORMANCE.md) stay plain.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import sys
from pathlib import Path

#: every variant's ground truth is kept; these are the variants whose captures are kept too
CORPUS_VARIANTS = ("plain", "cdev_plain", "f_y_tt_T", "f_Xverbose_ttt", "ff_o", "yy_r", "bt",
                   "cdev_bt")
TOP_FILES = ("env.txt", "status.txt", "timing.txt", "overhead.txt")
KEEP_SUFFIXES = (".canon", ".stderr")
PLAIN_SUFFIXES = (".stderr", "pids.txt")   # kept readable as they are: for people


def _wanted(path: Path) -> bool:
    if path.suffix in KEEP_SUFFIXES:
        return True
    if path.parent.name not in CORPUS_VARIANTS:
        return False
    if path.name == "pids.txt":          # which runner pid each eBPF capture was cut for
        return True
    # strace captures; eBPF captures cut per scenario (the whole capture.bpftrace is not kept)
    return ".strace" in path.name or (path.suffix == ".bpftrace"
                                      and path.name != "capture.bpftrace")


def refresh(results: Path, corpus: Path) -> int:
    """Replace the corpus's run files with those of ``results``; return how many."""
    if not (results / "scenarios").is_dir():
        raise FileNotFoundError(f"{results}: no scenarios/ folder (not a lab results folder)")
    for child in corpus.iterdir() if corpus.is_dir() else []:
        if child.name == "README.md":
            continue
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    corpus.mkdir(parents=True, exist_ok=True)
    count = 0
    for path in sorted((results / "scenarios").rglob("*")):
        if path.is_file():
            target = corpus / path.relative_to(results)
            target.parent.mkdir(parents=True, exist_ok=True)
            store(path, target.parent)
            count += 1
    for name in TOP_FILES:
        if (results / name).is_file():
            shutil.copy2(results / name, corpus / name)
            count += 1
    for variant in sorted(p for p in results.iterdir() if p.is_dir() and p.name != "scenarios"):
        if variant.name not in CORPUS_VARIANTS:
            continue
        for path in sorted(variant.iterdir()):
            if _wanted(path):
                (corpus / variant.name).mkdir(exist_ok=True)
                store(path, corpus / variant.name)
                count += 1
    return count


def store(path: Path, folder: Path) -> Path:
    """Put ``path`` into ``folder``: gzip-compressed (``NAME.gz``), or plain if meant so."""
    if path.name.endswith(PLAIN_SUFFIXES):
        return Path(shutil.copy2(path, folder / path.name))
    target = folder / (path.name + ".gz")
    compress(path, target)
    return target


def compress(source: Path, target: Path) -> None:
    """``gzip -9n``-like and reproducible: no file name, mtime 0, so equal input, equal bytes."""
    with open(source, "rb") as src, open(target, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=raw, mtime=0) as out:
        shutil.copyfileobj(src, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("corpus", type=Path)
    args = parser.parse_args(argv)
    try:
        count = refresh(args.results, args.corpus)
    except OSError as exc:
        print(f"corpus: error: {exc}", file=sys.stderr)
        return 2
    print(f"{count} files in {args.corpus}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
