"""Proof results: one record per (property, flag set), with counterexamples people can replay."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PROVED, REFUTED, NOT_APPLICABLE = "proved", "refuted", "not_applicable"
#: neither proved nor refuted within the search bound (never counted as holding)
UNDECIDED = "undecided"


@dataclass(frozen=True)
class Counterexample:
    """A request that breaks a property.

    ``path`` holds the states entered after ``src`` (the JSON contract's meaning), or None
    when the property fails without a path (e.g. an unreachable pair).
    """

    flags: int
    src: str
    dst: str
    path: tuple[str, ...] | None
    detail: str
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def states(self) -> list[str]:
        """The whole path, ``src`` first: what a picture highlights and an ITF trace replays."""
        return [self.src, *(self.path or ())]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "flags": f"{self.flags:#x}",
            "from": self.src,
            "to": self.dst,
            "path": list(self.path) if self.path is not None else None,
            "detail": self.detail,
        }
        out.update(self.extra)
        return out


@dataclass
class PropertyResult:
    """The outcome of one property under one flag set (``flags`` None: all defined sets)."""

    id: str
    name: str
    flags: int | None
    status: str
    method: str
    counterexamples: list[Counterexample] = field(default_factory=list)
    explanation: str = ""
    seconds: float = 0.0
    known: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def flags_text(self) -> str:
        return "all" if self.flags is None else f"{self.flags:#x}"

    @property
    def acceptable(self) -> bool:
        """Holds, does not apply, or is a refutation the spec declares as known."""
        if self.status == UNDECIDED:
            return False
        return self.status != REFUTED or self.known

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "flags": self.flags_text,
            "status": self.status,
            "known_refutation": self.known,
            "method": self.method,
            "explanation": self.explanation,
            "notes": list(self.notes),
            "counterexamples": [c.to_json() for c in self.counterexamples],
            "seconds": round(self.seconds, 4),
        }
