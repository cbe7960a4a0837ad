"""Cells, counterexample files and the verdict matrix."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from model import counterexample as CX
from model import driver as D
from model import properties as P
from model import runner
from model import verdicts as V
from model.cli import main
from model.trace import load

sys.path.insert(0, str(Path(__file__).parent))
from test_driver import planted_config  # noqa: E402


@pytest.fixture(scope="module")
def baseline_cell(tmp_path_factory):
    out = tmp_path_factory.mktemp("results") / "counterexamples"
    return V.evaluate("baseline", "actual-2025-10-17", settings=D.settings_for("ci", 60),
                      out_dir=out), out


def test_a_cell_has_a_verdict_for_every_property(baseline_cell):
    cell, _ = baseline_cell
    assert set(cell["properties"]) == set(P.ALL)
    assert V.violated(cell), "the baseline is broken under the reference profile"
    json.dumps(cell)   # plain JSON: xdist workers hand it to the controller


def test_every_counterexample_written_replays_to_its_violation(baseline_cell, capsys):
    cell, out = baseline_cell
    files = sorted(out.glob("*.json"))
    assert len(files) == len(V.violated(cell))
    for path in files:
        trace = load(path)
        (prop,) = trace.expectation("violates")
        assert prop in runner.run(trace).violations, path.name
        assert main(["replay", str(path), "--check"]) == 0, path.name
        md = path.with_suffix(".md").read_text()
        assert f"**{prop} is violated**" in md and "```mermaid" in md
    capsys.readouterr()


def test_the_planted_bug_leaves_a_replayable_counterexample(tmp_path):
    cfg = planted_config()
    cell = V.evaluate("planted-crash", "toy", cfg=cfg, settings=D.settings_for("ci", 40),
                      out_dir=tmp_path)
    v = cell["properties"]["BridgeNeverCrashes"]
    assert v["status"] == "violated" and v["steps"] <= v["found_steps"]
    trace = load(v["counterexample"])
    assert "BridgeNeverCrashes" in runner.run(trace, cfg).violations


def test_a_counterexample_that_does_not_replay_is_not_written(tmp_path):
    trace = D.make_trace([{"step": "connect", "region": "france"}], D.machine_for("baseline").cfg)
    with pytest.raises(CX.CounterexampleError):
        CX.write(trace, D.machine_for("baseline").cfg, "OneBridgePerRoom", "x", tmp_path)
    assert not list(tmp_path.iterdir())


def _cell(fix_set, profile, violated=(), runs=10):
    props = {p: ({"status": "violated", "detail": "d", "counterexample": f"{fix_set}-{p}.json",
                  "page": f"{fix_set}-{p}.md", "steps": 3, "found_steps": 9, "runs": 0}
                 if p in violated else {"status": "holds", "runs": runs}) for p in P.ALL}
    return {"fix_set": fix_set, "profile": profile, "properties": props, "errors": [],
            "witnesses": {n: 1 for n in P.WITNESSES}, "examples": runs, "steps": 0,
            "seconds": 1.0, "mode": "explore"}


def test_the_matrix_folds_profiles_into_one_row_per_fix_set():
    m = V.matrix([_cell("fix1+fix2", "a", ["OneBridgePerRoom"]), _cell("baseline", "a"),
                  _cell("baseline", "b", ["OneBridgePerRoom"])])
    assert list(m["rows"]) == ["baseline", "fix1+fix2"]           # registry order
    ob = m["rows"]["baseline"]["OneBridgePerRoom"]
    assert ob["status"] == "violated" and ob["profiles"] == ["b"]
    assert m["rows"]["baseline"]["NoZombieBridges"] == {
        "status": "holds", "runs": 20, "profiles": [], "held_under": ["a", "b"]}
    text = V.text(m)
    assert "holds (20 runs)" in text and "VIOLATED 1/2" in text
    md = V.markdown(m)
    assert "| baseline |" in md and "**violated** under b" in md


def test_write_puts_markdown_and_json_under_results(tmp_path):
    md, js = V.write(V.matrix([_cell("baseline", "a")]), tmp_path)
    assert json.loads(js.read_text())["faults"]["rows"]["baseline"]
    assert md.read_text().startswith("# Verdict matrix")


def test_one_matrix_per_environment(tmp_path):
    cells = [dict(_cell("baseline", "a"), environment="switching"), _cell("baseline", "a")]
    ms = V.matrices(cells)
    assert list(ms) == ["switching", "faults"]
    md, js = V.write(ms, tmp_path)
    text = md.read_text()
    assert text.index("Region switching") < text.index("With faults")
    assert set(json.loads(js.read_text())) == {"switching", "faults"}
