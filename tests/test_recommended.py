"""The recommended fix (fixes/recommended.py): every corpus trace holds; each part defeats the
counterexample docs/fixes.md names for it; one finding pinned (GraceKeepsAudio)."""
from __future__ import annotations

import attrs
import pytest

from model.engines import runner
from model.properties.properties import ALL
from fixes import make_config
from model.system.fmap import FMap
from model.engines.trace import TraceError, load, parse
from conftest import CORPUS, replay, trace

REC = ["recommended"]
S = dict


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.json")), ids=lambda p: p.stem)
def test_every_corpus_trace_holds(path):
    trace = load(path)
    r = runner.run(trace, runner.config_for(trace, REC))
    assert r.violated == [], f"{path.name}: {r.violations}"


AWAY_AND_BACK = [S(step="connect", region="cloud-debug"), S(step="settle"),
                 S(step="switch_region", to="france"), S(step="settle"),
                 S(step="switch_region", to="cloud-debug"), S(step="settle")]
# cloud-livekit's bridge is kicked between its JoinRoom reply and its StreamAudio (part 2)
KICK_BEFORE_STREAM = [S(step="connect", region="cloud-livekit"),
                      S(step="switch_region", to="cloud-debug"), S(step="settle"),
                      S(step="switch_region", to="cloud-livekit"), S(step="settle")]


@pytest.mark.parametrize("steps", [AWAY_AND_BACK, KICK_BEFORE_STREAM],
                         ids=["away-and-back", "kick-before-stream"])
@pytest.mark.parametrize("topology", ["shared", "per-region", "centralus-shared"])
def test_the_everyday_switches_hold(steps, topology):
    assert replay(steps, REC, topology=topology).violated == []
    if topology == "shared":
        assert replay(steps, ["baseline"], topology=topology).violated != []


def without(*seams):
    cfg = make_config(REC)
    return attrs.evolve(cfg, seams=FMap.of({k: v for k, v in cfg.seams.items() if k not in seams}))


def run(steps, cfg):
    return runner.run(parse({"format": "handover.trace/1", "steps": steps}), cfg)






@pytest.mark.parametrize("part, seams, steps, prop", [
    ("1 JoinRoom replaces", ("bridge.join_room",), "switch-back-within-grace-shared.json",
     "AudioReachesActiveRegion"),
    ("2 tell the stream", ("bridge.tell_stream_disconnected",),
     "adversarial-switch-away-and-back-in-one-instant.json", "AudioReachesActiveRegion"),
    ("6 no panic at Close()", ("bridge.forward_after_close",), "bridge-panic-on-stream-error.json",
     "BridgeNeverCrashes"),
])
def test_each_part_defeats_its_counterexample(part, seams, steps, prop):
    if isinstance(steps, str):
        trace = load(CORPUS / steps)
        cfg = runner.config_for(trace, REC)
        cut = attrs.evolve(cfg, seams=FMap.of({k: v for k, v in cfg.seams.items()
                                               if k not in seams}))
        assert prop not in runner.run(trace, cfg).violated
        assert prop in runner.run(trace, cut).violated, part
        return
    assert prop not in run(steps, make_config(REC)).violated
    assert prop in run(steps, without(*seams)).violated, part


# found by a random walk (docs/fixes.md, part 3): the phone connects to cloud-livekit and switches
# to cloud-debug at once; cloud-livekit's new session, its socket already closed, ran its LiveKit
# init once its apps had started and kicked cloud-debug's bridge during a drop's grace period
INIT_AFTER_LEAVING = [S(step="connect", region="cloud-livekit"),
                      S(step="switch_region", to="cloud-debug"),
                      S(step="deliver", conn="mobile/ws1", to="server", pod=0),
                      S(step="deliver", conn="mobile/ws1", to="server"),
                      S(step="deliver", conn="mobile/ws2", to="server", pod=0),
                      S(step="fire"), S(step="fire"),
                      S(step="deliver", conn="region:cloud-debug/grpc2", to="server"),
                      S(step="ws_drop"), S(step="settle")]


def test_part_3_a_new_sessions_livekit_init_needs_its_socket_still_attached():
    r = run(INIT_AFTER_LEAVING, make_config(REC))
    assert r.violated == []
    assert any(e.kind == "livekit_init_skipped" for e in r.log)
    assert run(INIT_AFTER_LEAVING, without("region.before_livekit_init")).violated == [
        "GraceKeepsAudio"]


def test_a_drop_then_a_switch_away_and_back_holds():
    """Once a finding (strict xfail): GraceKeepsAudio counted the kick caused by the user's own
    switch to another region during a drop's grace period. A user's selection of another region
    now ends the grace window (docs/properties.md), and recommended holds every property."""
    steps = [S(step="connect", region="france"), S(step="settle"), S(step="ws_drop"),
             S(step="advance", seconds=1), S(step="switch_region", to="cloud-debug"),
             S(step="settle"), S(step="switch_region", to="france"), S(step="settle")]
    r = replay(steps, REC)
    assert [p for p in ALL if p in r.violations] == []


# found by the driver under H2-per-region (class timer-race): france's JoinRoom, sent once the
# session's apps started, is answered only after grace disposed the session. It needs the JoinRoom
# held for a minute: possible only under message_delay=unbounded (the adversarial profile).
JOIN_HELD_PAST_GRACE = [S(step="connect", region="france"),
                        S(step="deliver", conn="mobile/ws1", msg="GlassesConnect", pod=0,
                          to="server"),
                        S(step="fire"), S(step="switch_region", to="cloud-livekit"),
                        S(step="deliver", conn="mobile/ws1", msg="ConnClosed", to="server"),
                        S(step="tick", ms=61_000), S(step="settle")]


def test_part_7_a_join_answered_after_dispose_leaves_the_room():
    t = trace(JOIN_HELD_PAST_GRACE, REC, topology="per-region", message_delay="unbounded")
    cfg = runner.config_for(t, REC)
    assert runner.run(t, cfg).violated == []
    cut = attrs.evolve(cfg, seams=FMap.of({k: v for k, v in cfg.seams.items()
                                           if k != "grpc.joined_after_dispose"}))
    r = runner.run(t, cut)
    assert r.violated == ["NoZombieBridges"]
    assert r.violations["NoZombieBridges"][1].startswith(
        "france holds no session, yet its bridge is still in room")
    bounded = trace(JOIN_HELD_PAST_GRACE, REC, topology="per-region")
    with pytest.raises(TraceError, match="message_delay=bounded"):
        runner.run(bounded, runner.config_for(bounded, REC))


# adversarial timing without its silent close: apps start at once, so cloud-livekit's microphone
# debounce fires after france's bridge took the room
MIC_THEN_SWITCH = [S(step="mic", on=False), S(step="connect", region="cloud-livekit"),
                   S(step="mic", on=True), S(step="switch_region", to="france"), S(step="settle")]


def test_part_3_the_microphone_debounce_joins_only_where_the_glasses_are():
    t = trace(MIC_THEN_SWITCH, REC, app_start="instant", human_paced_switches=False)
    cfg = runner.config_for(t, REC)
    cut = attrs.evolve(cfg, seams=FMap.of({k: v for k, v in cfg.seams.items()
                                           if k != "region.ensure_bridge_wanted"}))

    def bridge_kicks(r):
        return [e.text for e in r.log if e.kind == "participant_left"
                and e.get("reason") == "DUPLICATE_IDENTITY" and "cloud-agent:" in e.text]
    with_part, without_part = runner.run(t, cfg), runner.run(t, cut)
    # france's bridge takes the room from cloud-livekit's once, and keeps it
    assert with_part.violated == [] and len(bridge_kicks(with_part)) == 1
    # without the guard cloud-livekit's debounce takes it back, and france's retry again
    assert len(bridge_kicks(without_part)) == 3


# findings: what recommended does not hold under the adversarial profile, and which of the
# audit's artifacts each needs (docs/fixes.md, "What it does not fix")
PILE_UP = [S(step="connect", region="france"), S(step="switch_region", to="cloud-debug"),
           S(step="switch_region", to="cloud-livekit"), S(step="switch_region", to="cloud-debug"),
           S(step="switch_region", to="cloud-livekit"), S(step="switch_region", to="cloud-debug"),
           S(step="deliver", conn="mobile/ws6", msg="GlassesConnect", pod=0, to="server"),
           S(step="deliver", conn="region:cloud-debug/grpc2", msg="JoinRoom", to="server"),
           S(step="ws_drop"), S(step="settle")]


def test_finding_a_silent_close_leaves_two_regions_serving_the_user():
    adversarial = dict(app_start="instant", dispose_location_io="unbounded",
                       human_paced_switches=False)
    r = replay(MIC_THEN_SWITCH, REC, silent_close=True, **adversarial)
    assert r.violated == ["AudioReachesActiveRegion"]
    assert replay(MIC_THEN_SWITCH, REC, silent_close=False, **adversarial).violated == []


def test_finding_five_switches_in_one_instant_then_a_drop():
    r = replay(PILE_UP, REC, app_start="instant", human_paced_switches=False)
    assert r.violated == ["GraceKeepsAudio"]
    with pytest.raises(TraceError, match="human_paced_switches"):
        replay(PILE_UP, REC, app_start="instant")


# the reference profile (docs/fixes.md, "What it does not fix"): the phone's automatic reconnect to
# cloud-livekit opens a socket at the moment the user switches back to france; france's socket then
# drops. cloud-livekit sees the reconnect's GlassesConnect before its close and, a reconnection,
# joins at once: its JoinRoom kicks france's bridge during france's grace period.
RECONNECT_MEETS_SWITCH = [
    S(step="connect", region="france"), S(step="settle"), S(step="switch_region", to="cloud-livekit"),
    S(step="deliver", conn="mobile/ws1", to="server"),
    S(step="deliver", conn="mobile/ws5", to="server", pod=0), S(step="ws_drop"),
    S(step="deliver", conn="mobile/ws5", to="client"), S(step="deliver", conn="mobile/ws5", to="server"),
    S(step="fire"), S(step="fire"), S(step="switch_region", to="france"),
    S(step="deliver", conn="mobile/ws7", to="server", pod=0), S(step="ws_drop"), S(step="settle")]


def test_finding_a_reconnect_that_meets_a_switch_kicks_a_dropped_sockets_bridge():
    r = replay(RECONNECT_MEETS_SWITCH, REC)
    assert r.violated == ["GraceKeepsAudio"]
    assert r.violations["GraceKeepsAudio"][1].startswith("france's bridge (PA_shared_1) left")
    # the kick comes from the JoinRoom cloud-livekit sent for the abandoned reconnect socket
    joins = [e for e in r.log if e.party == "region:cloud-livekit" and "JoinRoom(" in e.text]
    assert len(joins) == 1
    # one bridge identity per user: under per-region deployments nobody shares france's room
    assert replay(RECONNECT_MEETS_SWITCH, REC, topology="per-region").violated == []
