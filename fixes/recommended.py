"""recommended: H-verdicts' proposal for safe region switching (not the platform's code).

Written as the patch we would propose to the platform team; every part names the real file and
function it changes (paths relative to the MentraOS repository at 507b226e4, system-facts.md).
docs/fixes.md, section "recommended", explains each part with the counterexample it defeats.

1. Go bridge, `cloud-livekit-bridge/service.go` `JoinRoom` (l.63-71): a JoinRoom for a userId
   that already has a session closes and replaces it instead of failing with "session already
   exists for this user" (as shipped later in ca0d2ad2b).
2. Go bridge, `service.go` `OnDisconnected` callback (l.126-132): when LiveKit disconnects the
   session (a DUPLICATE_IDENTITY kick by another region's bridge, a failed resume), end that
   session's `StreamAudio` call with an error status instead of only logging; `StreamAudio`
   (l.210-330) ends the same way when it attaches to a session LiveKit has already disconnected
   (a kick that lands between JoinRoom's reply and the stream's start). The cloud's stream
   `error` handler (`LiveKitGrpcClient.ts:307-339`) then clears `connected`, so `isConnected()`
   stops claiming a bridge that is not in the room.
3. Cloud, `LiveKitGrpcClient.ts` stream `error` handler (l.307-339), with `LiveKitManager` passing
   the session's state: the 2 s reconnect runs only while the user's glasses socket is attached to
   this region's session. The region the user is on rejoins after a kick; a region the user has
   left (its session in the grace period) stays out of the room, so two regions never take turns
   kicking each other. The same condition guards `LiveKitManager.ensureBridgeConnected`
   (l.256-312), which the microphone debounce (`MicrophoneManager.ts:79-145`) calls also for a
   session whose glasses have gone: a mic change just before a switch must not let the region
   the user left join the room after the switch. And `handleConnectionInit`
   (`websocket-glasses.service.ts:571-650`), once a new session's apps have started (l.576-601),
   runs `handleLiveKitInit` only if the socket it was called for is still the session's socket:
   a phone that left while the apps started must not have its old region join 5 s later.
4. Cloud, `LiveKitGrpcClient.ts` stream handlers: no-ops once the client is disposed (as in
   d0054559c), so a disposed client's stream error cannot schedule a reconnect that joins again.
5. Cloud, `UserSession.ts` `createOrReconnect` (l.357-378): a session whose `dispose()` has begun
   (l.596-679; set a `disposing` flag at its top) is not reused; the glasses get a new session.
   Otherwise a reconnection that lands during dispose's awaits is attached to a session that is
   then removed from the map with its LiveKit client disposed: the user has no audio path.
6. Go bridge, `session.go` `RoomSession.Close()` (l.155-192) and the data callback
   (`service.go:84-86`): the callback sends on the audio channel only under the session's lock
   and only while the session is open, and Close() takes that lock before closing the channel;
   a packet that arrives during Close() is dropped instead of panicking the whole bridge
   ("send on closed channel") and, through `cloud/start.sh:57-62`, the region.
7. Cloud, `LiveKitGrpcClient.ts` `dispose()` (l.766-775) and `connect()`'s JoinRoom callback
   (l.130-166): dispose() keeps the gRPC client until a JoinRoom in flight has answered, and a
   JoinRoom that succeeds after dispose() sends LeaveRoom{userId} instead of going on to
   `startAudioStream` (which throws on the nulled client, l.245). Otherwise a session disposed
   while its JoinRoom waits leaves its bridge in the room with no session behind it (a zombie).
"""
import attrs

from fixes import bridge_always_replaces, disposed_guards
from model.system.effects import Close, log
from model.system.parties.grpc_client import disconnect
from model.system.parties.region import SessionPhase, livekit_init


def tell_stream_disconnected(b, s, ctx):
    """Part 2: OnDisconnected ends the session's StreamAudio with an error status."""
    if s.stream is None:
        return b, []
    b = attrs.evolve(b, streams=b.streams.delete(s.stream),
                     all=b.all.set(s.gen, attrs.evolve(s, stream=None)))
    return b, [Close(s.stream, error=True)]


def retry_wanted(r, cid, ctx):
    """Part 3: reconnect only for the session in the map whose glasses socket is attached, and
    once per glasses connection (`last_rejoin` is cleared when a socket attaches), so two
    sessions that both believe the user is attached cannot take turns kicking each other."""
    s = r.sessions.get(r.map_sid) if r.map_sid is not None else None
    if s is None or s.client != cid or s.ws is None or s.last_rejoin is not None:
        return r, False
    return attrs.evolve(r, sessions=r.sessions.set(s.sid, attrs.evolve(s, last_rejoin=ctx.now))), True


def ensure_bridge_wanted(r, s, ctx):
    """Part 3: the microphone debounce joins only for the map's session with glasses attached."""
    return s.ws is not None and r.map_sid == s.sid


def before_livekit_init(r, s, ws, ctx):
    """Part 3: LiveKit init runs only for the socket still attached (a new session's init waits
    for its apps, and the phone may have left meanwhile); a glasses connection starts a new
    allowance of one kick-triggered rejoin."""
    if s.ws != ws:
        return r, [log("livekit_init_skipped", f"session #{s.sid}: its glasses socket is no longer "
                                               "attached; LiveKit init skipped", session=s.sid)]
    r = attrs.evolve(r, sessions=r.sessions.set(s.sid, attrs.evolve(s, last_rejoin=None)))
    return livekit_init(r, s.sid, ws, ctx)


def reuses_session(s):
    """Part 5: never reuse a session that is being disposed."""
    return s.phase is SessionPhase.ACTIVE


def forward_after_close(b, conn, msg, ctx):
    """Part 6: a packet for a closed session is dropped."""
    return b, []


def leave_after_dispose(c):
    """Part 7: a JoinRoom answered after dispose() leaves the room again (LeaveRoom{userId})."""
    return disconnect(attrs.evolve(c, joined=True))


REPLACES = {
    "bridge.join_room": bridge_always_replaces.join_room,                         # part 1
    "bridge.tell_stream_disconnected": tell_stream_disconnected,                  # part 2
    "region.retry_wanted": retry_wanted,                                          # part 3
    "region.before_livekit_init": before_livekit_init,                            # part 3
    "region.ensure_bridge_wanted": ensure_bridge_wanted,                          # part 3
    "grpc.stream_handlers_active": disposed_guards.stream_handlers_active,        # part 4
    "region.reuses_session": reuses_session,                                      # part 5
    "bridge.forward_after_close": forward_after_close,                            # part 6
    "grpc.joined_after_dispose": leave_after_dispose,                             # part 7
}
