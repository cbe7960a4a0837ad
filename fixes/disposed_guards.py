"""disposed-guards: gRPC stream handlers become no-ops after dispose().

From commit d0054559c (2025-12-16; fidelity-audit.md "Fix modules vs what was shipped": the
same-day 3150649b1 added no gRPC guards): `if (this.disposed) return` in the gRPC stream's
data/error/end handlers, handlers removed at dispose, `dispose()` idempotent. `createOrReconnect`
still does not check it (checked @d0054559c).
"""


def stream_handlers_active(client) -> bool:
    return not client.disposed


REPLACES = {"grpc.stream_handlers_active": stream_handlers_active}
