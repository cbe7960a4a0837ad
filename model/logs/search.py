"""Trace validation: find a behaviour of the model whose events match the observed log lines.

In the manner of P's PObserve and TLA+ trace validation: the log is a partial view of a run; the
check searches the model's behaviours (`world.enabled` / `world.step_verbose`) for one that emits,
in order, exactly the observed lines of every source the log covers.

Rules of the search (docs/logs.md, "Validation"):
- A model event is *covered* when a statement maps it (`statements.STATEMENTS`) and its source
  (cloud, bridge, mobile, livekit) has at least one line in the input. A covered event must match
  the next unmatched line of some file: same party, same event, and a time within `tolerance` of
  the model clock (model time 0 is the earliest line). Other events are silent.
- Each file is one ordered stream; lines of different files interleave freely, except that the
  model never moves past an unmatched line that is more than `tolerance` in the past.
- Time: a timer may fire when it is due no later than the next line (plus tolerance); the clock
  may jump to the next line's time when no timer is due before it. Silent work therefore happens
  right after a line or right before the next one.
- What the system does by itself is free: the canonical delivery (`world.canonical_head`, the
  order of a normal run) and, when nothing is in flight, the clock. Everything else is a *choice*:
  a user action or fault that writes no line of its own, a delivery out of the canonical order, a
  clock move while messages are in flight (one choice for a run of clock moves). An action whose
  events match lines is never counted. At most `choices` choices are made between two matched
  lines and at most `total` in the whole run.
- The search is depth first, in the order a normal run takes: the canonical delivery first, then
  the other deliveries, the clock, and last the user actions and faults, each in `enabled` order.
  It never visits a (world, position, choices made) twice; the world is compared without its
  history, packet counter and audio pipelines, which change nothing that follows. It deepens
  iteratively on the choices of the whole run: first none, then 1, and so on up to `total`; all
  rounds share one budget of `budget` expanded states. Deterministic.
- The log is explained when every line is matched and running the system on to quiescence
  (`world.settle`) writes no further covered line.
"""
from __future__ import annotations

from typing import Any

import attrs

from model.system import world as W
from model.system.actions import (FAULTS, USER_ACTIONS, ClockAdvances, ClockFiresTimer, MobileSpeaks,
                           NetworkDelivers)
from model.system.config import Config
from model.logs.reader import Line, Observed
from model.logs.statements import Event, events_of
from model.system.parties.party import ProtocolError


@attrs.frozen
class Bound:
    budget: int = 5_000        # states expanded at most
    choices: int = 2           # choices (see Search.actions) between two matched lines
    total: int = 8             # choices in the whole run
    tolerance: int = 2_000     # ms between a line's time and the model clock


@attrs.define(eq=False)
class Node:
    world: Any
    pos: tuple
    gap: int                   # choices made since the last matched line
    parent: "Node | None" = None
    action: Any = None
    matched: tuple = ()
    spent: int = 0             # choices made in the whole run

    def path(self) -> list["Node"]:
        out, n = [], self
        while n.parent is not None:
            out.append(n)
            n = n.parent
        return out[::-1]


@attrs.define(eq=False)
class Outcome:
    explained: bool
    path: list                  # Nodes from the first action on (each has parent.world = before)
    expanded: int
    best: int                   # most lines matched by any explored run
    first_unexplained: Line | None = None
    expected: list = attrs.Factory(list)   # Events the model could write there instead
    model_errors: list = attrs.Factory(list)
    exhausted: bool = False     # the budget ran out


def _state_key(w) -> Any:
    """The world without what changes nothing that follows: its history (the log), the network's
    and the phone's counters of messages and packets, and what the audio pipelines received."""
    fields = attrs.fields_dict(type(w))
    if "log" in fields:
        w = attrs.evolve(w, log=())
    regions = {pid: attrs.evolve(r, pipeline=()) for pid, r in w.parties.items()
               if pid.startswith("region:") and "pipeline" in attrs.fields_dict(type(r))}
    parties = w.parties
    for pid, r in regions.items():
        parties = parties.set(pid, r)
    m = w.mobile
    if "packets" in attrs.fields_dict(type(m)):
        parties = parties.set("mobile", attrs.evolve(m, packets=0))
    return attrs.evolve(w, parties=parties, net=attrs.evolve(w.net, seq=0))


class Search:
    def __init__(self, obs: Observed, cfg: Config, bound: Bound = Bound()):
        self.obs, self.cfg, self.bound = obs, cfg, bound
        self.covered = obs.sources
        self.best, self.best_node = -1, None
        self.expected: dict = {}
        self.errors: list[str] = []

    # --- matching ------------------------------------------------------------------------------
    def covered_events(self, events: list[Event]) -> list[Event]:
        return [e for e in events if e.statement is not None and e.source in self.covered]

    def heads(self, pos: tuple) -> list[Line]:
        return [s[p] for s, p in zip(self.obs.streams, pos) if p < len(s)]

    def next_time(self, pos: tuple) -> int | None:
        return min((x.t for x in self.heads(pos)), default=None)

    def match(self, pos: tuple, events: list[Event], now: int):
        """(new position, matched lines), or (None, the first event no line explains)."""
        tol = self.bound.tolerance
        pos, matched = list(pos), []
        for e in self.covered_events(events):
            k = e.key
            s = next((i for i, (st, p) in enumerate(zip(self.obs.streams, pos))
                      if p < len(st) and st[p].key == k and abs(st[p].t - e.t) <= tol), None)
            if s is None:
                return None, e
            matched.append(self.obs.streams[s][pos[s]])
            pos[s] += 1
        if any(x.t < now - tol for x in self.heads(tuple(pos))):
            return None, None
        return tuple(pos), tuple(matched)

    # --- successors ----------------------------------------------------------------------------
    def actions(self, n: Node) -> list[tuple[Any, bool]]:
        """(action, is it a choice) in the order a normal run takes them. The canonical delivery
        and, when nothing is in flight, the clock are what the system does by itself; any other
        delivery, a clock move while messages are in flight, and every user action or fault is a
        choice."""
        w = n.world
        acts = W.enabled(w, self.cfg)
        head = W.canonical_head(w)
        canon = None
        if head is not None:
            routed = w.net.conn(head.conn).server or not head.to_server
            pod = None if routed else w.routes % self.cfg.a("pods_per_region")
            canon = next(a for a in acts if isinstance(a, NetworkDelivers)
                         and (a.conn, a.to_server) == (head.conn, head.to_server)
                         and a.pod in (None, pod))
        out = [(canon, False)] if canon is not None else []
        out += [(a, True) for a in acts if isinstance(a, NetworkDelivers) and a != canon]
        t = self.next_time(n.pos)
        if t is None:
            return out
        # messages left in flight across the clock: one choice, however many timers fire
        busy = head is not None and not isinstance(n.action, (ClockFiresTimer, ClockAdvances))
        nxt = w.clock.next()
        if nxt is not None and nxt.due <= t + self.bound.tolerance:
            out.append((ClockFiresTimer(), busy))
        if t > w.now and (nxt is None or nxt.due > t):
            out.append((ClockAdvances(t - w.now), busy))
        out += [(a, True) for a in acts if isinstance(a, USER_ACTIONS + FAULTS)]
        return out

    def successors(self, n: Node, total: int) -> list[Node]:
        out = []
        can_choose = n.gap < self.bound.choices and n.spent < total
        for a, choice in self.actions(n):
            if choice and not can_choose and self.silent_only(a):
                continue
            try:
                w2, records = W.step_verbose(n.world, a, self.cfg)
            except W.Impossible:
                continue
            except (ProtocolError, RuntimeError, KeyError, AssertionError, StopIteration) as e:
                self.errors.append(f"{type(a).__name__}: {type(e).__name__}: {e}")
                continue
            pos, matched = self.match(n.pos, events_of(records), w2.now)
            if pos is None:
                if matched is not None and sum(n.pos) >= self.best:
                    self.expected.setdefault(matched.key, matched)
                continue
            if not choice:
                out.append(Node(w2, pos, 0 if matched else n.gap, n, a, matched, n.spent))
            elif matched:
                out.append(Node(w2, pos, 0, n, a, matched, n.spent))
            elif can_choose:
                out.append(Node(w2, pos, n.gap + 1, n, a, (), n.spent + 1))
        return out

    def silent_only(self, a) -> bool:
        """Whether a choice can only be silent: a fault, speaking, any delivery or clock move
        (their lines are checked after the step anyway, so only the cheap cases are skipped), or
        a user action whose source (the mobile) the log does not cover."""
        if isinstance(a, FAULTS + (MobileSpeaks,)):
            return True
        if isinstance(a, USER_ACTIONS):
            return "mobile" not in self.covered
        return False

    def finishes_cleanly(self, n: Node) -> list[Event]:
        """The covered events the system still writes when it runs on to quiescence."""
        extra: list[Event] = []

        def collect(action, world, records):
            extra.extend(self.covered_events(events_of(records)))

        try:
            W.settle(n.world, self.cfg, collect)
        except (ProtocolError, RuntimeError, KeyError, AssertionError) as e:
            self.errors.append(f"settle: {type(e).__name__}: {e}")
            return [Event("mobile", "model-error", str(e))]
        return extra

    # --- the search ----------------------------------------------------------------------------
    def run(self) -> Outcome:
        """Iterative deepening on the choices the whole run may make (0, 1, ... up to
        `bound.total`), sharing one budget of expanded states."""
        expanded = 0
        for total in range(self.bound.total + 1):
            outcome, expanded = self.dfs(total, expanded)
            if outcome is not None:
                return outcome
            if expanded >= self.bound.budget:
                return self._failure(expanded, exhausted=True)
        return self._failure(expanded, exhausted=False)

    def dfs(self, total: int, expanded: int) -> tuple[Outcome | None, int]:
        lines = len(self.obs)
        root = Node(W.initial(self.cfg), tuple(0 for _ in self.obs.streams), 0)
        stack, seen = [root], set()
        while stack:
            n = stack.pop()
            key = (_state_key(n.world), n.pos, n.gap, n.spent)
            if key in seen:
                continue
            seen.add(key)
            done = sum(n.pos)
            if done > self.best:
                self.best, self.best_node, self.expected = done, n, {}
            if done == lines:
                extra = self.finishes_cleanly(n)
                if not extra:
                    return Outcome(True, n.path(), expanded, done, model_errors=self.errors), \
                        expanded
                if done >= self.best:
                    self.expected.setdefault(extra[0].key, extra[0])
            if expanded >= self.bound.budget:
                return None, expanded
            expanded += 1
            stack.extend(reversed(self.successors(n, total)))
        return None, expanded

    def _failure(self, expanded: int, exhausted: bool) -> Outcome:
        n = self.best_node
        heads = self.heads(n.pos) if n is not None else []
        first = min(heads, key=lambda x: (x.t, x.stream)) if heads else None
        expected = list(self.expected.values())
        if first is not None:  # what that line's party would have written first
            expected.sort(key=lambda e: e.key[0] != first.key[0])
        return Outcome(False, n.path() if n else [], expanded, self.best, first, expected[:8],
                       self.errors, exhausted)


def explain(obs: Observed, cfg: Config, bound: Bound = Bound()) -> Outcome:
    return Search(obs, cfg, bound).run()
