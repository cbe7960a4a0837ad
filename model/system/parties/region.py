"""A cloud region pod (TypeScript, Bun): UserSession map, LiveKitManager, REST token endpoint.

Theory of operation (`cloud/packages/cloud/src/services/...` at 507b226e4). Each pod has its own
static `UserSession` map keyed by userId; regions never talk to each other. A glasses WebSocket
open runs `UserSession.createOrReconnect` (`UserSession.ts:357-378`): a session in the map is reused
(new socket attached, `disconnectedAt` and the grace timer cleared, `reconnection: true`), otherwise
a new one is made. `handleConnectionInit` (`websocket-glasses.service.ts:571-650`) starts apps when
not a reconnection and, with `livekit=true`, awaits `handleLiveKitInit()` -> `startBridgeSubscriber`;
the ACK is sent afterwards in every case, also when the bridge join failed (`LiveKitManager.ts:112-117`).

`startBridgeSubscriber` (`LiveKitManager.ts:206-234`) returns early when the current gRPC client says
`isConnected()` (l.213-216); otherwise it creates a new client without disposing the old one, mints
a bridge token (`mintAgentBridgeToken`, l.179-204, "600000m") and connects. Mic-state changes call
`ensureBridgeConnected` -> `startBridgeSubscriber` (l.256-312). The 10 s "bridge health" timer only
logs (l.236-248) and is not modelled.

A glasses WebSocket close (`handleGlassesConnectionClose`, l.1025-1139) records `disconnectedAt`
and, when `GRACE_PERIOD_CLEANUP_ENABLED` (l.43, the `grace_cleanup` assumption), starts the 60 s
grace timer; LiveKit is not touched. When it fires: skipped if reconnected, else
`UserSession.dispose()` (`UserSession.ts:596-679`): await analytics, dispose managers (LiveKitManager
-> its current gRPC client's `dispose()`), await the location manager, and only then delete the
session from the map (l.666). A reconnect during those awaits reuses the session; nothing checks a
disposed flag.

The REST endpoint (`livekit.api.ts:79-114` -> `livekit.service.ts:46-80`) mints a 24 h mobile token
for the room named by the email (`livekit.api.ts:82`, not `getRoomName()`) with this region's
deployment key and returns `{url, token}`.
"""
from __future__ import annotations

import enum

import attrs

from model.system.parties import grpc_client as grpc
from model.system import tokens
from model.system.config import BRIDGE_IDENTITY, USER
from model.system.effects import Await, CancelTimer, Send, SetTimer, log
from model.system.fmap import FMap
from model.system.messages import (AudioFrame, ConnClosed, ConnectionAck, GlassesConnect, JoinRoomReply,
                            LeaveRoomReply, MicAudio, MicStateChanged, Resumed, StatusReply,
                            TimerFired, TokenRequest, TokenResponse)
from model.system.parties.party import Ctx, bridge_party, conn_owner, dispatch, pod_of
from model.system.seams import seam
from model.system.frozen import evolve


class SessionPhase(enum.Enum):
    ACTIVE = "active"
    DISPOSING = "disposing"     # inside dispose()'s awaits, still in the map
    DISPOSED = "disposed"       # removed from the map (its socket may still be open)


@attrs.frozen
class Session:
    sid: int
    ws: str | None = None             # the attached glasses socket
    disconnected_at: int | None = None
    reconnection: bool = False
    livekit: bool = False             # LiveKit was requested
    client: int | None = None         # LiveKitManager's current gRPC client
    phase: SessionPhase = SessionPhase.ACTIVE
    mic_on: bool = True
    last_rejoin: int | None = None    # rejoinBridge throttle (status-rejoin)
    init_ws: str | None = None        # the socket whose init waits for the apps to start


@attrs.frozen
class RegionState:
    region: str
    pod: int = 0
    alive: bool = True
    map_sid: int | None = None        # UserSession map entry for the user
    sessions: FMap = FMap()           # every session object still referenced
    ws_of: FMap = FMap()              # socket -> session it belongs to
    clients: FMap = FMap()            # every LiveKitGrpcClient object ever made and alive
    pipeline: tuple = ()              # (packet, via): the last packet each path brought, newest last
    n: int = 0
    life: int = 0                     # incarnation: +1 each time the process died


def initial(region: str, pod: int = 0, alive: bool = True) -> RegionState:
    return RegionState(region, pod, alive)


# --- seams --------------------------------------------------------------------------------------

@seam("room_name")
def room_name(user: str, region: str, cfg) -> str:
    """LiveKitManager.getRoomName(): the userId (LiveKitManager.ts:50-52)."""
    return user


@seam("region.rest_room_name")
def rest_room_name(user: str, region: str, cfg) -> str:
    """The REST mobile token's room: the email (livekit.api.ts:82), not getRoomName()."""
    return user


@seam("region.on_glasses_close")
def on_glasses_close(r: RegionState, s: Session, ctx: Ctx) -> tuple[RegionState, list]:
    """What the close handler does to LiveKit before grace: nothing (l.1025-1139)."""
    return r, []


@seam("region.before_livekit_init")
def before_livekit_init(r: RegionState, s: Session, ws: str, ctx: Ctx):
    """Between createOrReconnect and handleLiveKitInit: nothing in the baseline."""
    return livekit_init(r, s.sid, ws, ctx)


@seam("region.reuses_session")
def reuses_session(s: Session) -> bool:
    """createOrReconnect reuses the map's session whatever its state: nothing checks a disposed
    flag (UserSession.ts:357-378)."""
    return True


@seam("region.retry_wanted")
def retry_wanted(r: RegionState, cid: int, ctx: Ctx) -> tuple[RegionState, bool]:
    """Whether a client's 2 s stream-error retry runs: always (LiveKitGrpcClient.ts:307-339; the
    client itself skips it once disposed)."""
    return r, True


# --- helpers ------------------------------------------------------------------------------------

def _put(r: RegionState, s: Session) -> RegionState:
    return evolve(r, sessions=r.sessions.set(s.sid, s))


def _put_client(r: RegionState, c: grpc.Client) -> RegionState:
    return evolve(r, clients=r.clients.set(c.cid, c))


def _n(r: RegionState) -> tuple[RegionState, int]:
    return evolve(r, n=r.n + 1), r.n + 1


def bridge_params(r: RegionState, ctx: Ctx) -> tuple:
    """(room, url, token) for JoinRoom: mintAgentBridgeToken (LiveKitManager.ts:179-204)."""
    dep = ctx.cfg.deployment_of(r.region)
    key, secret = tokens.deployment_keys(dep)
    room = ctx.cfg.seam("room_name")(USER, r.region, ctx.cfg)
    token = tokens.mint(key, secret, BRIDGE_IDENTITY, room, ctx.now, ctx.cfg.timing.bridge_token_ttl)
    return room, dep, token


def start_bridge_subscriber(r: RegionState, sid: int, then, ctx: Ctx) -> tuple[RegionState, list]:
    """Early return on isConnected(); else a new client (old one not disposed), token, connect."""
    s = r.sessions[sid]
    current = r.clients.get(s.client) if s.client is not None else None
    if current is not None and current.is_connected():
        return continue_after(r, then, True, ctx, [log(
            "bridge_early_return", f"startBridgeSubscriber: client #{current.cid} isConnected(); "
                                   "returning early", client=current.cid)])
    r, cid = _n(r)
    client, effects = grpc.new(cid, conn_owner(r, ctx.me), bridge_party(r.region, r.pod))
    client, more, done = grpc.connect(client, bridge_params(r, ctx), then)
    r = _put(_put_client(r, client), evolve(s, client=cid))
    for then_, ok in done:
        r, more2 = continue_after(r, then_, ok, ctx)
        more = more + more2
    return r, effects + more


def ensure_bridge_connected(r: RegionState, sid: int, ctx: Ctx) -> tuple[RegionState, list]:
    """ensureBridgeConnected (LiveKitManager.ts:256-312): skipped while the current client is
    connecting (`isConnecting()`, l.258-264), else startBridgeSubscriber. The real code can still
    start a second JoinRoom during the `await mintAgentBridgeToken()` gap (l.218-224); the model
    mints synchronously, so it cannot (docs/model.md, "Approximations")."""
    s = r.sessions[sid]
    if not ctx.cfg.seam("region.ensure_bridge_wanted")(r, s, ctx):
        return r, [log("ensure_bridge_skipped", f"ensureBridgeConnected: session #{sid}'s glasses "
                                                "are not attached; skipped", session=sid)]
    current = r.clients.get(s.client) if s.client is not None else None
    if current is not None and grpc.connecting(current):
        return r, [log("ensure_bridge_skipped", f"ensureBridgeConnected: client #{current.cid} "
                                                "is connecting; skipped", client=current.cid)]
    return start_bridge_subscriber(r, sid, None, ctx)


@seam("region.ensure_bridge_wanted")
def ensure_bridge_wanted(r: RegionState, s, ctx: Ctx) -> bool:
    """Whether the microphone debounce's ensureBridgeConnected may join at all. The baseline
    joins whatever the state of the session's glasses socket: the debounce timer
    (`MicrophoneManager.ts:79-145`, l.128) also fires for a session in its grace period."""
    return True


def livekit_init(r: RegionState, sid: int, ws: str, ctx: Ctx) -> tuple[RegionState, list]:
    """handleLiveKitInit(): mint the (ignored) 300 s ACK token, startBridgeSubscriber, then ACK."""
    s = r.sessions[sid]
    if not s.livekit:
        return r, [Send(ws, ConnectionAck(sid))]
    return start_bridge_subscriber(r, sid, ("ack", ws, sid), ctx)


def continue_after(r: RegionState, then, ok, ctx: Ctx, effects=()) -> tuple[RegionState, list]:
    """Resume whoever awaited a gRPC call: the ACK, or a status-rejoin step (fix modules)."""
    effects = list(effects)
    if then is None:
        return r, effects
    if then[0] == "ack":
        # userSession.websocket.send (websocket-glasses.service.ts:649; l.800 @83a8053f4): the ACK
        # goes to the session's *current* socket, which a slow init may find replaced.
        _, ws, sid = then
        current = r.sessions[sid].ws
        if current is None:
            return r, effects + [log("ack_lost", "CONNECTION_ACK: the session's socket is closed",
                                     session=sid)]
        return r, effects + [Send(current, ConnectionAck(sid)),
                             log("ack_sent", f"CONNECTION_ACK sent (bridge ok: {ok})", session=sid)]
    if then[0] == "livekit_init":
        r, more = livekit_init(r, then[2], then[1], ctx)
        return r, effects + more
    step = ctx.cfg.seam("region.continuation")
    r, more = step(r, then, ok, ctx)
    return r, effects + more


@seam("region.continuation")
def unknown_continuation(r: RegionState, then, ok, ctx: Ctx):
    """Continuations only fix modules create; the baseline has none."""
    raise ValueError(f"no continuation {then[0]!r} in this fix set")


# --- glasses WebSocket --------------------------------------------------------------------------

def on_glasses_connect(r: RegionState, conn, msg: GlassesConnect, ctx: Ctx):
    """createOrReconnect (UserSession.ts:357-378), then handleConnectionInit."""
    effects: list = []
    if r.map_sid is not None and ctx.cfg.seam("region.reuses_session")(r.sessions[r.map_sid]):
        s = r.sessions[r.map_sid]
        s = evolve(s, ws=conn.id, disconnected_at=None, reconnection=True,
                   livekit=s.livekit or msg.livekit)
        effects += [CancelTimer("grace", s.sid),
                    log("session_reconnected", f"session #{s.sid} reused (reconnection)",
                        session=s.sid, phase=s.phase.value)]
    else:
        r, sid = _n(r)
        s = Session(sid, ws=conn.id, livekit=msg.livekit)
        r = evolve(r, map_sid=sid)
        effects += [log("session_created", f"session #{sid} created; starting apps", session=sid)]
        if ctx.cfg.a("app_start") == "timed":
            s = evolve(s, init_ws=conn.id)
            r = evolve(_put(r, s), ws_of=r.ws_of.set(conn.id, s.sid))
            return r, effects + [SetTimer("apps_started", ctx.cfg.timing.app_start, sid)]
    r = evolve(_put(r, s), ws_of=r.ws_of.set(conn.id, s.sid))
    r, more = ctx.cfg.seam("region.before_livekit_init")(r, s, conn.id, ctx)
    return r, effects + more


def on_apps_started(r: RegionState, conn, msg: TimerFired, ctx: Ctx):
    """A new session's apps have started (or timed out: APP_SESSION_TIMEOUT_MS = 5000,
    AppManager.ts:53; webhook 10 s, l.652); only then does handleConnectionInit run
    handleLiveKitInit (websocket-glasses.service.ts:576-601)."""
    s = r.sessions[msg.key]
    ws = s.init_ws
    s = evolve(s, init_ws=None)
    r, more = ctx.cfg.seam("region.before_livekit_init")(_put(r, s), s, ws, ctx)
    return r, [log("apps_started", f"session #{s.sid}: apps started; LiveKit init",
                   session=s.sid)] + more


def on_mic_state(r: RegionState, conn, msg: MicStateChanged, ctx: Ctx):
    """A mic-state change restarts MicrophoneManager's debounce (MicrophoneManager.ts:79-145,
    l.128); its end calls ensureBridgeConnected (`on_mic_debounced`). The model keeps the phone's
    message as what changes the microphone state the cloud debounces (docs/model.md,
    "Approximations"). SpeakerManager's ensureBridgeConnected calls are not modelled separately."""
    s = r.sessions[r.ws_of[conn.id]]
    r = _put(r, evolve(s, mic_on=msg.on))
    return r, [CancelTimer("mic_debounce", s.sid),
               SetTimer("mic_debounce", ctx.cfg.timing.mic_debounce, s.sid),
               log("mic_changed", f"session #{s.sid}: mic {'on' if msg.on else 'off'}; debounce",
                   session=s.sid)]


def on_ws_audio(r: RegionState, conn, msg: MicAudio, ctx: Ctx):
    """Binary audio frames over the socket go straight to the audio manager."""
    return heard(r, msg.packet, "ws"), [
        log("audio_received", f"{msg.packet} received over the WebSocket", packet=msg.packet,
            via="ws")]


def heard(r: RegionState, packet: str, via: str) -> RegionState:
    """A packet reached the pod's audio manager over `via` ("ws" or "livekit"). Only the last one
    per path is kept: all the AudioReachesActiveRegion probe asks is whether its own packet, sent
    into a quiescent world, arrived (docs/properties.md, "How history is checked")."""
    return evolve(r, pipeline=tuple(e for e in r.pipeline if e[1] != via) + ((packet, via),))


def on_ws_closed(r: RegionState, conn, msg: ConnClosed, ctx: Ctx):
    """handleGlassesConnectionClose (websocket-glasses.service.ts:1025-1139): disconnectedAt,
    then grace (when enabled). The close of a stale socket (the session has a newer one) is checked
    against the session's current socket and changes nothing (fidelity-audit.md, second audit)."""
    s = r.sessions[r.ws_of[conn.id]]
    if s.ws is not None and s.ws != conn.id:
        return r, [log("stale_ws_closed", f"an old glasses socket of session #{s.sid} closed; "
                                          "the session has a newer one", session=s.sid)]
    s = evolve(s, disconnected_at=ctx.now, ws=None if s.ws == conn.id else s.ws)
    r, effects = ctx.cfg.seam("region.on_glasses_close")(_put(r, s), s, ctx)
    effects = [log("ws_closed", f"glasses socket of session #{s.sid} "
                                f"{'dropped' if msg.error else 'closed'}", session=s.sid,
                   error=msg.error)] + effects
    if ctx.cfg.a("grace_cleanup"):
        effects.append(SetTimer("grace", ctx.cfg.timing.grace, s.sid))
    return r, effects


def on_grace(r: RegionState, conn, msg: TimerFired, ctx: Ctx):
    """Grace over: skip if reconnected, else UserSession.dispose() (UserSession.ts:596-679). Its
    first await, `PosthogService.trackEvent` (UserSession.ts:609), does no I/O
    (posthog.service.ts:34-54, a synchronous `capture`): not an interleaving point, so the
    managers (LiveKitManager -> its client's dispose()) are disposed in the same step."""
    s = r.sessions[msg.key]
    if s.ws is not None:
        return r, [log("grace_skipped", f"session #{s.sid}: grace over, reconnected", session=s.sid)]
    r = _put(r, evolve(s, phase=SessionPhase.DISPOSING))
    r, effects = dispose_livekit(r, s)
    r, more = location_persist(r, s.sid, ctx)
    return r, [log("dispose_start", f"session #{s.sid}: grace over; dispose()", session=s.sid)] \
        + effects + more


def location_persist(r: RegionState, sid: int, ctx: Ctx) -> tuple[RegionState, list]:
    """`await locationManager.dispose()` (UserSession.ts:637): I/O only when a location is cached
    (LocationManager.ts:371-389). Assumption `dispose_location_io`: "timed" (the default) resumes
    after `Timing.location_persist`; "none" (no location cached) resumes at once; "unbounded"
    lets any other delivery overtake it for any time (the adversarial profile)."""
    mode = ctx.cfg.a("dispose_location_io")
    if mode == "timed":
        return r, [SetTimer("dispose_io", ctx.cfg.timing.location_persist, sid)]
    if mode == "unbounded":
        return r, [Await(("dispose", sid, "location"))]
    return dispose_done(r, sid)


def on_dispose_step(r: RegionState, conn, msg, ctx: Ctx):
    """The location await is over (a `dispose_io` timer, or `Resumed` when unbounded)."""
    return dispose_done(r, msg.key if isinstance(msg, TimerFired) else msg.tag[1])


def dispose_done(r: RegionState, sid: int) -> tuple[RegionState, list]:
    """The end of dispose(): delete from the map (UserSession.ts:596-679, l.666)."""
    s = r.sessions[sid]
    r = _put(r, evolve(s, phase=SessionPhase.DISPOSED))
    if r.map_sid == sid:
        r = evolve(r, map_sid=None)
    return r, [log("session_disposed", f"session #{sid} disposed and removed from the map",
                   session=sid)]


def on_mic_debounced(r: RegionState, conn, msg: TimerFired, ctx: Ctx):
    """MicrophoneManager's debounce ran out (MicrophoneManager.ts:79-145, l.128): onMicStateChange
    -> ensureBridgeConnected (LiveKitManager.ts:256-312)."""
    s = r.sessions[msg.key]
    r, effects = ensure_bridge_connected(r, s.sid, ctx)
    return r, [log("mic_state", f"session #{s.sid}: mic {'on' if s.mic_on else 'off'} "
                                "(debounced); ensureBridgeConnected", session=s.sid)] + effects


def on_session_timer(r: RegionState, conn, msg: TimerFired, ctx: Ctx):
    """A session's timers: the apps' start, the location persist of dispose(), grace (only while
    active), the microphone debounce (MicrophoneManager is disposed with the session: ignored
    once disposing)."""
    phase = r.sessions[msg.key].phase
    if msg.name == "dispose_io":
        return on_dispose_step(r, conn, msg, ctx)
    if msg.name == "apps_started":
        return on_apps_started(r, conn, msg, ctx)
    if phase is not SessionPhase.ACTIVE:
        return r, []
    if msg.name == "mic_debounce":
        return on_mic_debounced(r, conn, msg, ctx)
    return on_grace(r, conn, msg, ctx)


def dispose_livekit(r: RegionState, s: Session) -> tuple[RegionState, list]:
    """LiveKitManager.dispose() (LiveKitManager.ts:312-323): its current client's dispose(), then
    `bridgeClient = null` (LiveKitManager.ts:319-323; d0054559c:279-280), so a later
    startBridgeSubscriber or rejoinBridge creates a new client (LiveKitManager.ts:385-387
    @753b1494c)."""
    if s.client is None or s.client not in r.clients:
        return r, []
    client, effects = grpc.dispose(r.clients[s.client])
    s = evolve(r.sessions[s.sid], client=None)
    return _put(_put_client(r, client), s), effects


# --- REST ---------------------------------------------------------------------------------------

def on_token_request(r: RegionState, conn, msg: TokenRequest, ctx: Ctx):
    """GET /api/client/livekit/token: a 24 h token from this region's deployment, for the room
    named by the email (livekit.api.ts:82; seam `region.rest_room_name`)."""
    dep = ctx.cfg.deployment_of(r.region)
    key, secret = tokens.deployment_keys(dep)
    room = ctx.cfg.seam("region.rest_room_name")(USER, r.region, ctx.cfg)
    token = tokens.mint(key, secret, USER, room, ctx.now, ctx.cfg.timing.mobile_token_ttl)
    return r, [Send(conn.id, TokenResponse(dep, token)),
               log("rest_token", f"minted mobile token for room {room} on {dep}", room=room)]


# --- gRPC events: routed to the client object ---------------------------------------------------

def on_client_event(r: RegionState, conn, msg, ctx: Ctx):
    if isinstance(msg, TimerFired):
        cid = msg.key
    else:
        cid = next(c.cid for c in r.clients.values()
                   if conn.id == c.conn or conn.id.startswith(c.conn + "."))
    if isinstance(msg, TimerFired) and msg.name == "grpc_retry":
        r, wanted = ctx.cfg.seam("region.retry_wanted")(r, cid, ctx)
        if not wanted:
            return r, [log("grpc_retry_skipped", f"client #{cid}: retry skipped", client=cid)]
    client, effects, done = grpc.handle(r.clients[cid], conn, msg, ctx)
    r = _put_client(r, client)
    for then, ok in done:
        if then is not None and then[0] == "audio":
            r = heard(r, ok, "livekit")
            effects.append(log("audio_received", f"{ok} received from the bridge (client #{cid})",
                               packet=ok, via="livekit"))
            continue
        r, more = continue_after(r, then, ok, ctx)
        effects += more
    return r, effects


# --- the transition table -----------------------------------------------------------------------

class Target(enum.Enum):
    """Which object of the pod an event addresses (SessionPhase covers sessions)."""
    NEW_SOCKET = "a socket not yet attached"
    REST = "a REST request"
    CLIENT = "a gRPC client"
    DEAD = "a dead pod"


S = SessionPhase
TABLE = {
    (Target.NEW_SOCKET, GlassesConnect): on_glasses_connect,
    (Target.REST, TokenRequest): on_token_request,
    **{(p, MicStateChanged): on_mic_state for p in S},
    **{(p, MicAudio): on_ws_audio for p in S},
    **{(p, ConnClosed): on_ws_closed for p in (S.ACTIVE, S.DISPOSING)},
    **{(p, TimerFired): on_session_timer for p in S},
    (S.DISPOSING, Resumed): on_dispose_step,
    **{(Target.CLIENT, t): on_client_event
       for t in (JoinRoomReply, LeaveRoomReply, StatusReply, AudioFrame, ConnClosed, TimerFired)},
}
IGNORED = {
    (S.DISPOSED, ConnClosed): "a disposed session's socket closing changes nothing",
    (Target.REST, ConnClosed): "the client closed its REST request after the answer",
    (Target.NEW_SOCKET, ConnClosed): "a socket closed before its first message made no session: "
                                     "its close handler finds none (websocket-glasses.service.ts:"
                                     "217-219)",
    **{(Target.DEAD, t): "the pod is down; its connections failed with it"
       for t in (GlassesConnect, TokenRequest, MicStateChanged, MicAudio, ConnClosed, TimerFired,
                 Resumed, JoinRoomReply, LeaveRoomReply, StatusReply, AudioFrame)},
}
STATES = (*SessionPhase, *Target)
MESSAGES = (GlassesConnect, TokenRequest, MicStateChanged, MicAudio, ConnClosed, TimerFired,
            Resumed, JoinRoomReply, LeaveRoomReply, StatusReply, AudioFrame)


SESSION_TIMERS = ("grace", "dispose_io", "mic_debounce", "apps_started")


def target_state(r: RegionState, conn, msg):
    if not r.alive:
        return Target.DEAD
    if isinstance(msg, TimerFired):
        if msg.name in SESSION_TIMERS:
            return r.sessions[msg.key].phase
        return Target.CLIENT
    if isinstance(msg, Resumed):
        return r.sessions[msg.tag[1]].phase
    if conn.kind in ("grpc", "stream"):
        return Target.CLIENT
    if conn.kind == "rest":
        return Target.REST
    if conn.id not in r.ws_of:
        return Target.NEW_SOCKET
    return r.sessions[r.ws_of[conn.id]].phase


def handle(r: RegionState, conn, msg, ctx: Ctx) -> tuple[RegionState, list]:
    return dispatch(ctx.me, TABLE, IGNORED, target_state(r, conn, msg), r, conn, msg, ctx)


def pod_name(party: str) -> str:
    region, pod = pod_of(party)
    return region + (f"#{pod}" if pod else "")
