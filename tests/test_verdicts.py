"""Cells, counterexample files and the verdict matrix."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from model.engines import classify as C
from model.outputs import counterexample as CX
from model.outputs import manifest as M
from model.outputs import report as R
from model import session as run_session
from model.engines import driver as D
from model.properties import properties as P
from model.engines import runner
from model.outputs import verdicts as V
from model.cli import main
from model.engines.trace import load

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


# --- classes in cells, the manifest, the per-fix page -----------------------------------------

def _classed(fix_set, profile, env="switching", violated=()):
    cell = dict(_cell(fix_set, profile, violated), environment=env)
    for p in violated:
        cell["properties"][p].update({"class": violated[p], "signature": f"{p}|{violated[p]}|x"})
    return cell


def test_a_matrix_cell_names_its_least_contrived_class():
    m = V.matrix([_classed("baseline", "a", violated={"AudioReachesActiveRegion": "timer-race"}),
                  _classed("baseline", "b", violated={"AudioReachesActiveRegion": "everyday"})])
    agg = m["rows"]["baseline"]["AudioReachesActiveRegion"]
    assert agg["class"] == "everyday" and set(agg["classes"]) == {"everyday", "timer-race"}
    assert "VIOLATED 2/2 everyday" in V.text(m)
    assert "everyday [3 steps]" in V.markdown(m)


def test_evaluate_is_reproducible_and_classifies_what_it_finds(tmp_path):
    def cell(out):
        c = V.evaluate("baseline", "actual-2025-10-17", settings=D.settings_for("dev", 25),
                       environment="switching", out_dir=tmp_path / out, calm_budget=10)
        c.pop("seconds")
        return json.dumps(c).replace(str(tmp_path / out), "")
    first, second = cell("one"), cell("two")
    assert first == second
    record = json.loads(first)
    for prop in V.violated(record):
        v = record["properties"][prop]
        assert v["class"] in C.CLASSES and v["signature"].startswith(f"{prop}|{v['class']}|")
    assert set(record["diagnostics"]) == set(P.DIAGNOSTICS)


def test_the_manifest_names_cells_that_changed_either_way(tmp_path):
    manifest = {"baseline@a#switching": ["AudioReachesActiveRegion"], "fixed@a#switching": []}
    assert M.check(manifest, "baseline@a#switching", ["AudioReachesActiveRegion"]).passes
    worse = M.check(manifest, "fixed@a#switching", ["GraceKeepsAudio"])
    assert not worse.passes and worse.newly_violated == ("GraceKeepsAudio",)
    assert "CHANGED: now VIOLATES GraceKeepsAudio" in worse.text()
    better = M.check(manifest, "baseline@a#switching", [])
    assert not better.passes and "now HOLDS AudioReachesActiveRegion" in better.text()
    assert M.check(manifest, "brand-new@a#switching", []).passes            # new, holds all
    new_bad = M.check(manifest, "brand-new@a#switching", ["OneBridgePerRoom"])
    assert not new_bad.passes and "NEW" in new_bad.text()
    path = M.dump(M.updated(manifest, {"fixed@a#switching": ["GraceKeepsAudio"]}), tmp_path / "m.json")
    assert M.load(path)["fixed@a#switching"] == ["GraceKeepsAudio"]
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(M.ManifestError):
        M.load(tmp_path / "bad.json")


def test_a_cell_test_fails_naming_the_changed_property():
    cell = dict(_cell("baseline", "a", ["GraceKeepsAudio"]), environment="switching")
    assert run_session.expected_failure({"baseline@a#switching": ["GraceKeepsAudio"]}, cell) is None
    why = run_session.expected_failure({"baseline@a#switching": []}, cell)
    assert why.startswith("baseline@a#switching: CHANGED: now VIOLATES GraceKeepsAudio")


def test_the_checked_in_manifest_pins_the_reference_baseline_cell(tmp_path):
    """Fails when the default run's verdict of this cell changes: re-run `pytest model/ -n 2
    --update-manifest` after reviewing the change."""
    manifest = M.load()
    key = M.key("baseline", "actual-2025-10-17", "switching")
    assert key in manifest, "model/expected-verdicts.json does not pin the baseline"
    cell = V.evaluate("baseline", "actual-2025-10-17", settings=D.settings_for("dev"),
                      environment="switching", out_dir=tmp_path)
    assert sorted(V.violated(cell)) == manifest[key]


def test_strictly_better_is_a_partial_order_over_violated_cells():
    cells = [_classed("baseline", "a", violated={"AudioReachesActiveRegion": "everyday",
                                                 "GraceKeepsAudio": "everyday"}),
             _classed("fix1+fix2", "a", violated={"AudioReachesActiveRegion": "everyday"}),
             _classed("report-fixes", "a", violated={"NoZombieBridges": "timer-race"}),
             _classed("recommended", "a")]
    better = R.strictly_better(cells)
    assert better["recommended"] == ["baseline", "fix1+fix2", "report-fixes"]
    assert better["fix1+fix2"] == ["baseline"] and better["report-fixes"] == []
    assert R.ranking(better) == [["recommended"], ["fix1+fix2", "report-fixes"], ["baseline"]]
    rep = R.build(cells, fam={"recommended": {"report-repro-shared": []},
                              "baseline": {"report-repro-shared": ["AudioReachesActiveRegion"]}})
    assert rep["fix_sets"]["report-fixes"]["introduces"] == [("switching", "a", "NoZombieBridges")]
    md = R.markdown(rep)
    assert "## recommended" in md and "fixed: every property holds" in md
    assert "- **Holds every property** under every profile in: switching." in md
    (line,) = [x for x in R.short(rep) if x.startswith("recommended:")]
    assert line.startswith("recommended: report family FIXED") and "holds everything" in line
