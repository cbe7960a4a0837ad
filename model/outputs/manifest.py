"""The manifest: the expected verdict of every cell of the verdict matrix, checked in as data.

In the manner of tlaplus/Examples' manifest (house-style.md): `model/expected-verdicts.json` maps
each cell key, `<fix set>@<assumption profile>#<environment>`, to the sorted list of properties
the default run (`pytest model/`) finds violated there; an empty list is a cell where everything
holds. `pytest model/` passes when every cell it runs matches, and fails naming each cell whose
verdict changed, either way (a property newly violated, or one that now holds). A cell the manifest
does not know (a new fix set, a custom `--assume` profile) is reported as new and passes when it
holds everything. After a reviewed change, `pytest model/ -n 2 --update-manifest` rewrites the
entries of the cells it ran (docs/verdicts.md, "The manifest").
"""
from __future__ import annotations

import json
from pathlib import Path

import attrs

MANIFEST = Path(__file__).parents[1] / "expected-verdicts.json"
FORMAT = "handover.expected-verdicts/1"
UPDATE_COMMAND = "pytest model/ -n 2 --update-manifest"


class ManifestError(ValueError):
    """The manifest file is unreadable or malformed (one line)."""


def key(fix_set: str, profile: str, environment: str) -> str:
    return f"{fix_set}@{profile}#{environment}"


def load(path: str | Path = MANIFEST) -> dict[str, list[str]]:
    """Cell key -> expected violated properties; {} when the file does not exist."""
    p = Path(path)
    if not p.exists():
        return {}
    try:
        data = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ManifestError(f"{p}: not a readable manifest ({e})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT \
            or not isinstance(data.get("cells"), dict):
        raise ManifestError(f"{p}: \"format\" must be {FORMAT!r} with a \"cells\" object")
    return {k: list(v) for k, v in data["cells"].items()}


def dump(cells: dict[str, list[str]], path: str | Path = MANIFEST) -> Path:
    """Write the manifest, one cell per line, sorted (diffs read in reviews)."""
    p = Path(path)
    lines = [f"    {json.dumps(k)}: {json.dumps(sorted(v))}" for k, v in sorted(cells.items())]
    p.write_text("{\n"
                 f'  "format": "{FORMAT}",\n'
                 f'  "regenerate": "{UPDATE_COMMAND}",\n'
                 '  "cells": {\n' + ",\n".join(lines) + "\n  }\n}\n")
    return p


@attrs.frozen
class Check:
    """One cell against the manifest."""
    key: str
    status: str                  # "matches" | "changed" | "new"
    violated: tuple = ()         # what the run found violated
    newly_violated: tuple = ()   # violated now, expected to hold
    now_holds: tuple = ()        # expected violated, holds now

    @property
    def passes(self) -> bool:
        return self.status == "matches" or (self.status == "new" and not self.violated)

    def text(self) -> str:
        if self.status == "matches":
            return f"{self.key}: as expected" + (f" (violates {', '.join(self.violated)})"
                                                 if self.violated else " (holds everything)")
        if self.status == "new":
            return (f"{self.key}: NEW (not in the manifest): "
                    + (f"violates {', '.join(self.violated)}" if self.violated
                       else "holds everything"))
        parts = []
        if self.newly_violated:
            parts.append(f"now VIOLATES {', '.join(self.newly_violated)}")
        if self.now_holds:
            parts.append(f"now HOLDS {', '.join(self.now_holds)}")
        return f"{self.key}: CHANGED: " + "; ".join(parts) + " (expected by the manifest: " \
            + (", ".join(self.expected) or "holds everything") + ")"

    @property
    def expected(self) -> tuple:
        return tuple(sorted((set(self.violated) - set(self.newly_violated))
                            | set(self.now_holds)))


def check(manifest: dict[str, list[str]], cell_key: str, violated) -> Check:
    found = tuple(sorted(violated))
    if cell_key not in manifest:
        return Check(cell_key, "new", found)
    expected = set(manifest[cell_key])
    more = tuple(sorted(set(found) - expected))
    fewer = tuple(sorted(expected - set(found)))
    return Check(cell_key, "changed" if more or fewer else "matches", found, more, fewer)


def updated(manifest: dict[str, list[str]], results: dict[str, list[str]]) -> dict[str, list[str]]:
    """The manifest with the given cells' verdicts replaced (cells not run keep theirs)."""
    out = dict(manifest)
    out.update({k: sorted(v) for k, v in results.items()})
    return out


__all__ = ["MANIFEST", "FORMAT", "UPDATE_COMMAND", "ManifestError", "key", "load", "dump", "Check",
           "check", "updated"]
