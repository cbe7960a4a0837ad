"""What a party's handler may ask of its environment (Stateright style: handlers append effects
to an output list; the world decides delivery). Nothing here does I/O."""
from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen
class Send:
    """Send `msg` on connection `conn` (to the other end)."""
    conn: str
    msg: Any


@attrs.frozen
class Open:
    """Open connection `conn` of `kind` to party `to` ("region:<name>" is routed to a pod by the
    network at first delivery)."""
    conn: str
    kind: str
    to: str


@attrs.frozen
class Close:
    """Close `conn` from this end, gracefully: the peer gets ConnClosed(error=False) after what this
    end already sent; messages already on their way here are still delivered. error: the peer
    sees a failure (a gRPC error status) rather than an orderly end."""
    conn: str
    error: bool = False


@attrs.frozen
class SetTimer:
    name: str
    delay: int
    key: Any = None


@attrs.frozen
class CancelTimer:
    name: str
    key: Any = None


@attrs.frozen
class Await:
    """An `await` on something local (an analytics call, room.disconnect()): the party gets
    `Resumed(tag)` later, and anything may happen in between. prompt: CPU-only work (a goroutine
    handing a value to a channel) that a normal run does before anything arriving over the network;
    engines may still order it later. Otherwise an await on I/O (an HTTP call)."""
    tag: Any
    prompt: bool = False


@attrs.frozen
class Log:
    """A line the real code logs (or the user would observe); `kind` is machine-readable, `text`
    is in the party's own words. Properties and narratives read these."""
    kind: str
    text: str
    data: tuple = ()

    def get(self, key: str, default: Any = None) -> Any:
        return dict(self.data).get(key, default)


def log(kind: str, text: str, **data: Any) -> Log:
    return Log(kind, text, tuple(sorted(data.items())))


@attrs.frozen
class Crash:
    """The process dies (Go panic)."""
    reason: str
