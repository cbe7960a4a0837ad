"""The regression corpus: every pinned trace in `model/corpus/` replayed against every fix set.

A trace's `expect` pins what its own fix set must show. Against the other fix sets the replay is a
matrix cell, trace x fix set -> holds / violates (which properties) / not replayable (a micro step
that the fix makes impossible). A property that a fix set violates on a trace where the baseline
holds it is a *regression the fix introduces*, and fails the test.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import fixes
from model.engines import runner
from model.properties.properties import ALL
from model.engines.trace import TraceError, load

CORPUS_DIR = Path(__file__).parent / "corpus"
CORPUS = sorted(CORPUS_DIR.glob("*.json"))


def replay(path: Path, fix_set: str) -> dict:
    """One matrix cell: the properties violated when `path` is replayed with `fix_set`."""
    trace = load(path)
    try:
        result = runner.run(trace, runner.config_for(trace, [fix_set]))
    except TraceError as e:
        return {"trace": path.stem, "fix_set": fix_set, "status": "not replayable",
                "detail": str(e), "violated": []}
    return {"trace": path.stem, "fix_set": fix_set, "violated": result.violated,
            "status": "violates" if result.violated else "holds"}


def selected_traces(fix_sets) -> list[Path]:
    """The corpus traces whose own fix set is among `fix_sets` (`pytest model/ --fix`)."""
    wanted = [set(fixes.expand([fs])) for fs in fix_sets]
    return [p for p in CORPUS if set(fixes.expand(list(load(p).fixes))) in wanted]


def full_keys() -> list[str]:
    """Every cell of the full corpus matrix: `trace@fix set`."""
    return [f"{p.stem}@{fs}" for p in CORPUS for fs in fixes.known()]


def pytest_generate_tests(metafunc):
    """`--fix` restricts the corpus as it restricts the verdict cells: the replays run only
    against the selected fix sets, and a trace's own expectation is checked only when its fix
    set is selected."""
    fix_sets = metafunc.config._handover.fix_sets
    if metafunc.function.__name__ == "test_corpus_trace_meets_its_expectation":
        paths = selected_traces(fix_sets)
        if not paths:   # said, not an anonymous "empty parameter set"
            paths = [pytest.param(None, marks=pytest.mark.skip(
                reason=f"no corpus trace is pinned to the selected fix sets ({', '.join(fix_sets)}); "
                       "their replays of every trace run in test_fix_introduces_no_violation"))]
            metafunc.parametrize("path", paths, ids=["none-pinned"])
            return
        metafunc.parametrize("path", paths, ids=[p.stem for p in paths])
    elif metafunc.function.__name__ == "test_fix_introduces_no_violation":
        pairs = [(p, fs) for p in CORPUS for fs in fix_sets]
        metafunc.parametrize("path,fix_set", pairs, ids=[f"{p.stem}@{fs}" for p, fs in pairs])


def test_corpus_trace_meets_its_expectation(path):
    trace = load(path)
    result = runner.run(trace)
    assert trace.expect, f"{path.name} pins no expect"
    assert result.expectation_met(), (
        f"{path.name}: expected {dict((k, list(v)) for k, v in trace.expect)}, "
        f"violated {result.violated}")


def test_fix_introduces_no_violation(path, fix_set, request):
    cell = replay(path, fix_set)
    base = replay(path, "baseline")
    cell["introduced"] = ([p for p in cell["violated"] if p not in base["violated"]]
                          if base["status"] != "not replayable" else [])
    request.node.user_properties.append(("handover_corpus", json.dumps(cell)))
    declared = fixes.introduces([fix_set])   # by design, with a reason (fixes/*.py INTRODUCES)
    unexplained = [p for p in cell["introduced"] if p not in declared]
    assert not unexplained, (
        f"{fix_set} introduces {', '.join(unexplained)} on {path.name}, which the "
        f"baseline does not violate (replay: handover replay {path} --fix {fix_set})")


# --- the corpus matrix (printed by conftest.py) -------------------------------------------------

def corpus_matrix(cells: list[dict]) -> dict:
    order = {n: i for i, n in enumerate(fixes.known())}
    traces = sorted({c["trace"] for c in cells})
    fix_sets = sorted({c["fix_set"] for c in cells}, key=lambda n: order.get(n, len(order)))
    grid = {(c["trace"], c["fix_set"]): c for c in cells}
    return {"traces": traces, "fix_sets": fix_sets,
            "cells": {t: {f: grid[(t, f)] for f in fix_sets if (t, f) in grid} for t in traces}}


_ABBREV = {p: "".join(ch for ch in p if ch.isupper()) for p in ALL}


def _cell_text(c: dict) -> str:
    if c["status"] == "not replayable":
        return "n/a"
    if c["status"] == "holds":
        return "holds"
    text = ",".join(_ABBREV[p] for p in c["violated"])
    return text + (" NEW:" + ",".join(_ABBREV[p] for p in c["introduced"]) if c.get("introduced")
                   else "")


def text(m: dict) -> str:
    """Rows: fix sets; columns: traces; violated properties by initials (legend below)."""
    cols = m["traces"]
    cells = {(f, t): _cell_text(m["cells"][t][f]) for t in cols for f in m["fix_sets"]
             if f in m["cells"][t]}
    w0 = max([len("fix set")] + [len(f) for f in m["fix_sets"]])
    widths = [max([len(t)] + [len(cells.get((f, t), "")) for f in m["fix_sets"]]) for t in cols]
    lines = ["  ".join([f"{'fix set':<{w0}}"] + [f"{t:<{w}}" for t, w in zip(cols, widths)])]
    for f in m["fix_sets"]:
        lines.append("  ".join([f"{f:<{w0}}"] + [f"{cells.get((f, t), ''):<{w}}"
                                                 for t, w in zip(cols, widths)]))
    lines.append("legend: " + ", ".join(f"{a}={p}" for p, a in _ABBREV.items())
                 + "; NEW = violated here but not by the baseline; n/a = not replayable")
    return "\n".join(lines)


def write(m: dict, out_dir: Path, note: list[str] | None = None) -> Path:
    """`corpus.json` and `corpus.md`; `note` (complete or PARTIAL, runs) goes under the title."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "corpus.json").write_text(json.dumps(m, indent=2) + "\n")
    path = out_dir / "corpus.md"
    head = "# Corpus replay: fix set x trace\n\n" + ("\n".join(note) + "\n\n" if note else "")
    path.write_text(head + "```\n" + text(m) + "\n```\n")
    return path
