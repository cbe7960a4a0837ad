"""A cloud region pod: the state and effects after each message (region.py)."""
import attrs

from model.system.parties import grpc_client as G
from model.system.parties import region as R
from model.system import tokens
from model.system.config import BRIDGE_IDENTITY, USER
from model.system.effects import Await, CancelTimer, Close, Open, Send, SetTimer
from model.system.messages import (AudioFrame, ConnClosed, ConnectionAck, GlassesConnect, JoinRoom,
                            JoinRoomReply, LeaveRoom, LeaveRoomReply, MicAudio, MicStateChanged,
                            Resumed, StreamAudio, TimerFired, TokenRequest, TokenResponse)
from conftest import conn, ctx, logs, of

ME = "region:cloud-debug"
C = ctx(ME, app_start="instant")   # app start delay: tested on its own below
WS = conn("mobile/ws1", "ws", "mobile", ME, "region:cloud-debug")
GRPC = conn(f"{ME}/grpc2", "grpc", ME, "bridge:cloud-debug")
STREAM = conn(f"{ME}/grpc2.s1", "stream", ME, "bridge:cloud-debug")
LOCAL = conn(f"{ME}/local", "local", ME, ME)


def opened(c=C):
    r, _ = R.handle(R.initial("cloud-debug"), WS, GlassesConnect(True), c)
    return r


def joined(c=C):
    r, _ = R.handle(opened(c), GRPC, JoinRoomReply(True), c)
    return r


def test_new_socket_creates_a_session_and_starts_the_bridge_before_the_ack():
    r, eff = R.handle(R.initial("cloud-debug"), WS, GlassesConnect(True), C)
    s = r.sessions[1]
    assert r.map_sid == 1 and s.ws == "mobile/ws1" and s.livekit and not s.reconnection
    assert s.client == 2 and r.clients[2].calls == (("join", ("ack", "mobile/ws1", 1)),)
    assert Open(f"{ME}/grpc2", "grpc", "bridge:cloud-debug") in eff
    (join,) = [e.msg for e in of(eff, Send) if isinstance(e.msg, JoinRoom)]
    assert (join.user, join.room, join.url) == (USER, USER, "shared")
    claims = tokens.claims_of(join.token)
    assert claims["sub"] == BRIDGE_IDENTITY and claims["video"]["room"] == USER
    assert claims["exp"] - claims["nbf"] == 600_000 * 60  # "600000m"
    assert not [e for e in of(eff, Send) if isinstance(e.msg, ConnectionAck)]


def test_without_livekit_the_ack_is_immediate():
    r, eff = R.handle(R.initial("cloud-debug"), WS, GlassesConnect(False), C)
    assert Send("mobile/ws1", ConnectionAck(1)) in eff and len(r.clients) == 0


def test_join_reply_opens_the_audio_stream_and_sends_the_ack():
    r, eff = R.handle(opened(), GRPC, JoinRoomReply(True), C)
    c = r.clients[2]
    assert c.is_connected() and c.stream == f"{ME}/grpc2.s1"
    assert Send(f"{ME}/grpc2.s1", StreamAudio(USER)) in eff
    assert Send("mobile/ws1", ConnectionAck(1)) in eff


def test_failed_bridge_join_still_sends_the_ack():
    r, eff = R.handle(opened(), GRPC, JoinRoomReply(False, "session already exists for this user"), C)
    assert not r.clients[2].is_connected()
    assert Send("mobile/ws1", ConnectionAck(1)) in eff and "grpc_join_failed" in logs(eff)


def test_reconnect_reuses_the_session_and_returns_early_on_isConnected():
    r, _ = R.handle(joined(), WS, ConnClosed(False), C)
    ws2 = conn("mobile/ws5", "ws", "mobile", ME)
    r2, eff = R.handle(r, ws2, GlassesConnect(True), ctx(ME, now=30_000, app_start="instant"))
    s = r2.sessions[1]
    assert s.reconnection and s.ws == "mobile/ws5" and s.disconnected_at is None
    assert CancelTimer("grace", 1) in eff
    assert "bridge_early_return" in logs(eff) and of(eff, Open) == []
    assert Send("mobile/ws5", ConnectionAck(1)) in eff


def test_reconnect_with_a_dead_client_makes_a_new_one_without_disposing_the_old():
    r = joined()
    r, _ = R.handle(r, STREAM, ConnClosed(False), C)          # stream end: flags cleared
    r, _ = R.handle(r, WS, ConnClosed(False), C)
    r2, eff = R.handle(r, conn("mobile/ws5", "ws", "mobile", ME), GlassesConnect(True), C)
    assert r2.sessions[1].client == 3 and set(r2.clients) == {2, 3}
    assert not r2.clients[2].disposed
    assert Open(f"{ME}/grpc3", "grpc", "bridge:cloud-debug") in eff


def test_socket_close_starts_grace_and_leaves_livekit_alone():
    r, eff = R.handle(joined(), WS, ConnClosed(True), ctx(ME, now=5_000))
    s = r.sessions[1]
    assert s.ws is None and s.disconnected_at == 5_000 and r.map_sid == 1
    assert SetTimer("grace", 60_000, 1) in eff
    assert of(eff, Send) == [] and r.clients[2].is_connected()


def test_no_grace_timer_when_grace_cleanup_is_off():
    c = ctx(ME, grace_cleanup=False, app_start="instant")
    r, eff = R.handle(joined(c), WS, ConnClosed(True), c)
    assert of(eff, SetTimer) == []


def test_grace_timer_skips_a_reconnected_session():
    r = joined()
    r2, eff = R.handle(r, None, TimerFired("grace", 1), C)
    assert r2 == r and logs(eff) == ["grace_skipped"]


def test_grace_expiry_disposes_livekit_at_once_and_removes_the_session_after_the_location_persist():
    """trackEvent does no I/O (posthog.service.ts:34-54): LiveKit is disposed in the grace step;
    the location persist (LocationManager.ts:371-389) is a timer of Timing.location_persist."""
    r, _ = R.handle(joined(), WS, ConnClosed(True), C)
    r, eff = R.handle(r, None, TimerFired("grace", 1), C)
    assert r.sessions[1].phase is R.SessionPhase.DISPOSING and r.map_sid == 1
    assert r.clients[2].disposed and not r.clients[2].joined and of(eff, Await) == []
    assert Close(f"{ME}/grpc2.s1") in eff and Send(f"{ME}/grpc2", LeaveRoom(USER)) in eff
    assert SetTimer("dispose_io", C.cfg.timing.location_persist, 1) in eff
    r, eff = R.handle(r, None, TimerFired("dispose_io", 1), C)
    assert r.sessions[1].phase is R.SessionPhase.DISPOSED and r.map_sid is None
    assert logs(eff) == ["session_disposed"]


def test_location_await_forms_follow_the_assumption():
    for mode, check in (("none", lambda r, eff: r.map_sid is None),
                        ("unbounded", lambda r, eff: Await(("dispose", 1, "location")) in eff)):
        c = ctx(ME, app_start="instant", dispose_location_io=mode)
        r, _ = R.handle(joined(c), WS, ConnClosed(True), c)
        r, eff = R.handle(r, None, TimerFired("grace", 1), c)
        assert check(r, eff), mode


def test_a_reconnect_during_dispose_reuses_the_session_that_is_then_removed():
    r, _ = R.handle(joined(), WS, ConnClosed(True), C)
    r, _ = R.handle(r, None, TimerFired("grace", 1), C)
    r, eff = R.handle(r, conn("mobile/ws9", "ws", "mobile", ME), GlassesConnect(True), C)
    assert r.sessions[1].phase is R.SessionPhase.DISPOSING and r.sessions[1].ws == "mobile/ws9"
    assert "session_reconnected" in logs(eff)
    r, _ = R.handle(r, None, TimerFired("dispose_io", 1), C)
    # the socket is still attached to a session no longer in the map (nothing checks disposed)
    assert r.map_sid is None and r.ws_of["mobile/ws9"] == 1
    assert r.sessions[1].phase is R.SessionPhase.DISPOSED


def test_rest_token_is_a_24h_token_for_the_user_room_on_this_regions_deployment():
    c = ctx("region:france", now=1_000, topology="per-region")
    rest = conn("mobile/rest3", "rest", "mobile", "region:france")
    r0 = R.initial("france")
    r, eff = R.handle(r0, rest, TokenRequest(), c)
    assert r == r0
    (send,) = of(eff, Send)
    assert isinstance(send.msg, TokenResponse) and send.msg.url == "france"
    claims = tokens.claims_of(send.msg.token)
    assert claims["iss"] == tokens.deployment_keys("france")[0]
    assert (claims["sub"], claims["video"]["room"]) == (USER, USER)
    assert claims["exp"] - claims["nbf"] == 24 * 3600


def test_mic_change_calls_ensureBridgeConnected_after_the_debounce():
    """MicrophoneManager debounces (MicrophoneManager.ts:79-145, l.128) before
    onMicStateChange -> ensureBridgeConnected."""
    r, eff = R.handle(joined(), WS, MicStateChanged(False), C)
    assert r.sessions[1].mic_on is False and "bridge_early_return" not in logs(eff)
    assert SetTimer("mic_debounce", C.cfg.timing.mic_debounce, 1) in eff
    r, eff = R.handle(r, None, TimerFired("mic_debounce", 1), C)
    assert "bridge_early_return" in logs(eff)
    assert not [e for e in of(eff, Send) if isinstance(e.msg, ConnectionAck)]


def test_audio_reaches_the_pipeline_over_the_socket_or_from_the_bridge():
    r, _ = R.handle(joined(), WS, MicAudio("audio-1"), C)
    r, _ = R.handle(r, STREAM, AudioFrame("audio-2"), C)
    assert r.pipeline == (("audio-1", "ws"), ("audio-2", "livekit"))


def test_stream_error_retries_once_after_2s_with_the_stored_token():
    r = joined()
    token = r.clients[2].params[2]
    r, eff = R.handle(r, STREAM, ConnClosed(True), C)
    assert not r.clients[2].connected and r.clients[2].joined
    assert SetTimer("grpc_retry", 2_000, 2) in eff
    r, eff = R.handle(r, None, TimerFired("grpc_retry", 2), ctx(ME, now=2_000))
    sends = [e.msg for e in of(eff, Send)]
    # connect() runs disconnect() first because joinedRoom is still set (l.130-166)
    assert sends == [LeaveRoom(USER), JoinRoom(USER, USER, "shared", token)]


def test_stream_end_clears_the_flags_without_retry():
    """`end` clears connected/audioStream; joinedRoom stays (LiveKitGrpcClient.ts:342-351)."""
    r, eff = R.handle(joined(), STREAM, ConnClosed(False), C)
    c = r.clients[2]
    assert not (c.connected or c.audio_stream) and c.joined and of(eff, SetTimer) == []


def test_leave_reply_pops_the_call():
    r, _ = R.handle(joined(), WS, ConnClosed(True), C)
    r, _ = R.handle(r, None, TimerFired("grace", 1), C)
    r, _ = R.handle(r, LOCAL, Resumed(("dispose", 1, "analytics")), C)
    r2, eff = R.handle(r, GRPC, LeaveRoomReply(True), C)
    assert r2.clients[2].calls == () and eff == []


def test_a_dead_pod_ignores_everything():
    r = attrs.evolve(joined(), alive=False)
    for c, msg in ((WS, MicAudio("a")), (GRPC, JoinRoomReply(True)), (None, TimerFired("grace", 1))):
        assert R.handle(r, c, msg, C) == (r, [])


# --- audit corrections (fidelity-audit.md, contradictions 1, 4, 6) -------------------------------

def disposed():
    """A joined session whose grace ran out and whose dispose() passed the LiveKit step."""
    r, _ = R.handle(joined(), WS, ConnClosed(False), C)
    r, _ = R.handle(r, None, TimerFired("grace", 1), C)
    return r


def test_livekit_dispose_nulls_the_bridge_client():
    """LiveKitManager.dispose() sets bridgeClient = null (LiveKitManager.ts:319-323)."""
    r = disposed()
    assert r.sessions[1].client is None and r.clients[2].disposed


def test_reconnect_after_dispose_makes_a_new_client():
    """With bridgeClient null, startBridgeSubscriber creates a new client (never a disposed one)."""
    r = disposed()
    r2, eff = R.handle(r, conn("mobile/ws5", "ws", "mobile", ME), GlassesConnect(True), C)
    new = r2.sessions[1].client
    assert new not in (None, 2) and not r2.clients[new].disposed
    assert any(isinstance(e.msg, JoinRoom) for e in of(eff, Send) if e.conn == f"{ME}/grpc{new}")


def test_mic_change_while_connecting_skips_ensureBridgeConnected():
    """ensureBridgeConnected skips while the client isConnecting() (LiveKitManager.ts:258-264)."""
    r, _ = R.handle(opened(), WS, MicStateChanged(False), C)
    r, eff = R.handle(r, None, TimerFired("mic_debounce", 1), C)
    assert "ensure_bridge_skipped" in logs(eff) and of(eff, Open) == [] and len(r.clients) == 1


def test_ack_goes_to_the_sessions_current_socket():
    """userSession.websocket.send (websocket-glasses.service.ts:649): a slow init's ACK reaches
    the socket attached since."""
    r = opened()
    r, _ = R.handle(r, WS, ConnClosed(False), C)
    ws2 = conn("mobile/ws5", "ws", "mobile", ME)
    r, _ = R.handle(r, ws2, GlassesConnect(True), C)
    _, eff = R.handle(r, GRPC, JoinRoomReply(True), C)
    acks = [e.conn for e in of(eff, Send) if isinstance(e.msg, ConnectionAck)]
    assert acks == ["mobile/ws5"]


def test_a_new_session_starts_its_apps_before_it_joins_livekit():
    """websocket-glasses.service.ts:576-601: apps first (AppManager.ts:53, 5 s), then LiveKit."""
    c = ctx(ME)
    r, eff = R.handle(R.initial("cloud-debug"), WS, GlassesConnect(True), c)
    assert SetTimer("apps_started", c.cfg.timing.app_start, 1) in eff and len(r.clients) == 0
    r, eff = R.handle(r, None, TimerFired("apps_started", 1), c)
    assert r.sessions[1].client == 2
    assert any(isinstance(e.msg, JoinRoom) for e in of(eff, Send))


def test_a_stale_sockets_close_changes_nothing():
    """The close of a socket the session no longer uses is checked against its current socket."""
    r = opened()
    ws2 = conn("mobile/ws5", "ws", "mobile", ME)
    r, _ = R.handle(r, ws2, GlassesConnect(True), C)
    r2, eff = R.handle(r, WS, ConnClosed(False), C)
    assert r2 == r and of(eff, SetTimer) == [] and logs(eff) == ["stale_ws_closed"]


def test_a_socket_closed_before_its_first_message_makes_no_session():
    """websocket-glasses.service.ts:217-219: its close finds no session."""
    r0 = R.initial("cloud-debug")
    r, eff = R.handle(r0, WS, ConnClosed(False), C)
    assert r == r0 and eff == []
