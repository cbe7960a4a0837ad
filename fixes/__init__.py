"""Candidate fixes: one small module each, replacing named seams of the baseline.

`REGISTRY` maps a fix name to its module. A fix module has a docstring saying what it targets and
where it comes from, and `REPLACES = {"seam.name": function}`. Fix sets compose by union; two
fixes that replace the same seam conflict. `COMBINATIONS` names the fix sets worth comparing.
`make_config` builds the model's `Config` from fix names and assumptions: the registry sits above
the transition system (it imports the parties to know every seam), so the system never imports it.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable

import model.system.world  # noqa: F401  (imports every party, so every seam is registered)
from model.system import seams
from model.system.config import Config, ConfigError, assumptions_for
from model.system.fmap import FMap

REGISTRY: dict[str, str] = {
    "baseline": "fixes.baseline",
    "fix1-mobile-disconnect-first": "fixes.fix1_mobile_disconnect_first",
    "fix2-dispose-on-disconnect": "fixes.fix2_dispose_on_disconnect",
    "fix3-region-room-names": "fixes.fix3_region_room_names",
    "fix3-region-room-names-with-rest": "fixes.fix3_region_room_names_with_rest",
    "status-rejoin": "fixes.status_rejoin",
    "status-rejoin-as-deployed": "fixes.status_rejoin_as_deployed",
    "bridge-always-replaces": "fixes.bridge_always_replaces",
    "disposed-guards": "fixes.disposed_guards",
    "recommended": "fixes.recommended",
}

COMBINATIONS: dict[str, tuple[str, ...]] = {
    "fix1+fix2": ("fix1-mobile-disconnect-first", "fix2-dispose-on-disconnect"),
    "fix1+fix3": ("fix1-mobile-disconnect-first", "fix3-region-room-names"),
    "fix2+fix3": ("fix2-dispose-on-disconnect", "fix3-region-room-names"),
    "report-fixes": ("fix1-mobile-disconnect-first", "fix2-dispose-on-disconnect",
                     "fix3-region-room-names"),
    "team-sequence": ("status-rejoin", "bridge-always-replaces", "disposed-guards"),
}
"""The report's fixes pairwise and all three; the team's sequence of later changes."""


def known() -> list[str]:
    return list(REGISTRY) + list(COMBINATIONS)


def expand(names: list[str]) -> list[str]:
    """Combination names -> their fixes; unknown names are a ConfigError listing the known ones."""
    out: list[str] = []
    for name in names:
        if name in COMBINATIONS:
            parts = list(COMBINATIONS[name])
        elif name in REGISTRY:
            parts = [name]
        else:
            raise ConfigError(f"unknown fix {name!r} (known: {', '.join(known())})")
        out += [p for p in parts if p not in out]
    if len(out) > 1 and "baseline" in out:
        out.remove("baseline")
    return out or ["baseline"]


def module(name: str):
    return importlib.import_module(REGISTRY[name])


def introduces(names: list[str]) -> dict[str, str]:
    """Property -> reason: the violations the fixes of `names` bring by design where the baseline
    has none (each module's optional `INTRODUCES`). The corpus test accepts exactly these."""
    out: dict[str, str] = {}
    for name in expand(names):
        for prop, why in getattr(module(name), "INTRODUCES", {}).items():
            out.setdefault(prop, f"{name}: {why}")
    return out


def resolve(names: list[str]) -> tuple[list[str], dict[str, Callable]]:
    """The fix names (expanded) and the union of their seam replacements; conflicts are errors."""
    fixes = expand(names)
    merged: dict[str, Callable] = {}
    owner: dict[str, str] = {}
    valid = set(seams.names())
    for name in fixes:
        for seam_name, fn in module(name).REPLACES.items():
            if seam_name not in valid:
                raise ConfigError(f"fix {name} replaces unknown seam {seam_name!r}")
            if seam_name in merged:
                raise ConfigError(f"fixes {owner[seam_name]} and {name} both replace seam "
                                  f"{seam_name!r}; they cannot be combined")
            merged[seam_name], owner[seam_name] = fn, name
    return fixes, merged


def make_config(fixes: list | tuple = ("baseline",), profile: str | None = None,
                **assumptions: Any) -> Config:
    """Build a Config from fix names and assumptions (validated; ConfigError on bad input)."""
    values = assumptions_for(profile, **assumptions)
    names, seam_map = resolve(list(fixes))
    return Config(assumptions=FMap.of(values), fixes=tuple(names), seams=FMap.of(seam_map))
