"""The exhaustive explorer: the generic engine on a toy, the handover key, liveness, the CLI."""
from __future__ import annotations

import json
import random

import attrs
import networkx as nx
import pytest

from model.engines import bfs, liveness as L, statekey
from model.system import world as W
from model.cli import main
from model.system.clock import Clock
from fixes import make_config
from model.engines.explore import HandoverSystem, run_cell
from model.engines.runner import run
from model.engines.trace import load


# --- the generic engine on a toy ----------------------------------------------------------------

class Grid:
    """States (x, y), 0 <= x, y <= 3; steps "x" and "y" add one. "Corner": the state (3, 2).
    "Diagonal": a step "y" taken from a state with x == y (a violation on the way)."""

    def initial(self):
        return (0, 0)

    def successors(self, s):
        x, y = s
        if x < 3:
            yield "x", (x + 1, y), {}
        if y < 3:
            yield "y", (x, y + 1), ({"Diagonal": f"y from {s}"} if x == y and s != (0, 0) else {})

    def key(self, s):
        return s

    def check(self, s, props):
        return {"Corner": "at (3, 2)"} if s == (3, 2) and "Corner" in props else {}


def states_within(d: int) -> int:
    return sum(1 for x in range(4) for y in range(4) if x + y <= d)


@pytest.mark.parametrize("depth", [0, 1, 2, 4, 6, 9])
def test_toy_state_counts_and_depth(depth):
    ex = bfs.explore(Grid(), depth, ("Never",))
    assert ex.states == states_within(depth)
    assert ex.depth_done == depth and ex.status("Never") == "holds"


def test_toy_shortest_counterexamples():
    ex = bfs.explore(Grid(), 9, ("Corner", "Diagonal"))
    assert ex.found["Corner"].depth == 5
    path = ex.counterexample("Corner")
    assert len(path) == 5 and path.count("x") == 3 and path.count("y") == 2
    # on the way: the first "y" step from (1, 1) needs x, y (2 steps) and then y: 3 steps
    assert ex.counterexample("Diagonal")[-1] == "y" and len(ex.counterexample("Diagonal")) == 3
    assert ex.stopped == "all-violated" and ex.depth_done == 5
    # the graph is the networkx graph of the grid: shortest paths are the BFS depths
    assert nx.shortest_path_length(ex.graph, 0)[ex.found["Corner"].node] == 5


def test_toy_limits_never_claim_unfinished_depth():
    ex = bfs.explore(Grid(), 6, ("Corner",), max_states=7)
    assert ex.stopped == "max-states" and ex.states == 7
    assert ex.depth_done == 2            # 6 states within depth 2; level 3 was cut off
    assert ex.status("Corner") == "incomplete"
    ex = bfs.explore(Grid(), 6, ("Corner",), time_limit=1e-9)
    assert ex.stopped == "time-limit" and ex.status("Corner") == "incomplete"


def test_toy_model_errors_are_recorded_not_verdicts():
    class Broken(Grid):
        def successors(self, s):
            yield from super().successors(s)
            if s == (1, 0):
                yield "boom", RuntimeError("model bug"), {}
    ex = bfs.explore(Broken(), 3, ("Corner",))
    assert ex.errors and ex.errors[0][0] == "RuntimeError: model bug"
    assert ex.path(ex.errors[0][1]) + [ex.errors[0][2]] == ["x", "boom"]


# --- the handover state key ---------------------------------------------------------------------

CFG = make_config(["baseline"])
PROPS = ("NoStaleTokenUse", "BridgeNeverCrashes", "AudioReachesActiveRegion",
         "BridgeStatusTruthful", "NoZombieBridges", "GraceKeepsAudio", "OneBridgePerRoom")


def _labels_and_verdicts(system, w, swap=None):
    from model.engines.statekey import _rename
    succ = sorted((_rename(json.dumps(label, sort_keys=True), swap),
                   None if isinstance(s, BaseException) else system.key(s), sorted(v))
                  for label, s, v in system.successors(w))
    return succ, sorted(system.check(w, PROPS))


def _walk(system, w, rng, n):
    out = [w]
    for _ in range(n):
        succ = [s for _, s, _ in system.successors(w) if not isinstance(s, BaseException)]
        if not succ:
            break
        w = rng.choice(succ)
        out.append(w)
    return out


def test_key_soundness_time_shift_random_walks():
    """A world shifted by whole seconds has the same key at every step of the same walk, and the
    same successors (labels, keys) and verdicts: every time field is normalised (TIME_FIELDS is
    complete for what the walks reach) and time shifts change no future."""
    system = HandoverSystem(CFG, "switching")
    for seed in range(4):
        rng = random.Random(seed)
        a = system.initial()
        b = attrs.evolve(a, clock=Clock(now=7_000 * (seed + 1)))
        for _ in range(14):
            assert system.key(a) == system.key(b)
            assert _labels_and_verdicts(system, a) == _labels_and_verdicts(system, b)
            options = list(system.successors(a))
            pick = rng.randrange(len(options))
            label, a, _ = options[pick]
            label_b, b, _ = list(system.successors(b))[pick]
            assert label == label_b
            if isinstance(a, BaseException):
                break


def test_key_soundness_merged_states_have_the_same_future():
    """Worlds merged under one key by random walks (different roads, one key; or mirror images
    under the region swap) give the same verdicts, offer the same (mirrored) steps and step to
    states with the same keys, for a few more steps."""
    from model.engines import statekey as K
    system = HandoverSystem(CFG, "switching")
    pair = K.symmetric_pair(CFG)
    seen: dict = {}
    pairs = []
    rng = random.Random(1)
    for _ in range(40):
        for w in _walk(system, system.initial(), rng, 6):
            k = system.key(w)
            if k in seen and seen[k] != w and len(pairs) < 16:
                pairs.append((seen[k], w))
            seen.setdefault(k, w)
    assert pairs, "the walks merged no two different worlds"
    mirrored = 0
    for a, b in pairs:
        swap = None if K.form(a, CFG) == K.form(b, CFG) else pair
        assert swap is None or K.form(a, CFG, swap=pair) == K.form(b, CFG)
        mirrored += swap is not None
        for _ in range(3):
            assert _labels_and_verdicts(system, a, swap) == _labels_and_verdicts(system, b)
            acts = system.actions(a)
            if not acts:
                break
            x = rng.choice(acts)
            y = _swapped(x, swap) if swap else x
            try:
                a, b = W.step(a, x, CFG), W.step(b, y, CFG)
            except Exception:  # noqa: BLE001 - both raise alike: the labels above matched
                break
            assert system.key(a) == system.key(b)


# --- the handover explorer ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def baseline_depth4(tmp_path_factory):
    out = tmp_path_factory.mktemp("explore")
    record, ex = run_cell("baseline", "actual-2025-10-17", CFG, "switching", 4,
                          ("AudioReachesActiveRegion", "NoStaleTokenUse", L.PROPERTY),
                          out_dir=out)
    return record, ex, out


def test_minimal_counterexample_replays(baseline_depth4):
    record, ex, _ = baseline_depth4
    entry = {e["property"]: e for e in record["properties"]}
    audio = entry["AudioReachesActiveRegion"]
    assert audio["status"] == "violated" and audio["length"] == 4
    assert run(load(audio["trace"]), CFG).violations.get("AudioReachesActiveRegion")
    # nothing shorter exists: depth 3 was explored completely without a violation
    shorter = bfs.explore(HandoverSystem(CFG, "switching"), 3, ("AudioReachesActiveRegion",))
    assert shorter.status("AudioReachesActiveRegion") == "holds"
    assert entry["NoStaleTokenUse"]["status"] == "holds"
    assert record["evidence"] == "exhaustive to depth 4"


def test_liveness_lasso_found_and_rendered(baseline_depth4):
    record, _, _ = baseline_depth4
    live = next(e for e in record["properties"] if e["property"] == L.PROPERTY)
    assert live["status"] == "violated" and live["stem"] >= 4 and live["loop"] >= 1
    page = open(live["page"]).read()
    assert "## Stem" in page and "## Loop" in page
    loop = live["steps"][live["stem"]:]
    assert {s["step"] for s in loop} <= {"deliver", "fire", "tick"}   # the user does nothing
    result = run(load(live["trace"]), CFG)                           # one turn replays
    assert len(result.steps) == live["length"]


def test_fair_lasso_rejects_an_unfair_loop():
    g = nx.DiGraph()
    g.add_edge("s", "a", task="t0")
    g.add_edge("a", "b", task="t1")
    g.add_edge("b", "a", task="t1")
    enabled = {"s": set(), "a": {"t1", "t2"}, "b": {"t1", "t2"}}   # t2 always enabled, never taken
    assert L.fair_lasso(g, "s", lambda n: n != "s", enabled.__getitem__) is None
    enabled["b"] = {"t1"}
    stem, loop = L.fair_lasso(g, "s", lambda n: n != "s", enabled.__getitem__)
    assert stem == ["s", "a"] and loop[0] == loop[-1] == "a"


def test_export_graph(tmp_path, baseline_depth4, capsys):
    path = tmp_path / "g.graphml"
    code = main(["explore", "--depth", "2", "--quiet", "--property", "NoStaleTokenUse",
                 "--export", "graphml", str(path), "--out", str(tmp_path)])
    assert code == 0
    g = nx.read_graphml(path)
    ex = bfs.explore(HandoverSystem(CFG, "switching"), 2, ())
    assert (g.number_of_nodes(), g.number_of_edges()) == (ex.states, ex.graph.number_of_edges())
    assert "holds in every interleaving up to depth 2" in capsys.readouterr().out


# --- the command line ---------------------------------------------------------------------------

def test_cli_json_and_exit_status(tmp_path, capsys):
    code = main(["explore", "--depth", "4", "--quiet", "--format", "json", "--property",
                 "AudioReachesActiveRegion", "--out", str(tmp_path)])
    assert code == 1
    record = json.loads(capsys.readouterr().out.splitlines()[0])
    (entry,) = record["properties"]
    assert entry["status"] == "violated" and entry["length"] == 4 and entry["depth"] == 4


def test_cli_macro_steps_give_the_everyday_minimum(tmp_path, capsys):
    """Without micro steps the shortest counterexample is one step longer (the everyday shape:
    user steps, ticks and settles only)."""
    code = main(["explore", "--steps", "macro", "--depth", "5", "--quiet", "--format", "json",
                 "--property", "AudioReachesActiveRegion", "--out", str(tmp_path)])
    record = json.loads(capsys.readouterr().out)
    (entry,) = record["properties"]
    assert code == 1 and entry["length"] == 5 and record["steps"] == "macro"
    steps = [s["step"] for s in json.load(open(entry["trace"]))["steps"]]
    assert not {"deliver", "fire"} & set(steps) and steps[-1] == "settle"


def test_cli_limits_say_incomplete(tmp_path, capsys):
    code = main(["explore", "--depth", "5", "--max-states", "40", "--quiet", "--format", "json",
                 "--property", "AudioReachesActiveRegion", "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    record = json.loads(out)
    assert code == 2 and record["stopped"] == "max-states" and record["depth"] == 2
    assert record["properties"][0]["status"] == "incomplete"
    assert "incomplete" in err and "Traceback" not in err


@pytest.mark.parametrize("args, words", [
    (["--fix", "nope"], "unknown fix set 'nope'"),
    (["--profile-assume", "nope"], "unknown assumption profile"),
    (["--assume", "topology=ring"], "topology"),
    (["--env", "storm"], "unknown environment"),
    (["--depth", "0"], "--depth takes a positive number"),
    (["--depth", "x"], "--depth takes a positive number"),
    (["--max-states", "-3"], "--max-states"),
    (["--property", "Nope"], "unknown property 'Nope'"),
    (["--format", "xml"], "--format"),
    (["--export", "svg", "g.svg"], "--export takes graphml or dot"),
    (["--steps", "micro"], "--steps takes all or macro"),
])
def test_cli_errors_one_line_exit_2(args, words, capsys):
    assert main(["explore", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0]


def test_cli_export_never_overwrites(tmp_path, capsys):
    f = tmp_path / "mine.dot"
    f.write_text("keep")
    assert main(["explore", "--export", "dot", str(f)]) == 2
    assert f.read_text() == "keep"


# --- the verdict matrix's exhaustive evidence ---------------------------------------------------

def test_matrix_cell_from_the_explorer(tmp_path):
    from model.engines import explore as X
    from model.outputs import verdicts as V
    cell = X.evaluate("baseline", "actual-2025-10-17", CFG, "switching", 3, tmp_path)
    assert all(v["status"] == "holds" and v["evidence"] == "exhaustive to depth 3"
               for v in cell["properties"].values())
    m = V.matrix([cell])
    assert V._short(m["rows"]["baseline"]["NoStaleTokenUse"], 1) == \
        "holds (exhaustive to depth 3)"
    key = "baseline@actual-2025-10-17#switching"
    violated = dict(cell, properties={**cell["properties"], "GraceKeepsAudio": {
        "status": "violated", "steps": 3, "detail": "d", "counterexample": "c.json"}})
    assert X.unexpected({key: ["GraceKeepsAudio"]}, violated) is None
    assert "GraceKeepsAudio" in X.unexpected({key: []}, violated)
    assert X.unexpected({key: ["AudioReachesActiveRegion"]}, cell) is None   # bounded: no claim


def _swapped(action, pair):
    from model.engines.statekey import _rename
    changes = {f.name: _rename(getattr(action, f.name), pair)
               for f in attrs.fields(type(action)) if isinstance(getattr(action, f.name), str)}
    return attrs.evolve(action, **changes)


def test_region_swap_is_an_automorphism_random_walks():
    """The walk with every region name swapped in its actions reaches, at every step, the swapped
    form of the original walk's world, with the same verdicts and the mirrored enabled actions:
    what the key's symmetry (statekey point 6) needs."""
    from model.engines import statekey as K
    for env in ("switching", "faults"):
        system = HandoverSystem(CFG, env)
        pair = K.symmetric_pair(CFG)
        assert pair == ("cloud-debug", "cloud-livekit")
        for seed in range(3):
            rng = random.Random(seed)
            a = b = system.initial()
            for _ in range(12):
                assert K.form(b, CFG) == K.form(a, CFG, swap=pair)
                assert sorted(system.check(a, PROPS)) == sorted(system.check(b, PROPS))
                acts = system.actions(a)
                assert sorted(map(repr, system.actions(b))) == \
                    sorted(repr(_swapped(x, pair)) for x in acts)
                pick = rng.choice(acts + ["settle"])
                try:
                    if pick == "settle":
                        a, b = W.settle(a, CFG), W.settle(b, CFG)
                    else:
                        a, b = W.step(a, pick, CFG), W.step(b, _swapped(pick, pair), CFG)
                except Exception:  # noqa: BLE001 - a model error ends the walk (the BFS reports it)
                    break


def test_symmetry_merges_mirrored_states_only():
    plain = bfs.explore(HandoverSystem(CFG, "switching",
                                       key=lambda w, c: statekey.key(w, c, symmetry=False)), 4, ("AudioReachesActiveRegion",
                                                                       "Never"))
    sym = bfs.explore(HandoverSystem(CFG, "switching"), 4, ("AudioReachesActiveRegion", "Never"))
    assert sym.states < plain.states
    assert sym.found["AudioReachesActiveRegion"].depth == plain.found["AudioReachesActiveRegion"].depth
