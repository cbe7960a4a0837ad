"""The timed engine: a discrete-event scheduler over the same transition system.

Theory of operation. The untimed engines choose freely which message is delivered next and move
the clock only by explicit `advance`. This engine makes those choices from time instead: every
message in flight gets a delivery time (send time + a latency drawn for its link,
`model.engines.latency`), timers fire when due, and user actions happen at the times a user model
(`model.engines.users`) sets. Each step it takes is an ordinary action of `world.step`:

- `ClockFiresTimer` when the earliest event is a timer (firing moves the clock to the timer's due
  time by itself);
- `ClockAdvances(ms)` (the trace's `tick`) to move the clock to a delivery or a user action; no
  timer is ever due on the way, because timers come first at equal times;
- `NetworkDelivers(conn, to_server)` with canonical pod routing;
- the user's action (`UserSelectsRegion`, `GlassesSocketDrops`, ...), skipped when the world does
  not offer it at that moment (the socket is already down, the region already selected).

At equal times: timers, then deliveries (prompt CPU work first, as in `world.canonical_head`, then
the oldest send), then the user. Each channel stays
FIFO: a message is delivered no earlier than the one sent before it on its channel. Nothing here
changes the transition system; the world never sees a latency, only the order and the ticks.

Every run is written as it goes as `handover.trace/1` steps (user steps, `deliver` with the
message name, `fire` with the timer and party, `tick`), so `handover replay` reproduces it step
for step. A *checkpoint* is the first quiescent moment (`world.quiescent`) after a user action
once the user has switched region, and the end of the session: the run writes a `settle` step
there (a no-op on a quiescent world that makes the runner check the quiescence properties) and
checks the session's property (`AudioReachesActiveRegion` unless told otherwise; a safety property
is checked after every step instead). The session fails at the first check that finds it
violated, and stops there, so the trace ends with the step that shows the violation.
`after_switch=False` counts violations from the start (the race-window measurement does).

Deterministic: the only randomness is the `latency.Sampler`'s `random.Random`, seeded by the
caller.
"""
from __future__ import annotations

import attrs

from model.properties import properties as P
from model.system import world as W
from model.system.actions import ClockAdvances, ClockFiresTimer, NetworkDelivers
from model.system.config import Config
from model.engines.latency import Sampler
from model.system.messages import name_of
from model.system.parties.party import ProtocolError
from model.engines.trace import action_of, step_of

PROP = "AudioReachesActiveRegion"
"""What a session is judged by: once settled after a region switch, the mic audio reaches the
region the phone's WebSocket is open to, and no other."""

MAX_EVENTS = 200_000
INF = float("inf")


class ModelError(RuntimeError):
    """The transition system refused or broke on a step the timed engine took (a model bug)."""


@attrs.frozen
class UserEvent:
    """One user action. `after` says what `delay` (ms) counts from: "start" of the session, the
    "prev"ious user action, or the first "quiet" (quiescent) moment after the previous action."""
    step: tuple                  # a trace step, frozen: (("step", "switch_region"), ("to", ...))
    delay: int
    after: str = "start"

    @classmethod
    def of(cls, step: dict, delay: int, after: str = "start") -> "UserEvent":
        if after not in ("start", "prev", "quiet"):
            raise ValueError(f"after is start, prev or quiet, not {after!r}")
        return cls(tuple(sorted(step.items())), int(delay), after)

    @property
    def as_step(self) -> dict:
        d = dict(self.step)
        return {"step": d.pop("step"), **d}


@attrs.define(eq=False)
class Session:
    """What one timed run did."""
    failed: bool
    detail: str | None
    steps: list                  # handover.trace/1 steps, ending at the failing checkpoint
    events: int                  # engine steps taken
    end_ms: int                  # model time at the end
    switches: int                # region switches the user made
    checkpoints: int
    user_times: list             # (ms, step) of every user action applied
    skipped: list                # (ms, step) of user actions the world did not offer
    error: str | None = None     # a model error (the steps end where it happened)


class Scheduler:
    """One timed session: `Scheduler(cfg, events, sampler).run()`."""

    def __init__(self, cfg: Config, events: list[UserEvent], sampler: Sampler, tail_ms: int = 0,
                 prop: str = PROP, stop_at_failure: bool = True, record: bool = True,
                 after_switch: bool = True):
        self.cfg, self.events, self.sampler = cfg, list(events), sampler
        self.tail_ms, self.prop = tail_ms, prop
        if prop not in P.QUIESCENT and prop not in P.SAFETY:
            raise KeyError(f"unknown property {prop!r}")
        self.check = P.QUIESCENT.get(prop)          # at checkpoints
        self.safety = P.SAFETY.get(prop)            # after every step
        self.stop_at_failure, self.record = stop_at_failure, record
        self.w = W.initial(cfg)
        self.due: dict[int, int] = {}           # envelope seq -> delivery time
        self.last_due: dict[tuple, int] = {}    # channel -> latest delivery time given
        self.seen = 0                           # envelopes with seq below this have a time
        self.steps: list[dict] = []
        self.n = 0                              # next user event
        self.prev_at = 0                        # when the previous user event happened
        self.quiet_at: int | None = 0           # first quiescent moment after it
        self.events_taken = 0
        self.switches = 0
        self.armed = not after_switch           # failures count (after the first switch)
        self.check_pending = False
        self.dirty = False                      # steps since the last checkpoint
        self.checkpoints = 0
        self.failure: str | None = None
        self.user_times: list = []
        self.skipped: list = []

    # --- time bookkeeping -----------------------------------------------------------------------
    def _assign(self) -> None:
        net = self.w.net
        if net.seq == self.seen:
            return
        now = self.w.now
        for env in net.inflight:
            if env.seq < self.seen:
                continue
            ch = (env.conn, env.to_server)
            try:
                lat = self.sampler.link(net.conn(env.conn))
            except ValueError as e:      # a connection kind model/engines/latency.py does not know
                raise ModelError(str(e)) from None
            if self.cfg.a("message_delay") == "bounded" and net.conn(env.conn).kind != "local":
                # the world delivers every network message within max_delay of its sending:
                # the latency distributions are cut there (docs/timing.md)
                lat = min(lat, env.sent + self.cfg.timing.max_delay - now)
            t = max(now + lat, self.last_due.get(ch, 0))
            self.due[env.seq] = self.last_due[ch] = t
        self.seen = net.seq

    def _next_message(self):
        best, best_key = None, None
        for h in self.w.net.heads():
            # prompt CPU work (`<party>/cpu`) before the network at the same instant, as in
            # world.canonical_head; otherwise the oldest send first
            key = (self.due[h.seq], not h.conn.endswith("/cpu"), h.seq)
            if best_key is None or key < best_key:
                best, best_key = h, key
        return best, (best_key[0] if best_key else INF)

    def _next_user_time(self) -> float:
        if self.n >= len(self.events):
            return INF
        ev = self.events[self.n]
        if ev.after == "start":
            return max(ev.delay, self.prev_at)
        if ev.after == "prev":
            return self.prev_at + ev.delay
        return INF if self.quiet_at is None else self.quiet_at + ev.delay

    def _end_time(self) -> float:
        return self.prev_at + self.tail_ms if self.n >= len(self.events) else INF

    # --- taking steps ---------------------------------------------------------------------------
    def _take(self, action, step: dict, skip_impossible: bool = False) -> bool:
        """Apply one action; False when it is not possible here and `skip_impossible`."""
        try:
            w = W.step(self.w, action, self.cfg)
        except W.Impossible:
            if skip_impossible:
                return False
            raise ModelError(f"{step['step']} at t={self.w.now} ms: not possible") from None
        except (ProtocolError, RuntimeError, KeyError, AssertionError) as e:
            raise ModelError(f"{step['step']} at t={self.w.now} ms: {type(e).__name__}: {e}") \
                from None
        self.w = w
        if self.record:
            self.steps.append(step)
        self.events_taken += 1
        self.dirty = True
        if self.safety is not None and self.armed and self.failure is None:
            self.failure = self.safety(self.w, self.cfg)
        if self.events_taken > MAX_EVENTS:
            raise ModelError(f"no end after {MAX_EVENTS} events")
        return True

    def _tick_to(self, t: int) -> None:
        if t > self.w.now:
            ms = t - self.w.now
            self._take(ClockAdvances(ms), {"step": "tick", "ms": ms})

    def _user(self, at: int) -> None:
        ev = self.events[self.n]
        self.n += 1
        self._tick_to(at)
        step = ev.as_step
        action = action_of(step)
        self.prev_at, self.quiet_at = self.w.now, None
        recorded = step_of(action, self.w)
        if not self._take(action, recorded, skip_impossible=True):
            self.skipped.append((self.w.now, step))
            return
        if recorded["step"] == "switch_region":
            self.switches += 1
            self.armed = True
        self.user_times.append((self.w.now, recorded))
        self.check_pending = self.armed

    def _checkpoint(self) -> None:
        self.checkpoints += 1
        self.check_pending = self.dirty = False
        if self.record:
            self.steps.append({"step": "settle"})
        detail = self.check(self.w, self.cfg) if self.check is not None else None
        if detail and self.failure is None:
            self.failure = detail

    def run(self) -> Session:
        error = None
        try:
            self._loop()
        except ModelError as e:
            error = str(e)
        return Session(self.failure is not None, self.failure, self.steps, self.events_taken,
                       self.w.now, self.switches, self.checkpoints, self.user_times, self.skipped,
                       error)

    def _loop(self) -> None:
        while True:
            if self.failure and self.stop_at_failure:
                return
            self._assign()
            quiet = W.quiescent(self.w)
            if quiet:
                if self.quiet_at is None:
                    self.quiet_at = self.w.now
                if self.check_pending:
                    self._checkpoint()
                    if self.failure and self.stop_at_failure:
                        return
            timer = self.w.clock.next()
            t_timer = timer.due if timer is not None else INF
            head, t_msg = self._next_message()
            t_user = self._next_user_time()
            t_next = min(t_timer, t_msg, t_user)
            if quiet and self.n >= len(self.events) and min(t_timer, t_msg) > self._end_time():
                if self.armed and self.dirty:
                    self._checkpoint()
                return
            if t_next == INF:      # pragma: no cover - quiescent with nothing left is handled above
                return
            if t_timer <= t_msg and t_timer <= t_user:
                self._take(ClockFiresTimer(), {"step": "fire", "timer": timer.name,
                                               "party": timer.party})
            elif t_msg <= t_user:
                self._tick_to(int(t_msg))
                self._take(NetworkDelivers(head.conn, head.to_server),
                           {"step": "deliver", "conn": head.conn,
                            "to": "server" if head.to_server else "client",
                            "msg": name_of(head.msg)})
            else:
                self._user(int(t_user))


def run_session(cfg: Config, events: list[UserEvent], sampler: Sampler, tail_ms: int = 0,
                **kw) -> Session:
    return Scheduler(cfg, events, sampler, tail_ms, **kw).run()
