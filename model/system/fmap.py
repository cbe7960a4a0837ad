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
        """The map with `key` -> `value`: an existing key keeps its place; a new one goes where
        `FMap.of` would sort it (after the keys whose repr is not greater), with no re-sorting."""
        items = self.items_
        for i, kv in enumerate(items):
            if kv[0] == key:
                return FMap(items[:i] + ((kv[0], value),) + items[i + 1:])
        rk = repr(key)
        for i, kv in enumerate(items):
            if repr(kv[0]) > rk:
                return FMap(items[:i] + ((key, value),) + items[i:])
        return FMap(items + ((key, value),))

    def delete(self, key: Any) -> "FMap":
        return FMap(tuple(kv for kv in self.items_ if kv[0] != key))     # still sorted

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
