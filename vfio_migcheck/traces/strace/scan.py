"""Skipping irrelevant lines of a capture at C speed: one compiled pattern per reader state.

In a QEMU capture almost every line is a call VFIO never makes (futex, madvise), I/O and
polls on fds known to be ordinary files, or one half of such a call split across threads.
Deciding that one line at a time in Python is what made the reader slow.
:func:`skip_pattern` compiles the reader's current knowledge (known threads, the shared fd
table, whether a data fd is open) into one regular expression; the reader searches a whole
block of text with it and only the lines it does *not* recognise as irrelevant reach the
per-line path.

The pattern is a strict subset of the per-line decisions in ``reader._read_one``: a line
it skips is one that path would count as irrelevant without touching any state. Anything
unusual (an unknown thread or fd, a ``-y`` decoration that differs from the one recorded,
a stamp while the clock still needs lines) is left to the per-line path.

Split calls: with a pid column, the pattern steps over the first half of a quiet split
call whose second half is its thread's next line (:func:`pair_pattern` is that rule alone),
and over any second half of a known thread; the reader proves afterwards that every second
half it stepped over ended a pair it stepped over, stops the search in front of lines of
threads with a call pending, and reads first halves whose second half lies past the stop
(docs/traces.md, "Speed"). Other lines ending in ``...>`` are never skipped: without the
pair rule the reader stops the search in front of each (it finds them with ``str.find``,
cheaper than a look at every line's end in the pattern); with it the pattern looks itself.

The pattern is rebuilt when the state it was built from changes (:func:`state_key`);
tests/test_strace_scan.py and tests/test_strace_pairs.py hold it against the per-line path.
"""

from __future__ import annotations

import re
from functools import lru_cache

from vfio_migcheck.traces import portable_re
from vfio_migcheck.traces.strace.fdtable import DATA, EPOLL, OTHER, FdTable
from vfio_migcheck.traces.strace.ioctl import FD_RETURNING_PREFIXES
from vfio_migcheck.traces.strace.threads import (
    EPOLL_WAIT,
    IO,
    NAME_CLASS,
    POLL,
    POLL_SETS,
    RECVMSG,
    WRITES,
    Thread,
)

#: the pattern that skips nothing: every line goes to the per-line path
EVERY_LINE = re.compile(r"\n")

_NEVER = "(?!)"
# (epoch seconds first: the commonest, and the alternatives never match the same text)
# (possessive runs: what follows a run of digits is never a digit, so giving some back
# could never help; a regex engine that may not try costs less)
# (digits as [0-9], never \d: on text \d asks the Unicode database about every character,
# ~0.15 us a line over a stamp; the per-line path reads any other digit, as it must)
_STAMP = (r"(?:[0-9]{1,20}+\.[0-9]{1,20}+|[0-9][0-9]:[0-9][0-9]:[0-9][0-9](?:\.[0-9]{1,20}+|)"
          r"|[0-9]{8,20}+) ")
#: the rest of a line that does not end in "...>" (a complete call), newline included:
#: one possessive run to the line's end and a look back, no backtracking
_REST = r"[^\n]*+(?<!\.\.\.>)\n"
def _trie(words: dict[str, str]) -> str:
    """One alternation of literal words, each followed by its own tail pattern, as a
    prefix tree: the regex engine tries alternatives in turn, a tree keeps that short."""
    if not words:
        return _NEVER
    ends = words.get("")
    groups: dict[str, dict[str, str]] = {}
    for word, tail in words.items():
        if word:
            groups.setdefault(word[0], {})[word[1:]] = tail
    branches = [re.escape(first) + _trie(rest) for first, rest in sorted(groups.items())]
    if ends is not None:
        branches.append(ends)
    return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"


def _names(names) -> str:
    return _names_of(tuple(names))


@lru_cache(maxsize=64)
def _names_of(names: tuple[str, ...]) -> str:
    """The same few name sets go into every pattern: their tries are built once."""
    return _trie(dict.fromkeys(names, ""))


def _numbers(fds) -> str:
    return _trie({str(fd): "(?![0-9])" for fd in fds})


def state_key(threads: dict[int | None, Thread], steady: bool,
              pid_column: bool) -> tuple | None:
    """What :func:`skip_pattern` depends on; None when scanning is not possible.

    Scanning needs one fd table shared by every known thread (threads of one process):
    a line's fd can then be judged without knowing its thread's table.
    """
    table = None
    for thread in threads.values():
        if table is None:
            table = thread.table
        elif thread.table is not table:
            return None
    if table is None:
        return None
    return (tuple(threads), id(table), table.version, bool(table.counts.get(DATA)), steady,
            pid_column)


def skip_pattern(threads: dict[int | None, Thread], steady: bool,
                 pid_column: bool) -> re.Pattern[str]:
    """A pattern whose matches are ``\\n`` + the next line, for lines that must be read.

    Search it over ``"\\n" + block + "\\n"``: every match starts at the newline in front
    of a line that is not certainly irrelevant; the lines in between are.
    """
    if state_key(threads, steady, pid_column) is None:
        return EVERY_LINE
    return _patterns(threads, steady, pid_column)[0]


def pair_pattern(threads: dict[int | None, Thread], steady: bool,
                 pid_column: bool) -> re.Pattern[str] | None:
    """The rule by which :func:`skip_pattern` steps over the first half of a split call,
    alone, matched at the newline in front of that half; group ``r`` starts the line of
    its second half. None when the skip pattern steps over no split call."""
    if state_key(threads, steady, pid_column) is None:
        return None
    return _patterns(threads, steady, pid_column)[1]


def built_patterns(threads: dict[int | None, Thread], steady: bool,
                   pid_column: bool) -> tuple[re.Pattern[str], re.Pattern[str] | None] | None:
    """(:func:`skip_pattern`, :func:`pair_pattern`) when they are built already for what
    this state encodes (a capture keeps coming back to a few states), else None."""
    if state_key(threads, steady, pid_column) is None:
        return None
    table: FdTable = next(iter(threads.values())).table
    return _CACHE.get(cache_key(threads, table, steady, pid_column))


def _patterns(threads: dict[int | None, Thread], steady: bool,
              pid_column: bool) -> tuple[re.Pattern[str], re.Pattern[str] | None]:
    table: FdTable = next(iter(threads.values())).table
    key = cache_key(threads, table, steady, pid_column)
    found = _CACHE.get(key)
    if found is None:
        if len(_CACHE) > 256:
            _CACHE.clear()
        facts = _Facts(threads, table, steady, pid_column)
        tail = _pair_tail(facts)
        pair = None
        if tail:
            pair = portable_re.compile(rf"\n{_free_pid(facts)}{_stamp(facts)}{tail}")
        found = _CACHE[key] = (portable_re.compile(_source(facts, tail)), pair)
    return found


def cache_key(threads: dict[int | None, Thread], table: FdTable, steady: bool,
               pid_column: bool) -> tuple:
    """What the patterns (and linescan's C scanners) are built from, without sorting
    anything: a capture keeps coming back to a few states (a data fd opened and closed
    again), each under a new table version, and this look-up happens at every such return.

    It holds all that :class:`_Facts` reads (the threads, every fd, the ordinary files
    with their decorations, the epoll fds, whether a data fd is open), so equal keys
    build equal patterns; it may tell apart states whose facts agree (threads met in
    another order), which only costs a build.
    """
    return (tuple(threads), steady, pid_column, bool(table.counts.get(DATA)),
            frozenset([(fd, entry.token) if entry.file.kind == OTHER else
                       (fd, entry.file.kind == EPOLL) for fd, entry in table.fds.items()]))


class _Facts:
    """The parts of the reader's state that a skip decision reads."""

    def __init__(self, threads: dict[int | None, Thread], table: FdTable, steady: bool,
                 pid_column: bool):
        # a line with a pid column may be skipped only once the session has noted that
        # captures show one (Session.line does at the first call of interest; the data-fd
        # inference reads it)
        self.pids = sorted(tid for tid in threads if tid is not None) if pid_column else []
        # threads whose split calls may be stepped over in pairs (the reader stops the
        # search in front of the next line of a thread with a call pending)
        self.free = [tid for tid in self.pids if 0 <= tid < 10**7]
        self.unprefixed = None in threads
        self.steady = steady
        self.data_open = bool(table.counts.get(DATA))
        self.known = sorted(table.fds)
        other = sorted((fd, entry) for fd, entry in table.fds.items()
                       if entry.file.kind == OTHER)
        self.other = [fd for fd, _ in other]
        self.tokens = [entry.token for fd, entry in other
                       if entry.token is not None and entry.token.startswith(f"{fd}<")]
        self.epolls = sorted(fd for fd, entry in table.fds.items() if entry.file.kind == EPOLL)


#: compiled patterns by the state they were built from (cache_key; a capture cycles
#: through a few)
_CACHE: dict[tuple, tuple[re.Pattern[str], re.Pattern[str] | None]] = {}

#: how many lines may separate the halves of a split call stepped over as a pair
PAIR_WINDOW = 24


def _classes() -> dict[int, list[str]]:
    classes: dict[int, list[str]] = {}
    for name, cls in NAME_CLASS.items():
        classes.setdefault(cls, []).append(name)
    return classes


def _other_fd(facts: _Facts) -> str:
    """An fd known as an ordinary file: undecorated, or with exactly its recorded decoration."""
    tokens = {token[:token.index("<")]: token[token.index("<"):] for token in facts.tokens}
    return _trie({str(fd): "(?:(?![\\dxX<])" + (
        "|" + re.escape(tokens[str(fd)]) if str(fd) in tokens else "") + ")"
        for fd in facts.other})


def _poll_tail(facts: _Facts) -> tuple[list[str], str]:
    """poll/ppoll/select calls that cannot matter, and what must follow their name."""
    if not facts.data_open:
        return _classes()[POLL], r"\((?![^\n]*_mig)"
    # every polled fd an ordinary file, or unknown and undecorated (quiet.poll_is_quiet)
    unknown = rf"(?!-?0)(?!{_numbers(facts.known)})-?[0-9]+(?![\d<])"
    return sorted(POLL_SETS), \
        rf"\((?![^\n]*_mig)(?![^\n]*\{{fd=(?!{_other_fd(facts)}|{unknown}))"


def _first_comma(then: str) -> str:
    """From inside the first argument to its end (the first ", ": a comma without a blank
    after it does not end it), then ``then`` (which starts at that ", " or the line's end).

    Commonly the argument holds no comma: one possessive run to it, and ``then``. The
    general form (a run, then any number of commas without a blank, each with its run) is
    a repeat of a group, which the regex engine sets up anew at every line that reaches
    it; it is taken only after a comma without a blank.
    """
    return (rf"[^,\n]*+(?:{then}|,(?! )[^,\n]*(?:,(?! )[^,\n]*)*{then})")


def _free_pid(facts: _Facts) -> str:
    """The pid column of a thread whose split calls may be stepped over in pairs; its
    number is kept (group ``pid``) for the look at the thread's next line. (The numbers
    need no look past their last digit: "] " or a blank must follow, and the prefix tree
    is tried branch by branch until one does.)"""
    pids = _names(str(tid) for tid in facts.free)
    return rf"(?:(?P<br>\[pid +)|)(?P<pid>{pids})(?(br)\] | ++)"


def _stamp(facts: _Facts) -> str:
    """The timestamp, when the clock needs no line (group ``tod``: a time of day)."""
    if not facts.steady:
        return ""
    return (r"(?:(?:[0-9]{1,20}+\.[0-9]{1,20}+|[0-9]{8,20}+) "
            r"|(?P<tod>[0-9][0-9]:[0-9][0-9]:[0-9][0-9](?:\.[0-9]{1,20}+|) )|)")


def _pair_tail(facts: _Facts) -> str:
    """After the pid column and the stamp: the first half of a split call that the reader
    would settle as irrelevant with its second half, followed (as its thread's next line,
    within PAIR_WINDOW lines) by that second half; the same decisions as the per-line loop
    of ``reader._read_one``.

    The halves are a call VFIO never makes, a poll that cannot matter (both decided on the
    first half), or an ioctl on an ordinary file that cannot return an fd (decided on the
    joined call, so the request must be in the first half and the second half must go on
    with its next argument). The ioctl's first half must not carry a time-of-day stamp:
    the reader reads that stamp, and a time-of-day clock remembers it (midnight).
    """
    if not facts.free:
        return ""
    poll_names, poll_tail = _poll_tail(facts)
    quiet = (rf"(?P<q>(?!{_names(NAME_CLASS)}\()[A-Za-z_$][A-Za-z0-9_$]*+)\("
             rf"|(?P<p>{_names(poll_names)}){poll_tail}")
    # (in a lookahead: the regex engine never backtracks into one)
    ioctl = (rf"(?P<i>ioctl)\((?=(?={_other_fd(facts)})[0-9]+"
             rf"{_first_comma(f', (?!{_names(FD_RETURNING_PREFIXES)})')})")
    if facts.steady:
        ioctl = rf"(?(tod)(?!)|{ioctl})"
    # the lines in between: each of another thread (a clean pid column that is not this one)
    between = r"(?:(?:\[pid +|)(?!0|(?P=pid)[^0-9])[0-9]{1,7}[ \]][^\n]*+\n)"
    stamp = f"(?:{_STAMP}|)" if facts.steady else ""
    resumed = (r"<\.\.\. (?:(?P=q) resumed>|(?P=p) resumed>"
               r"|(?P=i) resumed>[,)](?![^\n]*<unfinished \.\.\.>))")
    # (the first half ends in " <unfinished ...>": one run to the line's end, a look back)
    return (rf"(?:{quiet}|{ioctl})[^\n]*+(?<= <unfinished \.\.\.>)\n"
            rf"(?={between}{{0,{PAIR_WINDOW}}}?(?P<r>)(?(br)\[pid +(?P=pid)\] |(?P=pid) +)"
            rf"{stamp}{resumed})")


def _source(facts: _Facts, pair: str = "") -> str:
    """The skip pattern. With ``pair`` (the tail of the pair rule), lines ending in ``...>``
    are judged by the pattern itself: only the pair rule steps over them; without it the
    reader stops in front of each (see the module docstring)."""
    prefixes = []
    if facts.pids:
        # "PID  " (at most 7 digits, as HEAD reads it) or "[pid PID] "
        prefixes.append(rf"{_numbers(p for p in facts.pids if 0 <= p < 10**7)} +")
        prefixes.append(rf"\[pid +{_numbers(facts.pids)}\] ")
    if facts.unprefixed:
        prefixes.append("")
    if not prefixes:
        return EVERY_LINE.pattern
    other_fd = _other_fd(facts)
    classes = _classes()
    reads = [name for name in classes[IO] if name not in WRITES]
    # call names -> what must follow for the line to be skipped (one copy of each pattern)
    calls: list[tuple[list[str], str]] = [
        (reads, rf"\({other_fd}"),
        (sorted(WRITES), rf"\({other_fd}(?![^\n]*vfio)(?![^\n]*\\x)"),
        # an ioctl that cannot return an fd: the text after the first ", " past the fd
        (["ioctl"], rf"\((?={other_fd})[0-9]+"
                    + _first_comma(rf"(?:, (?!{_names(FD_RETURNING_PREFIXES)})|(?=\n))")),
        (classes[RECVMSG], r"\((?![^\n]*SCM_RIGHTS)"),
        (classes[EPOLL_WAIT],
         rf"\((?!-?0)(?!{_numbers(facts.epolls)})-?[0-9]{{1,10}}(?![\dxX])"),
        _poll_tail(facts),
    ]
    named = "|".join(f"{_names(names)}{tail}" for names, tail in calls)
    # ... or a call VFIO never makes: any other name
    body = rf"(?:{named}|(?!{_names(NAME_CLASS)}\()[A-Za-z_$][A-Za-z0-9_$]*+\()"
    head = "|".join(prefixes)
    stamp = f"(?:{_STAMP}|)" if facts.steady else ""
    if not pair:
        return rf"\n(?!(?:{head}){stamp}{body})"
    # a line not ending in "...>" (an unfinished call); for a thread in the pid column of
    # _free_pid, also the first half of a quiet pair, and any second half (the reader checks
    # that each is the second half of a pair stepped over, and stops the search in front
    # of a line of a thread with a call pending). The pid column and the stamp are read
    # once for all three, and the line's end decides which of them can apply: a second
    # half fails at its first character elsewhere, a first half would be read twice.
    # (The body is atomic: whether the line's end follows never depends on where it
    # ended, so a retry could never succeed.)
    free = (rf"{_free_pid(facts)}{_stamp(facts)}"
            rf"(?:<\.\.\. {_REST}|(?=[^\n]*+(?<!\.\.\.>)\n)(?>{body})|{pair})")
    # the columns _free_pid does not cover: "[pid PID] " of a pid past 7 digits, no pid
    rest = []
    if [p for p in facts.pids if not 0 <= p < 10**7]:
        rest.append(rf"\[pid +{_numbers(p for p in facts.pids if not 0 <= p < 10**7)}\] ")
    if facts.unprefixed:
        rest.append("")
    if not rest:
        return rf"\n(?!{free})"
    return rf"\n(?!{free}|(?:{'|'.join(rest)}){stamp}(?>{body}){_REST})"
