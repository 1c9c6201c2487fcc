"""The rule catalogue: every rule unit's rules, by id (U = VMM, K = kernel driver, T = trace)."""

from __future__ import annotations

from vfio_migcheck.checker.rules import (
    data_fd,
    hands_off,
    multi_device,
    precopy,
    requests,
    sessions,
    state,
    trace,
)
from vfio_migcheck.checker.rules.base import Rule

_UNITS = (requests, data_fd, sessions, precopy, state, multi_device, hands_off, trace)

CATALOGUE: dict[str, Rule] = {}
for _unit in _UNITS:
    for _rule in _unit.RULES:
        if _rule.id in CATALOGUE:  # pragma: no cover - guarded by a test
            raise RuntimeError(f"duplicate rule id {_rule.id}")
        CATALOGUE[_rule.id] = _rule


def all_rules() -> list[Rule]:
    """Rules in id order: K (driver), T (trace), U (VMM)."""
    return [CATALOGUE[k] for k in sorted(CATALOGUE)]


def get_rule(rule_id: str) -> Rule | None:
    return CATALOGUE.get(rule_id.strip().upper())
