"""The clock: integer milliseconds and named timers.

A timer belongs to a party and has a name and an optional key (e.g. the session it is for). Setting
a timer that exists replaces it (clearTimeout + setTimeout). Timers fire in (due, set-order) order.
"""
from __future__ import annotations

from typing import Any

import attrs
from model.system.frozen import evolve


@attrs.frozen
class Timer:
    due: int
    seq: int
    party: str
    name: str
    key: Any = None


@attrs.frozen
class Clock:
    now: int = 0
    timers: tuple = ()
    seq: int = 0

    def set(self, party: str, name: str, delay: int, key: Any = None) -> "Clock":
        rest = tuple(t for t in self.cancel(party, name, key).timers)
        timer = Timer(self.now + delay, self.seq, party, name, key)
        timers = tuple(sorted(rest + (timer,), key=lambda t: (t.due, t.seq)))
        return evolve(self, timers=timers, seq=self.seq + 1)

    def cancel(self, party: str, name: str, key: Any = None) -> "Clock":
        return evolve(self, timers=tuple(
            t for t in self.timers if not (t.party == party and t.name == name and t.key == key)))

    def cancel_all(self, party: str) -> "Clock":
        return evolve(self, timers=tuple(t for t in self.timers if t.party != party))

    def next(self) -> Timer | None:
        return self.timers[0] if self.timers else None

    def pop(self, timer: Timer) -> "Clock":
        return evolve(self, now=max(self.now, timer.due),
                      timers=tuple(t for t in self.timers if t.seq != timer.seq))

    def pending(self, party: str, name: str, key: Any = None) -> bool:
        return any(t.party == party and t.name == name and t.key == key for t in self.timers)
