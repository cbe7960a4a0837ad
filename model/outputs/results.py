"""`results/`: the verdict and corpus matrices, merged by cell across runs, and marked when partial.

A run of `pytest model/` may cover only part of the matrix (`--fix`, `--env`, `--profile-assume`,
`-k`) or stop early (Ctrl-C). So the results are kept per cell, with the run that produced each:

- `results/cells.json` (`handover.results/1`): every verdict cell (`fix set@profile#environment`)
  and corpus cell (`trace@fix set`) with the id of the run that produced it, and each run's
  command, settings and status (`complete`, `interrupted`, `incomplete`: some selected cells did
  not finish) with the cells it selected but did not finish.
- A run merges its finished cells over the stored ones: a subset run replaces its own cells and
  keeps the others. A run of the full selection (every fix set, named profile and environment)
  that finishes every cell starts the store afresh, so it drops cells of custom (`--assume`)
  profiles and of runs long gone.
- A stored cell whose counterexample files are gone (an interrupted re-run of that cell deleted
  them before it could write new ones) is dropped, and shows as missing.
- `results/verdicts.{md,json}` and `results/corpus.{md,json}` are rebuilt from the store. Both say
  whether the matrix is complete; when it is not, which cells are missing, and which runs the
  cells come from.
- Counterexample and model-error files that no stored cell points to are deleted.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterable

FORMAT = "handover.results/1"
STORE = "cells.json"
ARTIFACT_DIRS = ("counterexamples", "model-errors")
"""Folders under results/ whose files belong to cells (deleted when no stored cell points to them)."""


def cell_key(cell: dict) -> str:
    return f"{cell['fix_set']}@{cell['profile']}#{cell.get('environment', 'faults')}"


def corpus_key(cell: dict) -> str:
    return f"{cell['trace']}@{cell['fix_set']}"


def new_run(command: str, settings: dict, expected: Iterable[str], expected_corpus: Iterable[str],
            interrupted: bool, finished: Iterable[str], finished_corpus: Iterable[str],
            full: bool) -> dict:
    """The record of one run: what it selected, what it finished, and its status."""
    expected, expected_corpus = list(expected), list(expected_corpus)
    done, done_corpus = set(finished), set(finished_corpus)
    missing = [k for k in expected if k not in done]
    missing_corpus = [k for k in expected_corpus if k not in done_corpus]
    status = ("interrupted" if interrupted else
              "incomplete" if missing or missing_corpus else "complete")
    return {"id": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "command": command,
            "settings": settings, "status": status, "full_selection": full,
            "selected": len(expected), "finished": len(expected) - len(missing),
            "missing": missing, "selected_corpus": len(expected_corpus),
            "missing_corpus": missing_corpus}


def load_store(out_dir: Path) -> dict:
    path = out_dir / STORE
    try:
        store = json.loads(path.read_text())
        if store.get("format") == FORMAT:
            return store
    except (OSError, ValueError):
        pass
    return {"format": FORMAT, "runs": {}, "cells": {}, "corpus": {}}


def _files_of(cell: dict) -> list[str]:
    out = [v.get(k) for v in cell.get("properties", {}).values() for k in ("counterexample", "page")]
    out += [e.get("trace") for e in cell.get("errors", [])]
    return [p for p in out if p]


def _exists(path: str, root: Path) -> bool:
    p = Path(path)
    return p.exists() or (root / p).exists()


def merge(store: dict, run: dict, cells: list[dict], corpus: list[dict], root: Path) -> dict:
    """The store after `run`: its finished cells over the stored ones (or alone, if it was a
    complete run of the full selection); stored cells whose files are gone are dropped."""
    rid = run["id"]
    while rid in store["runs"]:           # two runs within one second
        rid = run["id"] = rid + "+"
    if run["full_selection"] and run["status"] == "complete":
        store = {"format": FORMAT, "runs": {}, "cells": {}, "corpus": {}}
    kept = {k: c for k, c in store["cells"].items()
            if all(_exists(p, root) for p in _files_of(c))}
    for c in cells:
        kept[cell_key(c)] = dict(c, run=rid)
    kept_corpus = dict(store["corpus"])
    for c in corpus:
        kept_corpus[corpus_key(c)] = dict(c, run=rid)
    runs = dict(store["runs"], **{rid: run})
    used = {c["run"] for c in kept.values()} | {c["run"] for c in kept_corpus.values()}
    return {"format": FORMAT, "runs": {r: v for r, v in runs.items() if r in used or r == rid},
            "cells": kept, "corpus": kept_corpus}


def save_store(store: dict, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / STORE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(store, indent=1) + "\n")
    tmp.replace(path)
    return path


def clean(store: dict, out_dir: Path, root: Path) -> list[Path]:
    """Delete the counterexample and model-error files no stored cell points to."""
    wanted = set()
    for c in store["cells"].values():
        for p in _files_of(c):
            q = Path(p)
            wanted.add((q if q.is_absolute() else root / q).resolve())
    removed = []
    for name in ARTIFACT_DIRS:
        folder = out_dir / name
        if not folder.is_dir():
            continue
        for f in sorted(folder.iterdir()):
            if f.is_file() and f.suffix in (".json", ".md") and f.resolve() not in wanted:
                f.unlink()
                removed.append(f)
    return removed


def completeness(keys: Iterable[str], full: Iterable[str]) -> dict:
    """{"complete": bool, "cells": n, "of": m, "missing": [...]} against the full matrix."""
    have, full = set(keys), list(full)
    missing = [k for k in full if k not in have]
    return {"complete": not missing, "cells": len(full) - len(missing), "of": len(full),
            "missing": missing}


def status_lines(store: dict, what: str, state: dict, run: dict) -> list[str]:
    """Markdown lines saying whether a matrix is complete, what is missing, where cells come from."""
    section = "cells" if what == "verdict" else "corpus"
    lines = []
    if state["complete"]:
        lines.append(f"Complete: all {state['of']} {what} cells.")
    else:
        shown = ", ".join(f"`{k}`" for k in state["missing"][:40])
        more = len(state["missing"]) - 40
        lines.append(f"**PARTIAL**: {state['cells']} of {state['of']} {what} cells; missing "
                     f"({len(state['missing'])}): {shown}" + (f" and {more} more" if more > 0
                                                               else "") + ".")
    by_run: dict[str, int] = {}
    for c in store[section].values():
        by_run[c["run"]] = by_run.get(c["run"], 0) + 1
    if by_run:
        lines.append("")
        lines.append("Cells by run:")
        for rid in sorted(by_run):
            r = store["runs"].get(rid, {})
            lines.append(f"- {rid}: {by_run[rid]} cells, `{r.get('command', '?')}` "
                         f"({r.get('status', '?')}: finished {r.get('finished', '?')} of the "
                         f"{r.get('selected', '?')} verdict cells it selected)")
    if run["status"] != "complete":
        missing = run["missing"] if what == "verdict" else run["missing_corpus"]
        if missing:
            lines.append(f"- the last run ({run['id']}) was {run['status']}: it did not finish "
                         f"{len(missing)} of the cells it selected")
    return lines

