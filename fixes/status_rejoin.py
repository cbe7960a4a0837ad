"""status-rejoin: on a glasses reconnection, ask the bridge for its status and rejoin if needed.

Targets the stale `isConnected()` early return (H4's "bridge kicked but TS thinks it is connected").
From commit 753b1494c (2025-10-20), system-facts.md "Changes the team made":
- Go bridge: `OnDisconnected` marks the map's session for that userId disconnected; a new
  `GetStatus{userId}` RPC answers that flag.
- Cloud: on a reconnection (`reconnection: true`), before `handleLiveKitInit`, when it has a bridge
  client or LiveKit was requested, it asks for status (`websocket-glasses.service.ts:717-752` at
  83a8053f4); an RPC error or a missing client counts as "not connected". If not connected:
  `rejoinBridge()` (`LiveKitManager.ts:364`): skipped when the last attempt was under 2 s ago;
  creates a gRPC client only if the manager has none; mints a fresh bridge token (same identity);
  the client's `rejoin()` (`LiveKitGrpcClient.ts:708`): `disconnect()` first when `joinedRoom`, then
  JoinRoom and a new audio stream; no disposed/connecting check (a disposed client throws at
  `this.client.joinRoom`, l.708+ @753b1494c). Since `LiveKitManager.dispose()` nulls
  `bridgeClient` (`LiveKitManager.ts:319-323`), a rejoin after dispose makes a new client
  (`LiveKitManager.ts:385-387` @753b1494c). Failures are logged and the ACK is still sent.
"""
import attrs

from model.system.parties import bridge as B
from model.system.parties import grpc_client as grpc
from model.system.effects import Send, log
from model.system.messages import StatusReply
from model.system.parties.party import bridge_party, conn_owner
from model.system.parties.region import bridge_params, livekit_init


def before_livekit_init(r, s, ws, ctx):
    if not (s.reconnection and (s.client is not None or s.livekit)):
        return livekit_init(r, s.sid, ws, ctx)
    client = r.clients.get(s.client) if s.client is not None else None
    then = ("status_checked", ws, s.sid)
    if client is None:
        return continuation(r, then, False, ctx)
    client, effects, done = ctx.cfg.seam("grpc.get_status")(client, then)
    r = attrs.evolve(r, clients=r.clients.set(client.cid, client))
    for then_, ok in done:
        r, more = continuation(r, then_, ok, ctx)
        effects = effects + more
    return r, effects


def continuation(r, then, ok, ctx):
    kind, ws, sid = then
    if kind != "status_checked":
        raise ValueError(f"no continuation {kind!r}")
    if ok:
        return livekit_init(r, sid, ws, ctx)
    return rejoin_bridge(r, sid, ("livekit_init", ws, sid), ctx)


def rejoin_bridge(r, sid, then, ctx):
    s = r.sessions[sid]
    if s.last_rejoin is not None and ctx.now - s.last_rejoin < ctx.cfg.timing.rejoin_throttle:
        from model.system.parties.region import continue_after
        return continue_after(r, then, False, ctx, [log("rejoin_skipped", "rejoinBridge: "
                                                        "last attempt under 2 s ago")])
    effects = [log("rejoin", f"session #{sid}: bridge not connected; rejoinBridge()", session=sid)]
    client = r.clients.get(s.client) if s.client is not None else None
    if client is None:
        cid = r.n + 1
        r = attrs.evolve(r, n=cid)
        client, opened = grpc.new(cid, conn_owner(r, ctx.me), bridge_party(r.region, r.pod))
        effects += opened
    client, more, done = grpc.rejoin(client, bridge_params(r, ctx), then)
    s = attrs.evolve(s, client=client.cid, last_rejoin=ctx.now)
    r = attrs.evolve(r, clients=r.clients.set(client.cid, client), sessions=r.sessions.set(sid, s))
    from model.system.parties.region import continue_after
    for then_, ok in done:
        r, more2 = continue_after(r, then_, ok, ctx)
        more = more + more2
    return r, effects + more


def mark_disconnected(b, s, reason):
    current = B.current(b, s.user)
    if current is None:
        return b
    return attrs.evolve(b, all=b.all.set(current.gen, attrs.evolve(current, status_connected=False)))


def get_status(b, conn, msg, ctx):
    current = B.current(b, msg.user)
    if current is None:
        return b, [Send(conn.id, StatusReply(False, "no session"))]
    return b, [Send(conn.id, StatusReply(current.status_connected,
                                         "" if current.status_connected else "disconnected"))]


REPLACES = {
    "region.before_livekit_init": before_livekit_init,
    "region.continuation": continuation,
    "bridge.on_disconnected": mark_disconnected,
    "bridge.get_status": get_status,
}
