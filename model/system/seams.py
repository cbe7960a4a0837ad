"""Named behaviours ("seams") of the baseline that a fix may replace.

A party module marks a function with `@seam("name")`; that function is the baseline behaviour. A fix
module (`fixes/`) maps seam names to replacements, in the style of P's module substitution
(house-style.md). `Config.seam(name)` returns the replacement when the config's fix set has one.
A party registers its seams when it is imported; `model.system.world` imports every party, and
the fix registry (`fixes`, which validates fix modules against `names()`) imports the world.
"""
from __future__ import annotations

from typing import Callable

_BASELINE: dict[str, Callable] = {}


def seam(name: str) -> Callable[[Callable], Callable]:
    def register(fn: Callable) -> Callable:
        if name in _BASELINE and _BASELINE[name] is not fn:
            raise RuntimeError(f"seam {name!r} registered twice")
        _BASELINE[name] = fn
        fn.seam_name = name  # type: ignore[attr-defined]
        return fn
    return register


def baseline(name: str) -> Callable:
    if name not in _BASELINE:
        raise KeyError(f"no seam named {name!r}")
    return _BASELINE[name]


def names() -> list[str]:
    return sorted(_BASELINE)
