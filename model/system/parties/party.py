"""What every party module shares: party ids, the handler context, and table dispatch.

Per-state handling is explicit (house-style.md): each party has a table
`(state of the addressed object, message type) -> handler` and a table of ignored pairs with the
reason. A pair in neither table is a `ProtocolError` that fails the run; there is no silent
`else: pass`.
"""
from __future__ import annotations

from typing import Any, Callable

import attrs

from model.system.config import Config


class ProtocolError(RuntimeError):
    """A party received a message its current state does not expect."""


@attrs.frozen
class Ctx:
    now: int
    cfg: Config
    me: str


def conn_owner(state, me: str) -> str:
    """The prefix of the connection ids a party opens: its id, plus its incarnation after a
    restart, so that a restarted process never reuses the connection ids of the one that died."""
    life = getattr(state, "life", 0)
    return f"{me}~{life}" if life else me


def dispatch(party: str, table: dict, ignored: dict, state_key: Any, s: Any, conn, msg: Any,
             ctx: "Ctx") -> tuple[Any, list]:
    """Run the handler for (state_key, type(msg)); an ignored pair changes nothing; any other pair
    is a ProtocolError. The one entry point every party's `handle` goes through."""
    entry = lookup(party, table, ignored, state_key, msg)
    if isinstance(entry, str):
        return s, []
    return entry(s, conn, msg, ctx)


def sdk_next_delay(attempt: int, delays: tuple, cap: int) -> int | None:
    """The delay before the next resume try of a LiveKit SDK, or None when it gives up: try i
    after delays[i], at most len(delays) tries, none whose delay passes `cap` (server-sdk-go
    v2.10.0; the mobile SDK is assumed to do the same, see config.Timing)."""
    if attempt < len(delays) and delays[attempt] <= cap:
        return delays[attempt]
    return None


def region_party(region: str, pod: int = 0) -> str:
    return f"region:{region}" + (f"#{pod}" if pod else "")


def bridge_party(region: str, pod: int = 0) -> str:
    return f"bridge:{region}" + (f"#{pod}" if pod else "")


def livekit_party(deployment: str) -> str:
    return f"livekit:{deployment}"


def split(party: str) -> tuple[str, str, int]:
    """'region:france#1' -> ('region', 'france', 1)."""
    kind, _, rest = party.partition(":")
    name, _, pod = rest.partition("#")
    return kind, name, int(pod or 0)


def pod_of(party: str) -> tuple[str, int]:
    _, name, pod = split(party)
    return name, pod


def lookup(party: str, table: dict, ignored: dict, state: Any, msg: Any) -> Callable | str:
    """The handler for (state, type(msg)), or the reason it is ignored; ProtocolError otherwise."""
    key = (state, type(msg))
    if key in table:
        return table[key]
    if key in ignored:
        return ignored[key]
    raise ProtocolError(f"{party}: {type(msg).__name__} is not expected in state {state}")
