"""The network: ordered connections, messages in flight, and connection failures.

Theory of operation. Every conversation is a *connection* between a client party and a server
party (a WebSocket, one REST request, a gRPC unary channel, a gRPC stream, a LiveKit signal
connection, or a party's local await channel). Each connection has two FIFO *channels*, one per
direction. Which channel delivers its head next is the nondeterminism the engines choose. A
connection to `region:<name>` is routed to one of the region's pods when its first message is
delivered (no sticky routing: `pods_per_region`). Nothing is lost silently: a message is lost only
when its connection *fails* (a fault, a crash, an unreachable peer), and then both ends are told
with `ConnClosed(error=True)`. A graceful close by one end delivers what that end sent, then
`ConnClosed(error=False)` to the peer; messages already travelling to the closer still arrive and
the closer decides what to do with them (ignore them, or panic: see bridge.py).
"""
from __future__ import annotations

from typing import Any

import attrs

from model.system.fmap import FMap
from model.system.messages import ConnClosed
from model.system.frozen import evolve


@attrs.frozen
class Conn:
    id: str
    kind: str          # ws | rest | grpc | stream | signal | local
    client: str        # party id of the opener
    server: str        # party id of the acceptor ("" until routed)
    target: str        # what the opener asked for ("region:france", "livekit:shared", ...)
    open: bool = True


@attrs.frozen
class Envelope:
    seq: int
    conn: str
    to_server: bool
    msg: Any
    sent: int = 0      # model time (ms) it was sent: the `message_delay=bounded` deadline


@attrs.frozen
class Network:
    conns: FMap = FMap()
    inflight: tuple = ()
    seq: int = 0

    # --- queries ------------------------------------------------------------------------------
    def conn(self, cid: str) -> Conn:
        return self.conns[cid]

    def heads(self) -> list[Envelope]:
        """The deliverable message of every non-empty channel, oldest first."""
        seen, out = set(), []
        for env in self.inflight:
            ch = (env.conn, env.to_server)
            if ch not in seen:
                seen.add(ch)
                out.append(env)
        return out

    def receiver(self, env: Envelope) -> str:
        c = self.conns[env.conn]
        return c.server if env.to_server else c.client

    def idle(self) -> bool:
        return not self.inflight

    # --- changes ------------------------------------------------------------------------------
    def deadline(self, max_delay: int) -> int | None:
        """The time by which the oldest network message in flight must have been delivered
        (`message_delay=bounded`); None when nothing is in flight. A party's local await
        (`<party>/cpu`, `<party>/local`) is not a network message and has no deadline."""
        sent = [e.sent for e in self.inflight if self.conns[e.conn].kind != "local"]
        return min(sent) + max_delay if sent else None

    def _enqueue(self, cid: str, to_server: bool, msg: Any, now: int = 0) -> "Network":
        env = Envelope(self.seq, cid, to_server, msg, now)
        return evolve(self, inflight=self.inflight + (env,), seq=self.seq + 1)

    def open(self, cid: str, kind: str, client: str, target: str, server: str = "") -> "Network":
        if cid in self.conns:
            raise RuntimeError(f"connection {cid} opened twice")
        conn = Conn(cid, kind, client, server or ("" if target.startswith("region:") else target),
                    target)
        return evolve(self, conns=self.conns.set(cid, conn))

    def send(self, cid: str, sender: str, msg: Any, now: int = 0) -> tuple["Network", bool]:
        """Queue `msg` (sent at `now`); returns False (nothing queued) when the connection is
        closed."""
        conn = self.conns[cid]
        if not conn.open:
            return self, False
        return self._enqueue(cid, sender == conn.client, msg, now), True

    def route(self, cid: str, server: str) -> "Network":
        conn = self.conns[cid]
        return evolve(self, conns=self.conns.set(cid, evolve(conn, server=server)))

    def pop(self, env: Envelope) -> "Network":
        return evolve(self, inflight=tuple(e for e in self.inflight if e.seq != env.seq))

    def close(self, cid: str, closer: str, error: bool = False,
              notify_unrouted: bool = True, now: int = 0) -> "Network":
        """Close by `closer` (graceful unless `error`); no-op when already closed. A region
        connection not yet routed (its first message not yet delivered) still tells the server,
        after what the closer sent: every accepted socket fires `close`
        (websocket-glasses.service.ts:217-219). `notify_unrouted=False` is the adversarial
        `silent_close` assumption: the server never hears of it."""
        conn = self.conns[cid]
        if not conn.open:
            return self
        net = evolve(self, conns=self.conns.set(cid, evolve(conn, open=False)))
        if conn.kind == "local" or (not conn.server and not notify_unrouted):
            return net
        return net._enqueue(cid, closer == conn.client, ConnClosed(error=error), now)

    def fail(self, cid: str, notify_server: bool = True, now: int = 0) -> "Network":
        """The connection breaks: its in-flight messages are lost, both ends are told."""
        conn = self.conns[cid]
        kept = tuple(e for e in self.inflight
                     if e.conn != cid or isinstance(e.msg, ConnClosed))
        net = evolve(self, inflight=kept,
                     conns=self.conns.set(cid, evolve(conn, open=False)))
        if not conn.open:
            return net
        net = net._enqueue(cid, False, ConnClosed(error=True), now)
        if notify_server and conn.server:
            net = net._enqueue(cid, True, ConnClosed(error=True), now)
        return net

    def conns_of(self, party: str) -> list[Conn]:
        return [c for c in self.conns.values() if c.open and party in (c.client, c.server)]
