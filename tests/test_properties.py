"""Each property can hold and can be violated; each witness can be seen and not seen
(properties.py). Small scenarios, replayed with the runner or built with micro steps."""
import attrs
import pytest

from model.system.parties import bridge as B
from model.properties import properties as P
from model.system import world as W
from model.system.config import USER
from model.system.effects import Open, Send
from model.system.messages import ConnClosed, Join, JoinAccepted, JoinRoom, TimerFired
from model.system import tokens
from conftest import conn, ctx, replay

CONNECT = [{"step": "connect", "region": "cloud-debug"}, {"step": "settle"}]
SWITCH = CONNECT + [{"step": "switch_region", "to": "france"}, {"step": "settle"}]
SPEAK = [{"step": "speak"}, {"step": "settle"}]


BACK = SWITCH + [{"step": "switch_region", "to": "cloud-debug"}, {"step": "settle"}]


def test_one_bridge_per_room_ignores_the_kick_that_corrects_itself():
    # shared deployment: france's bridge kicks cloud-debug's; for a moment cloud-debug's SDK still
    # believes it is connected (the strict diagnostic), by quiescence it knows
    r = replay(SWITCH, topology="shared")
    assert "OneBridgePerRoom" not in r.violated
    step, detail = r.violations["OneBridgePerRoomStrict"]
    assert step == 3 and detail.startswith("2 bridge participants in room")
    for kw in ({"topology": "per-region"}, {"fixes": ["fix3-region-room-names"]}):
        fixes = kw.pop("fixes", ("baseline",))
        r = replay(SWITCH, fixes, **kw)
        assert "OneBridgePerRoom" not in r.violations and "OneBridgePerRoomStrict" not in r.violations


def test_one_bridge_per_room_fails_when_two_bridges_stay():
    # the kicked bridge never learns it was kicked (its LeaveRequest lost): two bridges at rest
    r = replay(SWITCH, topology="shared")
    w, cfg = r.world, r.cfg
    b = w.parties["bridge:cloud-debug"]
    s = max(b.all.values(), key=lambda x: x.gen)
    b = attrs.evolve(b, all=b.all.set(s.gen, attrs.evolve(s, phase=B.LinkPhase.CONNECTED)))
    w = attrs.evolve(w, parties=w.parties.set("bridge:cloud-debug", b))
    assert W.quiescent(w)
    detail = P.check_quiescent(w, cfg)["OneBridgePerRoom"]
    assert detail.startswith("2 bridge participants in room isaiah@mentra.glass on shared at t=")
    assert detail.endswith("s: bridge:cloud-debug, bridge:france")


def test_no_stale_token_use():
    r = replay(CONNECT)
    assert P.no_stale_token_use(r.world, r.cfg) is None
    # a join with a token that expired more than the 60 s leeway ago
    w = r.world
    stale = tokens.mint(*tokens.deployment_keys("shared"), USER, USER, w.now - 200_000, 60_000)
    run = W._Run(w, r.cfg)
    run.apply("mobile", [Open("mobile/lk99", "signal", "livekit:shared"),
                         Send("mobile/lk99", Join(stale))])
    w = W.deliver_all(run.w, r.cfg)
    detail = P.no_stale_token_use(w, r.cfg)
    assert detail.startswith("mobile's join as isaiah@mentra.glass refused by livekit:shared")
    assert "expired" in detail and "token is expired (exp)" in detail


def test_bridge_never_crashes():
    assert "BridgeNeverCrashes" not in replay(CONNECT + SPEAK).violated
    # a packet the SDK's data callback already holds when a stream error closes the session
    r = replay(CONNECT + [
        {"step": "speak"},
        {"step": "deliver", "conn": "mobile/lk4", "to": "server", "msg": "SendData"},
        {"step": "deliver", "conn": "bridge:cloud-debug/lk1", "to": "client", "msg": "DataReceived"},
        {"step": "grpc_stream_error", "region": "cloud-debug"},
        {"step": "deliver", "conn": "region:cloud-debug/grpc2.s1", "to": "server"},
        {"step": "deliver", "conn": "bridge:cloud-debug/cpu", "to": "server", "msg": "Resumed"},
    ])
    assert r.violations["BridgeNeverCrashes"][1].startswith(
        "bridge:cloud-debug crashed at t=5s: panic: send on closed channel")
    # start.sh stops the pod's cloud process too
    assert not r.world.parties["region:cloud-debug"].alive
    # the same close with the packet still on the wire: room.Disconnect() drops it, no panic
    r = replay(CONNECT + [
        {"step": "speak"},
        {"step": "deliver", "conn": "mobile/lk4", "to": "server", "msg": "SendData"},
        {"step": "grpc_stream_error", "region": "cloud-debug"},
        {"step": "deliver", "conn": "region:cloud-debug/grpc2.s1", "to": "server"},
        {"step": "deliver", "conn": "bridge:cloud-debug/lk1", "to": "client", "msg": "DataReceived"},
    ])
    assert "BridgeNeverCrashes" not in r.violated


def test_audio_reaches_active_region():
    assert "AudioReachesActiveRegion" not in replay(SWITCH + SPEAK).violated
    back = SWITCH + [{"step": "switch_region", "to": "cloud-debug"}, {"step": "settle"}]
    r = replay(back)
    assert r.violations["AudioReachesActiveRegion"][1] == (
        "WebSocket open to cloud-debug, mic audio reached france (livekit)")
    # the probe runs on a copy: the world itself sent nothing
    assert r.world.mobile.packets == 0


def test_audio_over_the_websocket_counts_when_no_room_is_connected():
    r = replay(CONNECT + [{"step": "livekit_outage", "participant": "mobile", "seconds": 700},
                          {"step": "advance", "seconds": 100}, {"step": "settle"}])
    # the mobile gave up its room; the fallback is the WebSocket to the same region
    assert P.audio_destinations(r.world, r.cfg)[0] == {"cloud-debug (ws)"}
    assert "AudioReachesActiveRegion" not in r.violated


def test_bridge_status_truthful_judges_the_region_the_user_is_on():
    # switched away: cloud-debug, in its grace period, keeps a stale true nobody acts on
    r = replay(SWITCH, topology="shared")
    assert "BridgeStatusTruthful" not in r.violations
    assert r.violations["BridgeStatusTruthfulStrict"][1] == (
        "cloud-debug isConnected()=true but its bridge is not in the room")
    # back within the grace period: the stale true now stops the rejoin, and audio is lost
    r = replay(BACK, topology="shared")
    assert r.violations["BridgeStatusTruthful"] == (5, (
        "cloud-debug, which the mobile is connected to, says isConnected()=true but its bridge "
        "is not in the room"))
    assert "AudioReachesActiveRegion" in r.violated
    for topology in ("per-region", "shared"):
        r = replay(BACK, ["team-sequence"], topology=topology)
        assert "BridgeStatusTruthful" not in r.violations, topology


def test_the_strict_forms_are_diagnostics_not_properties():
    assert set(P.DIAGNOSTICS) == {"OneBridgePerRoomStrict", "BridgeStatusTruthfulStrict"}
    assert not set(P.DIAGNOSTICS) & set(P.ALL)
    r = replay(SWITCH, topology="shared")
    assert r.violated == [] and set(r.violations) == set(P.DIAGNOSTICS)


def dispose_race(topology):
    """Grace disposes cloud-debug's session while the phone comes back: the reconnect lands
    between dispose()'s awaits, makes a new gRPC client and bridge, and then the session is
    removed from the map (UserSession.ts:596-679)."""
    # the switch to france closed cloud-debug's socket at t=5 s (after app_start), so grace
    # fires at 65 s; dispose() then awaits its location I/O (Timing.location_persist, 100 ms)
    return replay(SWITCH + [
        {"step": "tick", "ms": 55_000},                                   # grace fires
        {"step": "switch_region", "to": "cloud-debug"},
        {"step": "deliver", "conn": "mobile/ws9", "to": "server", "msg": "GlassesConnect"},
        {"step": "settle"}, {"step": "advance", "seconds": 61}, {"step": "settle"},
    ], topology=topology)


def test_no_zombie_bridges():
    assert "NoZombieBridges" not in replay(SWITCH + [{"step": "advance", "seconds": 61},
                                                     {"step": "settle"}]).violated
    r = dispose_race("per-region")
    assert r.world.parties["region:cloud-debug"].map_sid is None
    assert r.violations["NoZombieBridges"][1].startswith(
        "cloud-debug holds no session, yet its bridge is still in room isaiah@mentra.glass "
        "on cloud-debug")


def test_no_zombie_bridges_waits_for_every_grace_period():
    r = replay(SWITCH, topology="per-region")
    assert any(t.name == "grace" for t in r.world.clock.timers)
    assert P.no_zombie_bridges(r.world, r.cfg) is None


def test_grace_keeps_audio():
    drop = CONNECT + [{"step": "ws_drop"}, {"step": "settle"}]
    assert "GraceKeepsAudio" not in replay(drop).violated
    r = replay(drop, fixes=["fix2-dispose-on-disconnect"])
    assert "within the grace period" in r.violations["GraceKeepsAudio"][1]
    # the user's own selection of another region ends the window: the other region's bridge
    # must take the user's room (one bridge identity per user), whatever the fix
    away = CONNECT + [{"step": "ws_drop"}, {"step": "advance", "seconds": 1},
                      {"step": "switch_region", "to": "france"}, {"step": "settle"},
                      {"step": "switch_region", "to": "cloud-debug"}, {"step": "settle"}]
    r = replay(away, fixes=["bridge-always-replaces"], topology="shared")
    assert "GraceKeepsAudio" not in r.violations
    assert r.world.monitors.grace.windows == ()


BACK_AS_GRACE_ENDS = [
    {"step": "connect", "region": "cloud-debug"}, {"step": "settle"},
    {"step": "switch_region", "to": "france"}, {"step": "settle"},
    {"step": "advance", "seconds": 54},
    {"step": "fire", "timer": "grace", "party": "region:cloud-debug"},
    {"step": "switch_region", "to": "cloud-debug"},
    {"step": "deliver", "conn": "mobile/ws9", "to": "server", "pod": 0},
    {"step": "ws_drop"}, {"step": "settle"}]


def test_grace_keeps_audio_ignores_a_bridge_already_leaving():
    """cloud-debug's grace ends and dispose() sends its bridge away; the user comes back at that
    moment and the new session's socket drops before the LeaveRoom lands. The bridge present at
    the drop was leaving already: no window opens on it (docs/properties.md)."""
    r = replay(BACK_AS_GRACE_ENDS, fixes=["recommended"], topology="per-region")
    kinds = [e.kind for e in r.log if e.party == "region:cloud-debug"]
    assert kinds.count("session_created") == 2 and kinds.index("dispose_start") < len(kinds) - 1
    assert r.violated == [] and r.world.monitors.grace.windows == ()
    left = [e for e in r.log if e.kind == "participant_left" and e.get("reason") ==
            "CLIENT_INITIATED" and e.get("client") == "bridge:cloud-debug"]
    assert left, "the old session's bridge left after the drop"


def test_witnesses_can_be_seen_and_missed():
    none = replay([{"step": "connect", "region": "cloud-debug"}])
    assert none.witnesses == {"AudioFlowsThroughLiveKit": False, "RegionSwitchCompletes": False,
                              "GraceDisposesSession": False}
    all_ = replay(SWITCH + SPEAK + [{"step": "advance", "seconds": 61}, {"step": "settle"}])
    assert all(all_.witnesses.values())


def test_quiescence_properties_are_only_checked_at_quiescence():
    r = replay([{"step": "connect", "region": "cloud-debug"}])
    assert not W.quiescent(r.world) and P.check_quiescent(r.world, r.cfg) == {}
    w = W.settle(r.world, r.cfg)
    assert W.quiescent(w) and not W.short_timer_pending(w)
    assert {t.name for t in w.clock.timers} <= {"grace", "refresh"}


def test_properties_are_passive_observers():
    r = replay(SWITCH, topology="shared")
    before = r.world
    for f in list(P.SAFETY.values()) + list(P.QUIESCENT.values()):
        f(r.world, r.cfg)
    assert r.world == before


# --- former model bugs, pinned ------------------------------------------------------------------

def test_a_resuming_bridge_is_one_bridge():
    r = replay(CONNECT + [{"step": "livekit_outage", "participant": "bridge:cloud-debug",
                           "seconds": 10}, {"step": "settle"}])
    assert "OneBridgePerRoom" not in r.violated, r.violations["OneBridgePerRoom"]


def test_the_go_sdk_tries_ten_times_over_about_85_s():
    me = "bridge:france"
    rpc = conn("region:france/grpc2", "grpc", "region:france", me)
    b, _ = B.handle(B.initial("france"), rpc, JoinRoom(USER, USER, "shared", "t"), ctx(me))
    b, _ = B.handle(b, conn(f"{me}/lk1", "signal", me, "livekit:shared"),
                    JoinAccepted("PA", False, "r"), ctx(me))
    b, _ = B.handle(b, conn(f"{me}/lk1", "signal", me, "x"), ConnClosed(True), ctx(me))
    now, tries = 0, 0
    for delay in [i * i * 300 for i in range(10)]:
        now += delay
        b, eff = B.handle(b, None, TimerFired("sdk_retry", 1), ctx(me, now=now))
        tries += 1
        lk = B.current(b, USER).lk
        b, eff = B.handle(b, conn(lk, "signal", me, "x"), ConnClosed(True), ctx(me, now=now))
        if B.current(b, USER).phase is B.LinkPhase.DISCONNECTED:
            break
    assert tries == 10 and now == 85_500
