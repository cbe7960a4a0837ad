"""The named properties: passive observers of a World (they never send, never change anything).

Safety properties are checked after every step; quiescence properties only when the world is
quiescent (`world.quiescent`: no message in flight and no activity timer pending, see
`world.SHORT_TIMERS`). A check returns None when the property holds and otherwise a one-line
statement of the values that disagree. Witnesses ("sometimes") must each be seen in some run, so
that a model that does nothing cannot pass.
"""
from __future__ import annotations

from typing import Callable

from model.system.parties import bridge
from model.system import world as W
from model.system.actions import MobileSpeaks
from model.system.config import Config, USER
from model.system.parties.party import split
from model.system.parties.region import pod_name

# --- presence helpers ---------------------------------------------------------------------------


def server_participants(w: W.World) -> list[tuple[str, str, object]]:
    """(deployment, room, participant) for every participant every LiveKit server lists."""
    out = []
    for pid, lk in w.of_kind("livekit"):
        for room in lk.rooms.values():
            out += [(lk.deployment, room.name, p) for p in room.participants.values()]
    return out


def bridge_presences(w: W.World) -> dict[tuple[str, str], set]:
    """(deployment, room) -> the bridge processes present there: the server lists one of their
    connections, or their SDK still believes it is connected (CONNECTED or RECONNECTING)."""
    out: dict[tuple[str, str], set] = {}
    for pid, lk in w.of_kind("livekit"):
        for room in lk.rooms.values():
            for p in room.participants.values():
                if p.client.startswith("bridge:"):
                    out.setdefault((lk.deployment, room.name), set()).add(p.client)
    for pid, b in w.of_kind("bridge"):
        for s in b.all.values():
            if s.phase in _PRESENT:
                out.setdefault((s.url, s.room), set()).add(pid)
    return out


_PRESENT = (bridge.LinkPhase.CONNECTED, bridge.LinkPhase.RECONNECTING)


def bridge_in_room(w: W.World, bridge_pid: str) -> bool:
    """The bridge's current session is connected and the server lists its connection."""
    b = w.parties[bridge_pid]
    s = bridge.current(b, USER)
    if s is None or s.phase is not bridge.LinkPhase.CONNECTED:
        return False
    return any(p.conn == s.lk for dep, room, p in server_participants(w)
               if dep == s.url and room == s.room)


# --- bridges in rooms and the regions' view of them -----------------------------------------------

def one_bridge_per_room(w: W.World, cfg: Config) -> str | None:
    """At quiescence: no room of one deployment holds two bridge participants (any region).

    Checked once the system has settled, not after every step: an identity kick under a shared
    deployment leaves the kicked bridge's SDK believing it is connected until the server's
    LeaveRequest reaches it, a moment that corrects itself in every run (docs/properties.md,
    "OneBridgePerRoom"). `one_bridge_per_room_strict` is that every-step form, a diagnostic."""
    return _two_bridges(w)


def one_bridge_per_room_strict(w: W.World, cfg: Config) -> str | None:
    """Diagnostic: after every step, no room holds two bridge presences (server list or SDK
    belief), however briefly."""
    return _two_bridges(w)


def _two_bridges(w: W.World) -> str | None:
    shared = [(where, conns) for where, conns in bridge_presences(w).items() if len(conns) > 1]
    if not shared:
        return None
    (dep, room), conns = min(shared, key=lambda x: x[0])     # the first in sorted order
    return (f"{len(conns)} bridge participants in room {room} on {dep} at "
            f"t={w.now / 1000:g}s: {', '.join(sorted(conns))}")


def active_pod(w: W.World) -> str | None:
    """The region pod the mobile's glasses WebSocket is open and acknowledged to, if any."""
    m = w.mobile
    if m.ws is None or m.ws_status.value != "connected":
        return None
    return w.net.conn(m.ws).server or None


def bridge_status_truthful(w: W.World, cfg: Config) -> str | None:
    """At quiescence: the region the mobile is connected to never believes a bridge is in the room
    that is not (`isConnected()` true while its bridge session is out of the room).

    That stale `true` is the harm: `startBridgeSubscriber` returns early on it
    (`LiveKitManager.ts:213-216`), so nobody rejoins and the user's audio has no path. A region the
    user has left (its session waiting out the grace period) is not judged until the user comes
    back to it, and a `false` while a bridge streams only costs a redundant JoinRoom.
    `bridge_status_truthful_strict` judges every region both ways, a diagnostic."""
    pid = active_pod(w)
    if pid is None or not pid.startswith("region:"):
        return None
    status = _status(w, pid)
    if status is not None and status[0] and not status[1]:
        return (f"{pod_name(pid)}, which the mobile is connected to, says isConnected()=true "
                f"but its bridge is not in the room")
    return None


def bridge_status_truthful_strict(w: W.World, cfg: Config) -> str | None:
    """Diagnostic: every live region's `isConnected()` view matches whether its bridge session is
    really in the room."""
    for pid, r in w.of_kind("region"):
        status = _status(w, pid)
        if status is None:
            continue
        view, truth = status
        if view != truth:
            return (f"{pod_name(pid)} isConnected()={str(view).lower()} but its bridge is "
                    f"{'' if truth else 'not '}in the room")
    return None


def _status(w: W.World, pid: str) -> tuple[bool, bool] | None:
    """(the region's isConnected() view, its bridge really in the room) for a live region pod with
    a session in its map; None otherwise."""
    r = w.parties[pid]
    if not r.alive or r.map_sid is None:
        return None
    s = r.sessions[r.map_sid]
    client = r.clients.get(s.client) if s.client is not None else None
    view = client.is_connected() if client else False
    return view, bridge_in_room(w, "bridge:" + pid.split(":", 1)[1])


# --- safety -------------------------------------------------------------------------------------

def no_stale_token_use(w: W.World, cfg: Config) -> str | None:
    """The first token refusal of the run (monitor `stale_token`)."""
    e = w.monitors.stale_token
    if e is None:
        return None
    what = "resume" if e.get("resume") else "join"
    return (f"{e.get('client')}'s {what} as {e.get('identity')} refused by {e.party} at "
            f"t={e.t / 1000:g}s: {e.get('reason')} ({e.text.split(': ', 1)[-1]})")


def bridge_never_crashes(w: W.World, cfg: Config) -> str | None:
    """The first bridge crash of the run (monitor `bridge_crash`)."""
    e = w.monitors.bridge_crash
    return None if e is None else f"{e.party} crashed at t={e.t / 1000:g}s: {e.text}"


# --- at quiescence ------------------------------------------------------------------------------

def audio_destinations(w: W.World, cfg: Config) -> tuple[set, str]:
    """Send one probe packet from the mobile on a copy of the world, deliver everything, and
    report which pods' audio pipelines received it (and what else happened)."""
    probe = W.step(w, MobileSpeaks(), cfg)
    packet = f"audio-{probe.mobile.packets}"
    probe = W.deliver_all(probe, cfg)
    got = {pod_name(pid) + f" ({via})" for pid, r in probe.of_kind("region")
           for pk, via in r.pipeline if pk == packet}
    crash = bridge_never_crashes(probe, cfg) if not bridge_never_crashes(w, cfg) else None
    return got, (f"; the probe crashed a bridge: {crash}" if crash else "")


def audio_reaches_active_region(w: W.World, cfg: Config) -> str | None:
    m = w.mobile
    if not m.mic_on or m.ws is None or m.ws_status.value != "connected":
        return None
    active = pod_name(w.net.conn(m.ws).server)
    got, extra = audio_destinations(w, cfg)
    if {g.split(" ")[0] for g in got} == {active} and len(got) == 1 and not extra:
        return None
    reached = ", ".join(sorted(got)) or "no region"
    return f"WebSocket open to {active}, mic audio reached {reached}{extra}"


def no_zombie_bridges(w: W.World, cfg: Config) -> str | None:
    if any(t.name == "grace" for t in w.clock.timers):
        return None
    for pid, r in w.of_kind("region"):
        if r.map_sid is not None:
            continue
        bridge_pid = "bridge:" + pid.split(":", 1)[1]
        for dep, room, p in server_participants(w):
            if p.client == bridge_pid:
                return (f"{pod_name(pid)} holds no session, yet its bridge is still in room "
                        f"{room} on {dep} ({p.sid})")
    return None


def grace_keeps_audio(w: W.World, cfg: Config) -> str | None:
    """For every glasses socket *drop* at a pod followed by a reconnection to the same session
    within the grace period: the bridge participant present at the drop never left, up to the
    next close of that session's socket. The user's own selection of another region is not a
    drop the grace period bridges: it voids the window (docs/properties.md). The earliest such
    drop that went wrong is reported (monitor `grace`, `monitors.GraceWatch`)."""
    x = w.monitors.grace.violation()
    if x is None:
        return None
    left_t, reason = x.left
    return (f"{pod_name(x.party)}'s bridge ({x.present}) left the room at t={left_t / 1000:g}s "
            f"({reason}) although the socket dropped at t={x.dropped / 1000:g}s "
            f"and reconnected at t={x.reconnected / 1000:g}s, within the grace period")


# --- witnesses ----------------------------------------------------------------------------------

def audio_flows_through_livekit(w: W.World) -> bool:
    return w.monitors.audio_via_livekit


def region_switch_completes(w: W.World) -> bool:
    """A switch (a region selection after the first) was acknowledged by the region chosen."""
    return w.monitors.switch_completed


def grace_disposes_session(w: W.World) -> bool:
    return w.monitors.session_disposed


SAFETY: dict[str, Callable] = {
    "NoStaleTokenUse": no_stale_token_use,
    "BridgeNeverCrashes": bridge_never_crashes,
}
QUIESCENT: dict[str, Callable] = {
    "OneBridgePerRoom": one_bridge_per_room,
    "AudioReachesActiveRegion": audio_reaches_active_region,
    "BridgeStatusTruthful": bridge_status_truthful,
    "NoZombieBridges": no_zombie_bridges,
    "GraceKeepsAudio": grace_keeps_audio,
}
WITNESSES: dict[str, Callable] = {
    "AudioFlowsThroughLiveKit": audio_flows_through_livekit,
    "RegionSwitchCompletes": region_switch_completes,
    "GraceDisposesSession": grace_disposes_session,
}
ALL = ("OneBridgePerRoom", "NoStaleTokenUse", "BridgeNeverCrashes", "AudioReachesActiveRegion",
       "BridgeStatusTruthful", "NoZombieBridges", "GraceKeepsAudio")
"""The properties, in the matrix's column order; each is in SAFETY or QUIESCENT."""

DIAGNOSTIC_SAFETY: dict[str, Callable] = {"OneBridgePerRoomStrict": one_bridge_per_room_strict}
DIAGNOSTIC_QUIESCENT: dict[str, Callable] = {
    "BridgeStatusTruthfulStrict": bridge_status_truthful_strict}
DIAGNOSTICS = (*DIAGNOSTIC_SAFETY, *DIAGNOSTIC_QUIESCENT)
"""The strict forms the refined properties replaced: reported beside the matrix, never a failure
(docs/properties.md, "Diagnostics"). Checked like properties (`check_safety`, `check_quiescent`
include them), so a replay lists them and a trace's `expect` may name them."""
NAMES = ALL + DIAGNOSTICS
"""Every name a trace's `expect` may use."""


def check_safety(w: W.World, cfg: Config) -> dict[str, str]:
    """Safety properties and safety diagnostics violated in `w`."""
    checks = {**SAFETY, **DIAGNOSTIC_SAFETY}
    return {n: v for n, f in checks.items() if (v := f(w, cfg))}


def check_quiescent(w: W.World, cfg: Config) -> dict[str, str]:
    """Quiescence properties and diagnostics violated in `w`; nothing unless `w` is quiescent."""
    if not W.quiescent(w):
        return {}
    checks = {**QUIESCENT, **DIAGNOSTIC_QUIESCENT}
    return {n: v for n, f in checks.items() if (v := f(w, cfg))}


def witnesses(w: W.World) -> dict[str, bool]:
    return {n: f(w) for n, f in WITNESSES.items()}
