"""The small history that properties need, kept as incremental monitors inside the World.

Theory of operation. Some properties are about the past: "no join was ever refused for its
token", "no bridge ever crashed", "a socket drop followed by a reconnection within grace never
removed the bridge". Checking them by scanning every line the parties ever logged costs time in
proportion to the run's length on every check, and a World that holds that log never compares
equal to another one that reached the same situation by a different road. Instead each such
property has a monitor: a small frozen value that `world.py` updates, in log order, from every
`Log` effect a party returns (and from the crash and restart lines the world writes itself), with
`update(monitors, entry, cfg)`. Properties read only the monitors. Their size does not grow with
the number of steps: a first occurrence, a few booleans, which bridge participant each bridge
process has in LiveKit, and one open "grace window" per glasses session whose socket dropped.

Monitors are passive: they read log lines the parties write anyway (no event exists only to feed
a monitor) and nothing in the model reads them back. The full log is still there for whoever wants
it (narratives, diagrams, live replay) as an output of running: each `world.Record` of a log line
carries its `LogEntry`, and `runner.Result.log` collects them. docs/properties.md, "How history is
checked", says why each monitor decides exactly what the former whole-log scan decided.
"""
from __future__ import annotations

from typing import Any, Callable

import attrs

from model.system.fmap import FMap
from model.system.frozen import evolve


@attrs.frozen
class LogEntry:
    """One line a party logged (`effects.Log`), stamped with the time and the party."""
    t: int
    party: str
    kind: str
    text: str
    data: tuple = ()

    def get(self, key: str, default: Any = None) -> Any:
        return dict(self.data).get(key, default)


# --- GraceKeepsAudio ----------------------------------------------------------------------------

@attrs.frozen
class Window:
    """A glasses socket of `session` dropped at pod `party` while the pod's bridge was listed in
    LiveKit as `present`; open until the session's next socket close or the user's selection of
    another region, whichever comes first."""
    party: str
    session: Any
    dropped: int                        # t of the drop (ms)
    present: str                        # the bridge participant's sid at the drop
    reconnected: int | None = None      # t of the reconnection within grace, once it happened
    left: tuple | None = None           # (t, reason): the first time `present` left since the drop

    @property
    def violated(self) -> bool:
        return self.reconnected is not None and self.left is not None


@attrs.frozen
class GraceWatch:
    """Which sid each bridge process has in LiveKit (the last `participant_joined` of that client,
    until a `participant_left` of that sid), and the open windows in drop order. Once a window is
    violated, windows opened after it can never be the first violated one: they are dropped and no
    new ones open."""
    present: FMap = FMap()              # bridge party -> sid
    windows: tuple = ()                 # Window, in drop order
    away: frozenset = frozenset()       # regions the user selected away from since their
                                        # session last attached a socket
    retiring: frozenset = frozenset()   # bridge parties whose present participant belongs to a
                                        # session whose dispose() has begun: it is leaving

    def violation(self) -> Window | None:
        return next((x for x in self.windows if x.violated), None)


def _grace_update(g: GraceWatch, e: LogEntry, cfg) -> GraceWatch:
    kind = e.kind
    if kind == "participant_joined":
        client = e.get("client", "")
        return evolve(g, present=g.present.set(client, e.get("sid")),
                      retiring=g.retiring - {client}) \
            if client.startswith("bridge:") else g
    if kind == "dispose_start":
        # grace is over for that pod's session: its bridge is told to leave (LiveKitManager's
        # dispose), so it serves no later drop at that pod
        bridge_pid = "bridge:" + e.party.split(":", 1)[1]
        return evolve(g, retiring=g.retiring | {bridge_pid}) \
            if bridge_pid in g.present else g
    if kind == "participant_left":
        sid = e.get("sid")
        present = g.present
        for bridge_pid, s in g.present.items():
            if s == sid:
                present = present.delete(bridge_pid)
                g = evolve(g, retiring=g.retiring - {bridge_pid})
        windows = tuple(evolve(x, left=(e.t, e.get("reason")))
                        if x.present == sid and x.left is None and not x.violated else x
                        for x in g.windows)
        return _prune(evolve(g, present=present, windows=windows))
    if kind == "select_region":
        # the user chose another region: the drop is no longer a blip the grace period bridges,
        # and that region's bridge must take the user's room (one bridge identity per user)
        to, frm = e.get("to"), e.get("frm")
        if not frm or frm == to:
            return g
        windows = tuple(x for x in g.windows if x.violated or _region_of(x.party) == to)
        return _prune(evolve(g, windows=windows, away=g.away | {frm}))
    if kind in ("session_created", "session_reconnected"):
        g = evolve(g, away=g.away - {_region_of(e.party)})
        if kind == "session_created":
            return g
    # ws_closed / session_reconnected of one session at one pod
    key = (e.party, e.get("session"))
    windows = []
    for x in g.windows:
        if (x.party, x.session) != key or x.violated:
            windows.append(x)
        elif kind == "session_reconnected" and x.reconnected is None:
            if e.t - x.dropped <= cfg.timing.grace:
                windows.append(evolve(x, reconnected=e.t))
            # else: reconnected too late; the drop is not one the property is about
        elif kind == "session_reconnected":
            windows.append(x)               # a later reconnection does not end the window
        # ws_closed: the window ends here
    if kind == "ws_closed" and e.get("error") and not any(x.violated for x in windows) \
            and _region_of(e.party) not in g.away:
        bridge_pid = "bridge:" + e.party.split(":", 1)[1]
        sid = g.present.get(bridge_pid)
        if sid is not None and bridge_pid not in g.retiring:
            windows.append(Window(e.party, e.get("session"), e.t, sid))
    return _prune(evolve(g, windows=tuple(windows)))


def _region_of(party: str) -> str:
    """`region:france#1` -> `france`."""
    return party.partition(":")[2].partition("#")[0]


def _prune(g: GraceWatch) -> GraceWatch:
    first = next((i for i, x in enumerate(g.windows) if x.violated), None)
    return g if first is None else evolve(g, windows=g.windows[:first + 1])


# --- all monitors -------------------------------------------------------------------------------

@attrs.frozen
class Monitors:
    stale_token: LogEntry | None = None     # the first token_rejected (NoStaleTokenUse)
    bridge_crash: LogEntry | None = None    # the first crash of a bridge process (BridgeNeverCrashes)
    grace: GraceWatch = GraceWatch()        # GraceKeepsAudio
    audio_via_livekit: bool = False         # witness AudioFlowsThroughLiveKit
    switching_to: str | None = None         # the region of the last switch not yet acknowledged
    switch_completed: bool = False          # witness RegionSwitchCompletes
    session_disposed: bool = False          # witness GraceDisposesSession


def _first(field: str) -> Callable:
    def keep(m: Monitors, e: LogEntry, cfg) -> Monitors:
        return m if getattr(m, field) is not None else evolve(m, **{field: e})
    return keep


def _crash(m: Monitors, e: LogEntry, cfg) -> Monitors:
    return _first("bridge_crash")(m, e, cfg) if e.party.startswith("bridge:") else m


def _audio(m: Monitors, e: LogEntry, cfg) -> Monitors:
    return evolve(m, audio_via_livekit=True) \
        if e.get("via") == "livekit" and not m.audio_via_livekit else m


def _select(m: Monitors, e: LogEntry, cfg) -> Monitors:
    return evolve(m, switching_to=e.get("to")) \
        if e.get("frm") and not m.switch_completed else m


def _select_and_grace(m: Monitors, e: LogEntry, cfg) -> Monitors:
    return _grace(_select(m, e, cfg), e, cfg)


def _ack(m: Monitors, e: LogEntry, cfg) -> Monitors:
    if m.switching_to and e.get("region") == m.switching_to:
        return evolve(m, switch_completed=True, switching_to=None)
    return m


def _disposed(m: Monitors, e: LogEntry, cfg) -> Monitors:
    return m if m.session_disposed else evolve(m, session_disposed=True)


def _grace(m: Monitors, e: LogEntry, cfg) -> Monitors:
    g = _grace_update(m.grace, e, cfg)
    return m if g == m.grace else evolve(m, grace=g)


UPDATES: dict[str, Callable] = {
    "token_rejected": _first("stale_token"),
    "crash": _crash,
    "audio_received": _audio,
    "select_region": _select_and_grace,
    "ack": _ack,
    "session_disposed": _disposed,
    "participant_joined": _grace,
    "participant_left": _grace,
    "ws_closed": _grace,
    "session_reconnected": _grace,
    "session_created": _grace,
    "dispose_start": _grace,
}
"""Log kind -> the monitor update it drives. Every other kind leaves the monitors as they are."""


def update(m: Monitors, e: LogEntry, cfg) -> Monitors:
    fn = UPDATES.get(e.kind)
    return m if fn is None else fn(m, e, cfg)
