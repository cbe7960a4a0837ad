"""The Go bridge: the state and effects after each message (bridge.py)."""
import attrs

from model.system.parties import bridge as B
from model.system.config import USER
from model.system.effects import Await, Close, Crash, Open, Send, SetTimer
from model.system.messages import (Resumed, AudioFrame, ClientLeave, ConnClosed, DataReceived, GetStatus, Join,
                            JoinAccepted, JoinRefused, JoinRoom, JoinRoomReply, LeaveRoom,
                            LeaveRoomReply, RefreshToken, ServerLeave, StatusReply, StreamAudio,
                            TimerFired)
from conftest import conn, ctx, logs, of

ME = "bridge:france"
C = ctx(ME)
RPC = conn("region:france/grpc2", "grpc", "region:france", ME)
STREAM = conn("region:france/grpc2.s1", "stream", "region:france", ME)
JOIN = JoinRoom(USER, USER, "shared", "tok")


def lk(n):
    return conn(f"{ME}/lk{n}", "signal", ME, "livekit:shared")


def connected():
    b, _ = B.handle(B.initial("france"), RPC, JOIN, C)
    b, _ = B.handle(b, lk(1), JoinAccepted("PA_1", False, "r1"), C)
    b, _ = B.handle(b, STREAM, StreamAudio(USER), C)
    return b


def test_join_room_connects_before_storing_the_session():
    b, eff = B.handle(B.initial("france"), RPC, JOIN, C)
    s = b.all[1]
    assert s.phase is B.LinkPhase.JOINING and USER not in b.sessions
    assert s.reply_to == RPC.id
    assert eff[:2] == [Open(f"{ME}/lk1", "signal", "livekit:shared"), Send(f"{ME}/lk1", Join("tok"))]


def test_join_accepted_stores_the_session_and_answers_the_rpc():
    b, _ = B.handle(B.initial("france"), RPC, JOIN, C)
    b, eff = B.handle(b, lk(1), JoinAccepted("PA_1", False, "r1"), C)
    assert b.sessions[USER] == 1 and b.all[1].phase is B.LinkPhase.CONNECTED
    assert b.all[1].refresh == "r1" and Send(RPC.id, JoinRoomReply(True)) in eff


def test_join_room_fails_when_the_map_has_the_user():
    b = connected()
    b2, eff = B.handle(b, RPC, JOIN, C)
    assert b2 == b
    assert of(eff, Send) == [Send(RPC.id, JoinRoomReply(False, "session already exists for this user"))]


def test_two_join_rooms_in_flight_both_pass_the_check_and_the_second_store_orphans_the_first():
    b, _ = B.handle(B.initial("france"), RPC, JOIN, C)
    rpc3 = conn("region:france/grpc3", "grpc", "region:france", ME)
    b, eff = B.handle(b, rpc3, JOIN, C)
    assert "bridge_connecting" in logs(eff)           # not refused: nothing stored yet
    b, _ = B.handle(b, lk(1), JoinAccepted("PA_1", False, ""), C)
    b, _ = B.handle(b, lk(2), JoinAccepted("PA_2", False, ""), C)
    assert b.sessions[USER] == 2 and b.all[1].phase is B.LinkPhase.ORPHANED


def test_leave_room_closes_whatever_session_the_user_maps_to():
    b = connected()
    b2, eff = B.handle(b, RPC, LeaveRoom(USER), C)
    assert USER not in b2.sessions and b2.all[1].phase is B.LinkPhase.CLOSED
    assert eff[1:4] == [Send(f"{ME}/lk1", ClientLeave()), Close(f"{ME}/lk1"), Close(STREAM.id)]
    assert eff[-1] == Send(RPC.id, LeaveRoomReply(True))
    b3, eff = B.handle(b2, RPC, LeaveRoom(USER), C)
    assert eff == [Send(RPC.id, LeaveRoomReply(False))]


def test_stream_attaches_to_the_users_session_or_fails_without_one():
    b = connected()
    assert b.all[1].stream == STREAM.id and b.streams[STREAM.id] == (USER, 1)
    b2, eff = B.handle(B.initial("france"), STREAM, StreamAudio(USER), C)
    assert eff[0] == Close(STREAM.id, error=True)


def test_stream_receive_error_closes_the_session_but_a_half_close_only_detaches():
    b, eff = B.handle(connected(), STREAM, ConnClosed(True), C)
    assert USER not in b.sessions and "bridge_session_closed" in logs(eff)
    b, eff = B.handle(connected(), STREAM, ConnClosed(False), C)
    assert b.sessions[USER] == 1 and b.all[1].stream is None and eff == []


def test_stream_half_close_closes_the_session_under_eof_cleanup():
    c = ctx(ME, stream_eof_cleanup=True)
    b, _ = B.handle(connected(), STREAM, ConnClosed(False), c)
    assert USER not in b.sessions


LOCAL = conn(f"{ME}/cpu", "local", ME, ME)


def test_only_the_users_packets_are_forwarded_to_the_stream():
    """The SDK's data callback takes the packet (a step of its own), then it goes on the stream."""
    b = connected()
    assert B.handle(b, lk(1), DataReceived(USER, "audio-1"), C) == (
        b, [Await(("forward", 1, "audio-1"), prompt=True)])
    assert B.handle(b, LOCAL, Resumed(("forward", 1, "audio-1")), C) == (
        b, [Send(STREAM.id, AudioFrame("audio-1"))])
    assert B.handle(b, lk(1), DataReceived("someone", "x"), C) == (b, [])


def test_a_packet_the_callback_holds_when_the_session_closes_panics_the_process():
    b, eff = B.handle(connected(), lk(1), DataReceived(USER, "audio-9"), C)
    b, _ = B.handle(b, RPC, LeaveRoom(USER), C)
    _, eff = B.handle(b, LOCAL, Resumed(eff[0].tag), C)
    assert len(eff) == 1 and isinstance(eff[0], Crash) and "send on closed channel" in eff[0].reason


def test_a_packet_arriving_after_disconnect_is_dropped():
    b, _ = B.handle(connected(), RPC, LeaveRoom(USER), C)
    assert B.handle(b, lk(1), DataReceived(USER, "audio-9"), C) == (b, [])


def test_a_kick_only_logs_and_the_session_stays_in_the_map():
    b, eff = B.handle(connected(), lk(1), ServerLeave("DISCONNECT", "DUPLICATE_IDENTITY"), C)
    assert b.sessions[USER] == 1 and b.all[1].phase is B.LinkPhase.DISCONNECTED
    assert Close(f"{ME}/lk1") in eff and of(eff, Send) == []
    assert "bridge_disconnected" in logs(eff)


def test_signal_loss_resumes_with_the_refresh_token():
    b, eff = B.handle(connected(), lk(1), ConnClosed(True), ctx(ME, now=500))
    s = b.all[1]
    assert (s.phase, s.attempt) == (B.LinkPhase.RECONNECTING, 0)
    assert eff[0] == SetTimer("sdk_retry", 0, 1)
    b, eff = B.handle(b, None, TimerFired("sdk_retry", 1), ctx(ME, now=500))
    assert b.all[1].lk == f"{ME}/lk2" and b.all[1].attempt == 1
    assert Send(f"{ME}/lk2", Join("r1", resume=True)) in eff
    b2, eff = B.handle(b, lk(2), JoinAccepted("PA_1", True, "r2"), C)
    assert b2.all[1].phase is B.LinkPhase.CONNECTED and b2.all[1].refresh == "r2"
    assert of(eff, Send) == []                          # no JoinRoom reply for a resume


def test_failed_tries_follow_the_i_squared_schedule():
    b, _ = B.handle(connected(), lk(1), ConnClosed(True), C)
    b, _ = B.handle(b, None, TimerFired("sdk_retry", 1), C)
    _, eff = B.handle(b, lk(2), ConnClosed(True), C)
    assert eff == [SetTimer("sdk_retry", 300, 1)]


def test_refused_join_fails_the_rpc_and_a_refused_resume_gives_up():
    b, _ = B.handle(B.initial("france"), RPC, JOIN, C)
    b, eff = B.handle(b, lk(1), JoinRefused("expired", "token is expired (exp)"), C)
    assert b.all[1].phase is B.LinkPhase.CLOSED
    assert Send(RPC.id, JoinRoomReply(False, "token is expired (exp)")) in eff
    b, _ = B.handle(connected(), lk(1), ConnClosed(True), C)
    b, _ = B.handle(b, None, TimerFired("sdk_retry", 1), C)
    b, eff = B.handle(b, lk(2), JoinRefused("expired", "x"), C)
    assert b.all[1].phase is B.LinkPhase.DISCONNECTED and b.sessions[USER] == 1


def test_state_mismatch_makes_a_full_join_with_the_refresh_token():
    b, _ = B.handle(connected(), lk(1), ConnClosed(True), C)
    b, _ = B.handle(b, None, TimerFired("sdk_retry", 1), C)
    b, eff = B.handle(b, lk(2), ServerLeave("RECONNECT", "STATE_MISMATCH"), C)
    assert Send(f"{ME}/lk3", Join("r1", resume=False)) in eff


def test_baseline_bridge_has_no_GetStatus():
    b = connected()
    assert B.handle(b, RPC, GetStatus(USER), C) == (b, [Send(RPC.id, StatusReply(False, "UNIMPLEMENTED"))])


def test_refresh_token_is_stored():
    b, eff = B.handle(connected(), lk(1), RefreshToken("r9"), C)
    assert b.all[1].refresh == "r9" and eff == []


def test_a_dead_process_ignores_everything():
    b = attrs.evolve(connected(), alive=False)
    assert B.handle(b, RPC, JOIN, C) == (b, [])
    assert B.handle(b, lk(1), DataReceived(USER, "p"), C) == (b, [])


def test_an_orphaned_session_ignores_the_answer_to_its_resume():
    """Found by the random walks (test_totality): two JoinRooms in flight, the first session
    loses its signal and resumes, then the second is stored and orphans it; the answer to the
    orphan's resume must not be a ProtocolError."""
    rpc3 = conn("region:france/grpc3", "grpc", "region:france", ME)
    b, _ = B.handle(B.initial("france"), RPC, JOIN, C)
    b, _ = B.handle(b, rpc3, JOIN, C)
    b, _ = B.handle(b, lk(1), JoinAccepted("PA_1", False, "r1"), C)
    b, _ = B.handle(b, lk(1), ConnClosed(True), C)
    b, _ = B.handle(b, None, TimerFired("sdk_retry", 1), C)      # resume Join on lk3
    b, _ = B.handle(b, lk(2), JoinAccepted("PA_2", False, "r2"), C)
    assert b.all[1].phase is B.LinkPhase.ORPHANED and b.all[1].lk == f"{ME}/lk3"
    for msg in (JoinAccepted("PA_1", True, "r3"), JoinRefused("expired", "x")):
        assert B.handle(b, lk(3), msg, C) == (b, [])


def test_stream_receive_error_closes_the_session_captured_at_start_and_deletes_the_map_entry():
    """service.go:226-230, 326-327: the goroutine closes the session it captured when the stream
    started (not the map's newer one) and deletes the userId's map entry."""
    b, _ = B.handle(B.initial("france"), RPC, JOIN, C)
    rpc3 = conn("region:france/grpc3", "grpc", "region:france", ME)
    b, _ = B.handle(b, rpc3, JOIN, C)
    b, _ = B.handle(b, lk(1), JoinAccepted("PA_1", False, ""), C)
    b, _ = B.handle(b, STREAM, StreamAudio(USER), C)             # captures g1
    b, _ = B.handle(b, lk(2), JoinAccepted("PA_2", False, ""), C)  # the map now holds g2
    b2, eff = B.handle(b, STREAM, ConnClosed(True), C)
    assert b2.all[1].phase is B.LinkPhase.CLOSED
    assert b2.all[2].phase is B.LinkPhase.CONNECTED and USER not in b2.sessions
    assert "bridge_map_deleted" in logs(eff)
