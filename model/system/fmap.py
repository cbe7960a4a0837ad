"""A small immutable, hashable mapping used inside frozen states.

attrs frozen classes need hashable fields; a dict is not. `FMap` keeps its items as a tuple
sorted by key, so two maps with the same content are equal and hash the same (determinism).
"""
from __future__ import annotations

from typing import Any, Iterator

import attrs


@attrs.frozen
class FMap:
    items_: tuple = ()

    @staticmethod
    def of(d: dict | None = None) -> "FMap":
        return FMap(tuple(sorted((d or {}).items(), key=lambda kv: repr(kv[0]))))

    def get(self, key: Any, default: Any = None) -> Any:
        for k, v in self.items_:
            if k == key:
                return v
        return default

    def __contains__(self, key: Any) -> bool:
        for k, _ in self.items_:
            if k == key:
                return True
        return False

    def __getitem__(self, key: Any) -> Any:
        for k, v in self.items_:
            if k == key:
                return v
        raise KeyError(key)

    def set(self, key: Any, value: Any) -> "FMap":
        items = self.items_
        for i, (k, _) in enumerate(items):
            if k == key:       # the key keeps its place: no sorting
                return FMap(items[:i] + ((k, value),) + items[i + 1:])
        d = dict(items)
        d[key] = value
        return FMap.of(d)

    def delete(self, key: Any) -> "FMap":
        return FMap.of({k: v for k, v in self.items_ if k != key})

    def keys(self) -> list:
        return [k for k, _ in self.items_]

    def values(self) -> list:
        return [v for _, v in self.items_]

    def items(self) -> list:
        return list(self.items_)

    def __iter__(self) -> Iterator:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.items_)
