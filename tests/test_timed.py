"""The timed engine (model/engines/timed.py), latencies (model/engines/latency.py), user models (model/engines/users.py)
and race windows (model/engines/race.py)."""
from __future__ import annotations

import random
import statistics

import pytest

from model.engines import latency as L
from model.engines import race, runner, timed, users
from fixes import make_config
from model.engines.trace import load, parse
from conftest import CORPUS

SHARED = make_config(["baseline"], topology="shared")


class Fixed(L.Sampler):
    """Every message on a link takes the given time (default 10 ms)."""

    def __init__(self, **ms):
        super().__init__(typical=True)
        self.ms = ms

    def link(self, conn):
        return self.ms.get(L.link_of(conn), 10)


def ev(step, delay, after="start"):
    return timed.UserEvent.of(step, delay, after)


CONNECT = {"step": "connect", "region": "cloud-debug"}
AWAY = {"step": "switch_region", "to": "france"}
BACK = {"step": "switch_region", "to": "cloud-debug"}


def times_of(steps, cfg=SHARED):
    """(model time after the step, step) for every step of a timed trace, by replaying it."""
    from model.system import world as W
    w, out = W.initial(cfg), []
    for st in steps:
        w = runner.apply_step(w, st, cfg)
        out.append((w.now, st))
    return out


def replay(steps, cfg=SHARED):
    return runner.run(parse({"format": "handover.trace/1", "fixes": list(cfg.fixes),
                             "assumptions": {"topology": cfg.a("topology")}, "steps": steps}), cfg)


# --- the scheduler ------------------------------------------------------------------------------

def test_deliveries_follow_their_latency_and_channels_stay_fifo():
    s = timed.run_session(SHARED, [ev(CONNECT, 0)], Fixed(phone_region=100, rest=40), 0,
                          after_switch=False)
    assert s.error is None
    delivered = [(t, st) for t, st in times_of(s.steps) if st["step"] == "deliver"]
    # the phone's GlassesConnect travels the phone->region link: it lands at 100 ms
    first = delivered[0]
    assert first[0] == 100 and first[1]["msg"] == "GlassesConnect"
    assert [t for t, _ in delivered] == sorted(t for t, _ in delivered)
    # the REST token request goes out when the ACK arrives (200 ms) and lands 40 ms later
    token = next(t for t, st in delivered if st["msg"] == "TokenRequest")
    ack = next(t for t, st in delivered if st["msg"] == "ConnectionAck")
    assert ack >= 200 and token == ack + 40


def test_a_timer_due_with_a_delivery_fires_first():
    """cloud-debug's grace timer (due 60 s after the old socket's close lands) against the return's
    GlassesConnect landing at the same millisecond: the timer fires first and disposes. One ms
    earlier the delivery wins: the session is reused and the timer cleared before it is due."""
    lat = 100
    for back_after in (60_000, 59_999):
        events = [ev(CONNECT, 0), ev(AWAY, 10_000), ev(BACK, 10_000 + back_after)]
        s = timed.run_session(SHARED, events, Fixed(phone_region=lat), 90_000,
                              stop_at_failure=False)
        ts = times_of(s.steps)
        fires = [(t, i) for i, (t, st) in enumerate(ts) if st["step"] == "fire"
                 and st["timer"] == "grace" and st["party"] == "region:cloud-debug"]
        arrive = next((t, i) for i, (t, st) in enumerate(ts) if st["step"] == "deliver"
                      and st["msg"] == "GlassesConnect" and t > 10_000 + lat)
        assert arrive[0] == 10_000 + back_after + lat
        if back_after == 60_000:
            (fire,) = fires
            assert fire[0] == arrive[0] == 10_000 + lat + 60_000 and fire[1] < arrive[1]
        else:
            assert fires == []


def test_user_actions_wait_for_quiet_when_asked():
    events = [ev(CONNECT, 0), ev(AWAY, 5_000, "quiet")]
    s = timed.run_session(SHARED, events, Fixed(), 0)
    connect_quiet = max(t for t, st in times_of(s.steps) if t < s.user_times[1][0]
                        and st["step"] != "tick")
    assert s.user_times[1][0] == connect_quiet + 5_000


def test_impossible_user_actions_are_skipped():
    events = [ev(CONNECT, 0), ev({"step": "switch_region", "to": "cloud-debug"}, 1_000),
              ev({"step": "ws_drop"}, 2_000)]
    s = timed.run_session(SHARED, events, Fixed(), 0)
    assert [st["step"] for _, st in s.skipped] == ["switch_region"]
    assert [st["step"] for _, st in s.user_times] == ["connect", "ws_drop"]


def test_same_seed_same_session_and_other_seeds_differ():
    model = users.parse("back-after:30")

    def one(seed):
        return timed.run_session(SHARED, model.events(random.Random(f"{seed}/u"), SHARED),
                                 L.Sampler(random.Random(f"{seed}/n")), model.tail_ms(SHARED))

    a, b, c = one(1), one(1), one(2)
    assert a.steps == b.steps and a.detail == b.detail
    assert a.steps != c.steps


@pytest.mark.parametrize("scenario,fix,n", [("back-after:30", "baseline", 4), ("tester", "baseline", 4),
                                            ("back-after:65", "baseline", 40)])
def test_every_timed_failure_replays_to_the_same_violation(scenario, fix, n):
    from model.engines.estimate import session
    cfg = make_config([fix])
    model = users.parse(scenario)
    failed = [s for s in (session(cfg, model, 1, i) for i in range(n)) if s.failed]
    assert failed, "the scenario shows failures for this fix set"
    for s in failed:
        result = replay(s.steps, cfg)
        assert result.violations[timed.PROP] == (len(s.steps) - 1, s.detail)


def test_a_session_that_holds_replays_without_the_violation():
    from model.engines.estimate import session
    s = session(make_config(["baseline"]), users.parse("switch-once"), 1, 0)
    assert not s.failed and s.checkpoints >= 1 and s.switches == 1
    assert timed.PROP not in replay(s.steps, make_config(["baseline"])).violations


# --- latencies ----------------------------------------------------------------------------------

def test_latency_draws_match_median_and_p95_and_are_seeded():
    rng = random.Random(7)
    xs = sorted(L.PHONE_REGION.draw(rng) for _ in range(4000))
    assert abs(statistics.median(xs) - 45) <= 3
    assert abs(xs[int(0.95 * len(xs))] - 160) <= 16
    assert [L.REST.draw(random.Random(3)) for _ in range(3)] == \
        [L.REST.draw(random.Random(3)) for _ in range(3)]
    assert L.CPU.draw(rng) == 0


def test_every_connection_kind_has_a_link():
    from model.system.network import Conn
    kinds = {"ws": "phone_region", "rest": "rest", "grpc": "region_bridge",
             "stream": "region_bridge", "local": "local_await"}
    for kind, link in kinds.items():
        assert L.link_of(Conn("x/1", kind, "region:france", "bridge:france", "")) == link
    assert L.link_of(Conn("mobile/lk1", "signal", "mobile", "livekit:shared", "")) == "phone_livekit"
    assert L.link_of(Conn("b/lk1", "signal", "bridge:france", "livekit:shared", "")) == \
        "bridge_livekit"
    assert L.link_of(Conn("region:france/cpu", "local", "region:france", "", "")) == "cpu"
    with pytest.raises(ValueError):
        L.link_of(Conn("x", "pigeon", "mobile", "", ""))


# --- user models --------------------------------------------------------------------------------

def test_back_after_presses_save_the_given_seconds_apart():
    for seed in range(20):
        evs = users.parse("back-after:30").events(random.Random(seed), SHARED)
        assert [e.as_step["step"] for e in evs] == ["connect", "switch_region", "switch_region"]
        away, back = evs[1].delay, evs[2].delay
        # each switch lands after its own UI flow (a few seconds): 30 s +- one flow apart
        assert 30_000 - 15_000 < back - away < 30_000 + 15_000
        assert back > away


def test_tester_and_daily_shapes():
    t = users.parse("tester").events(random.Random(1), SHARED)
    switches = [e for e in t if e.as_step["step"] == "switch_region"]
    assert len(switches) == users.TESTER_SWITCHES
    assert all(a.as_step["to"] != b.as_step["to"] for a, b in zip(switches, switches[1:]))
    d = users.parse("daily").events(random.Random(1), SHARED)
    kinds = {e.as_step["step"] for e in d}
    assert {"connect", "switch_region"} <= kinds
    assert max(e.delay for e in d) <= users.DAY_MS + 60_000
    assert [e.delay for e in d] == sorted(e.delay for e in d)


@pytest.mark.parametrize("bad", ["nope", "back-after:", "back-after:x", "back-after:-3", "daily:2"])
def test_unknown_user_models_are_one_line_errors(bad):
    with pytest.raises(users.ScenarioError) as e:
        users.parse(bad)
    assert "\n" not in str(e.value)


# --- race windows -------------------------------------------------------------------------------

def test_race_window_of_the_switch_back_within_grace():
    """Known window: the switch back must land before cloud-debug's grace timer (60 s after the
    old socket's close lands) has disposed the session, whatever the message delays."""
    trace = load(CORPUS / "switch-back-within-grace-shared.json")
    win = race.window(trace, runner.config_for(trace), timed.PROP)
    assert win.reproduced and win.latency_hits == win.latency_draws
    first, second = win.gaps
    assert first.any_delay
    (lo, hi), = second.violated
    timing = runner.config_for(trace).timing
    # no sooner than the human-paced lower bound; before grace fires (both sockets' messages take
    # the same phone->region latency, so the offsets cancel)
    assert (lo, hi) == (timing.switch_gap, timing.grace - 1)
    assert "switch to cloud-debug 3 s-59.999 s after the switch to france" in win.text
    assert "at any message delays" in win.text


def test_race_window_of_a_quick_switch_is_narrow():
    """The report's fixes under centralus-shared fail only when the second region is chosen while
    the first region's new session is still starting its apps (`Timing.app_start`) and joining
    its bridge: before its CONNECTION_ACK is sent."""
    trace = load(CORPUS / "report-fixes-quick-switch-centralus.json")
    cfg = runner.config_for(trace)
    win = race.window(trace, cfg, timed.PROP, draws=5)
    quick = win.gaps[0]
    (lo, hi), = quick.violated
    assert lo == 0 and cfg.timing.app_start <= hi <= cfg.timing.app_start + 200
    assert win.text.startswith("needs the switch to cloud-livekit within 5.")


def test_counterexample_pages_carry_the_race_window(tmp_path):
    from model.outputs import counterexample as CX
    trace = load(CORPUS / "switch-back-within-grace-shared.json")
    json_path, md_path = CX.write(trace, runner.config_for(trace), timed.PROP, "x", tmp_path)
    line = "s-59.999 s after the switch to france"   # quick: the lower end to a few ms
    assert line in md_path.read_text() and "**Race window:**" in md_path.read_text()
    assert "Race window: needs the switch to cloud-debug 3" in json_path.read_text()
    assert line in json_path.read_text()


def test_docs_timing_lists_every_latency_as_in_the_code():
    from conftest import ROOT
    doc = (ROOT / "docs" / "timing.md").read_text()
    for lat in L.LINKS.values():
        row = f"| `{lat.name}` | {lat.median_ms:g} ms | {lat.p95_ms:g} ms |"
        assert row in doc, row
    assert f"median {L.ALERT_OK.median_ms / 1000:g} s, p95 {L.ALERT_OK.p95_ms / 1000:g} s" in doc


def test_race_command_line(capsys, tmp_path):
    assert race.main([str(CORPUS / "switch-back-within-grace-shared.json")]) == 0
    assert "3 s-59.999 s after the switch to france" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert race.main([str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not JSON" in err


def test_race_window_of_a_property_the_engine_cannot_check_says_so():
    trace = load(CORPUS / "switch-back-within-grace-shared.json")
    win = race.window(trace, runner.config_for(trace), "AudioEventuallyFlows")
    assert win.text == "not measured: AudioEventuallyFlows is not a safety or quiescence property"


def test_the_delivery_deadline_cuts_little_of_any_latency():
    """docs/timing.md: under message_delay=bounded the timed engine cuts a draw at max_delay; the
    log-normal tails beyond it are 0.24 % (phone LiveKit), 0.13 % (REST), under 0.01 % else."""
    import math
    from statistics import NormalDist
    from model.engines.latency import LINKS
    from model.system.config import Timing
    tail = {n: 1 - NormalDist().cdf(math.log(Timing().max_delay / x.median_ms) / x.sigma)
            for n, x in LINKS.items() if x.median_ms > 0 and n != "local_await"}
    assert round(100 * tail.pop("phone_livekit"), 2) == 0.24
    assert round(100 * tail.pop("rest"), 2) == 0.13
    assert max(tail.values()) < 1e-4
