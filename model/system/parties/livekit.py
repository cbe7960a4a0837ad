"""A LiveKit deployment (one LIVEKIT_URL + API key/secret): rooms, participants, tokens, data.

Theory of operation (livekit-facts.md; livekit/livekit v1.9.2). Tokens are checked only when a
connection is made (join or resume), by `pkg/service/auth.go`, against this deployment's own keys,
with 60 s leeway on `exp`/`nbf`; a connected participant is never removed when its token's `exp`
passes. Every connected participant gets a refreshed token at join and every 5 min, valid 10 min.
A full join with an identity already in the room removes the older participant (LeaveRequest
DISCONNECT, DUPLICATE_IDENTITY; `pkg/service/roommanager.go`, StartSession); nothing is shared
between deployments. A resume (`reconnect=1`) is matched by identity; an unknown identity gets
LeaveRequest RECONNECT / STATE_MISMATCH and the client does a full join. Rooms are auto-created on
join and closed `departure_timeout` (20 s) after the last participant left (`empty_timeout`, 300 s,
for rooms created by the API that nobody joined). A participant whose signal is lost waits about
20 s (10 + 5 + 5) for a resume and is then closed with CONNECTION_TIMEOUT. Data packets reach every
other participant connected at that moment, with the sender's identity.

Server API calls (RemoveParticipant, DeleteRoom, CreateRoom, ListParticipants) are functions used by
the conformance suite and by the live replay's comparison, not by the app (which never calls them).
"""
from __future__ import annotations

import enum

import attrs

from model.system import tokens
from model.system.effects import Close, Send, SetTimer, CancelTimer, log
from model.system.fmap import FMap
from model.system.messages import (ClientLeave, ConnClosed, DataReceived, Join, JoinAccepted, JoinRefused,
                            RefreshToken, SendData, ServerLeave, TimerFired)
from model.system.parties.party import Ctx, dispatch
from model.system.frozen import evolve


class PartPhase(enum.Enum):
    ACTIVE = "active"
    WAITING = "waiting for resume"     # signal lost; resume window open


class ConnRole(enum.Enum):
    """What a signal connection is to this server."""
    NEW = "a connection that has not joined"
    STALE = "a connection no participant uses (left, kicked, replaced)"


class RoomEvent(enum.Enum):
    """Room-level timers."""
    ROOM = "a room"
    GONE = "a room already closed"


@attrs.frozen
class Participant:
    identity: str
    sid: str
    conn: str
    client: str                # the party behind the connection (for observers and diagrams)
    phase: PartPhase = PartPhase.ACTIVE


@attrs.frozen
class RoomState:
    name: str
    created: int
    participants: FMap = FMap()       # identity -> Participant
    departure_timeout: int | None = None   # per-room override (CreateRoom)
    empty_timeout: int | None = None


@attrs.frozen
class LiveKitState:
    deployment: str
    rooms: FMap = FMap()
    n: int = 0


def initial(deployment: str) -> LiveKitState:
    return LiveKitState(deployment)


def keys(lk: LiveKitState) -> dict:
    key, secret = tokens.deployment_keys(lk.deployment)
    return {key: secret}


def _put(lk: LiveKitState, room: RoomState) -> LiveKitState:
    return evolve(lk, rooms=lk.rooms.set(room.name, room))


def find(lk: LiveKitState, conn_id: str) -> tuple[RoomState, Participant] | None:
    for room in lk.rooms.values():
        for p in room.participants.values():
            if p.conn == conn_id:
                return room, p
    return None


def refresh_token(lk: LiveKitState, p: Participant, room: str, ctx: Ctx) -> str:
    key, secret = tokens.deployment_keys(lk.deployment)
    return tokens.mint(key, secret, p.identity, room, ctx.now, ctx.cfg.timing.refresh_ttl)


def remove(lk: LiveKitState, room: RoomState, p: Participant, reason: str, ctx: Ctx,
           notify: bool) -> tuple[LiveKitState, list]:
    """Take a participant out; tell it (LeaveRequest) when `notify`; start the departure timer."""
    room = evolve(room, participants=room.participants.delete(p.identity))
    effects = [CancelTimer("refresh", p.sid), CancelTimer("resume_wait", p.sid),
               log("participant_left", f"{p.identity} ({p.sid}) left {room.name}: {reason}",
                   room=room.name, identity=p.identity, sid=p.sid, client=p.client, conn=p.conn,
                   reason=reason)]
    if notify:
        effects = [Send(p.conn, ServerLeave("DISCONNECT", reason)), Close(p.conn)] + effects
    if not room.participants:
        effects.append(SetTimer("departure", room.departure_timeout or
                                ctx.cfg.timing.departure_timeout, room.name))
    return _put(lk, room), effects


# --- handlers -----------------------------------------------------------------------------------

def on_join(lk: LiveKitState, conn, msg: Join, ctx: Ctx):
    """Validate at connect time; resume by identity or full join (kicking a duplicate)."""
    verdict = tokens.validate(msg.token, keys(lk), ctx.now, ctx.cfg.timing.leeway)
    if not verdict.ok:
        claims = _claims(msg.token)
        return lk, [Send(conn.id, JoinRefused(verdict.reason, verdict.message)), Close(conn.id),
                    log("token_rejected", f"401 for {claims.get('sub', '?')}: "
                                            f"{tokens.short(verdict.message)}",
                        identity=claims.get("sub", ""), reason=verdict.reason, client=conn.client,
                        conn=conn.id, resume=msg.resume)]
    room = lk.rooms.get(verdict.room)
    existing = room.participants.get(verdict.identity) if room else None
    if msg.resume:
        if existing is None:
            return lk, [Send(conn.id, ServerLeave("RECONNECT", "STATE_MISMATCH")), Close(conn.id)]
        p = evolve(existing, conn=conn.id, phase=PartPhase.ACTIVE)
        lk = _put(lk, evolve(room, participants=room.participants.set(p.identity, p)))
        return lk, [CancelTimer("resume_wait", p.sid),
                    Send(conn.id, JoinAccepted(p.sid, True, refresh_token(lk, p, room.name, ctx))),
                    log("participant_resumed", f"{p.identity} ({p.sid}) resumed in {room.name}",
                        room=room.name, identity=p.identity, sid=p.sid, client=conn.client)]
    effects: list = []
    if room is None:
        room = RoomState(verdict.room, ctx.now)
    if existing is not None:
        lk, effects = remove(lk, room, existing, "DUPLICATE_IDENTITY", ctx, notify=True)
        room = lk.rooms[room.name]
    lk = evolve(lk, n=lk.n + 1)
    p = Participant(verdict.identity, f"PA_{lk.deployment}_{lk.n}", conn.id, conn.client)
    room = evolve(room, participants=room.participants.set(p.identity, p))
    lk = _put(lk, room)
    return lk, effects + [
        CancelTimer("departure", room.name),
        Send(conn.id, JoinAccepted(p.sid, False, refresh_token(lk, p, room.name, ctx))),
        SetTimer("refresh", ctx.cfg.timing.refresh_interval, p.sid),
        log("participant_joined", f"{p.identity} joined {room.name} as {p.sid}", room=room.name,
            identity=p.identity, sid=p.sid, client=conn.client)]


def _claims(token: str) -> dict:
    try:
        return tokens.claims_of(token)
    except Exception:
        return {}


def on_data(lk: LiveKitState, conn, msg: SendData, ctx: Ctx):
    room, sender = find(lk, conn.id)
    effects = [Send(p.conn, DataReceived(sender.identity, msg.packet))
               for p in room.participants.values()
               if p.identity != sender.identity and p.phase is PartPhase.ACTIVE]
    return lk, effects


def on_leave(lk: LiveKitState, conn, msg, ctx: Ctx):
    room, p = find(lk, conn.id)
    return remove(lk, room, p, "CLIENT_INITIATED", ctx, notify=False)


def on_signal_lost(lk: LiveKitState, conn, msg: ConnClosed, ctx: Ctx):
    room, p = find(lk, conn.id)
    p = evolve(p, phase=PartPhase.WAITING)
    lk = _put(lk, evolve(room, participants=room.participants.set(p.identity, p)))
    return lk, [SetTimer("resume_wait", ctx.cfg.timing.resume_wait, p.sid)]


def on_refresh_timer(lk: LiveKitState, conn, msg: TimerFired, ctx: Ctx):
    room, p = _by_sid(lk, msg.key)
    effects = [SetTimer("refresh", ctx.cfg.timing.refresh_interval, p.sid)]
    if p.phase is PartPhase.ACTIVE:
        effects.append(Send(p.conn, RefreshToken(refresh_token(lk, p, room.name, ctx))))
    return lk, effects


def on_resume_timeout(lk: LiveKitState, conn, msg: TimerFired, ctx: Ctx):
    room, p = _by_sid(lk, msg.key)
    return remove(lk, room, p, "CONNECTION_TIMEOUT", ctx, notify=False)


def on_departure(lk: LiveKitState, conn, msg: TimerFired, ctx: Ctx):
    room = lk.rooms[msg.key]
    if room.participants:
        return lk, []
    return evolve(lk, rooms=lk.rooms.delete(room.name)), [
        log("room_closed", f"room {room.name} closed", room=room.name)]


def _by_sid(lk: LiveKitState, sid: str):
    for room in lk.rooms.values():
        for p in room.participants.values():
            if p.sid == sid:
                return room, p
    return None


# --- server API (conformance and live comparison) -----------------------------------------------

def api_remove_participant(lk: LiveKitState, room: str, identity: str, ctx: Ctx):
    r = lk.rooms.get(room)
    if r is None or identity not in r.participants:
        return lk, []
    return remove(lk, r, r.participants[identity], "PARTICIPANT_REMOVED", ctx, notify=True)


def api_delete_room(lk: LiveKitState, room: str, ctx: Ctx):
    r = lk.rooms.get(room)
    if r is None:
        return lk, []
    effects = []
    for p in r.participants.values():
        effects += [Send(p.conn, ServerLeave("DISCONNECT", "ROOM_DELETED")), Close(p.conn),
                    CancelTimer("refresh", p.sid), CancelTimer("resume_wait", p.sid),
                    log("participant_left", f"{p.identity} removed: ROOM_DELETED", room=room,
                        identity=p.identity, sid=p.sid, client=p.client, reason="ROOM_DELETED")]
    return evolve(lk, rooms=lk.rooms.delete(room)), effects + [CancelTimer("departure", room)]


def api_create_room(lk: LiveKitState, room: str, ctx: Ctx, departure_timeout: int | None = None,
                    empty_timeout: int | None = None):
    r = lk.rooms.get(room) or RoomState(room, ctx.now)
    r = evolve(r, departure_timeout=departure_timeout, empty_timeout=empty_timeout)
    effects = [] if r.participants else [
        SetTimer("departure", empty_timeout or ctx.cfg.timing.empty_timeout, room)]
    return _put(lk, r), effects


def api_list_participants(lk: LiveKitState, room: str) -> list[str]:
    """Connected participants (disconnected ones are not listed); unknown room -> []."""
    r = lk.rooms.get(room)
    return sorted(p.identity for p in r.participants.values()) if r else []


# --- the transition table -----------------------------------------------------------------------

P = PartPhase
C = ConnRole
TABLE = {
    (C.NEW, Join): on_join,
    (P.ACTIVE, SendData): on_data,
    (P.ACTIVE, ClientLeave): on_leave,
    (P.WAITING, ClientLeave): on_leave,
    (P.ACTIVE, ConnClosed): on_signal_lost,
}
_STALE = "the connection no longer belongs to a participant"
IGNORED = {
    **{(C.STALE, t): _STALE for t in (SendData, ClientLeave, ConnClosed, Join)},
    (C.NEW, ConnClosed): "closed before joining",
    (C.NEW, SendData): "not joined: the server drops data from an unjoined connection",
    (C.NEW, ClientLeave): "not joined",
    (P.WAITING, SendData): "no transport while waiting for a resume",
    (P.WAITING, ConnClosed): "already waiting for a resume",
}
TIMERS = {"refresh": on_refresh_timer, "resume_wait": on_resume_timeout, "departure": on_departure}
STATES = (*PartPhase, *ConnRole)
MESSAGES = (Join, SendData, ClientLeave, ConnClosed)


def target_state(lk: LiveKitState, conn, msg):
    found = find(lk, conn.id)
    if found:
        return found[1].phase
    return C.NEW if isinstance(msg, Join) else C.STALE


def handle(lk: LiveKitState, conn, msg, ctx: Ctx) -> tuple[LiveKitState, list]:
    if isinstance(msg, TimerFired):
        # a timer whose room or participant is already gone is stale and changes nothing
        if msg.name == "departure":
            if msg.key not in lk.rooms:
                return lk, []
        elif _by_sid(lk, msg.key) is None:
            return lk, []
        return TIMERS[msg.name](lk, conn, msg, ctx)
    return dispatch(ctx.me, TABLE, IGNORED, target_state(lk, conn, msg), lk, conn, msg, ctx)
