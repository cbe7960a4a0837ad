"""LiveKitGrpcClient: flags, calls, retry and dispose (grpc_client.py)."""
import attrs
import pytest

from model.system.parties import grpc_client as G
from model.system.config import USER
from model.system.effects import Close, Open, Send, SetTimer
from model.system.messages import (AudioFrame, ConnClosed, JoinRoom, JoinRoomReply, LeaveRoom,
                            LeaveRoomReply, StatusReply, StreamAudio, TimerFired)
from model.system.parties.party import ProtocolError
from conftest import conn, ctx

C = ctx("region:france")
PARAMS = ("room", "shared", "tok")


def fresh():
    return G.new(1, "region:france", "bridge:france")[0]


def streaming():
    c, _, _ = G.connect(fresh(), PARAMS, "then")
    c, _, _ = G.handle(c, conn(c.conn, "grpc", "region:france", "bridge:france"),
                       JoinRoomReply(True), C)
    return c


def test_new_client_opens_its_channel_and_is_not_connected():
    c, eff = G.new(7, "region:france", "bridge:france")
    assert eff == [Open("region:france/grpc7", "grpc", "bridge:france")]
    assert not c.is_connected() and c.phase() is G.ClientPhase.IDLE


def test_is_connected_is_the_conjunction_of_the_three_flags():
    for flags in [(a, b, d) for a in (0, 1) for b in (0, 1) for d in (0, 1)]:
        c = attrs.evolve(fresh(), connected=bool(flags[0]), joined=bool(flags[1]),
                         audio_stream=bool(flags[2]))
        assert c.is_connected() is all(flags)


def test_connect_stores_params_and_sends_JoinRoom_without_leave_when_not_joined():
    c, eff, _ = G.connect(fresh(), PARAMS, "then")
    assert c.params == PARAMS and c.calls == (("join", "then"),)
    assert [e.msg for e in eff if isinstance(e, Send)] == [JoinRoom(USER, *PARAMS)]


def test_join_reply_sets_flags_opens_stream_and_completes():
    c, _, _ = G.connect(fresh(), PARAMS, "then")
    c, eff, done = G.handle(c, conn(c.conn, "grpc", "x", "y"), JoinRoomReply(True), C)
    assert c.is_connected() and c.phase() is G.ClientPhase.STREAMING
    assert Send(c.stream, StreamAudio(USER)) in eff and done == [("then", True)]


def test_failed_join_completes_false_and_leaves_flags_clear():
    c, _, _ = G.connect(fresh(), PARAMS, "then")
    c, _, done = G.handle(c, conn(c.conn, "grpc", "x", "y"), JoinRoomReply(False, "e"), C)
    assert not c.joined and done == [("then", False)]


def test_disconnect_is_a_noop_unless_joined_and_then_ends_stream_and_leaves():
    assert G.disconnect(fresh()) == (fresh(), [])
    c = streaming()
    c2, eff = G.disconnect(c)
    assert eff[:2] == [Close(c.stream), Send(c.conn, LeaveRoom(USER))]
    assert not (c2.connected or c2.joined or c2.audio_stream) and c2.stream is None


def test_dispose_marks_disposed_and_disconnects():
    c, eff = G.dispose(streaming())
    assert c.disposed and c.phase() is G.ClientPhase.DISPOSED
    assert any(isinstance(e, Send) and e.msg == LeaveRoom(USER) for e in eff)


def test_stream_error_schedules_one_retry_unless_disposed():
    c = streaming()
    s = conn(c.stream, "stream", "x", "y")
    c2, eff, _ = G.handle(c, s, ConnClosed(True), C)
    assert eff[-1] == SetTimer("grpc_retry", 2_000, 1) and not c2.connected
    c3, eff, _ = G.handle(attrs.evolve(c, disposed=True), s, ConnClosed(True), C)
    assert not [e for e in eff if isinstance(e, SetTimer)]


def test_retry_timer_is_ignored_after_dispose():
    c = attrs.evolve(streaming(), disposed=True)
    assert G.handle(c, None, TimerFired("grpc_retry", 1), C) == (c, [], [])


def test_events_of_an_old_stream_are_dropped():
    c = streaming()
    old = conn(c.conn + ".s0", "stream", "x", "y")
    assert G.handle(c, old, AudioFrame("p"), C) == (c, [], [])


def test_audio_frame_completes_as_audio():
    c = streaming()
    _, _, done = G.handle(c, conn(c.stream, "stream", "x", "y"), AudioFrame("p"), C)
    assert done == [(("audio", 1), "p")]


def test_unary_failure_rejects_calls_in_flight():
    c, _, _ = G.connect(fresh(), PARAMS, "then")
    c2, _, done = G.handle(c, conn(c.conn, "grpc", "x", "y"), ConnClosed(True), C)
    assert c2.calls == () and done == [("then", False)]


def test_status_and_leave_replies_pop_their_calls():
    c, eff, _ = G.get_status(fresh(), "t")
    c2, _, done = G.handle(c, conn(c.conn, "grpc", "x", "y"), StatusReply(False, "UNIMPLEMENTED"), C)
    assert c2.calls == () and done == [("t", False)]
    c3, _ = G.disconnect(streaming())
    c4, _, done = G.handle(c3, conn(c3.conn, "grpc", "x", "y"), LeaveRoomReply(True), C)
    assert c4.calls == () and done == []


def test_a_reply_without_a_call_is_a_protocol_error():
    c = fresh()
    with pytest.raises(ProtocolError):
        G.handle(c, conn(c.conn, "grpc", "x", "y"), JoinRoomReply(True), C)


def test_unary_replies_may_come_back_out_of_call_order():
    """gRPC unary calls are independent: the bridge answers GetStatus at once but answers
    JoinRoom only after its LiveKit connect, so a status reply can overtake a join reply."""
    c, _, _ = G.connect(fresh(), PARAMS, "joined")
    c, _, _ = G.get_status(c, "status")
    c2, _, done = G.handle(c, conn(c.conn, "grpc", "x", "y"), StatusReply(True), C)
    assert done == [("status", True)] and c2.calls == (("join", "joined"),)


# --- audit corrections (fidelity-audit.md, contradictions 2, 3, 4) -------------------------------

def test_disposed_client_refuses_connect_and_rejoin_without_sending():
    """dispose() sets `this.client = null` (LiveKitGrpcClient.ts:771-774): connect() throws
    (l.131-133) and rejoin() throws at this.client.joinRoom (l.708+ @753b1494c)."""
    c, _ = G.dispose(fresh())
    for call in (G.connect, G.rejoin):
        c2, eff, done = call(c, PARAMS, "then")
        assert done == [("then", False)] and c2.calls == ()
        assert not [e for e in eff if isinstance(e, Send)]


def test_disposed_client_answers_status_without_an_rpc():
    """getStatus() on a disposed client: `client_disposed`, no GetStatus sent."""
    c, _ = G.dispose(fresh())
    c2, eff, done = G.get_status(c, "t")
    assert done == [("t", False)] and c2.calls == ()
    assert not [e for e in eff if isinstance(e, Send)]


def test_join_reply_after_dispose_opens_no_stream():
    """startAudioStream throws on a null client (l.245): no StreamAudio after dispose."""
    c, _, _ = G.connect(fresh(), PARAMS, "then")
    c, _ = G.dispose(c)
    c2, eff, done = G.handle(c, conn(c.conn, "grpc", "x", "y"), JoinRoomReply(True), C)
    assert c2.stream is None and not [e for e in eff if isinstance(e, Open)]
    assert done == [("then", False)]


def test_connect_returns_while_connecting():
    """The `connecting` check (l.131-140): a second connect() sends no second JoinRoom."""
    c, _, _ = G.connect(fresh(), PARAMS, "first")
    c2, eff, done = G.connect(c, PARAMS, "second")
    assert c2.calls == (("join", "first"),) and done == [("second", False)]
    assert not [e for e in eff if isinstance(e, Send)]


def test_stream_end_leaves_joined_set_so_dispose_still_leaves():
    """The `end` handler clears connected/audioStream only (l.342-351); joinedRoom stays true,
    so a later dispose() still sends LeaveRoom{userId}."""
    c = streaming()
    c2, _, _ = G.handle(c, conn(c.stream, "stream", "x", "y"), ConnClosed(False), C)
    assert c2.joined and not c2.connected and not c2.audio_stream and c2.stream is None
    _, eff = G.dispose(c2)
    assert Send(c.conn, LeaveRoom(USER)) in eff
