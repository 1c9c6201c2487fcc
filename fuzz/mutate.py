"""Mutations of seed traces: small edits real damage makes, and hostile shapes.

Every choice comes from one ``random.Random`` so a run is reproducible from its seed.
"""

from __future__ import annotations

import random
import re

from fuzz.seeds import Seed

MAX_WINDOW = 6            # lines of a seed one input starts from
MAX_RUN = 1500            # longest repeated run a hostile mutation inserts

#: Text that reaches deep into the readers: syntax of every format, and values at the edges.
TOKENS = (
    " <unfinished ...>", "<... ioctl resumed>", "<... clone resumed>", "<... read resumed>",
    ") = 0", ") = -1 EINVAL (Invalid argument)", ") = ?", " = 3</dev/vfio/devices/vfio0>",
    "VFIO_DEVICE_FEATURE", "VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE", "_IOC(_IOC_WRITE, 0x3b, 0x75",
    "anon_inode:[vfio-device-migration]", "<anon_inode:[vfio-mig]>", "/dev/vfio/7",
    "[pid  4242] ", "4242  ", "+++ exited with 0 +++", "--- SIGCHLD {si_signo=SIGCHLD} ---",
    "+++ superseded by execve in pid 77 +++", "clone(child_stack=NULL, flags=CLONE_VM|CLONE_FILES",
    "vfio_migration_set_state  (0000:3b:00.1) new state STOP_COPY, recover state ERROR",
    "vfio_migration_set_device_state  (0000:3b:00.1) state RUNNING", "vfio_save_setup ",
    "4242@1767225600.123456:", "2026-13-01T00:00:00.000000Z ", "2026-01-01T00:00:00.5Z ",
    "qemu-system-x86_64(4242:worker): ", "[guest] ", "x: Failed setting device state to ",
    ": data_fd out of sync", "Invalid device state ", '{"event": "VFIO_MIGRATION", "data": {',
    "dev SET MIG_DEVICE_STATE STOP_COPY = 0 data_fd=7", "dev GET MIGRATION = 0 flags=0x7",
    "fd 7 read 4096 = 4096", "device d fd=3", "[3/4] ", "@1.5 ", " after=f:1-2",
    '"\\x2f\\x64\\x65\\x76"', "0x" + "f" * 60, "9" * 4400, "-" + "1" * 50, "1e999", "nan",
    "\x00", "\xff", "\u2028", "\t", "\r", "#", "?", "...", "\\", '"', "'", "(", ")", "[", "]",
    "{", "}", "<", ">", "=", ",", ":",
)
_NUMBER = re.compile(r"\d+")
_EDGE_NUMBERS = ("0", "-1", "4294967295", "18446744073709551616", "0x7fffffffffffffff",
                 "99999999999999999999999999999999999999999999", "007", "0x", "-0")


class Mutator:
    """Builds one input from the seeds with 1..4 mutations."""

    def __init__(self, seeds: list[Seed], rng: random.Random) -> None:
        self.seeds = seeds
        self.rng = rng
        self.by_kind: dict[str, list[Seed]] = {}
        for seed in seeds:
            self.by_kind.setdefault(seed.kind, []).append(seed)

    def window(self, kind: str | None, most: int = MAX_WINDOW) -> list[str]:
        pool = self.by_kind.get(kind) if kind else None
        seed = self.rng.choice(pool or self.seeds)
        start = self.rng.randrange(len(seed.lines))
        if self.rng.random() < 0.3:
            start = 0                  # keep headers and the first lines sniffing reads
        size = self.rng.randint(1, most)
        return list(seed.lines[start:start + size])

    def make(self, kind: str | None, most: int = MAX_WINDOW) -> str:
        lines = self.window(kind, most)
        for _ in range(self.rng.randint(1, 4)):
            lines = self.rng.choice(self._MUTATIONS)(self, lines) or [""]
        return "\n".join(lines) + ("\n" if self.rng.random() < 0.9 else "")

    # --- line edits ---------------------------------------------------------------------

    def _pick(self, lines: list[str]) -> int:
        return self.rng.randrange(len(lines))

    def _edit_line(self, lines: list[str], edit) -> list[str]:
        at = self._pick(lines)
        lines[at] = edit(lines[at])
        return lines

    def insert_token(self, lines: list[str]) -> list[str]:
        token = self.rng.choice(TOKENS)
        return self._edit_line(lines, lambda t: self._insert(t, token))

    def _insert(self, text: str, piece: str) -> str:
        at = self.rng.randint(0, len(text))
        return text[:at] + piece + text[at:]

    def delete_span(self, lines: list[str]) -> list[str]:
        def cut(text: str) -> str:
            if not text:
                return text
            at = self.rng.randrange(len(text))
            return text[:at] + text[at + self.rng.randint(1, 12):]
        return self._edit_line(lines, cut)

    def flip_char(self, lines: list[str]) -> list[str]:
        def flip(text: str) -> str:
            if not text:
                return chr(self.rng.randrange(32, 127))
            at = self.rng.randrange(len(text))
            code = self.rng.randrange(32, 127) if self.rng.random() < 0.5 else \
                self.rng.randrange(0, 0x3000)
            char = chr(code)
            return text[:at] + char + text[at + 1:]
        return self._edit_line(lines, flip)

    def swap_number(self, lines: list[str]) -> list[str]:
        def swap(text: str) -> str:
            found = list(_NUMBER.finditer(text))
            if not found:
                return text
            match = self.rng.choice(found)
            value = self.rng.choice((*_EDGE_NUMBERS, str(self.rng.randrange(1 << 40))))
            return text[:match.start()] + value + text[match.end():]
        return self._edit_line(lines, swap)

    def duplicate_line(self, lines: list[str]) -> list[str]:
        at = self._pick(lines)
        return lines[:at] + [lines[at]] * self.rng.randint(2, 20) + lines[at:]

    def drop_line(self, lines: list[str]) -> list[str]:
        if len(lines) > 1:
            del lines[self._pick(lines)]
        return lines

    def swap_lines(self, lines: list[str]) -> list[str]:
        a, b = self._pick(lines), self._pick(lines)
        lines[a], lines[b] = lines[b], lines[a]
        return lines

    def splice_foreign(self, lines: list[str]) -> list[str]:
        other = self.window(None)
        at = self.rng.randint(0, len(lines))
        return lines[:at] + other[: self.rng.randint(1, len(other))] + lines[at:]

    def glue_lines(self, lines: list[str]) -> list[str]:
        if len(lines) > 1:
            at = self.rng.randrange(len(lines) - 1)
            lines[at:at + 2] = [lines[at] + lines[at + 1]]
        return lines

    def hostile_run(self, lines: list[str]) -> list[str]:
        """A long run of one character or token: the shape that exposes super-linear code."""
        piece = self.rng.choice(("[", "(", "{", "1", "a", " ", "<", "vfio_", "err: ", ": ",
                                 "\\", '"', "@1.1:", "0x", "Z ", "] "))
        count = self.rng.randint(50, MAX_RUN) // max(1, len(piece))
        return self._edit_line(lines, lambda t: self._insert(t, piece * count))

    def many_tids(self, lines: list[str]) -> list[str]:
        """The same line from many threads (strace bookkeeping per tid)."""
        line = self.rng.choice(lines)
        body = re.sub(r"^\s*(?:\[pid\s+\d+\]|\d+)\s+", "", line)
        return lines + [f"{tid} {body}" for tid in range(1, self.rng.randint(2, 30))]

    _MUTATIONS = (insert_token, insert_token, delete_span, flip_char, swap_number,
                  swap_number, duplicate_line, drop_line, swap_lines, splice_foreign,
                  glue_lines, hostile_run, many_tids)
