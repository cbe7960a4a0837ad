"""User models: when a simulated user connects, switches region, loses the socket, restarts the app.

A user model turns a `random.Random` into a list of `timed.UserEvent`s (times in ms from the
start of the session) and says how long the session goes on after the last action (`tail_ms`).
Every region switch is the real, human-gated flow (fidelity-audit.md, "Instant switches"): the
user presses Save on the switch screen, the app tests the URL, shows an alert, the user presses OK,
/init runs; only then does the new socket open (`latency.Sampler.switch_ui`). A user can press
Save again only once the previous switch has landed, and a switch lands no sooner than the model's
lower bound between two switches (`config.Timing.switch_gap`, the same human-paced flow) after
the previous one. docs/timing.md describes each model.

    switch-once          connect, use the app a while, switch once, stay
    back-after:SECONDS   the same, then press Save to switch back SECONDS after the first Save
    tester               connect, then switch to another region every few seconds, 8 times
    daily                a working day: occasional switches, socket drops, app restarts

The model has no app-restart action: a restart is approximated by a glasses socket drop together
with the phone losing LiveKit for `RESTART_OUTAGE_S` (the killed app sends nothing; the new app's
socket comes back with the 5 s reconnect loop and its CONNECTION_ACK runs `connect()` anew). The
in-memory state of the old app (its Room objects) survives in the model, which a cold start would
not keep.
"""
from __future__ import annotations

import random
from typing import Callable

import attrs

from model.system.config import Config
from model.engines.latency import Sampler
from model.engines.timed import UserEvent

HOME = "cloud-debug"
AWAY = "france"
"""The report's switch: from a centralus region to france and back (seed report)."""

DWELL_MS = (20_000, 120_000)
"""How long the user uses the app before the first switch (uniform): an estimate; any time after
the first connection has settled (about 1 s in the model) gives the same outcomes."""

TAIL_AFTER_GRACE_MS = 30_000
"""After the last action the session runs on for the grace period plus this, so that the old
regions' grace timers and disposes happen before the final check (`tail_ms`)."""

TESTER_SWITCHES = 8
TESTER_GAP_MS = (1_000, 8_000)
"""tester: presses Save again 1-8 s (uniform) after the previous switch landed: an estimate of
"switching regions every few seconds"."""

DAY_MS = 8 * 3_600_000
"""daily: an eight-hour day of wearing the glasses (estimate)."""
DAILY_SWITCHES = 2.0
"""daily: mean region switches per day (Poisson, at least one: the day is about a switch)."""
DAILY_DROPS_PER_HOUR = 1.0
"""daily: glasses socket drops per hour (Poisson): lifts, tunnels, Wi-Fi to cellular."""
DAILY_RESTARTS = 3.0
"""daily: app restarts per day (Poisson)."""
RESTART_OUTAGE_S = 10
"""An app restart: the phone is out of LiveKit for this long (one of world.OUTAGE_SECONDS, inside
the server's ~20 s resume window)."""


class ScenarioError(ValueError):
    """An unknown or malformed user model name (one line)."""


@attrs.frozen
class UserModel:
    name: str
    make: Callable          # (rng, sampler, cfg) -> list[UserEvent]
    description: str

    def events(self, rng: random.Random, cfg: Config, latency_scale: float = 1.0
               ) -> list[UserEvent]:
        return self.make(rng, Sampler(rng, scale=latency_scale), cfg)

    def tail_ms(self, cfg: Config) -> int:
        return cfg.timing.grace + TAIL_AFTER_GRACE_MS


def _connect(region: str = HOME) -> UserEvent:
    return UserEvent.of({"step": "connect", "region": region}, 0)


def _switch(to: str, at: int) -> UserEvent:
    return UserEvent.of({"step": "switch_region", "to": to}, at)


def _land(prev_land: int | None, at: int, cfg: Config) -> int:
    """When a switch whose flow ends at `at` opens its socket: not before the model's lower bound
    between two switches (`Timing.switch_gap`, the same human-paced flow) after the previous."""
    return at if prev_land is None else max(at, prev_land + cfg.timing.switch_gap)


def switch_once(rng: random.Random, s: Sampler, cfg: Config) -> list[UserEvent]:
    press = rng.randint(*DWELL_MS)
    return [_connect(), _switch(AWAY, press + s.switch_ui())]


def back_after(seconds: float) -> Callable:
    def make(rng: random.Random, s: Sampler, cfg: Config) -> list[UserEvent]:
        press1 = rng.randint(*DWELL_MS)
        land1 = press1 + s.switch_ui()
        press2 = max(press1 + int(seconds * 1000), land1)
        land2 = _land(land1, press2 + s.switch_ui(), cfg)
        return [_connect(), _switch(AWAY, land1), _switch(HOME, land2)]
    return make


def tester(rng: random.Random, s: Sampler, cfg: Config) -> list[UserEvent]:
    events, here, last = [_connect()], HOME, None
    press = rng.randint(*DWELL_MS)
    for _ in range(TESTER_SWITCHES):
        here = rng.choice([r for r in cfg.regions if r != here])
        last = _land(last, press + s.switch_ui(), cfg)
        events.append(_switch(here, last))
        press = last + rng.randint(*TESTER_GAP_MS)
    return events


def _poisson_times(rng: random.Random, per_ms: float, span: int) -> list[int]:
    out, t = [], 0.0
    while per_ms > 0:
        t += rng.expovariate(per_ms)
        if t >= span:
            return out
        out.append(int(t))
    return out


def daily(rng: random.Random, s: Sampler, cfg: Config) -> list[UserEvent]:
    start = DWELL_MS[0]
    switches = _poisson_times(rng, DAILY_SWITCHES / DAY_MS, DAY_MS) or [rng.randint(start, DAY_MS)]
    drops = _poisson_times(rng, DAILY_DROPS_PER_HOUR / 3_600_000, DAY_MS)
    restarts = _poisson_times(rng, DAILY_RESTARTS / DAY_MS, DAY_MS)
    timeline: list[tuple[int, int, list[dict]]] = []
    for t in switches:
        timeline.append((t, 0, [{"step": "switch_region"}]))
    for t in drops:
        timeline.append((t, 1, [{"step": "ws_drop"}]))
    for t in restarts:
        timeline.append((t, 2, [{"step": "ws_drop"},
                                {"step": "livekit_outage", "participant": "mobile",
                                 "seconds": RESTART_OUTAGE_S}]))
    events, here, last, landed = [_connect()], HOME, 0, None
    for t, _, steps in sorted(timeline, key=lambda x: (x[0], x[1])):
        t = max(t, start, last)
        for step in steps:
            if step["step"] == "switch_region":
                here = rng.choice([r for r in cfg.regions if r != here])
                t = landed = _land(landed, t + s.switch_ui(), cfg)
                step = {"step": "switch_region", "to": here}
            events.append(UserEvent.of(step, t))
        last = t
    return events


MODELS: dict[str, UserModel] = {
    "switch-once": UserModel("switch-once", switch_once,
                             f"connect to {HOME}, switch to {AWAY} after 20-120 s, stay"),
    "tester": UserModel("tester", tester,
                        f"connect, then {TESTER_SWITCHES} switches to another region, each 1-8 s "
                        f"after the previous one landed"),
    "daily": UserModel("daily", daily,
                       "an 8 h day: ~2 switches, ~1 socket drop an hour, ~3 app restarts"),
}
DEFAULT = "back-after:30"
"""The default user model (`handover estimate` without --scenario, the matrix's estimate column):
the report's own story, switching away and coming back half a minute later."""
KNOWN = ("switch-once", "back-after:SECONDS", "tester", "daily")


def parse(name: str) -> UserModel:
    """A user model by name; ScenarioError (one line) for anything else."""
    if name in MODELS:
        return MODELS[name]
    kind, sep, arg = name.partition(":")
    if kind == "back-after" and sep:
        try:
            seconds = float(arg)
        except ValueError:
            seconds = -1.0
        if not 0 <= seconds <= 86_400:
            raise ScenarioError(f"back-after takes seconds between 0 and 86400, not {arg!r}")
        label = f"back-after:{arg}"
        return UserModel(label, back_after(seconds),
                         f"connect to {HOME}, switch to {AWAY} after 20-120 s, press Save to "
                         f"switch back {arg} s after the first Save")
    raise ScenarioError(f"unknown user model {name!r} (known: {', '.join(KNOWN)})")


