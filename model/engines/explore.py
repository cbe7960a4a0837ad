"""`handover explore`: every interleaving up to a depth, breadth-first, minimal counterexamples.

    handover explore [--fix NAME]... [--profile-assume NAME]... [--assume K=V]...
                     [--env switching|faults] [--depth N] [--property NAME]...
                     [--max-states N] [--time-limit SECONDS] [--format text|json|markdown]
                     [--export graphml|dot FILE] [--out DIR]

Theory of operation. The steps are the driver's (`model/engines/driver.py`): every action `world.enabled`
offers that the environment allows (`driver.ENVIRONMENTS`: user actions, the delivery of any
channel's head with any pod for an unrouted connection, the earliest timer, a clock advance from
`world.ADVANCE_MS`, and in `faults` the faults), plus `settle` as ONE step, as in the driver and in
traces (run fault-free to quiescence; safety is checked after each micro step inside it). A settle
from a quiescent world changes nothing and is not taken. States are deduplicated under
`statekey.key` (docs/explore.md). Safety properties are checked in every state; quiescence
properties in every quiescent state (a trace that ends there replays to the same verdict:
`runner.run` checks a final quiescent world). Each property gets its shortest counterexample,
written as a `handover.trace/1` plus a page (`counterexample.write` replays it first), or "holds in
every interleaving up to depth N"; a run stopped by --max-states or --time-limit says how deep it
got completely and reports the rest "incomplete". The liveness property
(`liveness.AudioEventuallyReachesActiveRegion`) is judged on the explored graph (model/engines/liveness.py).

Exit status: 0 every property holds to the depth, 1 one is violated, 2 bad input, a model error,
or an incomplete run with no violation (the verdict asked for could not be given).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import fixes
from model.engines import bfs
from model.outputs import counterexample as CX
from model.engines import driver as D
from model.properties import properties as P
from model.system.config import PROFILES, REFERENCE_PROFILE, Config, ConfigError
from fixes import make_config
from model.engines.explore_system import HandoverSystem

DEFAULT_DEPTH = 6
DEFAULT_OUT = "results/explore"


# --- one cell -----------------------------------------------------------------------------------

def known_properties() -> tuple:
    """The default set: every property of the matrix and the liveness property. The diagnostics
    (`properties.DIAGNOSTICS`) may be asked for by name."""
    from model.engines import liveness
    return (*P.ALL, *liveness.PROPERTIES)


def nameable_properties() -> tuple:
    return (*known_properties(), *getattr(P, "DIAGNOSTICS", ()))


def run_cell(fix_set: str, profile: str, cfg: Config, environment: str, depth: int,
             props: tuple, *, max_states: int | None = None, time_limit: float | None = None,
             out_dir: str | Path = DEFAULT_OUT, progress=None, write: bool = True,
             export: tuple | None = None, race_window: bool = False, macro: bool = False
             ) -> tuple[dict, bfs.Exploration]:
    """Explore one (fix set, profile, environment); the JSON record and the exploration.
    `macro`: without micro steps (`explore_system.MICRO`)."""
    from model.engines import liveness
    system = HandoverSystem(cfg, environment, macro=macro)
    live = [p for p in props if p in liveness.PROPERTIES]
    safe = tuple(p for p in props if p not in liveness.PROPERTIES)
    ex = bfs.explore(system, depth, safe, max_states=max_states, time_limit=time_limit,
                     keep_states=bool(live), progress=progress)
    record: dict[str, Any] = {
        "fix_set": fix_set, "profile": profile, "environment": environment,
        "fixes": list(cfg.fixes), "assumptions": dict(cfg.assumptions.items()),
        "evidence": f"exhaustive to depth {ex.depth_done}" + (" (macro steps)" if macro else ""),
        "steps": "macro" if macro else "all",
        "depth_requested": depth, "depth": ex.depth_done, "states": ex.states,
        "transitions": ex.transitions, "stopped": ex.stopped or None,
        "witnesses": sorted(system.witnessed),
        "seconds": round(ex.seconds, 2), "properties": [], "errors": []}
    where = f"{profile}.{environment}.depth{depth}" + (".macro" if macro else "")
    for prop in safe:
        entry: dict[str, Any] = {"property": prop, "status": ex.status(prop), "depth": ex.depth_done}
        if prop in ex.found:
            f = ex.found[prop]
            steps = ex.counterexample(prop)
            entry.update(length=len(steps), detail=f.detail, steps=steps)
            if write:
                json_path, md_path = CX.write(
                    D.make_trace(steps, cfg, prop), cfg, prop, CX.stem(fix_set, where, prop),
                    out_dir, description=f"{prop} violated by {fix_set} under {profile} "
                    f"({environment} environment): a shortest counterexample, found by "
                    f"handover explore (breadth-first, {len(steps)} steps).",
                    race_window=race_window)
                entry.update(trace=str(json_path), page=str(md_path))
        record["properties"].append(entry)
    for prop in live:
        record["properties"].append(liveness.judge(prop, ex, system, cfg, fix_set, where,
                                                   out_dir if write else None))
    for text, node, step in ex.errors[:5]:
        record["errors"].append({"error": text, "steps": ex.path(node) + [step]})
    if export:
        export_graph(ex, *export)
    return record, ex


def export_graph(ex: bfs.Exploration, fmt: str, path: str | Path) -> None:
    """The state graph for a reviewer's own tools: node attribute `depth`, edge attribute `step`
    (the trace step as JSON)."""
    import networkx as nx
    g = nx.DiGraph()
    for n, data in ex.graph.nodes(data=True):
        g.add_node(n, depth=data["depth"])
    for u, v, data in ex.graph.edges(data=True):
        g.add_edge(u, v, step=json.dumps(data["step"], sort_keys=True))
    if fmt == "graphml":
        nx.write_graphml(g, str(path))
    else:
        with open(path, "w") as f:
            f.write("digraph explore {\n")
            for n, data in g.nodes(data=True):
                f.write(f'  {n} [label="{n}" depth={data["depth"]}];\n')
            for u, v, data in g.edges(data=True):
                text = data["step"].replace("\\", "\\\\").replace('"', '\\"')
                f.write(f'  {u} -> {v} [label="{text}"];\n')
            f.write("}\n")


# --- the verdict matrix (pytest model/ --engine explore) -----------------------------------------

def evaluate(fix_set: str, profile: str, cfg: Config, environment: str, depth: int,
             out_dir: str | Path) -> dict[str, Any]:
    """A cell record in `verdicts.evaluate`'s shape, from an exhaustive exploration: each property
    carries `evidence` ("exhaustive to depth N"); a violation its minimal counterexample."""
    from model.engines import classify as C
    record, ex = run_cell(fix_set, profile, cfg, environment, depth, P.ALL, out_dir=out_dir)
    cell: dict[str, Any] = {
        "fix_set": fix_set, "profile": profile, "environment": environment,
        "fixes": record["fixes"], "assumptions": record["assumptions"], "examples": 0,
        "steps": record["transitions"], "mode": f"exhaustive to depth {depth}",
        "witnesses": {n: int(n in record["witnesses"]) for n in P.WITNESSES},
        "properties": {}, "diagnostics": {},
        "errors": [{"error": e["error"], "steps": len(e["steps"])} for e in record["errors"]],
        "evidence": record["evidence"], "states": record["states"],
        "seconds": record["seconds"]}
    for e in record["properties"]:
        if e["status"] == "violated":
            steps = e["steps"]
            cell["properties"][e["property"]] = {
                "status": "violated", "counterexample": e["trace"], "page": e["page"],
                "steps": e["length"], "found_steps": e["length"], "detail": e["detail"],
                "class": C.classify(steps, cfg), "signature": C.signature(e["property"], steps, cfg),
                "runs": 0, "evidence": record["evidence"], "minimal": True}
        else:
            cell["properties"][e["property"]] = {"status": "holds", "runs": 0,
                                                 "evidence": record["evidence"]}
    return cell


def unexpected(manifest: dict, record: dict) -> str | None:
    """Why an explored cell fails against the manifest: a violation it does not expect. A property
    the manifest expects violated that holds up to the depth is not a contradiction (the driver's
    counterexample may be longer than the depth) and does not fail."""
    from model.outputs import manifest as M
    key = M.key(record["fix_set"], record["profile"], record["environment"])
    violated = [p for p, v in record["properties"].items() if v["status"] == "violated"]
    more = sorted(set(violated) - set(manifest.get(key, ())))
    if not more:
        return None
    return "\n  ".join([f"{key}: violated, not in the manifest: {', '.join(more)}"] + [
        f"    {p} ({record['properties'][p]['steps']} steps, minimal): "
        f"{record['properties'][p]['detail']}\n      counterexample: "
        f"{record['properties'][p]['counterexample']}" for p in more])


# --- outputs ------------------------------------------------------------------------------------

def _verdict(e: dict) -> str:
    if e["status"] == "violated":
        where = f": {e['trace']}" if e.get("trace") else ""
        if e.get("loop"):
            return f"VIOLATED, a lasso: stem {e['stem']} steps, loop {e['loop']} steps{where}"
        return f"VIOLATED, shortest counterexample {e['length']} steps{where}"
    if e["status"] == "holds":
        return f"holds in every interleaving up to depth {e['depth']}"
    return f"incomplete: holds up to depth {e['depth']} only"


def text(records: list[dict]) -> str:
    lines = []
    for r in records:
        lines.append(f"{r['fix_set']} under {r['profile']} ({r['environment']}): "
                     f"{r['states']} distinct states, {r['transitions']} transitions, "
                     f"depth {r['depth']} of {r['depth_requested']} complete, {r['seconds']} s"
                     + (f"; stopped: {r['stopped']}" if r["stopped"] else ""))
        w = max(len(e["property"]) for e in r["properties"]) if r["properties"] else 0
        for e in r["properties"]:
            lines.append(f"  {e['property']:<{w}}  {_verdict(e)}")
            if e.get("detail"):
                lines.append(f"  {'':<{w}}  {e['detail']}")
        for err in r["errors"]:
            lines.append(f"  MODEL ERROR {err['error']} after {len(err['steps'])} steps")
        lines.append(f"  witnesses seen in some state: {', '.join(r['witnesses']) or 'none'}")
    return "\n".join(lines) + "\n"


def markdown(records: list[dict]) -> str:
    out = ["# handover explore", ""]
    for r in records:
        out += [f"## {r['fix_set']} under {r['profile']} ({r['environment']})", "",
                f"{r['states']} distinct states, {r['transitions']} transitions; depth "
                f"{r['depth']} of {r['depth_requested']} explored completely in {r['seconds']} s"
                + (f" (stopped: {r['stopped']})" if r["stopped"] else "") + ".", "",
                "| property | verdict |", "|---|---|"]
        for e in r["properties"]:
            v = _verdict(e)
            if e.get("page"):
                v = f"**violated**, shortest counterexample [{e['length']} steps]({e['page']})"
            out.append(f"| {e['property']} | {v} |")
        out.append("")
        for err in r["errors"]:
            out.append(f"- model error: `{err['error']}` after {len(err['steps'])} steps")
        if r["errors"]:
            out.append("")
    return "\n".join(out)


def _json_record(r: dict) -> dict:
    return {**r, "properties": [{k: v for k, v in e.items() if k != "steps"}
                                for e in r["properties"]]}


# --- the command --------------------------------------------------------------------------------

def add_parser(sub) -> None:
    p = sub.add_parser("explore", help="every interleaving up to a depth: minimal counterexamples "
                                       "or 'holds up to depth N'")
    p.add_argument("--fix", action="append", default=[], metavar="NAME",
                   help="fix set (repeatable: one exploration each; default baseline)")
    p.add_argument("--profile-assume", action="append", default=[], metavar="NAME",
                   help=f"assumption profile (repeatable; default {REFERENCE_PROFILE})")
    p.add_argument("--assume", action="append", default=[], metavar="KEY=VALUE",
                   help="assumption override on top of each profile (repeatable)")
    p.add_argument("--env", default="switching", metavar="ENV",
                   help=f"environment: {', '.join(D.ENVIRONMENTS)} (default switching)")
    p.add_argument("--depth", default=str(DEFAULT_DEPTH), metavar="N",
                   help=f"steps per path (default {DEFAULT_DEPTH})")
    p.add_argument("--property", action="append", default=[], metavar="NAME",
                   help="only this property (repeatable; default all)")
    p.add_argument("--max-states", default=None, metavar="N", help="stop after N distinct states")
    p.add_argument("--time-limit", default=None, metavar="SECONDS",
                   help="stop after this many seconds per exploration")
    p.add_argument("--format", default="text", metavar="FORMAT", help="text, json or markdown")
    p.add_argument("--export", nargs=2, default=None, metavar=("FORMAT", "FILE"),
                   help="write the state graph as graphml or dot (the last exploration's)")
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                   help=f"where counterexamples are written (default {DEFAULT_OUT})")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.add_argument("--steps", default="all", metavar="KIND",
                   help="all (default) or macro: without deliver/fire micro steps (everyday traces)")
    p.add_argument("--race-window", action="store_true",
                   help="measure each counterexample's timing window (model/engines/race.py; slower)")
    p.set_defaults(func=cmd_explore)


def _positive(name: str, raw: str | None, kind=int):
    from model.usage import UsageError
    if raw is None:
        return None
    try:
        value = kind(raw)
    except ValueError:
        raise UsageError(f"{name} takes a positive number, not {raw!r}") from None
    if value <= 0:
        raise UsageError(f"{name} takes a positive number, not {raw!r}")
    return value


def parse_args(args) -> dict:
    """Validate the options; UsageError (one line, exit 2) on bad input."""
    from model.usage import UsageError, parse_assume
    known = fixes.known()
    for name in args.fix:
        if name not in known:
            raise UsageError(f"unknown fix set {name!r} (known: {', '.join(known)})")
    for name in args.profile_assume:
        if name not in PROFILES:
            raise UsageError(f"unknown assumption profile {name!r} (known: {', '.join(PROFILES)})")
    if args.env not in D.ENVIRONMENTS:
        raise UsageError(f"unknown environment {args.env!r} (known: {', '.join(D.ENVIRONMENTS)})")
    props = known_properties()
    for name in args.property:
        if name not in nameable_properties():
            raise UsageError(f"unknown property {name!r} (known: {', '.join(props)})")
    if args.format not in ("text", "json", "markdown"):
        raise UsageError(f"--format takes text, json or markdown, not {args.format!r}")
    if getattr(args, "steps", "all") not in ("all", "macro"):
        raise UsageError(f"--steps takes all or macro, not {args.steps!r}")
    export = None
    if args.export:
        fmt, path = args.export
        if fmt not in ("graphml", "dot"):
            raise UsageError(f"--export takes graphml or dot, not {fmt!r}")
        if Path(path).exists():
            raise UsageError(f"--export: {path} exists (nothing you wrote is overwritten)")
        export = (fmt, path)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a directory")
    assume = parse_assume(args.assume)
    cells = []
    for fix_set in args.fix or ["baseline"]:
        for profile in args.profile_assume or [REFERENCE_PROFILE]:
            try:
                cfg = make_config([fix_set], profile, **assume)
            except ConfigError as e:
                raise UsageError(str(e)) from None
            label_ = D.label_assumptions(dict(cfg.assumptions.items())) if assume else profile
            cells.append((fix_set, label_, cfg))
    return {"cells": cells, "depth": _positive("--depth", args.depth),
            "max_states": _positive("--max-states", args.max_states),
            "time_limit": _positive("--time-limit", args.time_limit, float),
            "props": tuple(args.property) or props, "export": export, "out": out}


def progress_line(depth: int, states: int, transitions: int, seconds: float) -> None:
    rate = states / seconds if seconds > 0 else 0.0
    print(f"explore: depth {depth}: {states} states, {transitions} transitions, "
          f"{rate:.0f} states/s", file=sys.stderr, flush=True)


def cmd_explore(args) -> int:
    opts = parse_args(args)
    records = []
    for i, (fix_set, profile, cfg) in enumerate(opts["cells"]):
        last = i == len(opts["cells"]) - 1
        record, _ = run_cell(fix_set, profile, cfg, args.env, opts["depth"], opts["props"],
                             max_states=opts["max_states"], time_limit=opts["time_limit"],
                             out_dir=opts["out"], progress=None if args.quiet else progress_line,
                             export=opts["export"] if last else None,
                             race_window=args.race_window, macro=args.steps == "macro")
        records.append(record)
    if args.format == "json":
        for r in records:     # one object per (fix set, profile), one per line
            sys.stdout.write(json.dumps(_json_record(r)) + "\n")
    elif args.format == "markdown":
        sys.stdout.write(markdown(records))
    else:
        sys.stdout.write(text(records))
    statuses = [e["status"] for r in records for e in r["properties"]]
    if "violated" in statuses:
        return 1
    if any(r["errors"] for r in records):
        print("handover: error: the model raised errors during exploration (listed above)",
              file=sys.stderr)
        return 2
    if "incomplete" in statuses:
        print(f"handover: explore: incomplete: stopped ({records[-1]['stopped']}) after depth "
              f"{min(r['depth'] for r in records)}; nothing is claimed beyond it", file=sys.stderr)
        return 2
    return 0
