"""status-rejoin-as-deployed: status-rejoin as it actually ran from 2025-10-20 to 2025-11-24.

The TypeScript copy of the gRPC proto lacked `GetStatus`, so the call threw ("this.client.getStatus
is not a function"), which `getStatus()` turned into `connected: false` (reason "exception"): every
reconnection forced a rejoin, whatever the bridge's real state (system-facts.md, "status-rejoin as
deployed"). The patch: status-rejoin, with the client's GetStatus replaced by the exception path.
"""
from fixes import status_rejoin
from model.system.effects import log


def get_status_throws(client, then):
    return client, [log("status_exception", "getStatus: this.client.getStatus is not a function "
                                            "-> connected: false")], [(then, False)]


REPLACES = {**status_rejoin.REPLACES, "grpc.get_status": get_status_throws}

INTRODUCES = {"GraceKeepsAudio":
              "GetStatus always throws, so every reconnection runs rejoin(): LeaveRoom, then "
              "JoinRoom; the bridge leaves the room within the grace period"}
"""Violations this fix brings where the baseline has none, by design (see fixes.introduces)."""
