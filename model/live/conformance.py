"""LiveKit conformance scenarios, as data, independent of which side runs them.

A *side* is anything that behaves like one LiveKit deployment seen from outside: the real server
(`model.live.real_side.RealLiveKit`) or the model (`model.live.model_side`, written separately).
A scenario is `async def scenario_xxx(side, other) -> dict`: it drives `side` (and uses `other`, a
second, independent deployment of the same kind, only where the scenario is about two
deployments) and returns plain, side-neutral observations: identities, reason names, booleans,
refusal categories. No SIDs, room names, URLs, keys or wall-clock times appear in them, so the
observations of two sides can be compared with `==`.

`EXPECTED` holds the observations that livekit-facts.md predicts; `compare()` lists the differences.

Time: every wait goes through `side.settle(seconds)`. The real side sleeps; a model side advances its
clock by that much and runs to quiescence. Durations are kept small so the real run is fast; the
per-room timeouts that the scenarios rely on are set through `create_room` (and the deployments are
expected to run with small defaults too, see model/live/server.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable, Protocol, runtime_checkable

# -- side-neutral vocabulary -------------------------------------------------------------------

# Why a join was refused (the real server answers HTTP 401 for all of these).
REFUSAL_INVALID_API_KEY = "invalid_api_key"  # iss unknown to this deployment
REFUSAL_TOKEN_EXPIRED = "token_expired"  # exp more than the 60 s leeway in the past
REFUSAL_BAD_SIGNATURE = "bad_signature"  # known key, wrong secret
REFUSAL_NOT_YET_VALID = "token_not_yet_valid"  # nbf more than the leeway in the future
REFUSAL_OTHER = "other"

REFUSAL_OF_MODEL = {"invalid_api_key": REFUSAL_INVALID_API_KEY, "expired": REFUSAL_TOKEN_EXPIRED,
                    "bad_signature": REFUSAL_BAD_SIGNATURE, "not_yet_valid": REFUSAL_NOT_YET_VALID}
"""The model's refusal codes (model/system/tokens.py) -> the side-neutral categories above."""

# Disconnect reasons, by their protocol enum names (livekit.DisconnectReason).
DUPLICATE_IDENTITY = "DUPLICATE_IDENTITY"
PARTICIPANT_REMOVED = "PARTICIPANT_REMOVED"
ROOM_DELETED = "ROOM_DELETED"
CLIENT_INITIATED = "CLIENT_INITIATED"

LEEWAY_S = 60  # exp/nbf leeway of the server's token check
REFRESH_TOKEN_TTL_S = 600  # validity of the refresh token the server sends at join (v1.9.x)


@dataclass(frozen=True)
class JoinResult:
    """Outcome of `side.join(...)`.

    `refusal` is one of the REFUSAL_* categories when `ok` is false; `status` the HTTP status
    (401 for token problems); `reason` the server's reason text without the echoed token (real
    side only; a model side may give its own wording); `message` the raw error.
    """

    ok: bool
    status: int | None = None
    refusal: str | None = None
    reason: str | None = None
    message: str | None = None
    sid: str | None = None


# Recorded events, as returned by side.events(handle), are dicts with a "kind":
#   {"kind": "disconnected", "reason": "<DisconnectReason name>", "at": t}
#   {"kind": "data", "payload": b"...", "sender": "<identity>", "at": t}
#   {"kind": "token_refreshed", "token": "<jwt>", "at": t}
# "at" is the side's own time in seconds; scenarios never put it into observations.


@runtime_checkable
class LiveKitSide(Protocol):
    """What a scenario may do with one LiveKit deployment."""

    def mint(
        self,
        identity: str,
        room: str,
        ttl_s: float = ...,
        *,
        key: str | None = None,
        secret: str | None = None,
        nbf_offset_s: float = 0,
        exp_offset_s: float | None = None,
    ) -> str: ...

    async def join(self, handle: str, identity: str, room: str, token: str) -> JoinResult: ...
    async def leave(self, handle: str) -> None: ...
    async def send_data(self, handle: str, payload: bytes) -> None: ...
    def events(self, handle: str) -> list[dict]: ...
    async def list_participants(self, room: str) -> list[str]: ...
    async def remove_participant(self, room: str, identity: str) -> None: ...
    async def delete_room(self, room: str) -> None: ...
    async def create_room(
        self, room: str, *, departure_timeout: int | None = None, empty_timeout: int | None = None
    ) -> None: ...
    async def list_rooms(self) -> list[str]: ...
    async def settle(self, seconds: float) -> None: ...
    def unique(self, base: str) -> str: ...
    async def aclose(self) -> None: ...


Scenario = Callable[[LiveKitSide, LiveKitSide], Awaitable[dict]]

# How long scenarios let asynchronous effects (kicks, data, API calls) propagate.
PROPAGATE_S = 0.5


# -- helpers -----------------------------------------------------------------------------------


def disconnect_reasons(side: LiveKitSide, handle: str) -> list[str]:
    return [e["reason"] for e in side.events(handle) if e["kind"] == "disconnected"]


def first_disconnect_reason(side: LiveKitSide, handle: str) -> str | None:
    reasons = disconnect_reasons(side, handle)
    return reasons[0] if reasons else None


def data_received(side: LiveKitSide, handle: str) -> list[list[str]]:
    """[[payload, sender identity], ...] in arrival order (payload decoded as UTF-8)."""
    return [
        [e["payload"].decode("utf-8", "replace"), e["sender"]]
        for e in side.events(handle)
        if e["kind"] == "data"
    ]


def refreshed_tokens(side: LiveKitSide, handle: str) -> list[str]:
    return [e["token"] for e in side.events(handle) if e["kind"] == "token_refreshed"]


def _claims(token: str) -> dict:
    import jwt

    return jwt.decode(token, options={"verify_signature": False})


# -- scenarios ---------------------------------------------------------------------------------


async def scenario_duplicate_identity(side: LiveKitSide, other: LiveKitSide) -> dict:
    """A second full join with the same identity removes the first (DUPLICATE_IDENTITY); a
    different identity, the same identity in another room, or in another deployment, does not."""
    room, room2 = side.unique("dup"), side.unique("dup2")
    r1 = await side.join("alice#1", "alice", room, side.mint("alice", room))
    r2 = await side.join("bob", "bob", room, side.mint("bob", room))
    await side.settle(PROPAGATE_S)
    kicked_by_other_identity = first_disconnect_reason(side, "alice#1")
    r3 = await side.join("alice#2", "alice", room, side.mint("alice", room))
    await side.settle(PROPAGATE_S)
    after_dup = await side.list_participants(room)
    r4 = await side.join("alice#3", "alice", room2, side.mint("alice", room2))
    await side.settle(PROPAGATE_S)
    after_other_room = first_disconnect_reason(side, "alice#2")
    o1 = await other.join("alice@other", "alice", room, other.mint("alice", room))
    await side.settle(PROPAGATE_S)
    return {
        "joins_ok": [r1.ok, r2.ok, r3.ok, r4.ok, o1.ok],
        "first_reason_after_other_identity": kicked_by_other_identity,
        "first_disconnect_reason": first_disconnect_reason(side, "alice#1"),
        "bob_disconnect_reason": first_disconnect_reason(side, "bob"),
        "participants": after_dup,
        "new_sid_differs": (r1.sid != r3.sid) if (r1.sid and r3.sid) else True,
        "second_alice_reason_after_other_room": after_other_room,
        "second_alice_reason_after_other_deployment": first_disconnect_reason(side, "alice#2"),
        "other_deployment_participants": await other.list_participants(room),
    }


async def scenario_token_validation(side: LiveKitSide, other: LiveKitSide) -> dict:
    """Expired beyond the 60 s leeway -> refused; expired within it -> accepted; nbf too far
    ahead -> refused; signed with the other deployment's key -> refused (invalid API key);
    this deployment's key with a wrong secret -> refused (bad signature)."""
    room = side.unique("tok")
    expired_far = await side.join(
        "far", "far", room, side.mint("far", room, exp_offset_s=-(LEEWAY_S + 30))
    )
    expired_near = await side.join(
        "near", "near", room, side.mint("near", room, exp_offset_s=-(LEEWAY_S - 30))
    )
    future_far = await side.join(
        "future", "future", room, side.mint("future", room, nbf_offset_s=LEEWAY_S + 60)
    )
    future_near = await side.join(
        "soon", "soon", room, side.mint("soon", room, nbf_offset_s=LEEWAY_S - 30)
    )
    foreign = await side.join("foreign", "foreign", room, other.mint("foreign", room))
    bad_secret = await side.join(
        "forged", "forged", room, side.mint("forged", room, secret="not-the-secret-" * 3)
    )
    await side.settle(PROPAGATE_S)
    return {
        "expired_beyond_leeway": _join_obs(expired_far),
        "expired_within_leeway": _join_obs(expired_near),
        "nbf_beyond_leeway": _join_obs(future_far),
        "nbf_within_leeway": _join_obs(future_near),
        "other_deployment_key": _join_obs(foreign),
        "wrong_secret": _join_obs(bad_secret),
        "participants": await side.list_participants(room),
    }


def _join_obs(r: JoinResult) -> dict:
    return {"ok": r.ok, "status": 200 if r.ok else r.status, "refusal": r.refusal}


async def scenario_token_expiry_while_connected(side: LiveKitSide, other: LiveKitSide) -> dict:
    """A connected participant stays after its token's exp (and the leeway) has passed, and gets a
    refreshed token at join: same identity and room, valid REFRESH_TOKEN_TTL_S.

    The token is minted already 57 s expired (accepted: within the leeway); after 5 s more it is
    expired beyond the leeway, which a probe join with the same expiry demonstrates."""
    room = side.unique("exp")
    offset = -(LEEWAY_S - 3)
    joined = await side.join("short", "short", room, side.mint("short", room, exp_offset_s=offset))
    await side.settle(PROPAGATE_S)
    listed_at_join = "short" in await side.list_participants(room)
    await side.settle(5.0)
    probe = await side.join("probe", "probe", room, side.mint("probe", room, exp_offset_s=offset - 5.5))
    still_listed = "short" in await side.list_participants(room)
    tokens = refreshed_tokens(side, "short")
    first = _claims(tokens[0]) if tokens else {}
    ttl = (first.get("exp", 0) - first.get("nbf", 0)) if first else None
    video = first.get("video", {})
    return {
        "joined": joined.ok,
        "listed_at_join": listed_at_join,
        "probe_with_same_expiry": _join_obs(probe),
        "still_listed_after_exp": still_listed,
        "disconnect_reason": first_disconnect_reason(side, "short"),
        "refreshed_at_join": bool(tokens),
        "refresh_identity": first.get("sub"),
        "refresh_room_matches": video.get("room") == room and bool(video.get("roomJoin")),
        "refresh_ttl_s": ttl,
    }


async def scenario_data_delivery(side: LiveKitSide, other: LiveKitSide) -> dict:
    """A data packet reaches exactly the participants of its room connected when it is sent
    (not the sender, not one that left, not one that joins later, not another room), with the
    sender's identity."""
    room, elsewhere = side.unique("data"), side.unique("data-other")
    for ident in ("a", "b", "c"):
        await side.join(ident, ident, room, side.mint(ident, room))
    await side.join("x", "x", elsewhere, side.mint("x", elsewhere))
    await side.leave("c")
    await side.settle(PROPAGATE_S)
    await side.send_data("a", b"m1")
    await side.settle(PROPAGATE_S)
    await side.join("d", "d", room, side.mint("d", room))
    await side.send_data("b", b"m2")
    await side.settle(PROPAGATE_S)
    return {
        "received": {h: data_received(side, h) for h in ("a", "b", "c", "d", "x")},
        "participants": await side.list_participants(room),
    }


async def scenario_remove_and_delete(side: LiveKitSide, other: LiveKitSide) -> dict:
    """RemoveParticipant removes one participant with PARTICIPANT_REMOVED (its token still works);
    DeleteRoom removes everyone with ROOM_DELETED; ListParticipants of an unknown room is empty."""
    room = side.unique("rm")
    tokens = {ident: side.mint(ident, room) for ident in ("alice", "bob", "carol")}
    for ident, tok in tokens.items():
        await side.join(ident, ident, room, tok)
    await side.remove_participant(room, "alice")
    await side.settle(PROPAGATE_S)
    after_remove = await side.list_participants(room)
    reasons_after_remove = {h: first_disconnect_reason(side, h) for h in ("alice", "bob", "carol")}
    rejoin = await side.join("alice#2", "alice", room, tokens["alice"])
    await side.settle(PROPAGATE_S)
    after_rejoin = await side.list_participants(room)
    await side.delete_room(room)
    await side.settle(PROPAGATE_S)
    return {
        "after_remove": after_remove,
        "reasons_after_remove": reasons_after_remove,
        "rejoin_with_same_token": rejoin.ok,
        "after_rejoin": after_rejoin,
        "reasons_after_delete": {
            h: first_disconnect_reason(side, h) for h in ("alice#2", "bob", "carol")
        },
        "after_delete": await side.list_participants(room),
        "room_listed_after_delete": room in await side.list_rooms(),
        "unknown_room_participants": await side.list_participants(side.unique("never-created")),
    }


async def scenario_room_timeouts(side: LiveKitSide, other: LiveKitSide) -> dict:
    """A room closes `departure_timeout` after its last participant left (not before); a room
    nobody joins closes after `empty_timeout`. The server checks once a second."""
    departure, empty = 2, 2
    room, unused = side.unique("dep"), side.unique("empty")
    await side.create_room(room, departure_timeout=departure, empty_timeout=60)
    await side.create_room(unused, departure_timeout=60, empty_timeout=empty)
    await side.join("p", "p", room, side.mint("p", room))
    await side.leave("p")
    await side.settle(0.5)
    rooms_soon = await side.list_rooms()
    await side.settle(max(departure, empty) + 2.0)
    rooms_later = await side.list_rooms()
    return {
        "listed_right_after_leave": room in rooms_soon,
        "listed_after_departure_timeout": room in rooms_later,
        "unused_room_listed_after_empty_timeout": unused in rooms_later,
    }


SCENARIOS: dict[str, Scenario] = {
    "duplicate_identity": scenario_duplicate_identity,
    "token_validation": scenario_token_validation,
    "token_expiry_while_connected": scenario_token_expiry_while_connected,
    "data_delivery": scenario_data_delivery,
    "remove_and_delete": scenario_remove_and_delete,
    "room_timeouts": scenario_room_timeouts,
}


def _ok() -> dict:
    return {"ok": True, "status": 200, "refusal": None}


def _refused(category: str) -> dict:
    return {"ok": False, "status": 401, "refusal": category}


# What livekit-facts.md predicts (section in brackets).
EXPECTED: dict[str, dict] = {
    # [Identity and rooms] a full join with a present identity removes the older participant,
    # reason DUPLICATE_IDENTITY; the newcomer gets a new SID; deployments share nothing.
    "duplicate_identity": {
        "joins_ok": [True, True, True, True, True],
        "first_reason_after_other_identity": None,
        "first_disconnect_reason": DUPLICATE_IDENTITY,
        "bob_disconnect_reason": None,
        "participants": ["alice", "bob"],
        "new_sid_differs": True,
        "second_alice_reason_after_other_room": None,
        "second_alice_reason_after_other_deployment": None,
        "other_deployment_participants": ["alice"],
    },
    # [Tokens] checked at connect; unknown iss -> 401 invalid API key; bad signature or expired ->
    # 401 invalid authorization token; exp and nbf get a 60 s leeway.
    "token_validation": {
        "expired_beyond_leeway": _refused(REFUSAL_TOKEN_EXPIRED),
        "expired_within_leeway": _ok(),
        "nbf_beyond_leeway": _refused(REFUSAL_NOT_YET_VALID),
        "nbf_within_leeway": _ok(),
        "other_deployment_key": _refused(REFUSAL_INVALID_API_KEY),
        "wrong_secret": _refused(REFUSAL_BAD_SIGNATURE),
        "participants": ["near", "soon"],
    },
    # [Tokens] a connected participant is never removed when its token's exp passes; a refresh
    # token is sent at session start, valid 10 min, same grants.
    "token_expiry_while_connected": {
        "joined": True,
        "listed_at_join": True,
        "probe_with_same_expiry": _refused(REFUSAL_TOKEN_EXPIRED),
        "still_listed_after_exp": True,
        "disconnect_reason": None,
        "refreshed_at_join": True,
        "refresh_identity": "short",
        "refresh_room_matches": True,
        "refresh_ttl_s": REFRESH_TOKEN_TTL_S,
    },
    # [Identity and rooms] data packets reach every other participant connected at that moment,
    # with the sender's identity attached.
    "data_delivery": {
        "received": {
            "a": [["m2", "b"]],
            "b": [["m1", "a"]],
            "c": [],
            "d": [["m2", "b"]],
            "x": [],
        },
        "participants": ["a", "b", "d"],
    },
    # [Identity and rooms] RemoveParticipant -> PARTICIPANT_REMOVED (token not revoked);
    # DeleteRoom -> ROOM_DELETED for everyone; ListParticipants on an unknown room -> empty.
    "remove_and_delete": {
        "after_remove": ["bob", "carol"],
        "reasons_after_remove": {"alice": PARTICIPANT_REMOVED, "bob": None, "carol": None},
        "rejoin_with_same_token": True,
        "after_rejoin": ["alice", "bob", "carol"],
        "reasons_after_delete": {"alice#2": ROOM_DELETED, "bob": ROOM_DELETED, "carol": ROOM_DELETED},
        "after_delete": [],
        "room_listed_after_delete": False,
        "unknown_room_participants": [],
    },
    # [Identity and rooms] closing after departure_timeout once the last participant left, or
    # after empty_timeout when nobody ever joined; checked once a second.
    "room_timeouts": {
        "listed_right_after_leave": True,
        "listed_after_departure_timeout": False,
        "unused_room_listed_after_empty_timeout": False,
    },
}


def compare(observed: dict, expected: dict, path: str = "") -> list[str]:
    """Human-readable differences between two observation dicts (empty when equal)."""
    diffs: list[str] = []
    for k in sorted(set(observed) | set(expected), key=str):
        where = f"{path}.{k}" if path else str(k)
        if k not in observed:
            diffs.append(f"{where}: missing (expected {expected[k]!r})")
        elif k not in expected:
            diffs.append(f"{where}: unexpected {observed[k]!r}")
        elif isinstance(observed[k], dict) and isinstance(expected[k], dict):
            diffs.extend(compare(observed[k], expected[k], where))
        elif observed[k] != expected[k]:
            diffs.append(f"{where}: observed {observed[k]!r}, expected {expected[k]!r}")
    return diffs


async def run_scenario(name: str, side: LiveKitSide, other: LiveKitSide) -> dict:
    return await SCENARIOS[name](side, other)
