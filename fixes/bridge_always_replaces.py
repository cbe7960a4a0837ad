"""bridge-always-replaces: Go JoinRoom closes and replaces an existing session for the userId.

Targets "session already exists for this user" failures that leave the TS side without a bridge.
From commit ca0d2ad2b (2025-11-24), system-facts.md: JoinRoom closes and replaces an existing
session instead of failing (and the TS proto gained `GetStatus`, which is why this fix is combined
with the working `status-rejoin`, not the as-deployed one).
"""
from model.system.parties import bridge as B


def join_room(b, conn, msg, ctx):
    old = B.current(b, msg.user)
    effects = []
    if old is not None:
        b, effects = B.close_session(b, old, "replaced by JoinRoom")
    b, more = B._start_connect(b, msg, conn.id, ctx)
    return b, effects + more


REPLACES = {"bridge.join_room": join_room}
