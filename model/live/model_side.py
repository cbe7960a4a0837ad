"""The model's LiveKit party behind the conformance protocol (`model.live.conformance.LiveKitSide`).

One `ModelLiveKit` is one deployment of the model (`model.system.parties.livekit`), driven directly: each call is
one message to the party; its effects are carried out at once (messages to participants become
recorded events, timers go on a model clock). `settle(seconds)` advances that clock, firing the
party's timers in order. Nothing here is real time: the same scenario gives the same observations
every time.
"""
from __future__ import annotations

import jwt

from model.system.parties import livekit as LK
from model.system import tokens
from model.system.clock import Clock
from fixes import make_config
from model.system.effects import CancelTimer, Close, Log, Send, SetTimer
from model.live.conformance import REFUSAL_OF_MODEL, JoinResult
from model.system.messages import (ClientLeave, DataReceived, Join, JoinAccepted, JoinRefused,
                            RefreshToken, SendData, ServerLeave, TimerFired)
from model.system.network import Conn
from model.system.parties.party import Ctx, livekit_party

REFUSALS = REFUSAL_OF_MODEL


class ModelLiveKit:
    def __init__(self, deployment: str = "conformance-a"):
        self.cfg = make_config()
        self.deployment = deployment
        self.me = livekit_party(deployment)
        self.state = LK.initial(deployment)
        self.clock = Clock()
        self.key, self.secret = tokens.deployment_keys(deployment)
        self.conns: dict[str, str] = {}          # handle -> conn id
        self.handles: dict[str, str] = {}        # conn id -> handle
        self._events: dict[str, list[dict]] = {}
        self._n = 0

    # --- the party's effects ------------------------------------------------------------------
    def _run(self, fn, *args) -> list:
        ctx = Ctx(self.clock.now, self.cfg, self.me)
        self.state, effects = fn(self.state, *args, ctx)
        sent = []
        for e in effects:
            if isinstance(e, Send):
                sent.append((e.conn, e.msg))
                self._record(e.conn, e.msg)
            elif isinstance(e, SetTimer):
                self.clock = self.clock.set(self.me, e.name, e.delay, e.key)
            elif isinstance(e, CancelTimer):
                self.clock = self.clock.cancel(self.me, e.name, e.key)
            elif not isinstance(e, (Close, Log)):
                raise TypeError(f"unexpected effect {e!r}")
        return sent

    def _record(self, conn: str, msg) -> None:
        handle = self.handles.get(conn)
        if handle is None:
            return
        ev = self._events.setdefault(handle, [])
        at = self.clock.now / 1000
        if isinstance(msg, ServerLeave) and msg.action == "DISCONNECT":
            ev.append({"kind": "disconnected", "reason": msg.reason, "at": at})
        elif isinstance(msg, DataReceived):
            ev.append({"kind": "data", "payload": msg.packet.encode(), "sender": msg.sender,
                       "at": at})
        elif isinstance(msg, RefreshToken):
            ev.append({"kind": "token_refreshed", "token": msg.token, "at": at})
        elif isinstance(msg, JoinAccepted):
            ev.append({"kind": "token_refreshed", "token": msg.refresh_token, "at": at})

    def _deliver(self, handle: str, msg) -> list:
        conn = Conn(self.conns[handle], "signal", handle, self.me, self.me)
        return self._run(lambda s, ctx: LK.handle(s, conn, msg, ctx))

    # --- the protocol -------------------------------------------------------------------------
    def mint(self, identity, room, ttl_s=600, *, key=None, secret=None, nbf_offset_s=0,
             exp_offset_s=None) -> str:
        now = tokens.unix_seconds(self.clock.now)
        exp = now + (exp_offset_s if exp_offset_s is not None else ttl_s)
        claims = {"iss": key or self.key, "sub": identity, "nbf": int(now + nbf_offset_s),
                  "exp": int(exp), "name": identity,
                  "video": {"roomJoin": True, "room": room, "canPublish": True,
                            "canSubscribe": True, "canPublishData": True}}
        return jwt.encode(claims, secret or self.secret, algorithm="HS256")

    async def join(self, handle, identity, room, token) -> JoinResult:
        self._n += 1
        conn = f"client/{handle}/{self._n}"
        self.conns[handle], self.handles[conn] = conn, handle
        sent = self._deliver(handle, Join(token))
        answer = next((m for c, m in sent if c == conn), None)
        if isinstance(answer, JoinAccepted):
            return JoinResult(True, 200, sid=answer.sid)
        assert isinstance(answer, JoinRefused), answer
        return JoinResult(False, 401, REFUSALS.get(answer.reason, "other"), answer.message,
                          answer.message)

    async def leave(self, handle) -> None:
        self._deliver(handle, ClientLeave())

    async def send_data(self, handle, payload: bytes) -> None:
        self._deliver(handle, SendData(payload.decode()))

    def events(self, handle) -> list[dict]:
        return list(self._events.get(handle, []))

    async def list_participants(self, room) -> list[str]:
        return LK.api_list_participants(self.state, room)

    async def remove_participant(self, room, identity) -> None:
        self._run(LK.api_remove_participant, room, identity)

    async def delete_room(self, room) -> None:
        self._run(LK.api_delete_room, room)

    async def create_room(self, room, *, departure_timeout=None, empty_timeout=None) -> None:
        self._run(lambda s, ctx: LK.api_create_room(
            s, room, ctx, departure_timeout and departure_timeout * 1000,
            empty_timeout and empty_timeout * 1000))

    async def list_rooms(self) -> list[str]:
        return sorted(self.state.rooms.keys())

    async def settle(self, seconds: float) -> None:
        target = self.clock.now + int(seconds * 1000)
        while (t := self.clock.next()) is not None and t.due <= target:
            self.clock = self.clock.pop(t)
            msg = TimerFired(t.name, t.key)
            self._run(lambda s, ctx: LK.handle(s, None, msg, ctx))
        self.clock = Clock(target, self.clock.timers, self.clock.seq)

    def unique(self, base: str) -> str:
        self._n += 1
        return f"{base}-{self._n}"

    async def aclose(self) -> None:
        return None
