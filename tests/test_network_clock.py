"""The network (ordered channels, routing, failures) and the clock (named timers)."""
import pytest

from model.system import world as W
from model.system.actions import ClockAdvances, ClockFiresTimer, NetworkDelivers, UserSelectsRegion
from model.system.clock import Clock
from fixes import make_config
from model.system.messages import ConnClosed
from model.system.network import Network
from model.engines.trace import TraceError


def test_each_channel_is_fifo_and_heads_are_oldest_first():
    n = Network().open("c1", "ws", "a", "b", "b").open("c2", "ws", "a", "b", "b")
    n, _ = n.send("c1", "a", "m1")
    n, _ = n.send("c2", "a", "x1")
    n, _ = n.send("c1", "a", "m2")
    n, _ = n.send("c1", "b", "r1")
    assert [(e.conn, e.to_server, e.msg) for e in n.heads()] == [
        ("c1", True, "m1"), ("c2", True, "x1"), ("c1", False, "r1")]
    n = n.pop(n.heads()[0])
    assert [e.msg for e in n.heads()] == ["x1", "m2", "r1"]


def test_a_graceful_close_delivers_what_was_sent_then_tells_the_peer():
    n = Network().open("c", "ws", "a", "b", "b")
    n, _ = n.send("c", "a", "m1")
    n = n.close("c", "a")
    assert [e.msg for e in n.inflight] == ["m1", ConnClosed(False)]
    n2, sent = n.send("c", "a", "late")
    assert not sent and n2 == n
    assert n.close("c", "a") == n                       # closing twice is a no-op


def test_a_failure_loses_in_flight_messages_and_tells_both_ends():
    n = Network().open("c", "ws", "a", "b", "b")
    n, _ = n.send("c", "a", "m1")
    n, _ = n.send("c", "b", "r1")
    n = n.fail("c")
    assert sorted((e.to_server, e.msg) for e in n.inflight) == [
        (False, ConnClosed(True)), (True, ConnClosed(True))]
    assert not n.conn("c").open


def test_region_connections_are_routed_at_first_delivery():
    cfg = make_config(pods_per_region=2)
    w = W.step(W.initial(cfg), UserSelectsRegion("france"), cfg)
    assert w.net.conn("mobile/ws1").server == ""
    acts = [a for a in W.enabled(w, cfg) if isinstance(a, NetworkDelivers)]
    assert acts == [NetworkDelivers("mobile/ws1", True, 0), NetworkDelivers("mobile/ws1", True, 1)]
    w1 = W.step(w, acts[1], cfg)
    assert w1.net.conn("mobile/ws1").server == "region:france#1"
    with pytest.raises(W.Impossible):
        W.step(w, NetworkDelivers("mobile/ws1", True, 2), cfg)


def test_timers_fire_in_due_then_set_order_and_setting_again_replaces():
    c = Clock().set("p", "a", 500).set("q", "b", 100).set("p", "c", 500)
    assert [(t.party, t.name) for t in c.timers] == [("q", "b"), ("p", "a"), ("p", "c")]
    c = c.set("q", "b", 900)
    assert [t.name for t in c.timers] == ["a", "c", "b"] and c.pending("q", "b")
    t = c.next()
    c2 = c.pop(t)
    assert c2.now == 500 and not c2.pending("p", "a")
    assert not c.cancel("p", "a").pending("p", "a") and c.cancel_all("p").timers == (c.timers[2],)


def test_timers_are_keyed():
    c = Clock().set("p", "grace", 10, key=1).set("p", "grace", 10, key=2)
    assert len(c.timers) == 2 and len(c.cancel("p", "grace", 1).timers) == 1


def test_the_clock_advances_in_integer_ms_firing_due_timers_in_order():
    cfg = make_config(app_start="instant")
    w = W.step(W.initial(cfg), UserSelectsRegion("france"), cfg)
    w = W.settle(w, cfg)
    assert w.now == 0 and all(isinstance(t.due, int) for t in w.clock.timers)
    w2 = W.step(w, ClockAdvances(300_001), cfg)
    assert w2.now == 300_001
    # the 5 min refresh fired on the way and re-armed for 10 min
    assert {t.due for t in w2.clock.timers if t.name == "refresh"} == {600_000}
    with pytest.raises(W.Impossible):
        W.step(w, ClockAdvances(0), cfg)
    with pytest.raises(W.Impossible):
        W.step(W.initial(cfg), ClockFiresTimer(), cfg)


def test_nothing_is_delivered_to_a_closed_peer_silently():
    """Every message sent is either delivered, or lost by a failure that both ends hear of."""
    cfg = make_config()
    w = W.settle(W.step(W.initial(cfg), UserSelectsRegion("cloud-debug"), cfg), cfg)
    assert w.net.idle() and W.quiescent(w)


def test_a_socket_closed_before_it_is_routed_still_tells_the_server():
    """Every accepted socket fires `close` (websocket-glasses.service.ts:217-219); only the
    adversarial `silent_close` keeps it from the region."""
    from model.system.network import Network
    net = Network().open("mobile/ws1", "ws", "mobile", "region:france")
    net, _ = net.send("mobile/ws1", "mobile", "hello")
    closed = net.close("mobile/ws1", "mobile")
    assert [type(e.msg).__name__ for e in closed.inflight] == ["str", "ConnClosed"]
    silent = net.close("mobile/ws1", "mobile", notify_unrouted=False)
    assert [type(e.msg).__name__ for e in silent.inflight] == ["str"]


def test_switches_are_human_paced_unless_the_adversarial_profile_says_otherwise():
    """A switch takes seconds (developer.tsx:51-103, init.tsx:110-131): the next switch is
    offered Timing.switch_gap after the last one."""
    cfg = make_config()
    w = W.settle(W.step(W.initial(cfg), UserSelectsRegion("france"), cfg), cfg)
    w = W.step(w, UserSelectsRegion("cloud-debug"), cfg)
    assert not [a for a in W.enabled(w, cfg) if isinstance(a, UserSelectsRegion)]
    with pytest.raises(W.Impossible):
        W.step(w, UserSelectsRegion("france"), cfg)
    later = W.advance(w, cfg.timing.switch_gap, cfg)
    assert UserSelectsRegion("france") in W.enabled(later, cfg)
    adv = make_config(profile="adversarial")
    w = W.step(W.step(W.initial(adv), UserSelectsRegion("france"), adv),
               UserSelectsRegion("cloud-debug"), adv)
    assert UserSelectsRegion("france") in W.enabled(w, adv)


def test_a_session_on_a_socket_closed_before_delivery_ends_after_grace():
    """The audit's artifact 1, through the whole world: the phone switches away from a socket whose
    GlassesConnect is still in flight. Its close reaches the region behind it, so the session made
    on it goes into grace and is disposed. Under the adversarial `silent_close` the region never
    hears the close and keeps the session on a dead socket forever."""
    def run(profile):
        cfg = make_config(profile=profile)
        w = W.step(W.initial(cfg), UserSelectsRegion("france"), cfg)   # nothing delivered yet
        w = W.settle(W.step(w, UserSelectsRegion("cloud-debug"), cfg), cfg)
        w = W.settle(W.advance(w, cfg.timing.grace + 1_000, cfg), cfg)
        return w.parties["region:france"]
    real = run(None)
    assert real.map_sid is None and [s.phase.name for s in real.sessions.values()] == ["DISPOSED"]
    silent = run("adversarial")
    assert silent.map_sid is not None and silent.sessions[silent.map_sid].phase.name == "ACTIVE"


def test_the_advance_menu_can_pass_the_switch_gap():
    """Time moves only by advances and timers: the engines' menu must hold an advance that lets
    a second switch be offered, and one short enough to switch back while the new region's apps
    still start (a pair of menu advances between the gap and app_start)."""
    t = make_config().timing
    assert any(ms >= t.switch_gap for ms in W.ADVANCE_MS)
    assert any(t.switch_gap <= a + b < t.app_start for a in W.ADVANCE_MS for b in W.ADVANCE_MS)


def test_the_adversarial_profile_brings_back_all_three_artifacts():
    from model.system.config import PROFILES, assumptions_for
    assert PROFILES["adversarial"]["silent_close"] is True
    assert PROFILES["adversarial"]["human_paced_switches"] is False
    assert PROFILES["adversarial"]["dispose_location_io"] == "unbounded"
    ref = assumptions_for()
    assert (ref["silent_close"], ref["human_paced_switches"], ref["dispose_location_io"]) == (
        False, True, "timed")


@pytest.mark.parametrize("profile", [None, "adversarial"])
def test_enabled_and_step_agree_on_user_actions_along_random_walks(profile):
    """Every user action is offered by `enabled` exactly when `step` accepts it (the switch gap
    included), in every state of a few random walks."""
    import random
    from model.system.actions import MobileSpeaks, UserSetsMic
    cfg = make_config(profile=profile)
    for seed in range(4):
        rng, w = random.Random(seed), W.initial(cfg)
        for _ in range(40):
            offered = W.enabled(w, cfg)
            for a in [UserSelectsRegion(r) for r in cfg.regions] + [
                    UserSetsMic(True), UserSetsMic(False), MobileSpeaks()]:
                try:
                    W.step(w, a, cfg)
                    accepted = True
                except W.Impossible:
                    accepted = False
                assert accepted == (a in offered), (seed, w.now, a)
            w = W.step(w, rng.choice([a for a in offered
                                      if not (isinstance(a, ClockAdvances) and a.ms > 61_000)]), cfg)


STALE_RESUME = [{"step": "connect", "region": "cloud-livekit"}, {"step": "settle"},
                {"step": "livekit_outage", "participant": "bridge:cloud-livekit", "seconds": 10},
                {"step": "fire", "party": "livekit:shared", "timer": "refresh"},
                {"step": "tick", "ms": 601_000}, {"step": "settle"}]


def test_a_stale_resume_needs_a_failure_notice_held_for_minutes():
    """docs/driver.md: the bridge's SDK resumes with a refresh token older than its 10 min only
    when it learns of the lost signal connection ten minutes late. Under message_delay=unbounded
    (adversarial) the baseline's resume is refused; under the reference's delivery deadline the
    trace is not possible (the SDK hears of the loss within max_delay and resumes in time)."""
    from conftest import replay
    r = replay(STALE_RESUME, ["baseline"], message_delay="unbounded")
    assert "NoStaleTokenUse" in r.violated and "token is expired" in r.violations[
        "NoStaleTokenUse"][1]
    with pytest.raises(TraceError, match="delivery deadline"):
        replay(STALE_RESUME, ["baseline"])


def test_the_delivery_deadline_bounds_the_clock_not_the_order():
    """message_delay=bounded (docs/model.md, "Delivery deadline"): with a message in flight the
    clock may run on up to Timing.max_delay after its sending and no further, whether by a tick or
    a timer; delivering it lifts the bound; under unbounded any tick is offered."""
    cfg = make_config()
    w = W.step(W.initial(cfg), UserSelectsRegion("france"), cfg)    # GlassesConnect in flight
    assert w.net.deadline(cfg.timing.max_delay) == cfg.timing.max_delay
    ticks = {a.ms for a in W.enabled(w, cfg) if isinstance(a, ClockAdvances)}
    assert ticks == {ms for ms in W.ADVANCE_MS if ms <= cfg.timing.max_delay}
    with pytest.raises(W.Impossible, match="delivery deadline"):
        W.step(w, ClockAdvances(cfg.timing.max_delay + 1), cfg)
    assert W.step(w, ClockAdvances(cfg.timing.max_delay), cfg).now == cfg.timing.max_delay
    delivered = W.deliver_all(w, cfg)        # france starts its apps (a 5 s timer), idle network
    assert delivered.net.deadline(cfg.timing.max_delay) is None
    assert ClockAdvances(2_500) in W.enabled(delivered, cfg)
    free = make_config(message_delay="unbounded")
    w2 = W.step(W.initial(free), UserSelectsRegion("france"), free)
    assert {a.ms for a in W.enabled(w2, free) if isinstance(a, ClockAdvances)} == set(W.ADVANCE_MS)
    assert w2.net.deadline(free.timing.max_delay) is not None    # still recorded, not enforced
