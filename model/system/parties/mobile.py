"""The mobile app (one user): region setting, glasses WebSocket, LiveKit room(s), mic audio.

Theory of operation. The backend region is one setting; REST and WebSocket URLs are re-read from it
on every call (`stores/settings.ts:358-370`, `RestComms.authenticatedRequest` l.129), unless the
`rest_follows_region` assumption (report hypothesis H5) says the REST base URL is stale. A region
switch removes the old WebSocket's handlers, closes it, and opens a new one with `livekit=true`
(`WebSocketManager.ts:43-95`, l.49-57, l.67); nothing from the old socket is processed afterwards.
While disconnected the WebSocket retries every 5 s (`WebSocketManager.ts:97-116`; the retry loop of
`SocketComms.ts:47-63` is dead code (fidelity-audit.md, contradiction 13) and is not modelled).

Every CONNECTION_ACK runs `livekitManager.connect()` (`SocketComms.ts:307-311`) as the multi-step
operation it is (`LivekitManager.ts:30-61`): (1) if a room object exists, await `room.disconnect()`
and drop the reference, (2) fetch `{url, token}` over REST from the current region, (3) create a
new Room (the reference changes here) and connect. Two ACKs close together give two interleaved
`connect()` operations (`ops`); a Room whose reference was overwritten stays connected as an
orphan. Connected/Disconnected handlers only log: no retry after a failed join, no reconnect after
the room disconnects. `livekitManager.disconnect()` is never called. The LiveKit client SDK itself
resumes a dropped signal connection with the server's refresh token (livekit-facts.md).

Mic audio goes as data packets into `this.room` when it is connected (`LivekitManager.ts:51-61`),
otherwise as binary frames over the glasses WebSocket (`MantleBridge.tsx:426-437`), which
`sendBinary` drops unless the socket is CONNECTED (`WebSocketManager.ts:161-165`).

The phone reports the microphone state over the socket (`set_mic`); the cloud, not the phone,
turns it into `ensureBridgeConnected` after MicrophoneManager's debounce
(`MicrophoneManager.ts:79-145`, l.128; region.py). The facts pages do not name the real message
that carries the state (docs/model.md, "Approximations").

Deliberately not known here: which pod a connection reaches (the network routes), what LiveKit
does with the packets.
"""
from __future__ import annotations

import enum

import attrs

from model.system.config import USER
from model.system.effects import Await, CancelTimer, Close, Log, Open, Send, SetTimer, log
from model.system.fmap import FMap
from model.system.messages import (ClientLeave, ConnClosed, ConnectionAck, DataReceived, GlassesConnect,
                            Join, JoinAccepted, JoinRefused, MicAudio, MicStateChanged,
                            RefreshToken, Resumed, SendData, ServerLeave, TimerFired,
                            TokenRequest, TokenResponse)
from model.system.parties.party import Ctx, dispatch, sdk_next_delay
from model.system.seams import seam
from model.system.frozen import evolve

ME = "mobile"


class WsStatus(enum.Enum):
    """WebSocketManager's status."""
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    ABANDONED = "abandoned"      # an old socket whose handlers were removed (l.49-57)


class RoomPhase(enum.Enum):
    """A livekit-client Room object's connection state."""
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    DISCONNECTED = "disconnected"
    SUPERSEDED = "superseded"    # a signal connection the room no longer uses


class OpPhase(enum.Enum):
    """Where one `connect()` call is suspended."""
    DISCONNECTING_OLD = "awaiting room.disconnect()"
    FETCHING = "awaiting REST token"
    JOINING = "awaiting room.connect()"
    DONE = "finished"


@attrs.frozen
class Room:
    rid: int
    deployment: str
    conn: str                  # the current signal connection
    token: str                 # the join token from REST
    phase: RoomPhase = RoomPhase.CONNECTING
    refresh: str = ""          # latest refresh token from the server
    attempt: int = 0           # SDK reconnect attempts so far


@attrs.frozen
class Op:
    oid: int
    phase: OpPhase
    rest_conn: str = ""
    room: int | None = None


@attrs.frozen
class MobileState:
    backend: str | None = None           # the region setting
    rest_base: str | None = None         # region REST calls go to
    ws: str | None = None                # current WebSocket connection
    ws_status: WsStatus = WsStatus.DISCONNECTED
    abandoned: tuple = ()                # old sockets, handlers removed
    room: int | None = None              # LivekitManager.room (this.room)
    rooms: FMap = FMap()                 # every Room object still alive, orphans included
    ops: FMap = FMap()                   # connect() calls in flight
    mic_on: bool = True
    n: int = 0                           # id counter (connections, rooms, ops)
    packets: int = 0                     # mic packets sent so far
    switched_at: int | None = None       # when the user last switched region (not the first connect)


def initial() -> MobileState:
    return MobileState()


# --- seams --------------------------------------------------------------------------------------

@seam("mobile.disconnect_old_room")
def disconnect_old_room(m: MobileState, cfg) -> bool:
    """Step 1 of connect(): `if (this.room) { await this.room.disconnect(); this.room = null }`
    (LivekitManager.ts:30-33, present since 2025-09-12); absent under hypothesis H1."""
    return m.room is not None and cfg.a("mobile_disconnects_first")


# --- helpers ------------------------------------------------------------------------------------

def _next(m: MobileState) -> tuple[MobileState, int]:
    return evolve(m, n=m.n + 1), m.n + 1


def _open_ws(m: MobileState, region: str) -> tuple[MobileState, list]:
    m, n = _next(m)
    conn = f"mobile/ws{n}"
    m = evolve(m, ws=conn, ws_status=WsStatus.CONNECTING)
    return m, [Open(conn, "ws", f"region:{region}"), Send(conn, GlassesConnect(livekit=True)),
               CancelTimer("ws_reconnect")]


def _set_room(m: MobileState, room: Room) -> MobileState:
    return evolve(m, rooms=m.rooms.set(room.rid, room))


def _fetch(m: MobileState, op: Op) -> tuple[MobileState, list]:
    m, n = _next(m)
    conn = f"mobile/rest{n}"
    op = evolve(op, phase=OpPhase.FETCHING, rest_conn=conn)
    return evolve(m, ops=m.ops.set(op.oid, op)), [
        Open(conn, "rest", f"region:{m.rest_base}"), Send(conn, TokenRequest()),
        log("rest_token_request", f"GET /api/client/livekit/token from {m.rest_base}",
            region=m.rest_base)]


def _disconnect_room(m: MobileState, rid: int) -> tuple[MobileState, list]:
    room = m.rooms[rid]
    m = _set_room(m, evolve(room, phase=RoomPhase.DISCONNECTED))
    return m, [Send(room.conn, ClientLeave()), Close(room.conn), CancelTimer("lk_retry", rid),
               log("room_disconnect", f"room.disconnect() on room #{rid} ({room.deployment})",
                   room=rid)]


def _finish_op(m: MobileState, rid: int) -> MobileState:
    return evolve(m, ops=FMap.of({k: o for k, o in m.ops.items() if o.room != rid}))


# --- stimuli (the user and the phone) -----------------------------------------------------------

def select_region(m: MobileState, region: str, ctx: Ctx) -> tuple[MobileState, list]:
    """The user sets the backend region (first connect or a switch). A switch passes through the
    app's screens and /init (developer.tsx:51-103, init.tsx:110-131, SocketComms.ts:77-83); the
    model opens the new socket at once and records the time, so that the world offers the next
    switch only `Timing.switch_gap` later (`switch_ready`)."""
    before = m.backend
    rest = region if (ctx.cfg.a("rest_follows_region") or m.rest_base is None) else m.rest_base
    m = evolve(m, backend=region, rest_base=rest,
               switched_at=ctx.now if before is not None else m.switched_at)
    effects: list = []
    if m.ws is not None:
        effects += [Close(m.ws)]
        m = evolve(m, abandoned=m.abandoned + (m.ws,), ws=None)
    m, opened = _open_ws(m, region)
    text = f"switch region {before} -> {region}" if before else f"connect to {region}"
    return m, [log("select_region", text, frm=before or "", to=region)] + effects + opened


def speak(m: MobileState, ctx: Ctx) -> tuple[MobileState, list]:
    """One mic packet: into the connected room, else over a CONNECTED WebSocket, else nowhere."""
    packet = f"audio-{m.packets + 1}"
    m = evolve(m, packets=m.packets + 1)
    room = m.rooms.get(m.room) if m.room is not None else None
    if room is not None and room.phase is RoomPhase.CONNECTED:
        return m, [Send(room.conn, SendData(packet)),
                   log("mic_packet", f"{packet} -> room on {room.deployment}", packet=packet,
                       via="livekit")]
    if m.ws is not None and m.ws_status is WsStatus.CONNECTED:
        return m, [Send(m.ws, MicAudio(packet)),
                   log("mic_packet", f"{packet} -> WebSocket", packet=packet, via="ws")]
    # sendBinary drops audio unless the socket is CONNECTED (WebSocketManager.ts:161-165)
    return m, [log("mic_packet", f"{packet} dropped: no room, no connected socket", packet=packet,
                   via="")]


def switch_ready(m: MobileState, now: int, cfg) -> bool:
    """Whether the user can switch region now: always under `human_paced_switches=False`
    (adversarial), else only `Timing.switch_gap` after the last switch: a switch is human-gated
    and takes seconds (fidelity-audit.md, "Instant switches")."""
    if not cfg.a("human_paced_switches") or m.switched_at is None:
        return True
    return now - m.switched_at >= cfg.timing.switch_gap


def set_mic(m: MobileState, on: bool, ctx: Ctx) -> tuple[MobileState, list]:
    """The user switches the microphone; its state goes to the region over the socket, whose
    MicrophoneManager debounces it (MicrophoneManager.ts:79-145, l.128)."""
    m = evolve(m, mic_on=on)
    effects = [log("mic", f"microphone {'on' if on else 'off'}", on=on)]
    if m.ws is not None:
        effects.append(Send(m.ws, MicStateChanged(on)))
    return m, effects


# --- WebSocket handlers -------------------------------------------------------------------------

def on_ack(m: MobileState, conn, msg: ConnectionAck, ctx: Ctx) -> tuple[MobileState, list]:
    """CONNECTION_ACK -> livekitManager.connect() (SocketComms.ts:307-311)."""
    m = evolve(m, ws_status=WsStatus.CONNECTED)
    m, oid = _next(m)
    effects = [log("ack", f"CONNECTION_ACK from {m.backend}; livekitManager.connect() #{oid}",
                   region=m.backend, op=oid)]
    op = Op(oid, OpPhase.DISCONNECTING_OLD)
    if ctx.cfg.seam("mobile.disconnect_old_room")(m, ctx.cfg):
        m = evolve(m, ops=m.ops.set(oid, evolve(op, room=None)))
        m, more = _disconnect_room(m, m.room)
        return m, effects + more + [Await(("op", oid))]
    m, more = _fetch(m, op)
    return m, effects + more


def on_ws_closed(m: MobileState, conn, msg: ConnClosed, ctx: Ctx) -> tuple[MobileState, list]:
    """The socket closed: retry every 5 s while DISCONNECTED (WebSocketManager.ts:97-116)."""
    m = evolve(m, ws=None, ws_status=WsStatus.DISCONNECTED,
               abandoned=m.abandoned + (conn.id,))
    return m, [SetTimer("ws_reconnect", ctx.cfg.timing.ws_reconnect),
               log("ws_closed", f"WebSocket to {m.backend} closed; reconnecting in 5 s",
                   region=m.backend)]


def on_ws_reconnect(m: MobileState, conn, msg: TimerFired, ctx: Ctx) -> tuple[MobileState, list]:
    if m.ws is not None or m.backend is None:
        return m, []
    m, effects = _open_ws(m, m.backend)
    return m, [log("ws_reconnect", f"WebSocket reconnect to {m.backend}", region=m.backend)] + effects


# --- connect() steps ----------------------------------------------------------------------------

def on_old_room_disconnected(m: MobileState, conn, msg: Resumed, ctx: Ctx):
    """`await this.room.disconnect(); this.room = null` -- drops whatever this.room is *now*."""
    op = m.ops[msg.tag[1]]
    m = evolve(m, room=None)
    return _fetch(m, op)


def on_token(m: MobileState, conn, msg: TokenResponse, ctx: Ctx) -> tuple[MobileState, list]:
    """`this.room = new Room(); await this.room.connect(url, token)`."""
    op = next(o for o in m.ops.values() if o.rest_conn == conn.id)
    m, rid = _next(m)
    lk = f"mobile/lk{rid}"
    room = Room(rid, msg.url, lk, msg.token)
    m = _set_room(evolve(m, room=rid), room)
    m = evolve(m, ops=m.ops.set(op.oid, evolve(op, phase=OpPhase.JOINING, room=rid)))
    return m, [Close(conn.id), Open(lk, "signal", f"livekit:{msg.url}"), Send(lk, Join(msg.token)),
               log("room_connect", f"room #{rid}: connect to {msg.url}", room=rid, url=msg.url)]


def on_rest_failed(m: MobileState, conn, msg: ConnClosed, ctx: Ctx) -> tuple[MobileState, list]:
    op = next(o for o in m.ops.values() if o.rest_conn == conn.id)
    return evolve(m, ops=m.ops.delete(op.oid)), [
        log("connect_failed", f"connect() #{op.oid}: token request failed; no retry", op=op.oid)]


# --- room handlers (by the room the connection belongs to) --------------------------------------

def _room_of(m: MobileState, conn_id: str) -> Room:
    return next(r for r in m.rooms.values() if r.conn == conn_id)


def on_joined(m: MobileState, conn, msg: JoinAccepted, ctx: Ctx) -> tuple[MobileState, list]:
    room = _room_of(m, conn.id)
    m = _set_room(m, evolve(room, phase=RoomPhase.CONNECTED, refresh=msg.refresh_token,
                            attempt=0))
    how = "resumed" if msg.resumed else "connected"
    return _finish_op(m, room.rid), [
        log("room_connected", f"room #{room.rid} {how} on {room.deployment} as {msg.sid}",
            room=room.rid, sid=msg.sid)]


def on_refused(m: MobileState, conn, msg: JoinRefused, ctx: Ctx) -> tuple[MobileState, list]:
    """A failed connect is logged; nothing retries (LivekitManager.ts); a 401 ends a resume."""
    room = _room_of(m, conn.id)
    m = _set_room(m, evolve(room, phase=RoomPhase.DISCONNECTED))
    return _finish_op(m, room.rid), [Close(conn.id), log(
        "room_failed", f"room #{room.rid}: {msg.message}; no retry", room=room.rid)]


def on_refresh(m: MobileState, conn, msg: RefreshToken, ctx: Ctx) -> tuple[MobileState, list]:
    room = _room_of(m, conn.id)
    return _set_room(m, evolve(room, refresh=msg.token)), []


def on_server_leave(m: MobileState, conn, msg: ServerLeave, ctx: Ctx) -> tuple[MobileState, list]:
    """DISCONNECT: the Disconnected handler only logs. RECONNECT (STATE_MISMATCH during a resume):
    the SDK does a full join with its latest token."""
    room = _room_of(m, conn.id)
    if msg.action == "RECONNECT":
        m, n = _next(m)
        lk = f"mobile/lk{room.rid}.{n}"
        m = _set_room(m, evolve(room, conn=lk))
        return m, [Close(conn.id), Open(lk, "signal", f"livekit:{room.deployment}"),
                   Send(lk, Join(room.refresh or room.token))]
    m = _set_room(m, evolve(room, phase=RoomPhase.DISCONNECTED))
    return _finish_op(m, room.rid), [Close(conn.id), log(
        "room_disconnected", f"room #{room.rid} disconnected by server: {msg.reason}",
        room=room.rid, reason=msg.reason)]


def on_signal_lost(m: MobileState, conn, msg: ConnClosed, ctx: Ctx) -> tuple[MobileState, list]:
    """The SDK starts resuming with its stored refresh token."""
    room = _room_of(m, conn.id)
    m = _set_room(m, evolve(room, phase=RoomPhase.RECONNECTING, attempt=0))
    return m, [SetTimer("lk_retry", ctx.cfg.timing.mobile_sdk_retry_delays[0], room.rid),
               log("room_reconnecting", f"room #{room.rid} signal lost; SDK resuming", room=room.rid)]


def on_retry_timer(m: MobileState, conn, msg: TimerFired, ctx: Ctx) -> tuple[MobileState, list]:
    room = m.rooms[msg.key]
    m, n = _next(m)
    lk = f"mobile/lk{room.rid}.{n}"
    m = _set_room(m, evolve(room, conn=lk, attempt=room.attempt + 1))
    return m, [Open(lk, "signal", f"livekit:{room.deployment}"),
               Send(lk, Join(room.refresh or room.token, resume=True))]


def on_connect_failed(m: MobileState, conn, msg: ConnClosed, ctx: Ctx):
    """room.connect() rejected (no server reachable): logged, no retry."""
    room = _room_of(m, conn.id)
    m = _set_room(m, evolve(room, phase=RoomPhase.DISCONNECTED))
    return _finish_op(m, room.rid), [log(
        "room_failed", f"room #{room.rid}: connect failed; no retry", room=room.rid)]


def on_retry_failed(m: MobileState, conn, msg: ConnClosed, ctx: Ctx) -> tuple[MobileState, list]:
    room = _room_of(m, conn.id)
    delay = sdk_next_delay(room.attempt, ctx.cfg.timing.mobile_sdk_retry_delays,
                           ctx.cfg.timing.sdk_retry_cap)
    if delay is not None:
        return m, [SetTimer("lk_retry", delay, room.rid)]
    m = _set_room(m, evolve(room, phase=RoomPhase.DISCONNECTED))
    return m, [log("room_disconnected", f"room #{room.rid}: SDK gave up resuming",
                   room=room.rid, reason="RECONNECT_FAILED")]


# --- the transition table -----------------------------------------------------------------------

WS = WsStatus
R = RoomPhase
TABLE = {
    (WS.CONNECTING, ConnectionAck): on_ack,
    (WS.CONNECTED, ConnectionAck): on_ack,
    (WS.CONNECTING, ConnClosed): on_ws_closed,
    (WS.CONNECTED, ConnClosed): on_ws_closed,
    (WS.DISCONNECTED, TimerFired): on_ws_reconnect,
    (OpPhase.DISCONNECTING_OLD, Resumed): on_old_room_disconnected,
    (OpPhase.FETCHING, TokenResponse): on_token,
    (OpPhase.FETCHING, ConnClosed): on_rest_failed,
    (R.CONNECTING, JoinAccepted): on_joined,
    (R.RECONNECTING, JoinAccepted): on_joined,
    (R.CONNECTING, JoinRefused): on_refused,
    (R.RECONNECTING, JoinRefused): on_refused,
    (R.CONNECTING, RefreshToken): on_refresh,
    (R.CONNECTED, RefreshToken): on_refresh,
    (R.RECONNECTING, RefreshToken): on_refresh,
    (R.CONNECTING, ServerLeave): on_server_leave,
    (R.CONNECTED, ServerLeave): on_server_leave,
    (R.RECONNECTING, ServerLeave): on_server_leave,
    (R.CONNECTED, ConnClosed): on_signal_lost,
    (R.CONNECTING, ConnClosed): on_connect_failed,
    (R.RECONNECTING, ConnClosed): on_retry_failed,
    (R.RECONNECTING, TimerFired): on_retry_timer,
}

_ABANDONED = "the socket's handlers were removed before it was closed (WebSocketManager.ts:49-57)"
_GONE = "the app dropped this Room after it disconnected; the SDK delivers nothing more"
_NO_DATA = "the app subscribes to no data packets (it only publishes mic audio)"
_OLD_CONN = "the SDK moved the room to a newer signal connection"
IGNORED = {
    (WS.ABANDONED, ConnectionAck): _ABANDONED,
    (WS.ABANDONED, ConnClosed): _ABANDONED,
    **{(R.DISCONNECTED, t): _GONE for t in (JoinAccepted, JoinRefused, RefreshToken, ServerLeave,
                                            DataReceived, ConnClosed, TimerFired)},
    **{(R.SUPERSEDED, t): _OLD_CONN for t in (JoinAccepted, JoinRefused, RefreshToken, ServerLeave,
                                              DataReceived, ConnClosed)},
    (R.CONNECTING, DataReceived): _NO_DATA,
    (R.CONNECTED, DataReceived): _NO_DATA,
    (R.RECONNECTING, DataReceived): _NO_DATA,
    (OpPhase.DONE, TokenResponse): "the connect() call already ended",
    (OpPhase.DONE, ConnClosed): "the connect() call already ended",
    (OpPhase.JOINING, ConnClosed): "the REST request already answered; the app closed it",
}

STATES = (*WsStatus, *RoomPhase, *OpPhase)
MESSAGES = (ConnectionAck, ConnClosed, TimerFired, Resumed, TokenResponse, JoinAccepted,
            JoinRefused, RefreshToken, ServerLeave, DataReceived)


def target_state(m: MobileState, conn, msg) -> enum.Enum:
    """The state of the object a message addresses: the socket, a connect() call, or a Room."""
    if isinstance(msg, TimerFired):
        if msg.name == "ws_reconnect":
            return m.ws_status if m.ws is None else WsStatus.CONNECTING
        return m.rooms[msg.key].phase
    if conn.kind == "local":
        op = m.ops.get(msg.tag[1])
        return op.phase if op else OpPhase.DONE
    if conn.kind == "ws":
        return m.ws_status if conn.id == m.ws else WsStatus.ABANDONED
    if conn.kind == "rest":
        op = next((o for o in m.ops.values() if o.rest_conn == conn.id), None)
        return op.phase if op else OpPhase.DONE
    room = next((r for r in m.rooms.values() if r.conn == conn.id), None)
    return room.phase if room else RoomPhase.SUPERSEDED


def handle(m: MobileState, conn, msg, ctx: Ctx) -> tuple[MobileState, list]:
    state = target_state(m, conn, msg)
    return dispatch(ME, TABLE, IGNORED, state, m, conn, msg, ctx)
