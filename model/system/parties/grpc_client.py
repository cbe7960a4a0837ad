"""LiveKitGrpcClient: one region pod's client of its Go bridge (one object per startBridgeSubscriber).

Theory of operation (`LiveKitGrpcClient.ts` at 507b226e4). Three flags, `connected`, `joinedRoom`,
`audioStream`; `isConnected()` is their conjunction (l.696-698) and they change only on gRPC
events: nothing tells the client that the bridge was kicked from the room. `connect()` first runs
`disconnect()` when it believes it has joined (l.130-166), then JoinRoom, then opens the StreamAudio
stream. On a stream `error`: `connected = false` and, unless disposed, one `connect()` after a fixed
2000 ms with the stored params and token; a failed retry is logged and not rescheduled
(l.307-339). On stream `end`: `connected` and `audioStream` cleared, `joinedRoom` stays true, no
retry (l.342-351). `disconnect()` (l.710-761) is a no-op unless joined; it ends the audio stream,
sends LeaveRoom{userId}; its flags are cleared in the LeaveRoom callback (l.749-751), which the
model approximates by clearing them at once (the gRPC channel is FIFO, so the JoinRoom that
`connect()` sends after awaiting that reply (l.142-145) is ordered after it anyway).
`dispose()` (l.766-775) marks disposed, fires `disconnect()` and sets `this.client = null`
(l.771-774): a disposed client cannot call JoinRoom or open a stream (`connect()` throws when
disposed, l.131-133; `startAudioStream` throws, l.245) and `getStatus()` answers
`client_disposed` without an RPC. `connect()` also returns at once while a connect is in progress
(the `connecting` check, l.131-140).

Old clients are never disposed when LiveKitManager replaces them (LiveKitManager.ts:206-234): they
keep their streams, timers and stored params. Calls are pure functions returning
(client, effects, completions); a completion `(then, ok)` resumes whoever awaited the call.
"""
from __future__ import annotations

import enum

import attrs

from model.system.config import USER
from model.system.effects import Close, Open, Send, SetTimer, log
from model.system.messages import (AudioFrame, ConnClosed, GetStatus, JoinRoom, JoinRoomReply, LeaveRoom,
                            LeaveRoomReply, StatusReply, StreamAudio, TimerFired)
from model.system.parties.party import lookup
from model.system.seams import seam
from model.system.frozen import evolve


class ClientPhase(enum.Enum):
    """What the client is doing, as far as an incoming event is concerned."""
    IDLE = "idle"               # no call in flight, no live stream
    CALLING = "rpc in flight"   # a unary call awaits its reply
    STREAMING = "streaming"     # the audio stream is open
    DISPOSED = "disposed"


@attrs.frozen
class Client:
    cid: int
    conn: str                    # the unary gRPC channel to the bridge
    bridge: str                  # the bridge party
    stream: str | None = None    # the current StreamAudio stream
    connected: bool = False
    joined: bool = False
    audio_stream: bool = False
    disposed: bool = False
    params: tuple = ()           # (room, url, token) stored for retries
    calls: tuple = ()            # unary calls awaiting replies, in order: (kind, then)
    n: int = 0

    def is_connected(self) -> bool:
        """isConnected() (LiveKitGrpcClient.ts:696-698)."""
        return self.connected and self.joined and self.audio_stream

    def phase(self, stream: str | None = None) -> ClientPhase:
        if self.disposed:
            return ClientPhase.DISPOSED
        if self.calls:
            return ClientPhase.CALLING
        if self.stream is not None:
            return ClientPhase.STREAMING
        return ClientPhase.IDLE


def new(cid: int, owner: str, bridge: str) -> tuple[Client, list]:
    conn = f"{owner}/grpc{cid}"
    return Client(cid, conn, bridge), [Open(conn, "grpc", bridge)]


def disconnect(c: Client) -> tuple[Client, list]:
    """No-op unless joined; end the audio stream, LeaveRoom{userId}, clear flags."""
    if not c.joined:
        return c, []
    effects = [Close(c.stream)] if c.stream else []
    effects += [Send(c.conn, LeaveRoom(USER)),
                log("grpc_leave", f"client #{c.cid}: disconnect(): LeaveRoom({USER})", client=c.cid)]
    c = evolve(c, stream=None, connected=False, joined=False, audio_stream=False,
               calls=c.calls + (("leave", None),))
    return c, effects


def connecting(c: Client) -> bool:
    """isConnecting(): a connect() awaits its JoinRoom reply (LiveKitGrpcClient.ts:131-140)."""
    return any(kind == "join" for kind, _ in c.calls)


def connect(c: Client, params: tuple, then) -> tuple[Client, list, list]:
    """connect(): throws when disposed (`client` is null, LiveKitGrpcClient.ts:131-133, 771-774),
    returns while another connect is in progress (l.131-140); else disconnect() when joined, then
    JoinRoom with the params (stored for retries). Returns (client, effects, completions): a
    refused call completes at once with False."""
    if c.disposed:
        return c, [log("grpc_connect_refused", f"client #{c.cid}: connect() on a disposed client "
                                               "throws", client=c.cid)], [(then, False)]
    if connecting(c):
        return c, [log("grpc_connect_skipped", f"client #{c.cid}: connect() already in progress",
                       client=c.cid)], [(then, False)]
    return rejoin(c, params, then)


def rejoin(c: Client, params: tuple, then) -> tuple[Client, list, list]:
    """rejoin() (LiveKitGrpcClient.ts:708+ @753b1494c): no `connecting` check; disconnect() when
    joined, then JoinRoom. A disposed client throws at `this.client.joinRoom` (client is null)."""
    if c.disposed:
        return c, [log("grpc_rejoin_refused", f"client #{c.cid}: rejoin() on a disposed client "
                                              "throws", client=c.cid)], [(then, False)]
    c, effects = disconnect(c)
    room, url, token = params
    c = evolve(c, params=params, calls=c.calls + (("join", then),))
    return c, effects + [Send(c.conn, JoinRoom(USER, room, url, token)),
                         log("grpc_join", f"client #{c.cid}: JoinRoom({room} on {url})",
                             client=c.cid, room=room)], []


def dispose(c: Client) -> tuple[Client, list]:
    c, effects = disconnect(evolve(c, disposed=True))
    return c, effects + [log("grpc_dispose", f"client #{c.cid}: dispose()", client=c.cid)]


@seam("grpc.get_status")
def get_status(c: Client, then) -> tuple[Client, list, list]:
    """GetStatus{userId} (status-rejoin). The baseline never calls it; the fix modules do. On a
    disposed client it answers `client_disposed` (not connected) without an RPC: `this.client`
    is null (LiveKitGrpcClient.ts:771-774)."""
    if c.disposed:
        return c, [log("grpc_status_disposed", f"client #{c.cid}: getStatus(): client_disposed",
                       client=c.cid)], [(then, False)]
    c = evolve(c, calls=c.calls + (("status", then),))
    return c, [Send(c.conn, GetStatus(USER))], []


@seam("grpc.joined_after_dispose")
def joined_after_dispose(c: Client) -> tuple[Client, list]:
    """A JoinRoom that succeeds after dispose(): joinRoom's callback continues with
    startAudioStream, which throws, because `this.client` is null after dispose()
    (LiveKitGrpcClient.ts:245, 771-774). dispose() sent no LeaveRoom (it was not joined yet), so
    the bridge keeps its session in the room."""
    c = evolve(c, joined=True, connected=True)
    return c, [log("grpc_stream_refused", f"client #{c.cid}: joined, but disposed: "
                                          "startAudioStream throws", client=c.cid)]


@seam("grpc.stream_handlers_active")
def stream_handlers_active(c: Client) -> bool:
    """Whether the stream's error/end/data handlers run; in the baseline they run after dispose
    too (only the retry checks `disposed`, l.307-339)."""
    return True


# --- handlers: (client, conn, msg, now, cfg) -> (client, effects, completions) ------------------

def _pop(c: Client, kind: str):
    """Take the oldest call of this kind: replies come back in completion order, not call order
    (a GetStatus can be answered while a JoinRoom still waits for LiveKit)."""
    i = next(i for i, call in enumerate(c.calls) if call[0] == kind)
    return evolve(c, calls=c.calls[:i] + c.calls[i + 1:]), c.calls[i][1]


def on_join_reply(c: Client, conn, msg: JoinRoomReply, ctx):
    c, then = _pop(c, "join")
    if not msg.ok:
        return c, [log("grpc_join_failed", f"client #{c.cid}: JoinRoom failed: {msg.error}",
                       client=c.cid, error=msg.error)], [(then, False)]
    if c.disposed:
        c, effects = ctx.cfg.seam("grpc.joined_after_dispose")(c)
        return c, effects, [(then, False)]
    stream = f"{c.conn}.s{c.n + 1}"
    c = evolve(c, n=c.n + 1, joined=True, connected=True, audio_stream=True, stream=stream)
    return c, [Open(stream, "stream", c.bridge), Send(stream, StreamAudio(USER)),
               log("grpc_joined", f"client #{c.cid}: joined; audio stream open", client=c.cid)], \
        [(then, True)]


def on_leave_reply(c: Client, conn, msg: LeaveRoomReply, ctx):
    c, _ = _pop(c, "leave")
    return c, [], []


def on_status_reply(c: Client, conn, msg: StatusReply, ctx):
    c, then = _pop(c, "status")
    return c, [], [(then, msg.connected)]


def on_unary_failed(c: Client, conn, msg: ConnClosed, ctx):
    """The bridge process is gone: every call in flight rejects."""
    done = [(then, False) for kind, then in c.calls if kind != "leave"]
    c = evolve(c, calls=(), connected=False)
    return c, [log("grpc_down", f"client #{c.cid}: bridge unreachable", client=c.cid)], done


def on_stream_event(c: Client, conn, msg, ctx):
    """Stream error: connected=false, retry in 2 s unless disposed. Stream end: `connected` and
    `audioStream` cleared, `joinedRoom` stays true (LiveKitGrpcClient.ts:342-351), so a later
    dispose()/connect()/rejoin() still sends LeaveRoom{userId}."""
    if conn.id != c.stream or not ctx.cfg.seam("grpc.stream_handlers_active")(c):
        return c, [], []
    if isinstance(msg, AudioFrame):
        return c, [], [(("audio", c.cid), msg.packet)]
    if msg.error:
        c = evolve(c, connected=False)
        effects = [log("grpc_stream_error", f"client #{c.cid}: stream error", client=c.cid)]
        if not c.disposed:
            effects.append(SetTimer("grpc_retry", ctx.cfg.timing.grpc_retry, c.cid))
        return c, effects, []
    c = evolve(c, stream=None, connected=False, audio_stream=False)
    return c, [log("grpc_stream_end", f"client #{c.cid}: stream ended", client=c.cid)], []


def on_retry(c: Client, conn, msg: TimerFired, ctx):
    """One retry with the stored params and token; its failure is only logged."""
    if c.disposed:
        return c, [], []
    c, effects, done = connect(c, c.params, None)
    return c, [log("grpc_retry", f"client #{c.cid}: retrying connect()", client=c.cid)] + effects, \
        done


P = ClientPhase
TABLE = {
    (P.CALLING, JoinRoomReply): on_join_reply,
    (P.CALLING, LeaveRoomReply): on_leave_reply,
    (P.CALLING, StatusReply): on_status_reply,
    (P.DISPOSED, JoinRoomReply): on_join_reply,
    (P.DISPOSED, LeaveRoomReply): on_leave_reply,
    (P.DISPOSED, StatusReply): on_status_reply,
    **{(p, AudioFrame): on_stream_event for p in P},
    **{(p, TimerFired): on_retry for p in (P.IDLE, P.CALLING, P.STREAMING)},
}
IGNORED = {
    (P.DISPOSED, TimerFired): "dispose() stops the retry (l.307-339)",
}
STATES = tuple(P)
MESSAGES = (JoinRoomReply, LeaveRoomReply, StatusReply, AudioFrame, ConnClosed, TimerFired)


def handle(c: Client, conn, msg, ctx):
    """Dispatch one event; ConnClosed is routed by which channel closed (unary or a stream)."""
    if isinstance(msg, ConnClosed):
        if conn.kind == "grpc":
            return on_unary_failed(c, conn, msg, ctx)
        return on_stream_event(c, conn, msg, ctx)
    entry = lookup(f"grpc client #{c.cid}", TABLE, IGNORED, c.phase(), msg)
    if isinstance(entry, str):
        return c, [], []
    return entry(c, conn, msg, ctx)
