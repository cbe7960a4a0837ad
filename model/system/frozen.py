"""`evolve`: `attrs.evolve` for the model's frozen values, without its lookups on every call.

`attrs.evolve` reads the class's fields on every call; a `pytest model/` run copies worlds, party
states, the network and the clock over a million times, so here each class's init fields are read
once. The result is the same: the class called with every init field, `changes` replacing some.
"""
from __future__ import annotations

from typing import Any, TypeVar

import attrs

T = TypeVar("T")

_FIELDS: dict[type, tuple[tuple[str, str], ...]] = {}
"""class -> (attribute name, init argument name) of each init field."""


def evolve(inst: T, /, **changes: Any) -> T:
    cls = inst.__class__
    fields = _FIELDS.get(cls)
    if fields is None:
        fields = _FIELDS[cls] = tuple((a.name, a.alias) for a in attrs.fields(cls) if a.init)
    for name, alias in fields:
        if alias not in changes:
            changes[alias] = getattr(inst, name)
    return cls(**changes)
