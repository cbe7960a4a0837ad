"""`handover estimate` (model/engines/estimate.py): the Wilson interval, sessions, families, output, sweep,
determinism and one-line errors."""
from __future__ import annotations

import json

import pytest

from model import cli
from model.engines import runner
from model.engines import estimate as E
from model.engines import users
from fixes import make_config
from model.engines.timed import PROP
from model.engines.trace import load


def run(capsys, *argv):
    code = cli.main(["estimate", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


# --- the interval -------------------------------------------------------------------------------

@pytest.mark.parametrize("k,n,lo,hi", [
    (0, 10, 0.0, 0.2775), (5, 10, 0.2366, 0.7634), (10, 10, 0.7225, 1.0),
    (0, 500, 0.0, 0.0076), (5, 500, 0.0043, 0.0232), (1, 1, 0.2065, 1.0)])
def test_wilson_interval_matches_published_values(k, n, lo, hi):
    got = E.wilson(k, n)
    assert got == pytest.approx((lo, hi), abs=6e-4)


def test_wilson_interval_contains_the_estimate_and_narrows():
    for k, n in ((3, 40), (30, 400), (300, 4000)):
        lo, hi = E.wilson(k, n)
        assert lo < k / n < hi
    assert E.wilson(300, 4000)[1] - E.wilson(300, 4000)[0] < E.wilson(3, 40)[1] - E.wilson(3, 40)[0]
    with pytest.raises(ValueError):
        E.wilson(0, 0)


# --- estimates and families ---------------------------------------------------------------------

def test_json_has_the_promised_fields_and_the_family_replays(capsys, tmp_path):
    code, out, err = run(capsys, "--fix", "baseline", "--fix", "status-rejoin", "--scenario",
                         "back-after:30", "--runs", 12, "--seed", 1, "--format", "json",
                         "--out", tmp_path)
    assert code == 0
    base, rejoin = json.loads(out)
    for obj in (base, rejoin):
        assert {"fix", "scenario", "runs", "p_fail", "ci_low", "ci_high", "families"} <= set(obj)
        assert obj["scenario"] == "back-after:30" and obj["runs"] == 12
        assert obj["ci_low"] <= obj["p_fail"] <= obj["ci_high"]
    assert base["p_fail"] == 1.0 and rejoin["p_fail"] == 0.0 and rejoin["families"] == []
    assert base["replayed"] == 12 and base["replay_mismatches"] == 0
    (fam,) = base["families"]
    assert fam["count"] == 12 and fam["share"] == 1.0 and fam["class"] == "everyday"
    assert fam["signature"] == f"{PROP}|everyday|connect>switch_region>switch_region"
    assert "3 s-59.999 s after the switch to france" in fam["race_window"]["text"]
    for key in ("path", "timed_path"):
        trace = load(fam[key])
        result = runner.run(trace, runner.config_for(trace))
        assert PROP in result.violations and result.expectation_met()
    assert "Race window:" in (tmp_path / "baseline__back-after-30__family1.md").read_text()
    assert "sessions" in err          # the progress report goes to stderr


def test_same_seed_gives_identical_output(capsys, tmp_path):
    args = ("--fix", "baseline", "--scenario", "back-after:60", "--runs", 30, "--seed", 4,
            "--format", "json", "--out", tmp_path)
    first = run(capsys, *args)[1]
    assert run(capsys, *args)[1] == first


def test_different_seeds_agree_within_their_intervals():
    """Independent seeds estimate the same probability: each seed's 95 % interval holds the
    estimate pooled over all seeds, and the intervals overlap."""
    cfg = make_config(["baseline"])
    model = users.parse("back-after:60")     # near the grace period: neither 0 nor 1
    ests = [E.estimate("baseline", cfg, model, 60, seed) for seed in (1, 2, 3)]
    pooled = sum(len(e.failures) for e in ests) / sum(e.runs for e in ests)
    assert 0.1 < pooled < 0.9
    for e in ests:
        assert e.interval[0] <= pooled <= e.interval[1]
    assert max(e.interval[0] for e in ests) <= min(e.interval[1] for e in ests)


def test_failures_of_different_shapes_that_shrink_alike_are_one_family(tmp_path):
    """The tester's failures (audio reaching cloud-livekit or france while connected to another
    region) and the back-after failures have different details, hence are shrunk separately; a
    family is a signature, so every signature appears once and the counts add up."""
    cfg = make_config(["baseline"])
    est = E.estimate("baseline", cfg, users.parse("back-after:30"), 3, 1)
    tester = E.estimate("baseline", cfg, users.parse("tester"), 3, 1)
    est.failures += tester.failures
    shapes = {E._shape(s.detail) for _, s in est.failures}
    assert len(shapes) >= 2
    fams = E.families(est, tmp_path, max_replays=60, window=False)
    sigs = [f.signature for f in fams]
    assert len(sigs) == len(set(sigs)) and len(fams) <= len(shapes)
    assert sum(len(f.runs) for f in fams) == len(est.failures)
    for f in fams:
        assert f.signature.startswith(PROP + "|" + f.cls + "|")


def test_text_and_markdown(capsys, tmp_path):
    code, out, _ = run(capsys, "--scenario", "switch-once", "--runs", 5, "--out", tmp_path)
    assert code == 0 and "baseline" in out and "switch-once" in out and "0/5 sessions" in out
    code, out, _ = run(capsys, "--scenario", "switch-once", "--runs", 5, "--format", "markdown",
                       "--out", tmp_path)
    assert code == 0 and out.startswith("# Estimated failure probability: switch-once")
    assert "| baseline | 0.0% |" in out


def test_sweep_writes_a_table_and_a_png(capsys, tmp_path):
    png = tmp_path / "curve.png"
    code, out, _ = run(capsys, "--fix", "baseline", "--sweep", "back-after=30..90:60",
                       "--runs", 4, "--png", png, "--out", tmp_path)
    assert code == 0
    rows = [line.split() for line in out.splitlines() if line[:2] in ("30", "90")]
    assert [r[:2] for r in rows] == [["30", "100.0%"], ["90", "0.0%"]]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out, _ = run(capsys, "--sweep", "back-after=30..30", "--runs", 2, "--format", "json",
                       "--png", png)
    assert json.loads(out)["rows"][0]["seconds"] == 30


@pytest.mark.parametrize("argv,needle", [
    (["--runs", "0"], "--runs must be at least 1"),
    (["--runs", "many"], "--runs takes a whole number"),
    (["--seed", "-1"], "--seed must be at least 0"),
    (["--fix", "nope"], "unknown fix 'nope'"),
    (["--scenario", "commuter"], "unknown user model 'commuter'"),
    (["--scenario", "back-after:soon"], "back-after takes seconds"),
    (["--assume", "topology=ring"], "assumption topology takes one of"),
    (["--assume", "nokey"], "--assume takes KEY=VALUE"),
    (["--profile-assume", "nope"], "unknown profile 'nope'"),
    (["--sweep", "back-after=9..1"], "--sweep: need A <= B"),
    (["--sweep", "tester=1..5"], "--sweep takes back-after=A..B"),
    (["--format", "xml"], "invalid choice"),
    (["--latency-scale", "0"], "--latency-scale takes a number above 0"),
    (["--latency-scale", "fast"], "--latency-scale takes a number above 0"),
])
def test_bad_options_exit_2_with_one_line(capsys, tmp_path, argv, needle):
    code, out, err = run(capsys, *argv, "--out", tmp_path)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("handover: error:") and needle in err


def test_an_unwritable_output_directory_is_a_one_line_error(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, out, err = run(capsys, "--runs", 2, "--out", blocker / "sub")
    assert code == 2 and err.count("\n") == 1 and "cannot write counterexamples" in err


def test_matrix_lines_state_model_runs_and_interval():
    lines = E.matrix_lines(["baseline", "status-rejoin"], runs=5, seed=0)
    assert f"user model {users.DEFAULT}" in lines[0] and "5 timed sessions" in lines[0]
    assert lines[1].split() == ["baseline", "100.0%", "[56.6%,", "100.0%]"]
    assert lines[2].split() == ["status-rejoin", "0.0%", "[0.0%,", "43.4%]"]


def test_a_model_error_in_a_session_is_exit_2_after_the_report(capsys, tmp_path, monkeypatch):
    from model.engines import latency as L
    monkeypatch.delitem(L.LINKS, "rest")       # the phone's token request has no latency now
    code, out, err = run(capsys, "--runs", 2, "--scenario", "switch-once", "--out", tmp_path)
    assert code == 2 and "(2 model errors)" in out
    last = err.strip().splitlines()[-1]
    assert last.startswith("handover: error: 2 sessions hit a model error") and "rest" in last
    assert (tmp_path / "baseline__model-error.timed.json").exists()


def test_a_failure_that_does_not_replay_is_exit_2(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(E, "replays_to", lambda s, cfg, prop=PROP: "replay found None")
    code, out, err = run(capsys, "--runs", 2, "--out", tmp_path)
    assert code == 2 and "2 failures do NOT replay" in out
    assert err.strip().splitlines()[-1].startswith("handover: error: baseline: 2 failing sessions "
                                                   "do not replay")


def test_latency_scale_slows_the_network_only():
    from model.engines.latency import ALERT_OK, PHONE_REGION, Sampler
    import random
    a, b = Sampler(random.Random(1)), Sampler(random.Random(1), scale=3)
    assert b.draw(PHONE_REGION) == round(3 * a.draw(PHONE_REGION))
    assert b.draw(ALERT_OK) == a.draw(ALERT_OK)
    cfg = make_config(["baseline"])
    slow = E.session(cfg, users.parse("switch-once"), 1, 0, scale=3)
    fast = E.session(cfg, users.parse("switch-once"), 1, 0)
    assert slow.user_times[0] == fast.user_times[0] and slow.end_ms > fast.end_ms


def test_a_failure_no_macro_form_shows_keeps_its_timed_steps():
    import attrs
    cfg = make_config(["baseline"])
    s = E.session(cfg, users.parse("back-after:30"), 1, 0)
    assert s.failed and E.shrink_session(s, cfg, max_replays=30) != s.steps
    hidden = attrs.evolve(s, user_times=[])        # no user steps to build a macro form from
    assert E.shrink_session(hidden, cfg) == s.steps


def test_progress_bar_redraws_on_a_terminal_and_prints_one_line_otherwise():
    import io

    class Tty(io.StringIO):
        def isatty(self):
            return True

    for stream, tty in ((Tty(), True), (io.StringIO(), False)):
        p = E.Progress(4, stream)
        p.begin("baseline back-after:30")
        for _ in range(4):
            p.advance()
        p.end("estimate back-after:30")
        text = stream.getvalue()
        assert ("[#########################] 4/4" in text) is tty
        assert text.endswith("\n") and text.count("\n") == 1
        assert "estimate back-after:30: 4/4 sessions" in text
