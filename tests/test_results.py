"""results/: partial runs are marked partial, runs merge by cell, stale counterexamples go, and
Ctrl-C in `pytest model/` never leaves a matrix that looks complete (model/outputs/results.py)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fixes

from model.outputs import results as R

ROOT = Path(__file__).resolve().parents[1]


def cell(fs: str, profile: str, env: str = "switching", files: tuple = ()) -> dict:
    props = {f"P{i}": {"status": "violated", "counterexample": f, "page": f}
             for i, f in enumerate(files)}
    return {"fix_set": fs, "profile": profile, "environment": env, "properties": props,
            "errors": []}


def run(status: str = "complete", full: bool = False, **kw) -> dict:
    keys = kw.pop("keys", [])
    return R.new_run("pytest model/", {}, keys, [], status == "interrupted", kw.get("done", keys),
                     [], full)


def test_a_subset_run_replaces_its_own_cells_and_keeps_the_others(tmp_path):
    first = R.merge(R.load_store(tmp_path), run(full=True, keys=["a@p#switching",
                                                                   "b@p#switching"]),
                    [cell("a", "p"), cell("b", "p")], [], tmp_path)
    (rid,) = first["runs"]
    second = R.merge(first, run(keys=["a@p#switching"]), [dict(cell("a", "p"), examples=7)], [],
                     tmp_path)
    assert set(second["cells"]) == {"a@p#switching", "b@p#switching"}
    assert second["cells"]["a@p#switching"]["examples"] == 7
    assert second["cells"]["a@p#switching"]["run"] != rid
    assert second["cells"]["b@p#switching"]["run"] == rid and len(second["runs"]) == 2


def test_a_complete_full_run_starts_afresh(tmp_path):
    store = R.merge(R.load_store(tmp_path), run(keys=["x@custom#faults"]),
                    [cell("x", "custom", "faults")], [], tmp_path)
    store = R.merge(store, run(full=True, keys=["a@p#switching"]), [cell("a", "p")], [], tmp_path)
    assert set(store["cells"]) == {"a@p#switching"} and len(store["runs"]) == 1


def test_an_interrupted_full_run_does_not_start_afresh(tmp_path):
    store = R.merge(R.load_store(tmp_path), run(keys=["b@p#switching"]), [cell("b", "p")], [],
                    tmp_path)
    r = run("interrupted", full=True, keys=["a@p#switching", "b@p#switching"],
            done=["a@p#switching"])
    assert r["status"] == "interrupted" and r["missing"] == ["b@p#switching"]
    store = R.merge(store, r, [cell("a", "p")], [], tmp_path)
    assert set(store["cells"]) == {"a@p#switching", "b@p#switching"}


def test_a_stored_cell_whose_counterexample_is_gone_is_dropped(tmp_path):
    f = tmp_path / "counterexamples" / "b.json"
    f.parent.mkdir()
    f.write_text("{}")
    store = R.merge(R.load_store(tmp_path), run(keys=["b@p#switching"]),
                    [cell("b", "p", files=(str(f),))], [], tmp_path)
    f.unlink()      # an interrupted re-run of b deleted it before writing a new one
    store = R.merge(store, run(keys=["a@p#switching"]), [cell("a", "p")], [], tmp_path)
    assert set(store["cells"]) == {"a@p#switching"}


def test_files_no_cell_points_to_are_removed(tmp_path):
    cx = tmp_path / "counterexamples"
    cx.mkdir()
    (tmp_path / "model-errors").mkdir()
    keep, stale, err = cx / "keep.json", cx / "old.md", tmp_path / "model-errors" / "e.json"
    for f in (keep, stale, err):
        f.write_text("{}")
    store = R.merge(R.load_store(tmp_path), run(keys=["a@p#switching"]),
                    [cell("a", "p", files=(str(keep),))], [], tmp_path)
    assert R.clean(store, tmp_path, tmp_path) == [stale, err]
    assert keep.exists() and not stale.exists()


def test_completeness_names_the_missing_cells():
    state = R.completeness(["a@p#switching"], ["a@p#switching", "a@q#switching"])
    assert state == {"complete": False, "cells": 1, "of": 2, "missing": ["a@q#switching"]}


# --- pytest model/ in a subprocess ---------------------------------------------------------------

SELECT = ["model/test_verify.py", "-k", "fix_set_under_profile", "--fix", "baseline",
          "--profile-assume", "actual-2025-10-17", "--profile-assume", "H2-per-region",
          "--env", "switching", "--budget", "2", "-p", "sigint_plugin"]
CELLS = {"baseline@actual-2025-10-17#switching", "baseline@H2-per-region#switching"}

PLUGIN = """
import os, signal
WHEN = {when!r}
_worker = []
def pytest_configure(config):
    _worker.append(hasattr(config, "workerinput"))
def pytest_runtest_logreport(report):
    # Ctrl-C, for real (SIGINT), at a fixed point of the run (in the process the user sees)
    if not _worker[0] and "test_fix_set_under_profile" in report.nodeid and report.when == WHEN:
        os.kill(os.getpid(), signal.SIGINT)
"""


def _has_xdist() -> bool:
    import importlib.util
    return importlib.util.find_spec("xdist") is not None


def pytest_model(tmp_path: Path, when: str, workers: bool = False) -> subprocess.CompletedProcess:
    (tmp_path / "sigint_plugin.py").write_text(PLUGIN.format(when=when))
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    spread = ["-n", "2"] if workers else ["-p", "no:xdist"]
    return subprocess.run([sys.executable, "-m", "pytest", *SELECT, *spread, "--results",
                           str(tmp_path / "results")], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_ctrl_c_after_the_first_cell_marks_the_matrix_partial(tmp_path):
    """Under pytest-xdist (`-n 2`, as the README runs it) when installed: the controller is
    interrupted as the first cell's report comes in; workers write nothing themselves."""
    got = pytest_model(tmp_path, "call", workers=_has_xdist())
    assert got.returncode == pytest.ExitCode.INTERRUPTED, got.stdout[-2000:]
    assert "this run is INTERRUPTED: 1 of 2 selected cells finished" in got.stdout
    store = json.loads((tmp_path / "results" / "cells.json").read_text())
    (r,) = store["runs"].values()
    (done,) = store["cells"]
    (missing,) = CELLS - {done}
    assert r["status"] == "interrupted" and r["missing"] == [missing]
    md = (tmp_path / "results" / "verdicts.md").read_text()
    assert "**PARTIAL**" in md and f"`{missing}`" in md
    assert "was interrupted: it did not finish 1 of the cells it selected" in md
    data = json.loads((tmp_path / "results" / "verdicts.json").read_text())
    assert data["switching"]["status"]["complete"] is False
    assert missing in data["switching"]["status"]["missing"]


def test_ctrl_c_before_any_cell_finishes_leaves_results_unchanged(tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    before = {"verdicts.md": "# an earlier matrix\n", "cells.json": '{"format": "x"}\n'}
    for name, text in before.items():
        (out / name).write_text(text)
    got = pytest_model(tmp_path, "setup")      # SIGINT before the first cell runs
    assert got.returncode == pytest.ExitCode.INTERRUPTED
    assert "interrupted before any cell finished" in got.stdout
    assert {p.name: p.read_text() for p in out.iterdir()} == before


def test_a_corpus_only_run_keeps_the_stored_cells_and_their_pages(tmp_path):
    """`pytest model/test_corpus.py` (no --fix: every fix set) replays the whole corpus but no
    cell: it must not be taken for a complete full run, which starts the store afresh and deletes
    every counterexample page (it did, once)."""
    out = tmp_path / "results"
    page = out / "counterexamples" / "baseline__H2-per-region.switching__X.md"
    page.parent.mkdir(parents=True)
    page.write_text("a page\n")
    stored = cell("baseline", "H2-per-region", files=(str(page),))
    store = R.merge(R.load_store(out), run(full=True), [stored], [], ROOT)
    R.save_store(store, out)
    got = subprocess.run([sys.executable, "-m", "pytest", "model/test_corpus.py", "-q",
                          "-p", "no:xdist", "--results", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert got.returncode == 0, got.stdout[-2000:]
    after = json.loads((out / "cells.json").read_text())
    assert list(after["cells"]) == [R.cell_key(stored)] and page.exists()
    assert len(after["corpus"]) == len(fixes.known()) * len(list((ROOT / "model/corpus").glob("*.json")))


def test_fix_restricts_the_corpus_tests():
    got = subprocess.run([sys.executable, "-m", "pytest", "model/test_corpus.py", "--collect-only",
                          "-q", "--fix", "baseline", "--fix", "status-rejoin", "-p", "no:xdist"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    ids = [line for line in got.stdout.splitlines() if "::" in line]
    assert ids and not any("team-sequence" in i.split("[", 1)[1].split("@")[-1] for i in ids
                           if "test_fix_introduces_no_violation" in i)
    assert not any("team-sequence-rejoins" in i for i in ids
                   if "test_corpus_trace_meets_its_expectation" in i)
    assert {i.split("@")[-1].rstrip("]") for i in ids
            if "test_fix_introduces_no_violation" in i} == {"baseline", "status-rejoin"}


def test_budget_bounds_a_nightly_cell():
    """`--profile nightly --budget N`: N examples per round and no Hypothesis shrink phase, whose
    cost max_examples does not bound (model/engines/shrink.py shrinks instead)."""
    from hypothesis import Phase
    from model.conftest import Selection
    s = Selection("nightly", ("baseline",), (), 3, "rounds").settings()
    assert s.max_examples == 3 and Phase.shrink not in s.phases
    assert Phase.shrink in Selection("nightly", ("baseline",), (), None, "rounds").settings().phases


def test_a_partial_matrix_is_not_published_to_docs(tmp_path, monkeypatch, capsys):
    from model.outputs import verdicts as V
    monkeypatch.chdir(tmp_path)        # --docs writes docs/verdicts.md under the working folder
    cells = [dict(cell("baseline", "actual-2025-10-17"), examples=1, steps=1, mode="explore",
                  witnesses={}, seconds=0.1,
                  properties={p: {"status": "holds", "runs": 1} for p in V.P.ALL})]
    state = R.completeness(["baseline@actual-2025-10-17#switching"],
                           ["baseline@actual-2025-10-17#switching", "baseline@H2-per-region#switching"])
    V.write(V.matrices(cells), tmp_path / "results", status=state, note=["**PARTIAL**"])
    assert V.main(["--results", str(tmp_path / "results"), "--docs"]) == 2
    assert "PARTIAL (1 of 2 cells)" in capsys.readouterr().err
    assert not (tmp_path / "docs").exists()


def test_the_counterexample_name_in_docs_driver_is_the_one_written():
    """docs/driver.md names the file a run writes (the name `verdicts.evaluate` gives it)."""
    from model.outputs import counterexample as CX
    doc = (ROOT / "docs" / "driver.md").read_text()
    name = CX.stem("baseline", "actual-2025-10-17.switching", "AudioReachesActiveRegion")
    assert f"results/counterexamples/{name}.json" in doc
    assert "<fix set>__<profile>.<environment>__<Property>" in doc
