"""Frozen records whose equality, hash and repr are written once instead of per class.

``@dataclass(frozen=True)`` generates the source of six methods for every class and
compiles each at import (``__init__``, ``__repr__``, ``__eq__``, ``__hash__``,
``__setattr__``, ``__delattr__``); for the event vocabulary and the model's records that
compilation was a large part of what starting ``check`` cost (docs/startup.md). A class
declared ``@record`` and derived from :class:`Record` gets the first and the last two from
dataclasses as before, and inherits ``__eq__``, ``__hash__`` and ``__repr__`` with the
meaning dataclasses gives them: equal when of the very same class with equal compared
fields, the hash of the compared fields' tuple (an unhashable field makes it fail alike),
and ``Name(field=value!r, ...)``. tests/test_record_methods.py holds them to the generated
ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any

#: the dataclass options of a record (see :class:`Record`)
record = dataclass(frozen=True, eq=False, repr=False)

Getter = Callable[[Any], tuple]
_LAYOUTS: dict[type, tuple[Getter, Getter, tuple[str, ...]]] = {}


class Record:
    """Base of frozen dataclasses declared with :data:`record`."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            compared = _layout(self.__class__)[0]
            return compared(self) == compared(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(_layout(self.__class__)[1](self))

    def __repr__(self) -> str:
        shown = _layout(self.__class__)[2]
        return (f"{self.__class__.__qualname__}("
                f"{', '.join(f'{name}={getattr(self, name)!r}' for name in shown)})")


def _layout(cls: type) -> tuple[Getter, Getter, tuple[str, ...]]:
    """A record class's compared and hashed fields (each as a getter of their tuple) and
    its shown fields, as dataclasses picks them."""
    layout = _LAYOUTS.get(cls)
    if layout is None:
        every = fields(cls)
        layout = _LAYOUTS[cls] = (
            _tuple_of([f.name for f in every if f.compare]),
            _tuple_of([f.name for f in every if (f.compare if f.hash is None else f.hash)]),
            tuple(f.name for f in every if f.repr))
    return layout


def _tuple_of(names: list[str]) -> Getter:
    if len(names) > 1:
        return attrgetter(*names)
    return lambda obj: tuple(getattr(obj, name) for name in names)
