"""disposed-guards: gRPC stream handlers become no-ops after dispose().

From commit 3150649b1 (2025-12-16), system-facts.md: a `disposed` flag set in `dispose()`; the
stream's error/end/data handlers return early once it is set. `createOrReconnect` still does not
check it.
"""


def stream_handlers_active(client) -> bool:
    return not client.disposed


REPLACES = {"grpc.stream_handlers_active": stream_handlers_active}
