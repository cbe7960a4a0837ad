"""fix2-dispose-on-disconnect: the cloud disposes LiveKit as soon as the glasses socket closes.

Targets report hypothesis H4 (the old region's bridge stays in the room). From the seed report,
"Fix 2: Clean Up Old Region's LiveKit Connection Immediately", in `handleGlassesConnectionClose`:

    if (userSession.liveKitManager) {
      userSession.liveKitManager.dispose()   // before entering the grace period
    }

The patch: the close handler runs `LiveKitManager.dispose()` (its current gRPC client's
`dispose()`: LeaveRoom, stream ended) before the grace timer starts.
"""
from model.system.parties.region import RegionState, Session, dispose_livekit
from model.system.effects import log


def on_glasses_close(r: RegionState, s: Session, ctx):
    r, effects = dispose_livekit(r, s)
    return r, [log("livekit_disposed_on_close",
                   f"session #{s.sid}: liveKitManager.dispose() on socket close", session=s.sid)] \
        + effects


REPLACES = {"region.on_glasses_close": on_glasses_close}

INTRODUCES = {"GraceKeepsAudio":
              "by design: LiveKit is disposed as soon as the glasses socket closes, so a drop that "
              "reconnects within the 60 s grace still loses the region's bridge for a while"}
"""Violations this fix brings where the baseline has none, by design (see fixes.introduces)."""
