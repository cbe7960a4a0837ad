"""Trace-level shrinking: delta debugging over `handover.trace/1` steps.

Hypothesis shrinks the choices it made; what a reviewer reads is the trace, where a run of micro
`deliver`/`fire` steps that the fault-free system would have done anyway is noise. This pass works
on the trace itself and keeps a candidate only when replaying it still violates the same property
(`first_violation`, the same checks as `runner.run`); a candidate the model cannot replay (a
`deliver` whose connection no longer exists, a `fire` of a timer that is not the earliest) raises
`TraceError`/`Impossible` and is rejected.

Passes, repeated until none makes progress or the replay budget is spent:
1. cut everything after the step where the property is first violated;
2. replace each maximal run of micro steps by one `settle` (or by nothing);
3. ddmin: delete chunks of steps, halving the chunk size down to single steps;
4. merge adjacent `settle` steps;
5. replace two adjacent steps by one everyday step enabled there (a user step, or a step of a kind
   the trace already has), or by `settle`: a road the found trace did not take. Deleting alone
   cannot turn `connect, switch, settle, switch back, settle` into the shorter `connect, switch,
   mic off, settle` (docs/performance.md, "The truth for the shrinker").

Candidates share long prefixes with the best trace so far, so a shrink replays through `Replays`: the
world after each prefix is kept (worlds are values) and a candidate replays only the steps after
the prefix it shares with one replayed before. Every candidate still counts against the replay
budget, so what is tried, and the result, are those of replaying each candidate from the start.
"""
from __future__ import annotations

import re

import attrs

from model.properties import properties as P
from model.system import world as W
from model.system.config import Config
from model.system.parties.party import ProtocolError
from model.system.actions import ClockFiresTimer, NetworkDelivers
from model.engines.runner import apply_step
from model.engines.trace import Trace, TraceError, _freeze, action_of, step_dict, step_of

MICRO = ("deliver", "fire", "tick")
SETTLE = {"step": "settle"}
EVERYDAY = ("connect", "switch_region", "mic", "speak")
"""Steps pass 5 may bring into any trace; other kinds only into a trace that already has them
(a switching counterexample does not gain a fault)."""


class _Budget(Exception):
    pass


def first_violation(steps: list[dict], cfg: Config, prop: str,
                    after_switch: bool = False) -> tuple[int, str] | None:
    """(index of the step, detail) where `prop` is first violated when `steps` are replayed, the
    way `runner.run` checks it; None if it holds. With `after_switch`, only violations after the
    first `switch_region` step count. Raises TraceError when the steps cannot be replayed."""
    checks = _checks(prop)
    w, armed = W.initial(cfg), not after_switch
    for i, step in enumerate(steps):
        w, armed, found = _replay_step(w, armed, i, step, cfg, checks)
        if found is not None:
            return found
    return _at_end(w, armed, len(steps), cfg, checks)


def _checks(prop: str) -> tuple:
    """(safety check, quiescence check) of `prop`, either None; KeyError for an unknown name."""
    check = {**P.SAFETY, **P.DIAGNOSTIC_SAFETY}.get(prop)
    quiet = {**P.QUIESCENT, **P.DIAGNOSTIC_QUIESCENT}.get(prop)
    if check is None and quiet is None:
        raise KeyError(prop)
    return check, quiet


def _replay_step(w: W.World, armed: bool, i: int, step: dict, cfg: Config, checks: tuple,
                 enabled=None) -> tuple[W.World, bool, tuple[int, str] | None]:
    """`first_violation`'s step `i`: (world after it, armed, (i, detail) if `prop` broke);
    `enabled` as for `_require_enabled`."""
    check, quiet = checks
    if step["step"] == "switch_region":
        armed = True
    hit: list[str] = []

    def observe(action, world, records):
        if armed and not hit:
            d = check(world, cfg)
            if d:
                hit.append(d)

    try:
        _require_enabled(w, step, cfg, enabled)
        w = apply_step(w, step, cfg, observe if check is not None else None, records=False)
    except (W.Impossible, ProtocolError, RuntimeError) as e:
        raise TraceError(f"step {i + 1} ({step['step']}): {e}") from None
    if hit:
        return w, armed, (i, hit[0])
    if armed and quiet is not None and step["step"] == "settle" and W.quiescent(w):
        d = quiet(w, cfg)
        if d:
            return w, armed, (i, d)
    return w, armed, None


def _at_end(w: W.World, armed: bool, n: int, cfg: Config, checks: tuple) -> tuple[int, str] | None:
    """After the last of `n` steps, none violating: the quiescence check of a quiescent end."""
    quiet = checks[1]
    if armed and quiet is not None and n and W.quiescent(w):
        d = quiet(w, cfg)
        if d:
            return n - 1, d
    return None


@attrs.define(eq=False)
class _Node:
    """The replay of one prefix: the world after it (and whether the property is armed), or how
    the prefix ended (a violation at a step, or a TraceError); `children` by the next step."""
    world: W.World | None
    armed: bool = False
    found: tuple | None = None
    error: str | None = None
    end: tuple | None | bool = False        # `_at_end` once computed (False: not yet)
    children: dict = attrs.Factory(dict)
    enabled: list | None = None             # `world.enabled` here, once a step needed it

    def enabled_here(self, cfg: Config) -> list:
        if self.enabled is None:
            self.enabled = W.enabled(self.world, cfg)
        return self.enabled


class Replays:
    """`first_violation` for many candidates that share prefixes. The world is a value and a step
    is pure (`model.system.world`), so the replay of a prefix is kept in a tree and the next
    candidate with that prefix replays only the steps after it; the answers (violation, None or
    TraceError) are those `first_violation` gives."""

    def __init__(self, cfg: Config, prop: str, after_switch: bool = False):
        self.cfg, self.checks = cfg, _checks(prop)
        self.root = _Node(W.initial(cfg), not after_switch)

    def first_violation(self, steps: list[dict]) -> tuple[int, str] | None:
        node = self.root
        for i, step in enumerate(steps):
            key = _freeze(step)
            child = node.children.get(key)
            if child is None:
                try:
                    w, armed, found = _replay_step(node.world, node.armed, i, step, self.cfg,
                                                   self.checks,
                                                   lambda n=node: n.enabled_here(self.cfg))
                    child = _Node(w, armed, found)
                except TraceError as e:
                    child = _Node(None, error=str(e))
                node.children[key] = child
            node = child
            if node.error is not None:
                raise TraceError(node.error)
            if node.found is not None:
                return node.found
        if node.end is False:
            node.end = _at_end(node.world, node.armed, len(steps), self.cfg, self.checks)
        return node.end

    def world_after(self, steps: list[dict]) -> W.World | None:
        """The world after `steps` when they were replayed without a violation, else None."""
        node = self.root
        for step in steps:
            node = node.children.get(_freeze(step))
            if node is None or node.world is None or node.found is not None:
                return None
        return node.world


def first_error(steps: list[dict], cfg: Config, error: str) -> int | None:
    """The index of the step where replaying `steps` raises a model error whose text, digits
    aside, is `error`'s ("RuntimeError: connection region:x/grpc2 opened twice"); else None."""
    w = W.initial(cfg)
    for i, step in enumerate(steps):
        try:
            _require_enabled(w, step, cfg)
            w = apply_step(w, step, cfg)
        except W.Impossible:
            return None
        except Exception as e:  # noqa: BLE001 - a model error is what we look for
            return i if _shape(f"{type(e).__name__}: {e}") == _shape(error) else None
    return None


def _require_enabled(w: W.World, step: dict, cfg: Config, enabled=None) -> None:
    """A candidate may only take actions the driver could have taken: `world.step` itself accepts
    some that `world.enabled` does not offer (selecting the region already selected). `enabled()`,
    when given, returns `world.enabled(w, cfg)` (kept by the caller)."""
    action = action_of(step)
    if action is None:
        return
    enabled = W.enabled(w, cfg) if enabled is None else enabled()
    if isinstance(action, NetworkDelivers) and action.pod is None:   # canonical routing
        heads = {(a.conn, a.to_server) for a in enabled if isinstance(a, NetworkDelivers)}
        if (action.conn, action.to_server) in heads:
            return
    if action not in enabled:
        raise W.Impossible(f"{step['step']} is not enabled here")


def _shape(text: str) -> str:
    return re.sub(r"\d+", "#", text)


@attrs.define(eq=False)
class Shrinker:
    """Shrinks steps while `predicate(steps)` (the index of the step that shows the failure, or
    None) still finds the failure."""
    cfg: Config
    prop: str                       # the property, or the model error's text
    after_switch: bool = False
    max_replays: int = 400
    replays: int = 0
    accepted: int = 0
    error: bool = False             # shrink a model error rather than a property violation
    max_class: str | None = None    # keep the class (model.engines.classify) no more contrived than this
    _tree: Replays | None = attrs.field(default=None, init=False, repr=False)
    _classes: dict = attrs.field(factory=dict, init=False, repr=False)   # steps -> class

    def replays_tree(self) -> Replays:
        """The replays of this shrink, sharing prefixes (`Replays`)."""
        if self._tree is None:
            self._tree = Replays(self.cfg, self.prop, self.after_switch)
        return self._tree

    def predicate(self, steps: list[dict]) -> int | None:
        if self.error:
            return first_error(steps, self.cfg, self.prop)
        try:
            found = self.replays_tree().first_violation(steps)
        except TraceError:
            return None
        return None if found is None else found[0]

    def _class(self, steps: list[dict]) -> str:
        from model.engines import classify
        key = tuple(_freeze(s) for s in steps)
        if key not in self._classes:
            self._classes[key] = classify.classify(steps, self.cfg)
        return self._classes[key]

    def test(self, steps: list[dict]) -> list[dict] | None:
        """The steps cut right after the failure, or None if they no longer show it."""
        if self.replays >= self.max_replays:
            raise _Budget
        self.replays += 1
        found = self.predicate(steps)
        if found is None:
            return None
        if self.max_class is not None:
            from model.engines import classify
            rank = list(classify.CLASSES)
            if rank.index(self._class(steps[:found + 1])) > rank.index(self.max_class):
                return None
        return steps[:found + 1]

    def shrink(self, steps: list[dict]) -> list[dict]:
        best = self.test(list(steps))
        if best is None:
            raise ValueError(f"the steps do not show {self.prop}")
        try:
            while True:
                before = len(best), _micro_count(best)
                for p in (self.collapse_micro, self.delete_chunks, self.merge_settles,
                          self.substitute_pairs):
                    best = p(best)
                if (len(best), _micro_count(best)) == before:
                    break
        except _Budget:
            pass
        return normalize(best)

    def _try(self, best: list[dict], candidate: list[dict]) -> list[dict]:
        if candidate == best:
            return best
        got = self.test(candidate)
        if got is not None and (len(got), _micro_count(got)) < (len(best), _micro_count(best)):
            self.accepted += 1
            return got
        return best

    def collapse_micro(self, best: list[dict]) -> list[dict]:
        i = len(best) - 1
        while i >= 0:
            if best[i]["step"] not in MICRO:
                i -= 1
                continue
            j = i
            while j > 0 and best[j - 1]["step"] in MICRO:
                j -= 1
            for replacement in ([SETTLE], []):
                new = self._try(best, best[:j] + replacement + best[i + 1:])
                if new is not best:
                    best = new
                    break
            i = min(j, len(best)) - 1
        return best

    def delete_chunks(self, best: list[dict]) -> list[dict]:
        size = max(1, len(best) // 2)
        while True:
            start = len(best) - size
            while start >= 0:
                best = self._try(best, best[:start] + best[start + size:])
                start = min(start, len(best)) - size
            if size == 1:
                return best
            size //= 2

    def merge_settles(self, best: list[dict]) -> list[dict]:
        merged = [s for k, s in enumerate(best)
                  if not (s == SETTLE and k > 0 and best[k - 1] == SETTLE)]
        return self._try(best, merged)


    def substitute_pairs(self, best: list[dict]) -> list[dict]:
        kinds = set(EVERYDAY) | {s["step"] for s in best}
        i = len(best) - 2
        while i >= 0:
            for step in [SETTLE] + self._menu(best[:i], kinds):
                new = self._try(best, best[:i] + [step] + best[i + 2:])
                if new is not best:
                    best = new
                    break
            i = min(i, len(best) - 1) - 1
        return best

    def _menu(self, prefix: list[dict], kinds: set) -> list[dict]:
        """The everyday steps enabled after `prefix` (one replay, counted against the budget)."""
        if self.replays >= self.max_replays:
            raise _Budget
        self.replays += 1
        w = None if self.error else self.replays_tree().world_after(prefix)
        if w is None:
            w = W.initial(self.cfg)
            try:
                for step in prefix:
                    w = apply_step(w, step, self.cfg)
            except (W.Impossible, ProtocolError, RuntimeError, TraceError):
                return []
        out = []
        for a in W.enabled(w, self.cfg):
            if not isinstance(a, (NetworkDelivers, ClockFiresTimer)):
                step = step_of(a, w)
                if step["step"] in kinds and step not in out:
                    out.append(step)
        return out


def normalize(steps: list[dict]) -> list[dict]:
    """The first region selection is a `connect`, later ones `switch_region` (the same action:
    deleting the first selection turns the second into the first)."""
    out, seen = [], False
    for s in steps:
        if s["step"] in ("connect", "switch_region"):
            region = s.get("region") or s.get("to")
            s = {"step": "switch_region", "to": region} if seen else {"step": "connect",
                                                                      "region": region}
            seen = True
        out.append(s)
    return out


def _micro_count(steps: list[dict]) -> int:
    return sum(s["step"] in MICRO for s in steps)


def shrink_steps(steps: list[dict], cfg: Config, prop: str, after_switch: bool = False,
                 max_replays: int = 400, max_class: str | None = None) -> list[dict]:
    """The shrunk steps; with `max_class`, only candidates whose class (`model.engines.classify`) is no
    more contrived than it are accepted (an everyday counterexample stays everyday)."""
    return Shrinker(cfg, prop, after_switch, max_replays,
                    max_class=max_class).shrink(list(steps))


def shrink_trace(trace: Trace, cfg: Config, prop: str, after_switch: bool = False,
                 max_replays: int = 400) -> Trace:
    steps = shrink_steps([step_dict(s) for s in trace.steps], cfg, prop, after_switch, max_replays)
    return attrs.evolve(trace, steps=tuple(_freeze(s) for s in steps))


__all__ = ["first_violation", "shrink_steps", "shrink_trace", "Shrinker"]
