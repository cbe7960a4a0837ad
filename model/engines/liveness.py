"""Liveness under fairness on the explored graph: lassos found with strongly connected components.

`AudioEventuallyReachesActiveRegion`: while the phone stays connected to a region (its glasses
WebSocket open and acknowledged by pod R, the mic on) and the user does nothing, audio eventually
reaches R. "Audio reaches R" is the AudioReachesActiveRegion probe (`properties.audio_destinations`:
one mic packet, everything in flight delivered) arriving at R. A counterexample is a *lasso*: a
stem from the initial state to a state where the premise holds, and a loop, run forever, in which
the premise keeps holding and audio never reaches R.

How it is searched (generic part: `fair_lasso`). The candidates are the explored states (BFS order,
so the stems are short) that are quiescent, satisfy the premise and fail the goal. From each, the
*environment-only run* is followed: deliveries in the canonical order (`world.canonical_head`),
and, when nothing is in flight, time moving on: the earliest timer, or "time passes" (a 1 s tick)
when none is pending (messages take no time, one delivery order: a restriction of the
environment, so lassos found are real, and some may be missed). No user action and no fault: that
is the premise. States of the closure are keyed by `statekey.key` with tokens masked to their
identity, room and key (`loop_key`), so a loop that only refreshes tokens and lets time pass closes;
to keep that sound, a transition that validates a token (the delivery of a `Join`) is left out of
the closure. A strongly connected component of the closure graph restricted to premise-and-not-goal
states is a lasso loop if it is *fair* (weak fairness): every task (the delivery of one channel,
the firing of the earliest timer) enabled in all of its states is taken by one of its edges, and it
has an edge (a single state counts only with a self-loop, e.g. "time passes, nothing happens").
Leaving out Join deliveries can only hide lassos (a component waiting on a Join is unfair), never
invent one. Evidence: a lasso found is a counterexample; none found means "no lasso from the
explored states within the closure budget", not a proof (reported as `holds` only with that
wording in the `evidence` field).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Hashable, Iterable

import networkx as nx

from model.properties import properties as P
from model.engines import statekey
from model.system import world as W
from model.system.actions import ClockAdvances, ClockFiresTimer, NetworkDelivers
from model.system.parties.region import pod_name

PROPERTY = "AudioEventuallyReachesActiveRegion"
PROPERTIES = (PROPERTY,)
CLOSURE_STATES = 400
"""States explored from one candidate before giving up on it."""
CANDIDATES = 12
"""Candidates tried (the shallowest first)."""


# --- generic: a fair strongly connected component --------------------------------------------------

def fair_lasso(g: nx.DiGraph, root: Hashable, bad: Callable[[Hashable], bool],
               tasks: Callable[[Hashable], set]) -> tuple[list, list] | None:
    """(stem, loop) as node lists, or None. `g`'s edges carry `task` (what the transition did);
    `bad(n)` says the node may be in the loop; `tasks(n)` are the tasks enabled at n. The stem
    runs from `root` to the loop's first node; the loop returns to it."""
    sub = g.subgraph([n for n in g.nodes if bad(n)])
    for comp in sorted(nx.strongly_connected_components(sub), key=lambda c: min(
            (nx.shortest_path_length(g, root, n) for n in c), default=0)):
        comp = set(comp)
        inner = [(u, v) for u, v in sub.edges(comp) if v in comp]
        if not inner:
            continue
        always = set.intersection(*(tasks(n) for n in comp))
        taken = {g.edges[u, v]["task"] for u, v in inner}
        if not always <= taken:
            continue
        entry = min(comp, key=lambda n: nx.shortest_path_length(g, root, n))
        stem = nx.shortest_path(g, root, entry)
        c = sub.subgraph(comp)
        loop = _short_cycle(c, entry, tasks)
        return stem, loop if loop is not None else _tour(c, entry)
    return None


def _short_cycle(c: nx.DiGraph, entry: Hashable, tasks: Callable) -> list | None:
    """The shortest cycle through `entry`, if it is fair on its own."""
    best = None
    for s in c.successors(entry):
        back = [entry] + nx.shortest_path(c, s, entry)
        if best is None or len(back) < len(best):
            best = back
    if best is None:
        return None
    always = set.intersection(*(tasks(n) for n in best))
    taken = {c.edges[u, v]["task"] for u, v in zip(best, best[1:])}
    return best if always <= taken else None


def _tour(c: nx.DiGraph, entry: Hashable) -> list:
    """A closed walk from `entry` through every edge of the strongly connected `c` (so the loop
    shown is as fair as the component)."""
    walk, at = [entry], entry
    for u, v in c.edges:
        for n in nx.shortest_path(c, at, u)[1:] + [v]:
            walk.append(n)
        at = v
    walk += nx.shortest_path(c, at, entry)[1:]
    return walk if len(walk) > 1 else [entry, entry]


# --- the handover property ----------------------------------------------------------------------

def premise(w: W.World) -> str | None:
    """The region pod the phone is connected to with the mic on (None: premise false)."""
    m = w.mobile
    if not m.mic_on or m.ws is None or m.ws_status.value != "connected":
        return None
    return w.net.conn(m.ws).server or None


def reaches(w: W.World, cfg, pod: str) -> bool:
    got, _ = P.audio_destinations(w, cfg)
    return any(g.split(" ")[0] == pod_name(pod) for g in got)


def loop_key(w: W.World, cfg) -> Hashable:
    return statekey.key(w, cfg, mask_tokens=True)


def _env_moves(w: W.World, cfg) -> list:
    """The system left alone, in the canonical order (`world.canonical_head`: prompt local work,
    then the oldest message); time moves on (the earliest timer, or a 1 s tick when none is
    pending) only when nothing is in flight."""
    head = W.canonical_head(w)
    if head is not None:
        return [NetworkDelivers(head.conn, head.to_server)]
    return [ClockFiresTimer()] if w.clock.timers else [ClockAdvances(1000)]


def _tasks(w: W.World) -> set:
    """Every task enabled in `w`: each channel's delivery, and the earliest timer."""
    out = {("deliver", h.conn, h.to_server) for h in w.net.heads()}
    return out | ({("fire",)} if w.clock.timers else set())


def _task(w: W.World, a) -> Any:
    if isinstance(a, NetworkDelivers):
        return ("deliver", a.conn, a.to_server)
    return ("fire",) if isinstance(a, ClockFiresTimer) else ("time",)


def _validates_token(w: W.World, a) -> bool:
    if not isinstance(a, NetworkDelivers):
        return False
    head = next(h for h in w.net.heads() if (h.conn, h.to_server) == (a.conn, a.to_server))
    return type(head.msg).__name__ == "Join"


def closure_lasso(start: W.World, cfg, limit: int = CLOSURE_STATES):
    """The environment-only closure from `start` and a fair lasso in it: (steps to the loop,
    loop steps, loop detail) as trace steps, or None."""
    from model.engines.explore_system import label
    pod = premise(start)
    g = nx.DiGraph()
    k0 = loop_key(start, cfg)
    worlds = {k0: start}
    info: dict = {}
    todo = [k0]
    while todo and len(worlds) < limit:
        k = todo.pop(0)
        w = worlds[k]
        ok = premise(w) == pod and not reaches(w, cfg, pod)
        info[k] = (ok, _tasks(w))
        g.add_node(k)
        if not ok:
            continue
        for a in _env_moves(w, cfg):
            if _validates_token(w, a):
                continue
            try:
                w2 = W.step(w, a, cfg)
            except Exception:  # noqa: BLE001 - a model error ends this branch; the BFS reports it
                continue
            k2 = loop_key(w2, cfg)
            if k2 not in worlds:
                worlds[k2] = w2
                todo.append(k2)
            if not g.has_edge(k, k2):
                g.add_edge(k, k2, task=_task(w, a), step=label(w, a))
    found = fair_lasso(g, k0, lambda n: n in info and info[n][0],
                       lambda n: info[n][1] if n in info else set())
    if found is None:
        return None
    stem, loop = found
    steps = lambda nodes: [g.edges[u, v]["step"] for u, v in zip(nodes, nodes[1:])]  # noqa: E731
    return steps(stem), steps(loop), pod


def judge(prop: str, ex, system, cfg, fix_set: str, where: str, out_dir) -> dict:
    """The JSON entry for the liveness property on a finished exploration."""
    entry: dict[str, Any] = {"property": prop, "depth": ex.depth_done}
    tried = 0
    for node in sorted(ex.states_of, key=lambda n: ex.graph.nodes[n]["depth"]):
        w = ex.states_of[node]
        if not W.quiescent(w):
            continue
        pod = premise(w)
        if pod is None or reaches(w, cfg, pod):
            continue
        tried += 1
        found = closure_lasso(w, cfg)
        if found is not None:
            to_loop, loop, pod = found
            stem = ex.path(node) + to_loop
            entry.update(status="violated", length=len(stem) + len(loop), stem=len(stem),
                         loop=len(loop), steps=stem + loop,
                         detail=f"WebSocket open to {pod_name(pod)}, the user idle: the loop of "
                                f"{len(loop)} steps repeats forever and mic audio never reaches "
                                f"{pod_name(pod)}")
            if out_dir is not None:
                entry.update(write_lasso(stem, loop, cfg, fix_set, where, prop, out_dir,
                                         entry["detail"]))
            return entry
        if tried >= CANDIDATES:
            break
    entry.update(status="holds" if ex.depth_done >= ex.depth else "incomplete",
                 evidence=f"no fair lasso from {tried} candidate states (closure budget "
                          f"{CLOSURE_STATES} states each): not a proof")
    return entry


def write_lasso(stem: list, loop: list, cfg, fix_set: str, where: str, prop: str,
                out_dir, detail: str = "") -> dict:
    """The stem followed by one turn of the loop as a handover.trace/1 (replayable), and a page
    that shows which steps are the stem and which the loop."""
    from model.outputs import counterexample as CX
    from model.engines import driver as D
    from model.outputs import render
    from model.engines import runner
    from model.engines.trace import dump
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = CX.stem(fix_set, where, prop)
    trace = D.make_trace(stem + loop, cfg, None, name)
    json_path, md_path = out / f"{name}.json", out / f"{name}.md"
    dump(trace, json_path, f"{prop} violated by {fix_set}: a lasso; steps 1-{len(stem)} are the "
                           f"stem, steps {len(stem) + 1}-{len(stem) + len(loop)} the loop, which "
                           f"repeats forever")
    result = runner.run(trace, cfg)
    lines = [f"# {prop} violated: {', '.join(cfg.fixes)}", "",
             f"A lasso: **stem** steps 1-{len(stem)}, then the **loop** steps "
             f"{len(stem) + 1}-{len(stem) + len(loop)}, which can repeat forever (every channel "
             f"and timer that stays enabled is served in it: weak fairness) while the phone stays "
             f"connected and the user does nothing. Mic audio never reaches the region.", "",
             f"> {detail}", "",
             f"Replay one turn: `handover replay {json_path}`", "", "## Stem", ""]
    lines += [f"{i + 1}. {render._step_title(s)}" for i, s in enumerate(stem)]
    lines += ["", "## Loop", ""]
    lines += [f"{len(stem) + i + 1}. {render._step_title(s)}" for i, s in enumerate(loop)]
    lines += ["", render.markdown(result, title="x").split("\n", 1)[1]]
    md_path.write_text("\n".join(lines))
    return {"trace": str(json_path), "page": str(md_path)}


def states_needed(props: Iterable[str]) -> bool:
    return any(p in PROPERTIES for p in props)
