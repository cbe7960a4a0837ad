"""Breadth-first exploration of a transition system, generic over how states are made and keyed.

Theory of operation. A `System` gives an initial state, the labelled successors of a state, a
canonical `key` (two states with the same key must have the same future: same enabled labels, same
verdicts; `model/engines/statekey.py` argues it for the handover World) and `check(state, open_props)`, the
properties violated *in* a state. A successor may also carry violations seen *on the way* (the
handover `settle` step checks safety after each micro step it runs), and a successor may be an
exception instead of a state: a model error, recorded with its path, never a verdict.

`explore` visits every state reachable in up to `depth` steps, level by level, each distinct key
once; the state graph is a `networkx.DiGraph` over node numbers (0 is the initial state, node
attributes `depth`, edge attribute `step`: the label of the first transition found between the two
nodes). Because levels are finished in order, the first violation of a property is at the smallest
depth at which any path violates it, and the BFS tree path to it is a shortest counterexample.

Limits: `max_states` and `time_limit` stop the search in the middle of a level; `depth_done` is
then the last level whose every state was expanded, and nothing is claimed beyond it. The search
also stops once every property asked about is violated (`stopped == "all-violated"`).
"""
from __future__ import annotations

import gc
import time
from typing import Any, Callable, Hashable, Iterable, Protocol

import attrs
import networkx as nx


class System(Protocol):
    def initial(self) -> Any: ...
    def successors(self, state: Any) -> Iterable[tuple[Any, Any, dict]]: ...
    def key(self, state: Any) -> Hashable: ...
    def check(self, state: Any, props: Iterable[str]) -> dict[str, str]: ...


@attrs.define(eq=False)
class Found:
    """The first violation of `prop`: in state `node`, or on the transition `step` out of `node`."""
    prop: str
    detail: str
    node: int
    depth: int                     # length of the shortest counterexample
    step: Any = None               # the label of the violating transition (None: in the state)


@attrs.define(eq=False)
class Exploration:
    graph: nx.DiGraph
    props: tuple
    depth: int                     # the depth asked for
    depth_done: int = 0            # every path of up to this many steps was examined
    transitions: int = 0           # successors computed (duplicates included)
    stopped: str = ""              # "" | "max-states" | "time-limit" | "all-violated"
    found: dict = attrs.Factory(dict)      # prop -> Found
    errors: list = attrs.Factory(list)     # (text, node, step): model errors
    seconds: float = 0.0
    states_of: dict | None = None  # node -> state (kept when asked: coverage, liveness, tests)

    @property
    def states(self) -> int:
        return self.graph.number_of_nodes()

    def path(self, node: int) -> list:
        """The labels of a shortest path from the initial state to `node`."""
        nodes = nx.shortest_path(self.graph, 0, node)
        return [self.graph.edges[u, v]["step"] for u, v in zip(nodes, nodes[1:])]

    def counterexample(self, prop: str) -> list:
        f = self.found[prop]
        return self.path(f.node) + ([f.step] if f.step is not None else [])

    def status(self, prop: str) -> str:
        if prop in self.found:
            return "violated"
        return "holds" if self.depth_done >= self.depth else "incomplete"


def explore(system: System, depth: int, props: Iterable[str], *, max_states: int | None = None,
            time_limit: float | None = None, keep_states: bool = False,
            progress: Callable[[int, int, int, float], None] | None = None) -> Exploration:
    """Explore up to `depth` steps; see the module docstring. `progress(depth, states,
    transitions, seconds)` is called after each level and every few seconds within one.

    Python's cycle collector is paused meanwhile: states and keys are acyclic, and its passes over
    a growing heap cost a quarter of the time at depth 5 (docs/performance.md, "Explorer")."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return _explore(system, depth, props, max_states=max_states, time_limit=time_limit,
                        keep_states=keep_states, progress=progress)
    finally:
        if paused:
            gc.enable()


def _explore(system: System, depth: int, props: Iterable[str], *, max_states, time_limit,
             keep_states, progress) -> Exploration:
    props = tuple(props)
    start = time.perf_counter()
    g = nx.DiGraph()
    ex = Exploration(g, props, depth, states_of={} if keep_states else None)
    root = system.initial()
    index: dict = {system.key(root): 0}
    g.add_node(0, depth=0)
    if keep_states:
        ex.states_of[0] = root
    _record(ex, 0, 0, system.check(root, props), None)
    frontier = [(0, root)]
    last_report = start
    for level in range(1, depth + 1):
        if not frontier or _all_found(ex):
            break
        nxt: list = []
        for node, state in frontier:
            for label, succ, on_way in system.successors(state):
                ex.transitions += 1
                _record(ex, node, level, on_way, label)
                if isinstance(succ, BaseException):
                    ex.errors.append((f"{type(succ).__name__}: {succ}", node, label))
                    continue
                k = system.key(succ)
                target = index.get(k)
                if target is None:
                    target = len(index)
                    index[k] = target
                    g.add_node(target, depth=level)
                    if keep_states:
                        ex.states_of[target] = succ
                    nxt.append((target, succ))
                    _record(ex, target, level, system.check(succ, _open(ex)), None)
                if not g.has_edge(node, target):
                    g.add_edge(node, target, step=label)
                if max_states is not None and len(index) >= max_states:
                    ex.stopped = "max-states"
                elif time_limit is not None and time.perf_counter() - start > time_limit:
                    ex.stopped = "time-limit"
                if ex.stopped:
                    break
            if ex.stopped:
                break
            now = time.perf_counter()
            if progress is not None and now - last_report > 5:
                last_report = now
                progress(level, len(index), ex.transitions, now - start)
        if ex.stopped:
            break
        ex.depth_done = level
        frontier = nxt
        if progress is not None:
            progress(level, len(index), ex.transitions, time.perf_counter() - start)
    if not ex.stopped:
        if _all_found(ex):
            ex.stopped = "all-violated" if ex.depth_done < depth else ""
        ex.depth_done = depth if not ex.stopped else ex.depth_done
    ex.seconds = time.perf_counter() - start
    return ex


def _open(ex: Exploration) -> tuple:
    return tuple(p for p in ex.props if p not in ex.found)


def _all_found(ex: Exploration) -> bool:
    return bool(ex.props) and all(p in ex.found for p in ex.props)


def _record(ex: Exploration, node: int, depth: int, violations: dict, step: Any) -> None:
    for prop, detail in violations.items():
        if prop in ex.props and prop not in ex.found:
            ex.found[prop] = Found(prop, detail, node, depth, step)
