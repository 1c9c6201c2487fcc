"""Shared state of one proving run: the encoding, its oracle and the model's chosen paths."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import z3

from vfio_migcheck.model.fsm import Answer, FlagModel, model_for
from vfio_migcheck.model.smt.answers import SmtAnswer, SmtOracle
from vfio_migcheck.model.smt.encode import Encoding, all_of, any_of
from vfio_migcheck.model.spec import Spec


@dataclass
class ProofContext:
    """Everything the properties share, built once per spec.

    ``chosen`` answers come from the graph model (what ``vfio-migcheck path`` prints); the
    properties hold them against the SMT encoding, which never sees the graph.
    """

    spec: Spec
    encoding: Callable[[Spec], Encoding] = Encoding  # tests swap in a broken encoding
    enc: Encoding = field(init=False)
    oracle: SmtOracle = field(init=False)

    def __post_init__(self) -> None:
        self.enc = self.encoding(self.spec)
        self.oracle = SmtOracle(self.enc)
        self._usable: dict[int, list[str]] = {}
        self._shortest: dict[int, z3.BoolRef] = {}

    @property
    def full_flags(self) -> int:
        return self.spec.all_flags_mask

    def model(self, flags: int, refinements: bool = True) -> FlagModel:
        return model_for(self.spec, flags, refinements)

    def chosen(self, flags: int, src: str, dst: str) -> Answer:
        return self.model(flags).request(src, dst)

    def usable(self, flags: int) -> list[str]:
        """States usable under ``flags``, in state-number order, as z3 decides it."""
        if flags not in self._usable:
            usable = self.oracle.flag_facts(flags)[1]
            self._usable[flags] = [n for n in self.enc.state_names if n in usable]
        return self._usable[flags]

    def requests(self, flags: int) -> list[tuple[str, str]]:
        """Every request that is not a no-op and passes the state checks under ``flags``."""
        usable = self.usable(flags)
        return [(a, b) for a in usable for b in usable
                if a != b and self.enc.requestable[b]]

    def answer(self, flags: int, src: str, dst: str, refinements: bool = True) -> SmtAnswer:
        return self.oracle.request(flags, src, dst, refinements)

    @cached_property
    def base_states(self) -> list[str]:
        """States a user knows without optional flags: they need only the mandatory ones."""
        return [n for n in self.enc.state_names
                if not self.spec.states[n].error
                and self.spec.states[n].requires <= self.spec.mandatory_flags]

    # --- solver helpers --------------------------------------------------------------------
    def find_all(self, assumptions: list[z3.BoolRef], constraint: z3.BoolRef,
                 limit: int = 1000) -> list[tuple[str, ...]]:
        """Every request (start, end) with a path meeting ``constraint``: one witness path each.

        Each witness is a whole path, start first. An empty list is the proof that no such
        request exists: z3 answered unsat.
        """
        enc = self.enc
        found: list[tuple[str, ...]] = []
        enc.solver.push()
        try:
            enc.solver.add(constraint)
            while len(found) < limit and enc.check(*assumptions) == z3.sat:
                path = enc.path_in(enc.solver.model())
                found.append(path)
                enc.solver.add(z3.Not(all_of(enc.at[0][path[0]], enc.at[enc.bound][path[-1]])))
        finally:
            enc.solver.pop()
        return found

    def shortest_constraint(self, flags: int) -> z3.BoolRef:
        """The path is a shortest rule-abiding path of a successful, non-trivial request.

        Lengths come from the SMT oracle, so "shortest" here is z3's own notion.
        """
        if flags not in self._shortest:
            enc = self.enc
            options = []
            for a, b in self.requests(flags):
                ans = self.answer(flags, a, b)
                if ans.ok and ans.chosen:
                    options.append(all_of(enc.at[0][a], enc.at[enc.bound][b],
                                          *enc.length_eq(len(ans.chosen) - 1)))
            self._shortest[flags] = any_of(options)
        return self._shortest[flags]
