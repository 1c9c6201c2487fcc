"""What a SET does according to the SMT encoding alone: the z3 twin of ``FlagModel.request``.

The request checks run in the same order as the kernel's (and the graph model's), so the
reason strings can be compared one to one; every fact behind them - which states are usable,
which requests are blocked, which paths exist - is asked of z3, not of networkx.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import z3

from vfio_migcheck.model.smt.encode import SESSION_KINDS, Encoding, all_of

EINVAL = "EINVAL"


@dataclass(frozen=True)
class SmtAnswer:
    """The encoding's answer to ``SET dst`` in ``src`` under ``flags``."""

    src: str | int
    dst: str | int
    flags: int
    ok: bool
    reason: str
    shortest: tuple[tuple[str, ...], ...] = ()  # every shortest rule-abiding path, sorted
    errno: str | None = None

    @property
    def chosen(self) -> tuple[str, ...] | None:
        """The path taken (first state included): the smallest by state numbers on a tie."""
        return self.shortest[0] if self.ok and self.shortest else None

    @property
    def path(self) -> list[str] | None:
        """States entered after ``src``, like ``Answer.path``; None on error."""
        if not self.ok:
            return None
        return list(self.chosen[1:]) if self.chosen else []

    @property
    def ties(self) -> tuple[tuple[str, ...], ...]:
        return self.shortest[1:] if self.ok else ()


@dataclass
class SmtOracle:
    """Answers requests from the encoding; caches per (flags, src, dst, refinements)."""

    enc: Encoding
    _cache: dict = field(default_factory=dict)
    _flag_facts: dict = field(default_factory=dict)

    def request(self, flags: int, src: str | int, dst: str | int,
                refinements: bool = True) -> SmtAnswer:
        key = (flags & self.enc.spec.all_flags_mask, src, dst, refinements)
        if key not in self._cache:
            self._cache[key] = self._request(key[0], src, dst, refinements)
        return self._cache[key]

    def flag_facts(self, flags: int) -> tuple[bool, frozenset[str]]:
        """Is the flag set defined, and which states are usable: asked of z3 once per set."""
        if flags not in self._flag_facts:
            enc = self.enc
            lits = enc.flag_literals(flags)
            usable = frozenset(n for n in enc.state_names if enc.entails(lits, enc.usable[n]))
            self._flag_facts[flags] = (enc.entails(lits, enc.defined), usable)
        return self._flag_facts[flags]

    def _request(self, flags: int, src: str | int, dst: str | int, refinements: bool
                 ) -> SmtAnswer:
        enc, spec = self.enc, self.enc.spec
        defined, usable = self.flag_facts(flags)

        def fail(reason: str) -> SmtAnswer:
            return SmtAnswer(src, dst, flags, False, reason, errno=EINVAL)

        if not defined:
            return fail("undefined_flags")
        if isinstance(src, int):
            return fail("current_out_of_range")
        if spec.states[src].error:
            return fail("current_error")
        if src not in usable:
            return fail("current_unsupported")
        if isinstance(dst, int):
            return fail("target_out_of_range")
        if not enc.requestable[dst]:
            return fail("target_error")
        if dst not in usable:
            return fail("target_unsupported")
        if src == dst:
            return SmtAnswer(src, dst, flags, True, "noop", ((src,),))
        if enc.entails(enc.flag_literals(flags), enc.blocked_request(src, dst)):
            return fail("blocked")
        paths = self.shortest_paths(flags, src, dst, refinements)
        if not paths:
            return fail("unreachable")
        return SmtAnswer(src, dst, flags, True, "ok", paths)

    def shortest_paths(self, flags: int, src: str, dst: str, refinements: bool = True
                       ) -> tuple[tuple[str, ...], ...]:
        """Every shortest rule-abiding path from ``src`` to ``dst`` (none if unreachable).

        One check for any path at all; then lengths 1, 2, ... until one is possible, which
        makes that length the shortest; then the paths of that length, each found one
        blocked in turn. Models are read only for the paths themselves.
        """
        enc = self.enc
        if enc.solver.num_scopes():
            # Blocking clauses of an enclosing search would hide paths, and answers are cached.
            raise RuntimeError("shortest_paths must not run inside another solver scope")
        base = [*enc.flag_literals(flags), enc.rules(refinements), *enc.endpoints(src, dst)]
        if src == dst or enc.check(*base) == z3.unsat:
            return ((src,),) if src == dst else ()
        length = next(n for n in range(1, enc.bound + 1)
                      if enc.check(*base, *enc.length_le(n)) == z3.sat)
        model = enc.solver.model()
        found = []
        enc.solver.push()
        try:
            while True:
                path = enc.path_in(model, length)
                found.append(path)
                interior = [enc.at[i][s] for i, s in enumerate(path) if 0 < i < length]
                if not interior:
                    break
                enc.solver.add(z3.Not(all_of(interior)))
                if enc.check(*base, *enc.length_eq(length)) != z3.sat:
                    break
                model = enc.solver.model()
        finally:
            enc.solver.pop()
        value = enc.spec.states
        return tuple(sorted(found, key=lambda p: [value[s].value for s in p]))

    def effects(self, flags: int, path: tuple[str, ...]) -> list[str]:
        """The session effect of each arc of ``path`` under ``flags``, as z3 evaluates it."""
        enc = self.enc
        if enc.check(*enc.flag_literals(flags), *enc.path_is(path)) == z3.unsat:
            raise ValueError(f"{' -> '.join(path)} is not a path under flags {flags:#x}")
        model = enc.solver.model()
        out = []
        for i in range(len(path) - 1):
            kinds = [k for k in SESSION_KINDS
                     if z3.is_true(model.eval(enc.effect[i][k], model_completion=True))]
            out.append(kinds[0] if kinds else "none")
        return out
