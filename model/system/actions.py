"""The actions of the transition system: what can happen next. Named actor + verb (TLA+ style).

User and phone: `UserSelectsRegion`, `MobileSpeaks`, `UserSetsMic`. Faults: `GlassesSocketDrops`,
`GrpcStreamErrors`, `LiveKitSignalLost`. Environment: `NetworkDelivers` (the head of one channel),
`ClockFiresTimer` (the earliest timer), `ClockAdvances` (by an amount; timers due on the way fire in
order). Every action's repr is valid Python (Hypothesis prints it).
"""
from __future__ import annotations

import attrs


@attrs.frozen
class UserSelectsRegion:
    region: str


@attrs.frozen
class MobileSpeaks:
    pass


@attrs.frozen
class UserSetsMic:
    on: bool


@attrs.frozen
class GlassesSocketDrops:
    pass


@attrs.frozen
class GrpcStreamErrors:
    region: str
    pod: int = 0


@attrs.frozen
class LiveKitSignalLost:
    """`participant` is "mobile" or a bridge party ("bridge:france"); it cannot reach LiveKit for
    `seconds`."""
    participant: str
    seconds: int


@attrs.frozen
class NetworkDelivers:
    """Deliver the head of channel (conn, to_server); `pod` routes a new region connection."""
    conn: str
    to_server: bool
    pod: int | None = None


@attrs.frozen
class ClockFiresTimer:
    pass


@attrs.frozen
class ClockAdvances:
    ms: int


USER_ACTIONS = (UserSelectsRegion, MobileSpeaks, UserSetsMic)
FAULTS = (GlassesSocketDrops, GrpcStreamErrors, LiveKitSignalLost)
