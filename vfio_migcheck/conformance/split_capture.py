"""Cut the lab's one-capture-per-variant into one capture per scenario.

The lab VM runs all scenarios of an eBPF variant under a single ``vfio-mig.bt`` capture
(bpftrace compiles its program once; in the TCG VM that takes most of a minute) and writes
``<variant>/capture.bpftrace`` with ``<variant>/pids.txt`` (``SCENARIO PID`` per line, the
runner's pid). Each scenario's file keeps the capture's header and end lines, every
``Lost`` line (a gap may concern any process), and the lines of the runner's process tree
(the runner and the children it forks, per the capture's own ``fork`` lines), unchanged and
in order: exactly what ``vfio-mig.bt RUNNER_PID`` would have printed.

    python -m vfio_migcheck.conformance.split_capture RESULTS_DIR
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from vfio_migcheck.traces.lines import read_text

CAPTURE, PIDS = "capture.bpftrace", "pids.txt"
_RECORD = re.compile(r"([0-9]+) ([0-9]+) [0-9]+ [0-9]+ (\S+)(.*)")
_CHILD = re.compile(r"\bchild=([0-9]+)")


def split(capture_text: str, root_pid: int) -> str:
    """The lines of ``capture_text`` that belong to ``root_pid``'s process tree."""
    tree = {root_pid}
    out = []
    for line in capture_text.splitlines():
        m = _RECORD.match(line)
        if m is None:
            if line.startswith(("vfio-mig-bt ", "Lost ", "Attaching ")):
                out.append(line)
            continue
        pid, call = int(m.group(2)), m.group(3)
        if pid not in tree:
            continue
        out.append(line)
        child = _CHILD.search(m.group(4))
        if call == "fork" and child:
            tree.add(int(child.group(1)))
    return "\n".join(out) + "\n"


def split_variant(folder: Path) -> int:
    text = read_text(folder / CAPTURE)
    count = 0
    for number, line in enumerate(read_text(folder / PIDS).splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            raise ValueError(f"{folder / PIDS}:{number}: expected 'SCENARIO PID'")
        (folder / f"{parts[0]}.bpftrace").write_text(split(text, int(parts[1])),
                                                     encoding="utf-8")
        count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m vfio_migcheck.conformance.split_capture RESULTS_DIR",
              file=sys.stderr)
        return 2
    root = Path(args[0])
    total = 0
    for folder in sorted(p.parent for p in root.glob(f"*/{PIDS}")):
        if (folder / CAPTURE).is_file():
            total += split_variant(folder)
    print(f"{total} per-scenario captures written under {root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
