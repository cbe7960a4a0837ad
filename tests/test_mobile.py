"""The mobile app: the state and effects after each message (mobile.py)."""
import attrs

from model.system.parties import mobile as M
from model.system.effects import Await, CancelTimer, Close, Open, Send, SetTimer
from model.system.messages import (ClientLeave, ConnClosed, ConnectionAck, DataReceived, GlassesConnect,
                            Join, JoinAccepted, JoinRefused, MicAudio, MicStateChanged,
                            RefreshToken, Resumed, SendData, ServerLeave, TimerFired,
                            TokenRequest, TokenResponse)
from conftest import conn, ctx, logs, of

C = ctx("mobile")
WS1 = conn("mobile/ws1", "ws", "mobile", "region:cloud-debug")


def connected_ws(region="cloud-debug", **assumptions):
    m, _ = M.select_region(M.initial(), region, ctx("mobile", **assumptions))
    m, _ = M.handle(m, conn(m.ws, "ws", "mobile", f"region:{region}"), ConnectionAck(1),
                    ctx("mobile", **assumptions))
    return m


def with_room(phase=M.RoomPhase.CONNECTED):
    """A mobile connected to cloud-debug with room #4 in `phase` (as after connect + settle)."""
    m = connected_ws()
    rest = conn("mobile/rest3", "rest", "mobile", "region:cloud-debug")
    m, _ = M.handle(m, rest, TokenResponse("shared", "tok"), C)
    if phase is not M.RoomPhase.CONNECTING:
        m, _ = M.handle(m, lk(4), JoinAccepted("PA_1", False, "refresh-1"), C)
    if phase is not M.RoomPhase.CONNECTED and phase is not M.RoomPhase.CONNECTING:
        m = attrs.evolve(m, rooms=m.rooms.set(4, attrs.evolve(m.rooms[4], phase=phase)))
    return m


def lk(rid, suffix=""):
    return conn(f"mobile/lk{rid}{suffix}", "signal", "mobile", "livekit:shared")


# --- stimuli ------------------------------------------------------------------------------------

def test_first_connect_opens_a_livekit_websocket_to_the_region():
    m, eff = M.select_region(M.initial(), "cloud-debug", C)
    assert (m.backend, m.rest_base, m.ws, m.ws_status) == (
        "cloud-debug", "cloud-debug", "mobile/ws1", M.WsStatus.CONNECTING)
    assert Open("mobile/ws1", "ws", "region:cloud-debug") in eff
    assert Send("mobile/ws1", GlassesConnect(livekit=True)) in eff
    assert CancelTimer("ws_reconnect") in eff
    assert of(eff, Close) == []


def test_switch_closes_the_old_socket_after_removing_its_handlers():
    m = connected_ws()
    m2, eff = M.select_region(m, "france", C)
    assert m2.abandoned == ("mobile/ws1",) and m2.ws == "mobile/ws4"
    assert m2.backend == m2.rest_base == "france"
    assert of(eff, Close) == [Close("mobile/ws1")]
    assert Send("mobile/ws4", GlassesConnect(True)) in eff
    # the room is not touched by a switch (livekitManager.disconnect() is never called)
    assert m2.room == m.room and m2.ops == m.ops


def test_stale_rest_base_under_H5():
    m = connected_ws(rest_follows_region=False)
    m2, _ = M.select_region(m, "france", ctx("mobile", rest_follows_region=False))
    assert (m2.backend, m2.rest_base) == ("france", "cloud-debug")


def test_speak_goes_into_the_connected_room_else_the_socket_else_nowhere():
    m = with_room()
    m2, eff = M.speak(m, C)
    assert of(eff, Send) == [Send("mobile/lk4", SendData("audio-1"))] and m2.packets == 1
    m3, eff = M.speak(with_room(M.RoomPhase.RECONNECTING), C)
    assert of(eff, Send) == [Send("mobile/ws1", MicAudio("audio-1"))]
    m4, eff = M.speak(M.initial(), C)
    assert of(eff, Send) == [] and logs(eff) == ["mic_packet"]


def test_mic_change_is_told_to_the_region():
    m, eff = M.set_mic(connected_ws(), False, C)
    assert m.mic_on is False and Send("mobile/ws1", MicStateChanged(False)) in eff


# --- WebSocket ----------------------------------------------------------------------------------

def test_ack_without_a_room_fetches_a_token_from_the_current_region():
    m, _ = M.select_region(M.initial(), "cloud-debug", C)
    m2, eff = M.handle(m, WS1, ConnectionAck(1), C)
    assert m2.ws_status is M.WsStatus.CONNECTED
    (op,) = m2.ops.values()
    assert op.phase is M.OpPhase.FETCHING and op.rest_conn == "mobile/rest3"
    assert Open("mobile/rest3", "rest", "region:cloud-debug") in eff
    assert Send("mobile/rest3", TokenRequest()) in eff


def test_ack_with_a_room_disconnects_it_first_and_awaits():
    m = with_room()
    m2, eff = M.handle(m, WS1, ConnectionAck(1), C)
    op = m2.ops[5]
    assert op.phase is M.OpPhase.DISCONNECTING_OLD
    assert m2.rooms[4].phase is M.RoomPhase.DISCONNECTED
    assert Send("mobile/lk4", ClientLeave()) in eff and Close("mobile/lk4") in eff
    assert Await(("op", 5)) in eff and of(eff, Open) == []
    # the await completes: this.room = null, then the REST fetch
    local = conn("mobile/local", "local", "mobile", "mobile")
    m3, eff = M.handle(m2, local, Resumed(("op", 5)), C)
    assert m3.room is None and m3.ops[5].phase is M.OpPhase.FETCHING
    assert Send("mobile/rest6", TokenRequest()) in eff


def test_ack_with_a_room_under_H1_leaves_the_old_room_connected():
    c = ctx("mobile", mobile_disconnects_first=False)
    m = with_room()
    m2, eff = M.handle(m, WS1, ConnectionAck(1), c)
    assert m2.rooms[4].phase is M.RoomPhase.CONNECTED and m2.room == 4
    assert of(eff, Await) == [] and m2.ops[5].phase is M.OpPhase.FETCHING


def test_ack_on_an_abandoned_socket_is_ignored():
    m = connected_ws()
    m2, _ = M.select_region(m, "france", C)
    assert M.handle(m2, WS1, ConnectionAck(1), C) == (m2, [])
    assert M.handle(m2, WS1, ConnClosed(False), C) == (m2, [])


def test_socket_close_starts_the_5s_reconnect_loop():
    m = connected_ws()
    m2, eff = M.handle(m, WS1, ConnClosed(True), C)
    assert (m2.ws, m2.ws_status) == (None, M.WsStatus.DISCONNECTED)
    assert SetTimer("ws_reconnect", 5_000) in eff
    m3, eff = M.handle(m2, None, TimerFired("ws_reconnect"), C)
    assert m3.ws == "mobile/ws4" and m3.ws_status is M.WsStatus.CONNECTING
    assert Open("mobile/ws4", "ws", "region:cloud-debug") in eff


# --- connect() ----------------------------------------------------------------------------------

def test_token_response_creates_the_room_and_joins():
    m = connected_ws()
    m2, eff = M.handle(m, conn("mobile/rest3", "rest", "mobile", "region:cloud-debug"),
                       TokenResponse("shared", "tok"), C)
    assert m2.room == 4 and m2.rooms[4] == M.Room(4, "shared", "mobile/lk4", "tok")
    assert m2.ops[2].phase is M.OpPhase.JOINING and m2.ops[2].room == 4
    assert eff[:3] == [Close("mobile/rest3"), Open("mobile/lk4", "signal", "livekit:shared"),
                       Send("mobile/lk4", Join("tok"))]


def test_rest_failure_ends_connect_without_retry():
    m = connected_ws()
    m2, eff = M.handle(m, conn("mobile/rest3", "rest", "mobile", "region:cloud-debug"),
                       ConnClosed(True), C)
    assert len(m2.ops) == 0 and logs(eff) == ["connect_failed"] and of(eff, Open) == []


def test_join_accepted_connects_the_room_and_ends_connect():
    m = with_room(M.RoomPhase.CONNECTING)
    m2, eff = M.handle(m, lk(4), JoinAccepted("PA_1", False, "r1"), C)
    assert m2.rooms[4].phase is M.RoomPhase.CONNECTED and m2.rooms[4].refresh == "r1"
    assert len(m2.ops) == 0 and logs(eff) == ["room_connected"]


def test_join_refused_is_logged_and_not_retried():
    m = with_room(M.RoomPhase.CONNECTING)
    m2, eff = M.handle(m, lk(4), JoinRefused("expired", "invalid authorization token"), C)
    assert m2.rooms[4].phase is M.RoomPhase.DISCONNECTED and len(m2.ops) == 0
    assert of(eff, Close) == [Close("mobile/lk4")] and of(eff, Open) == []


def test_refresh_token_is_stored():
    m2, eff = M.handle(with_room(), lk(4), RefreshToken("r2"), C)
    assert m2.rooms[4].refresh == "r2" and eff == []


def test_server_disconnect_only_logs():
    m2, eff = M.handle(with_room(), lk(4), ServerLeave("DISCONNECT", "DUPLICATE_IDENTITY"), C)
    assert m2.rooms[4].phase is M.RoomPhase.DISCONNECTED and m2.room == 4
    assert of(eff, Open) == [] and logs(eff) == ["room_disconnected"]


def test_state_mismatch_makes_the_sdk_do_a_full_join_with_its_refresh_token():
    m = with_room(M.RoomPhase.RECONNECTING)
    m2, eff = M.handle(m, lk(4), ServerLeave("RECONNECT", "STATE_MISMATCH"), C)
    assert m2.rooms[4].conn == "mobile/lk4.5"
    assert Send("mobile/lk4.5", Join("refresh-1", resume=False)) in eff


def test_data_packets_are_ignored():
    m = with_room()
    assert M.handle(m, lk(4), DataReceived("x", "p"), C) == (m, [])


def test_signal_loss_resumes_with_the_refresh_token_on_the_sdk_schedule():
    m = with_room()
    m2, eff = M.handle(m, lk(4), ConnClosed(True), ctx("mobile", now=1000))
    room = m2.rooms[4]
    assert (room.phase, room.attempt) == (M.RoomPhase.RECONNECTING, 0)
    assert SetTimer("lk_retry", 0, 4) in eff
    m3, eff = M.handle(m2, None, TimerFired("lk_retry", 4), ctx("mobile", now=1000))
    assert m3.rooms[4].attempt == 1 and m3.rooms[4].conn == "mobile/lk4.5"
    assert Send("mobile/lk4.5", Join("refresh-1", resume=True)) in eff
    # a failed try schedules the next one, i^2 x 300 ms
    m4, eff = M.handle(m3, lk(4, ".5"), ConnClosed(True), ctx("mobile", now=1000))
    assert eff == [SetTimer("lk_retry", 300, 4)]


def test_closed_room_ignores_everything():
    m = with_room(M.RoomPhase.DISCONNECTED)
    for msg in (JoinAccepted("s", False, ""), RefreshToken("r"), ConnClosed(True),
                ServerLeave("DISCONNECT", "x"), DataReceived("a", "b")):
        assert M.handle(m, lk(4), msg, C) == (m, [])


def test_unknown_signal_connection_is_superseded():
    m = with_room()
    assert M.target_state(m, lk(99), RefreshToken("r")) is M.RoomPhase.SUPERSEDED
    assert M.handle(m, lk(99), RefreshToken("r"), C) == (m, [])


def test_audio_over_a_socket_that_is_still_connecting_is_dropped():
    """sendBinary drops audio unless the socket is CONNECTED (WebSocketManager.ts:161-165)."""
    m, _ = M.select_region(M.initial(), "cloud-debug", C)
    assert m.ws_status is M.WsStatus.CONNECTING
    _, eff = M.speak(m, C)
    assert of(eff, Send) == [] and "dropped" in eff[-1].text


def test_a_switch_records_its_time_for_the_human_paced_gap():
    m, _ = M.select_region(M.initial(), "cloud-debug", C)
    assert m.switched_at is None                      # the first connect is not a switch
    m2, _ = M.select_region(m, "france", ctx("mobile", now=7_000))
    assert m2.switched_at == 7_000
    assert not M.switch_ready(m2, 7_000 + C.cfg.timing.switch_gap - 1, C.cfg)
    assert M.switch_ready(m2, 7_000 + C.cfg.timing.switch_gap, C.cfg)
