"""The Go LiveKit bridge: one process per region pod, sessions keyed by userId only.

Theory of operation (`cloud/packages/cloud-livekit-bridge/{service,session,main}.go` at 507b226e4).
Sessions live in a map keyed by userId alone (`service.go:36`). `JoinRoom` fails with "session
already exists for this user" when the map has the userId (`service.go:63-71`); otherwise it
connects to LiveKit with the token it was given (`lksdk.ConnectToRoomWithToken`, auto-subscribe
off, `service.go:136-141`) and then stores the session (the store overwrites: the check and the
store are separated by the connect). `LeaveRoom{userId}` closes and deletes whatever session the map
holds (`service.go:180-206`); on a receive error the StreamAudio goroutine closes the session it
captured when the stream started and deletes the userId's map entry (`service.go:226-230,
326-327`). None of these checks which session the caller meant.

`RoomSession.Close()` (`session.go:155-192`) disconnects from LiveKit (a leave) and closes the
channel that carries audio from LiveKit. A packet the SDK had already received goes to that channel
from the SDK's data callback, a separate, prompt step (`Await(prompt=True)` -> `Resumed(("forward",
...))`, which a normal run takes at once and an engine may delay); if `Close()`
runs in between, the callback sends on the closed channel and the process panics ("send on closed
channel"); `cloud/start.sh:57-62` then stops the cloud process too. Packets that reach the SDK after
`room.Disconnect()` are dropped by the closed connection.

The SDK (server-sdk-go v2.10.0) resumes a dropped connection with its latest stored token (the
server's refresh token): 10 tries, try i after i^2 x 300 ms, stopping when the delay would pass
60 s; then it reports disconnected. `OnDisconnected` only logs (`service.go:126-132`): no rejoin,
the session stays in the map, the TS side is not told. That covers a kick (DUPLICATE_IDENTITY) and
a failed reconnect alike. Only packets sent by the userId are forwarded (`service.go:84-86`).
"""
from __future__ import annotations

import enum

import attrs

from model.system.config import USER
from model.system.effects import Await, Close, Crash, Open, Send, SetTimer, log
from model.system.fmap import FMap
from model.system.messages import (AudioFrame, ClientLeave, ConnClosed, DataReceived, GetStatus, Join,
                            JoinAccepted, JoinRefused, JoinRoom, JoinRoomReply, LeaveRoom,
                            LeaveRoomReply, RefreshToken, Resumed, ServerLeave, StatusReply,
                            StreamAudio, TimerFired)
from model.system.parties.party import Ctx, conn_owner, dispatch, sdk_next_delay
from model.system.seams import seam
from model.system.frozen import evolve


class LinkPhase(enum.Enum):
    """The SDK's view of a session's LiveKit connection."""
    JOINING = "joining"           # JoinRoom's connect in progress (not yet in the map)
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    DISCONNECTED = "disconnected"  # kicked or gave up; the session stays in the map
    CLOSED = "closed"              # Close() ran: the audio channel is closed
    ORPHANED = "orphaned"          # a session the map no longer holds (overwritten)


class Endpoint(enum.Enum):
    """Other things a message can address."""
    RPC = "a gRPC call"
    STREAM = "an audio stream"
    DEAD = "the dead process"


@attrs.frozen
class RoomSession:
    gen: int                      # which session (generation) this is
    user: str
    room: str
    url: str
    token: str
    lk: str                       # current LiveKit signal connection
    phase: LinkPhase = LinkPhase.JOINING
    reply_to: str = ""            # the JoinRoom caller's channel while JOINING
    refresh: str = ""
    attempt: int = 0
    stream: str | None = None     # the StreamAudio stream attached
    status_connected: bool = True  # status-rejoin's per-session flag


@attrs.frozen
class BridgeState:
    region: str
    pod: int = 0
    alive: bool = True
    sessions: FMap = FMap()       # userId -> gen (the map of service.go:36)
    all: FMap = FMap()            # gen -> RoomSession: every session object not yet garbage
    streams: FMap = FMap()        # stream conn -> (userId, gen of the session captured at start)
    n: int = 0
    life: int = 0                     # incarnation: +1 each time the process died


def initial(region: str, pod: int = 0, alive: bool = True) -> BridgeState:
    return BridgeState(region, pod, alive)


def _put(b: BridgeState, s: RoomSession) -> BridgeState:
    return evolve(b, all=b.all.set(s.gen, s))


def current(b: BridgeState, user: str) -> RoomSession | None:
    gen = b.sessions.get(user)
    return b.all.get(gen) if gen is not None else None


def _by_lk(b: BridgeState, conn_id: str) -> RoomSession | None:
    return next((s for s in b.all.values() if s.lk == conn_id), None)


def _start_connect(b: BridgeState, msg: JoinRoom, reply_to: str, ctx: Ctx):
    b = evolve(b, n=b.n + 1)
    lk = f"{conn_owner(b, ctx.me)}/lk{b.n}"
    s = RoomSession(b.n, msg.user, msg.room, msg.url, msg.token, lk, reply_to=reply_to)
    return _put(b, s), [Open(lk, "signal", f"livekit:{msg.url}"), Send(lk, Join(msg.token)),
                        log("bridge_connecting", f"JoinRoom: connecting to {msg.room} on {msg.url}",
                            gen=s.gen)]


def close_session(b: BridgeState, s: RoomSession, why: str) -> tuple[BridgeState, list]:
    """RoomSession.Close(): leave LiveKit, end the stream, close the audio channel; delete."""
    effects = [log("bridge_session_closed", f"session g{s.gen} closed ({why})", gen=s.gen)]
    if s.phase in (LinkPhase.CONNECTED, LinkPhase.RECONNECTING):
        effects += [Send(s.lk, ClientLeave()), Close(s.lk)]
    if s.stream:
        effects.append(Close(s.stream))
    b = _put(b, evolve(s, phase=LinkPhase.CLOSED, stream=None))
    if b.sessions.get(s.user) == s.gen:
        b = evolve(b, sessions=b.sessions.delete(s.user))
    return b, effects


# --- seams --------------------------------------------------------------------------------------

@seam("bridge.join_room")
def join_room(b: BridgeState, conn, msg: JoinRoom, ctx: Ctx) -> tuple[BridgeState, list]:
    """JoinRoom: fail when the map has the userId (service.go:63-71), else connect."""
    if msg.user in b.sessions:
        return b, [Send(conn.id, JoinRoomReply(False, "session already exists for this user")),
                   log("bridge_join_refused", "JoinRoom: session already exists for this user")]
    return _start_connect(b, msg, conn.id, ctx)


@seam("bridge.on_disconnected")
def on_disconnected(b: BridgeState, s: RoomSession, reason: str) -> BridgeState:
    """OnDisconnected only logs (service.go:126-132)."""
    return b


@seam("bridge.tell_stream_disconnected")
def tell_stream_disconnected(b: BridgeState, s: RoomSession, ctx: Ctx) -> tuple[BridgeState, list]:
    """What the session's StreamAudio caller hears when LiveKit disconnected the session (called at
    the disconnect, and when a stream attaches to a session already disconnected): nothing
    (OnDisconnected only logs, service.go:126-132; the stream stays open)."""
    return b, []


@seam("bridge.get_status")
def get_status(b: BridgeState, conn, msg: GetStatus, ctx: Ctx) -> tuple[BridgeState, list]:
    """The baseline bridge has no GetStatus RPC: gRPC answers UNIMPLEMENTED."""
    return b, [Send(conn.id, StatusReply(False, "UNIMPLEMENTED"))]


# --- gRPC handlers ------------------------------------------------------------------------------

def on_join_room(b, conn, msg, ctx):
    return ctx.cfg.seam("bridge.join_room")(b, conn, msg, ctx)


def on_leave_room(b, conn, msg: LeaveRoom, ctx):
    s = current(b, msg.user)
    if s is None:
        return b, [Send(conn.id, LeaveRoomReply(False))]
    b, effects = close_session(b, s, "LeaveRoom")
    return b, effects + [Send(conn.id, LeaveRoomReply(True))]


def on_get_status(b, conn, msg, ctx):
    return ctx.cfg.seam("bridge.get_status")(b, conn, msg, ctx)


def on_stream_open(b, conn, msg: StreamAudio, ctx):
    """StreamAudio attaches to the userId's session; without one it returns an error status."""
    s = current(b, msg.user)
    b = evolve(b, streams=b.streams.set(conn.id, (msg.user, s.gen if s else None)))
    if s is None:
        return b, [Close(conn.id, error=True),
                   log("bridge_stream_refused", "StreamAudio: no session for user")]
    b = _put(b, evolve(s, stream=conn.id))
    if s.phase is LinkPhase.DISCONNECTED:      # LiveKit already disconnected it
        return ctx.cfg.seam("bridge.tell_stream_disconnected")(b, b.all[s.gen], ctx)
    return b, []


def on_stream_closed(b, conn, msg: ConnClosed, ctx):
    """A receive error closes the session captured when the stream started and deletes the
    userId's map entry, whichever session it now holds (service.go:226-230, 326-327); a client
    half-close does too under `stream_eof_cleanup`. The send-error and 2 s send-timeout paths are
    not modelled (docs/model.md, "Approximations")."""
    user, gen = b.streams.get(conn.id, (None, None))
    b = evolve(b, streams=b.streams.delete(conn.id))
    s = b.all.get(gen) if gen is not None else None
    if s is None:
        return b, []
    if msg.error or ctx.cfg.a("stream_eof_cleanup"):
        effects: list = []
        if s.phase is not LinkPhase.CLOSED:
            b, effects = close_session(b, s, "stream receive error" if msg.error else "stream EOF")
        if user in b.sessions:
            effects.append(log("bridge_map_deleted", f"map entry of g{b.sessions[user]} deleted "
                                                     f"by the stream of g{gen}", gen=gen))
            b = evolve(b, sessions=b.sessions.delete(user))
        return b, effects
    if s.stream == conn.id:
        b = _put(b, evolve(s, stream=None))
    return b, []


# --- LiveKit handlers ---------------------------------------------------------------------------

def on_joined(b, conn, msg: JoinAccepted, ctx):
    """Connected: a resume re-attaches; a JoinRoom connect stores the session (overwriting)."""
    s = _by_lk(b, conn.id)
    if s.phase is LinkPhase.RECONNECTING:
        return _put(b, evolve(s, phase=LinkPhase.CONNECTED, refresh=msg.refresh_token,
                              attempt=0)), [
            log("bridge_resumed", f"session g{s.gen} resumed as {msg.sid}", gen=s.gen)]
    old = current(b, s.user)
    if old is not None:
        b = _put(b, evolve(old, phase=LinkPhase.ORPHANED))
    reply_to = s.reply_to
    s = evolve(s, phase=LinkPhase.CONNECTED, refresh=msg.refresh_token, reply_to="")
    b = evolve(_put(b, s), sessions=b.sessions.set(s.user, s.gen))
    return b, [Send(reply_to, JoinRoomReply(True)),
               log("bridge_joined", f"session g{s.gen} in room {s.room} as {msg.sid}", gen=s.gen,
                   sid=msg.sid)]


def _give_up(b, s: RoomSession, reason: str, ctx) -> tuple[BridgeState, list]:
    b = _put(b, evolve(s, phase=LinkPhase.DISCONNECTED))
    b = ctx.cfg.seam("bridge.on_disconnected")(b, s, reason)
    b, told = ctx.cfg.seam("bridge.tell_stream_disconnected")(b, b.all[s.gen], ctx)
    return b, [log("bridge_disconnected", f"session g{s.gen} disconnected ({reason}); "
                                          "OnDisconnected only logs", gen=s.gen, reason=reason)
               ] + told


def on_refused(b, conn, msg: JoinRefused, ctx):
    """A refused JoinRoom connect fails the RPC; a refused resume (401) is not retried."""
    s = _by_lk(b, conn.id)
    if s.phase is LinkPhase.JOINING:
        b = _put(b, evolve(s, phase=LinkPhase.CLOSED))
        return b, [Close(conn.id), Send(s.reply_to, JoinRoomReply(False, msg.message)),
                   log("bridge_join_failed", f"JoinRoom: {msg.message}", gen=s.gen)]
    b, effects = _give_up(b, s, "resume refused: " + msg.reason, ctx)
    return b, [Close(conn.id)] + effects


def on_connect_failed(b, conn, msg: ConnClosed, ctx):
    s = _by_lk(b, conn.id)
    b = _put(b, evolve(s, phase=LinkPhase.CLOSED))
    return b, [Send(s.reply_to, JoinRoomReply(False, "could not connect to LiveKit"))]


def on_server_leave(b, conn, msg: ServerLeave, ctx):
    """DISCONNECT (a kick): OnDisconnected. RECONNECT (STATE_MISMATCH on resume): a full join."""
    s = _by_lk(b, conn.id)
    if msg.action == "RECONNECT":
        b = evolve(b, n=b.n + 1)
        lk = f"{conn_owner(b, ctx.me)}/lk{b.n}"
        b = _put(b, evolve(s, lk=lk))
        return b, [Close(conn.id), Open(lk, "signal", f"livekit:{s.url}"),
                   Send(lk, Join(s.refresh or s.token))]
    b, effects = _give_up(b, s, msg.reason, ctx)
    return b, [Close(conn.id)] + effects


def on_signal_lost(b, conn, msg: ConnClosed, ctx):
    s = _by_lk(b, conn.id)
    b = _put(b, evolve(s, phase=LinkPhase.RECONNECTING, attempt=0))
    return b, [SetTimer("sdk_retry", ctx.cfg.timing.sdk_retry_delays[0], s.gen),
               log("bridge_reconnecting", f"session g{s.gen}: signal lost; SDK resuming", gen=s.gen)]


def on_retry_timer(b, conn, msg: TimerFired, ctx):
    s = b.all[msg.key]
    b = evolve(b, n=b.n + 1)
    lk = f"{conn_owner(b, ctx.me)}/lk{b.n}"
    b = _put(b, evolve(s, lk=lk, attempt=s.attempt + 1))
    return b, [Open(lk, "signal", f"livekit:{s.url}"), Send(lk, Join(s.refresh or s.token, resume=True))]


def on_retry_failed(b, conn, msg: ConnClosed, ctx):
    s = _by_lk(b, conn.id)
    delay = sdk_next_delay(s.attempt, ctx.cfg.timing.sdk_retry_delays, ctx.cfg.timing.sdk_retry_cap)
    if delay is not None:
        return b, [SetTimer("sdk_retry", delay, s.gen)]
    return _give_up(b, s, "reconnect failed", ctx)


def on_refresh(b, conn, msg: RefreshToken, ctx):
    return _put(b, evolve(_by_lk(b, conn.id), refresh=msg.token)), []


def on_data(b, conn, msg: DataReceived, ctx):
    """The SDK's data callback takes the userId's packets (service.go:84-86) to the session's
    audio channel, in a step of its own."""
    s = _by_lk(b, conn.id)
    if msg.sender != s.user:
        return b, []
    return b, [Await(("forward", s.gen, msg.packet), prompt=True)]


def on_forward(b, conn, msg: Resumed, ctx):
    """The audio channel's reader sends the packet on the attached stream, if any."""
    _, gen, packet = msg.tag
    s = b.all[gen]
    return b, ([Send(s.stream, AudioFrame(packet))] if s.stream else [])


def on_forward_after_close(b, conn, msg: Resumed, ctx):
    return ctx.cfg.seam("bridge.forward_after_close")(b, conn, msg, ctx)


@seam("bridge.forward_after_close")
def forward_after_close(b, conn, msg: Resumed, ctx):
    """send on closed channel (session.go:155-192): the process panics."""
    _, gen, packet = msg.tag
    return b, [Crash(f"panic: send on closed channel (data packet {packet} for closed "
                     f"session g{gen})")]


# --- the transition table -----------------------------------------------------------------------

L = LinkPhase
E = Endpoint
TABLE = {
    (E.RPC, JoinRoom): on_join_room,
    (E.RPC, LeaveRoom): on_leave_room,
    (E.RPC, GetStatus): on_get_status,
    (E.STREAM, StreamAudio): on_stream_open,
    (E.STREAM, ConnClosed): on_stream_closed,
    (L.JOINING, JoinAccepted): on_joined,
    (L.RECONNECTING, JoinAccepted): on_joined,
    (L.JOINING, JoinRefused): on_refused,
    (L.RECONNECTING, JoinRefused): on_refused,
    (L.JOINING, ConnClosed): on_connect_failed,
    (L.CONNECTED, ConnClosed): on_signal_lost,
    (L.RECONNECTING, ConnClosed): on_retry_failed,
    (L.RECONNECTING, TimerFired): on_retry_timer,
    (L.CONNECTED, ServerLeave): on_server_leave,
    (L.RECONNECTING, ServerLeave): on_server_leave,
    (L.CONNECTED, RefreshToken): on_refresh,
    (L.RECONNECTING, RefreshToken): on_refresh,
    (L.CONNECTED, DataReceived): on_data,
    (L.ORPHANED, DataReceived): on_data,
    (L.CONNECTED, Resumed): on_forward,
    (L.RECONNECTING, Resumed): on_forward,
    (L.DISCONNECTED, Resumed): on_forward,
    (L.ORPHANED, Resumed): on_forward,
    (L.CLOSED, Resumed): on_forward_after_close,
}
_CLOSED = "Close() already left the room; the SDK drops signalling for it"
_GONE = "the SDK reported disconnected; nothing more arrives for this session"
IGNORED = {
    **{(L.CLOSED, t): _CLOSED for t in (JoinAccepted, JoinRefused, ConnClosed, ServerLeave,
                                        RefreshToken, TimerFired)},
    (L.CLOSED, DataReceived): "room.Disconnect() closed the connection: the packet is dropped",
    **{(L.DISCONNECTED, t): _GONE for t in (ConnClosed, ServerLeave, RefreshToken, DataReceived,
                                            TimerFired, JoinAccepted)},
    **{(L.ORPHANED, t): "the map no longer holds this session; its SDK keeps running"
       for t in (ConnClosed, ServerLeave, RefreshToken, TimerFired, JoinAccepted,
                 JoinRefused)},
    (L.RECONNECTING, DataReceived): "no media while the signal is down",
    (L.JOINING, RefreshToken): "the refresh token also comes in the join answer",
    (L.JOINING, DataReceived): "auto-subscribe is off and the session is not yet stored",
    (E.STREAM, DataReceived): "not a stream message",
    **{(E.DEAD, t): "the process is dead" for t in (JoinRoom, LeaveRoom, GetStatus, StreamAudio,
                                                     ConnClosed, JoinAccepted, JoinRefused,
                                                     ServerLeave, RefreshToken, DataReceived,
                                                     TimerFired, Resumed)},
}
STATES = (*LinkPhase, *Endpoint)
MESSAGES = (JoinRoom, LeaveRoom, GetStatus, StreamAudio, ConnClosed, JoinAccepted, JoinRefused,
            ServerLeave, RefreshToken, DataReceived, TimerFired, Resumed)


def target_state(b: BridgeState, conn, msg):
    if not b.alive:
        return E.DEAD
    if isinstance(msg, TimerFired):
        return b.all[msg.key].phase if msg.key in b.all else L.CLOSED
    if isinstance(msg, Resumed):
        return b.all[msg.tag[1]].phase
    if conn.kind == "grpc":
        return E.RPC
    if conn.kind == "stream":
        return E.STREAM
    s = _by_lk(b, conn.id)
    return s.phase if s else L.CLOSED


def handle(b: BridgeState, conn, msg, ctx: Ctx) -> tuple[BridgeState, list]:
    return dispatch(ctx.me, TABLE, IGNORED, target_state(b, conn, msg), b, conn, msg, ctx)
