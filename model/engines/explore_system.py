"""The handover World as a `bfs.System`: the explorer's steps, its key and its checks.

The steps are the driver's (`driver.HandoverMachine.take`): every action `world.enabled` offers
that the environment allows, labelled as the trace step the driver records, plus `settle` as one
step (not taken from a quiescent world, where it changes nothing), with the safety properties
checked after each micro step inside it. Safety properties are checked in every state, quiescence
properties in quiescent states; witnesses seen are collected on the way. docs/explore.md.
"""
from __future__ import annotations

import time

from model.engines import driver as D
from model.properties import properties as P
from model.engines import statekey
from model.system import world as W
from model.system.actions import ClockFiresTimer, NetworkDelivers
from model.system.config import Config
from model.engines.trace import step_of

MODEL_ERRORS = D.MODEL_ERRORS
MICRO = frozenset({NetworkDelivers, ClockFiresTimer})
"""The micro steps. `macro=True` leaves them out: only user actions, faults, ticks and `settle`,
the steps of an everyday trace (how a person writes one; the shape `model/engines/shrink.py` produces)."""


def _safety() -> dict:
    return {**P.SAFETY, **getattr(P, "DIAGNOSTIC_SAFETY", {})}


def _quiescent() -> dict:
    return {**P.QUIESCENT, **getattr(P, "DIAGNOSTIC_QUIESCENT", {})}


def label(w: W.World, action) -> dict:
    """The trace step of `action` in `w`, as the driver records it (`HandoverMachine.take`)."""
    step = step_of(action, w)
    if isinstance(action, NetworkDelivers):
        head = next(h for h in w.net.heads()
                    if (h.conn, h.to_server) == (action.conn, action.to_server))
        step["msg"] = type(head.msg).__name__
    elif isinstance(action, ClockFiresTimer):
        t = w.clock.next()
        step.update(timer=t.name, party=t.party)
    return step


SETTLE = {"step": "settle"}


class HandoverSystem:
    """The handover World as a `bfs.System` for one configuration and environment."""

    def __init__(self, cfg: Config, environment: str = "switching", key=statekey.key,
                 macro: bool = False):
        self.cfg, self.environment = cfg, environment
        self.excluded = D.ENVIRONMENTS[environment] | (MICRO if macro else frozenset())
        self._key = key
        self.safety, self.quiescent = _safety(), _quiescent()
        self.steps = 0          # world.step / settle calls (for the benchmark)
        self.step_seconds = 0.0  # time spent in them
        self.witnessed: set = set()   # witnesses true in some explored state

    def initial(self) -> W.World:
        return W.initial(self.cfg)

    def actions(self, w: W.World) -> list:
        return [a for a in W.enabled(w, self.cfg) if type(a) not in self.excluded]

    def successors(self, w: W.World) -> list:
        cfg = self.cfg
        start = time.perf_counter()
        out: list = []
        for a in self.actions(w):
            step = label(w, a)
            self.steps += 1
            try:
                out.append((step, W.step(w, a, cfg), {}))
            except MODEL_ERRORS as e:
                out.append((step, e, {}))
        if not W.quiescent(w):
            hits: dict = {}

            def on_step(action, world, records):
                for name, fn in self.safety.items():
                    if name not in hits:
                        d = fn(world, cfg)
                        if d:
                            hits[name] = d
            self.steps += 1
            try:
                out.append((dict(SETTLE), W.settle(w, cfg, on_step), hits))
            except MODEL_ERRORS as e:
                out.append((dict(SETTLE), e, hits))
        self.step_seconds += time.perf_counter() - start
        return out

    def key(self, w: W.World):
        return self._key(w, self.cfg)

    def check(self, w: W.World, props) -> dict[str, str]:
        if len(self.witnessed) < len(P.WITNESSES):
            self.witnessed.update(n for n, seen in P.witnesses(w).items() if seen)
        out = {}
        quiet = None
        for name in props:
            fn = self.safety.get(name)
            if fn is None:
                fn = self.quiescent.get(name)
                if fn is None:
                    continue
                if quiet is None:
                    quiet = W.quiescent(w)
                if not quiet:
                    continue
            d = fn(w, self.cfg)
            if d:
                out[name] = d
        return out
