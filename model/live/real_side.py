"""The real LiveKit server behind the small async interface the conformance scenarios use.

`RealLiveKit` drives one deployment (a `LiveKitServer`, or url/key/secret): it mints tokens with the
deployment's key, joins rooms as participants through the `livekit` (rtc) SDK, and calls the Twirp
RoomService through `livekit-api`. Every participant connection is a named *handle*; the room events
the SDK reports for a handle (disconnect reason, data packets, refreshed tokens) are recorded in the
side-neutral form defined in `model.live.conformance` (see `Event`).

Observed behaviour of the real server and SDK is written down in docs/livekit-server.md.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt

from model.system import tokens
from model.live.conformance import REFUSAL_OF_MODEL, REFUSAL_OTHER, JoinResult

try:  # the rtc SDK is the optional "live" extra
    from livekit import rtc
except ImportError:  # pragma: no cover - reported when a RealLiveKit is built
    rtc = None  # type: ignore[assignment]

from livekit import api

# "engine: signal failure: client error: 401 Unauthorized - invalid API key: APIxyz"
_STATUS_RE = re.compile(r"\b([1-5]\d\d) ([A-Za-z][A-Za-z ]*?) - (.*)$", re.S)


def classify_refusal(message: str, version: str | None = None) -> tuple[int | None, str, str]:
    """(HTTP status, side-neutral category, server's reason text) of a refused connect.

    The server's text (pkg/service/auth.go:93-96) is `invalid API key: <key>` or
    `invalid token: <jwt>, error: <jwt library error>`; the SDK wraps it as
    `engine: signal failure: client error: 401 Unauthorized - <text>`. The library error depends
    on the server series (`tokens.SERVER_ERRORS`): with `version` the texts of that version's
    series are used, otherwise those of every supported series. A text no table knows is `other`.
    """
    m = _STATUS_RE.search(message)
    status = int(m.group(1)) if m else None
    text = m.group(3).strip() if m else message.strip()
    series = tokens.series_of(version) if version else None
    category = REFUSAL_OF_MODEL.get(tokens.classify_refusal(text, series) or "", REFUSAL_OTHER)
    return status, category, tokens.short(text)


@dataclass
class _Handle:
    name: str
    identity: str
    room_name: str
    room: Any  # rtc.Room
    events: list[dict] = field(default_factory=list)
    connected: bool = True


class RealLiveKit:
    """One real LiveKit deployment behind the conformance side protocol.

    Build it inside a running event loop (the API client needs one) and close it with `aclose()`
    (or `async with`), which disconnects every handle and deletes every room it touched.
    """

    # Bound on waiting for the server to drop a participant that left.
    propagation_timeout_s = 3.0
    # Bound on waiting for the receivers' SDKs to learn a sender (server batches updates every 3 s).
    sender_visible_timeout_s = 4.0

    def __init__(
        self,
        server: Any = None,
        *,
        url: str | None = None,
        key: str | None = None,
        secret: str | None = None,
        name: str | None = None,
        connect_timeout_s: float = 10.0,
        version: str | None = None,
    ) -> None:
        if rtc is None:
            raise RuntimeError("the 'livekit' (rtc) package is not installed: pip install livekit")
        if server is not None:
            url, key, secret = server.url, server.key, server.secret
            name = name or server.name
            version = getattr(server, "version", None)
        if not (url and key and secret):
            raise ValueError("RealLiveKit needs a LiveKitServer or url, key and secret")
        self.url: str = url
        self.http_url: str = url.replace("ws://", "http://", 1).replace("wss://", "https://", 1)
        self.key: str = key
        self.secret: str = secret
        self.name: str = name or "real"
        self.connect_timeout_s = connect_timeout_s
        self.version = version   # server version: which refusal texts to expect (None: any known)
        self._handles: dict[str, _Handle] = {}
        self._rooms_touched: set[str] = set()
        self._api: api.LiveKitAPI | None = None
        self._t0 = time.monotonic()

    # -- plumbing --------------------------------------------------------------------------------
    @property
    def api(self) -> api.LiveKitAPI:
        if self._api is None:
            self._api = api.LiveKitAPI(self.http_url, self.key, self.secret, failover=False)
        return self._api

    def now(self) -> float:
        """Seconds since this side was created (the time stamps on recorded events)."""
        return time.monotonic() - self._t0

    async def __aenter__(self) -> "RealLiveKit":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def unique(self, base: str) -> str:
        """A room name nobody else on a shared, long-running server uses."""
        return f"{base}-{uuid.uuid4().hex[:8]}"

    # -- tokens ----------------------------------------------------------------------------------
    def mint(
        self,
        identity: str,
        room: str,
        ttl_s: float = 6 * 3600,
        *,
        key: str | None = None,
        secret: str | None = None,
        nbf_offset_s: float = 0,
        exp_offset_s: float | None = None,
    ) -> str:
        """A LiveKit access token (HS256, the claim layout of livekit-api's AccessToken).

        `exp` = now + ttl_s, or now + exp_offset_s when given (negative: already expired);
        `nbf` = now + nbf_offset_s. Signed with this deployment's key/secret unless overridden.
        """
        now = int(time.time())
        exp = now + int(exp_offset_s if exp_offset_s is not None else ttl_s)
        claims = {
            "video": {
                "roomJoin": True,
                "room": room,
                "canPublish": True,
                "canSubscribe": True,
                "canPublishData": True,
            },
            "sub": identity,
            "iss": key or self.key,
            "nbf": now + int(nbf_offset_s),
            "exp": exp,
        }
        return jwt.encode(claims, secret or self.secret, algorithm="HS256")

    # -- participants ----------------------------------------------------------------------------
    async def join(self, handle: str, identity: str, room: str, token: str) -> JoinResult:
        """Connect a participant; on success wait until the others in the room see it."""
        old = self._handles.get(handle)
        if old is not None and old.connected:
            raise ValueError(f"handle {handle!r} is still connected; leave() it first")
        self._rooms_touched.add(room)
        r = rtc.Room()
        h = _Handle(handle, identity, room, r)
        self._install_listeners(h)
        try:
            await asyncio.wait_for(r.connect(self.url, token), self.connect_timeout_s)
        except asyncio.CancelledError:
            # interrupted mid-connect: the join may still land on the server; leave at once
            await _quiet(asyncio.shield(r.disconnect()))
            raise
        except rtc.ConnectError as exc:
            message = getattr(exc, "message", str(exc))
            status, category, reason = classify_refusal(message, self.version)
            h.connected = False
            return JoinResult(ok=False, status=status, refusal=category, reason=reason, message=message)
        except asyncio.TimeoutError:
            h.connected = False
            await _quiet(r.disconnect())
            return JoinResult(ok=False, status=None, refusal=REFUSAL_OTHER, reason="connect timed out",
                              message=f"no answer within {self.connect_timeout_s} s")
        self._handles[handle] = h
        sid = r.local_participant.sid
        return JoinResult(ok=True, status=200, refusal=None, reason=None, message=None, sid=sid)

    def _install_listeners(self, h: _Handle) -> None:
        r = h.room

        def on_disconnected(reason: Any) -> None:
            h.connected = False
            h.events.append({"kind": "disconnected", "reason": _reason_name(reason), "at": self.now()})

        def on_data(packet: Any) -> None:
            # None when the receiver does not know the sender yet (see send_data)
            sender = packet.participant.identity if packet.participant is not None else None
            h.events.append(
                {"kind": "data", "payload": bytes(packet.data), "sender": sender, "at": self.now()}
            )

        def on_token_refreshed(*_: Any) -> None:
            h.events.append(
                {"kind": "token_refreshed", "token": getattr(r, "_token", None), "at": self.now()}
            )

        r.on("disconnected", on_disconnected)
        r.on("data_received", on_data)
        r.on("token_refreshed", on_token_refreshed)

    async def leave(self, handle: str) -> None:
        """Disconnect a handle; return once the server no longer lists it (bounded)."""
        h = self._handles.get(handle)
        if h is None or not h.connected:
            return
        await h.room.disconnect()
        h.connected = False
        if any(o.connected and o.identity == h.identity and o.room_name == h.room_name
               for o in self._handles.values()):
            return  # another connection holds the identity: the server keeps listing it
        deadline = time.monotonic() + self.propagation_timeout_s
        while time.monotonic() < deadline:
            try:
                if h.identity not in await self.list_participants(h.room_name):
                    return
            except Exception:
                return
            await asyncio.sleep(0.02)

    async def send_data(self, handle: str, payload: bytes) -> None:
        """Publish a reliable data packet to the handle's room.

        First waits (bounded) until every other connected handle of this side in the room knows
        the sender: the server batches the participant updates of participants that publish no
        track (every 3 s in v1.13.5), and until a receiver's SDK has had that update it delivers
        the sender's packets with participant=None, losing the sender identity.
        """
        h = self._handles[handle]
        deadline = time.monotonic() + self.sender_visible_timeout_s
        while time.monotonic() < deadline:
            peers = [
                o for o in self._handles.values()
                if o is not h and o.connected and o.room_name == h.room_name
                and o.identity != h.identity
            ]
            if all(h.identity in o.room.remote_participants for o in peers):
                break
            await asyncio.sleep(0.02)
        await h.room.local_participant.publish_data(payload, reliable=True)

    def events(self, handle: str) -> list[dict]:
        h = self._handles.get(handle)
        return list(h.events) if h else []

    def is_connected(self, handle: str) -> bool:
        h = self._handles.get(handle)
        return bool(h and h.connected)

    def sid(self, handle: str) -> str | None:
        h = self._handles.get(handle)
        return h.room.local_participant.sid if h else None

    async def settle(self, seconds: float) -> None:
        """Let time pass (real time) so that the server's and SDK's asynchronous work happens."""
        await asyncio.sleep(seconds)

    # -- server API ------------------------------------------------------------------------------
    async def list_participants(self, room: str) -> list[str]:
        res = await self.api.room.list_participants(api.ListParticipantsRequest(room=room))
        return sorted(p.identity for p in res.participants)

    async def remove_participant(self, room: str, identity: str) -> None:
        self._rooms_touched.add(room)
        await self.api.room.remove_participant(
            api.RoomParticipantIdentity(room=room, identity=identity)
        )

    async def delete_room(self, room: str) -> None:
        await self.api.room.delete_room(api.DeleteRoomRequest(room=room))

    async def create_room(
        self, room: str, *, departure_timeout: int | None = None, empty_timeout: int | None = None
    ) -> None:
        self._rooms_touched.add(room)
        req = api.CreateRoomRequest(name=room)
        if departure_timeout is not None:
            req.departure_timeout = int(departure_timeout)
        if empty_timeout is not None:
            req.empty_timeout = int(empty_timeout)
        await self.api.room.create_room(req)

    async def list_rooms(self) -> list[str]:
        res = await self.api.room.list_rooms(api.ListRoomsRequest())
        return sorted(r.name for r in res.rooms)

    # -- clean-up --------------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Disconnect every handle and delete every room touched; never raises."""
        for h in list(self._handles.values()):
            if h.connected:
                await _quiet(asyncio.wait_for(h.room.disconnect(), 5.0))
                h.connected = False
        self._handles.clear()
        # A join that was in flight can land after a room was deleted and create it again: delete,
        # look again, for a bounded time.
        deadline = time.monotonic() + 3.0
        while self._rooms_touched:
            try:
                existing = set(await asyncio.wait_for(self.list_rooms(), 5.0))
            except Exception:
                existing = set(self._rooms_touched)
            left = sorted(self._rooms_touched & existing)
            if not left or time.monotonic() > deadline:
                break
            for room in left:
                await _quiet(asyncio.wait_for(self.delete_room(room), 5.0))
            await asyncio.sleep(0.3)
        self._rooms_touched.clear()
        if self._api is not None:
            await _quiet(self._api.aclose())
            self._api = None


def _reason_name(reason: Any) -> str:
    try:
        return rtc.DisconnectReason.Name(int(reason))
    except Exception:
        return str(reason)


async def _quiet(aw: Any) -> None:
    try:
        await aw
    except Exception:
        pass
