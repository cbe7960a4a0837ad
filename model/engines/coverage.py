"""`handover coverage`: which rows of each party's transition table and ignore table were reached.

    handover coverage [--fix NAME] [--profile-assume NAME] [--assume K=V]... [--env ENV]
                      [--depth N] [--budget N] [--format text|json|markdown]

Every party handles a message through its `TABLE` ((state, message type) -> handler) or its
`IGNORED` table ((state, message type) -> reason): `party.lookup` is the one place that picks the
row (the gRPC client calls it directly, the other parties through `party.dispatch`). Coverage
records each row `lookup` returns while an engine runs: the explorer to depth N (every
interleaving) and a driver run (Hypothesis, `--budget` examples, derandomized). A row reached by
neither is listed with its citation (the handler's docstring, or the ignore reason). What an
unreached row means is in docs/explore.md, "Coverage": a row reachable only deeper than N, a row
only faults reach (run with `--env faults`), a row only another fix set or profile reaches, or a
row no environment can reach (dead in the model, and so, if the model is faithful, in the real
system; or a gap in what the environment offers).
"""
from __future__ import annotations

import contextlib
import json
import sys
from typing import Any, Iterator

from model.system.parties import bridge, grpc_client, livekit, mobile, party, region

PARTIES = {"mobile": mobile, "region": region, "grpc_client": grpc_client, "bridge": bridge,
           "livekit": livekit}
"""The party modules with transition tables, in the order the report lists them."""


def rows() -> list[tuple[str, str, Any, Any, str]]:
    """(party, table "TABLE"/"IGNORED", state, message type, citation) for every row."""
    out = []
    for name, module in PARTIES.items():
        for table in ("TABLE", "IGNORED"):
            for (state, msg), entry in getattr(module, table).items():
                out.append((name, table, state, msg, citation(entry)))
    return out


def citation(entry: Any) -> str:
    if isinstance(entry, str):
        return entry
    doc = (getattr(entry, "__doc__", "") or "").strip()
    where = f"{getattr(entry, '__module__', '')}.{getattr(entry, '__name__', '')}"
    return f"{where}: {doc.splitlines()[0]}" if doc else where


def row_id(party_name: str, table: str, state: Any, msg: type) -> str:
    return f"{party_name}.{table}[{state}, {msg.__name__}]"


@contextlib.contextmanager
def recording() -> Iterator[set]:
    """Record every table row `party.lookup` returns while the block runs (row ids)."""
    tables = {id(getattr(m, t)): (n, t) for n, m in PARTIES.items() for t in ("TABLE", "IGNORED")}
    hit: set = set()
    original = party.lookup

    def traced(who, table, ignored, state, msg):
        entry = original(who, table, ignored, state, msg)
        key = (state, type(msg))
        which = table if key in table else ignored
        name = tables.get(id(which))
        if name is not None:
            hit.add(row_id(name[0], name[1], state, type(msg)))
        return entry
    party.lookup = traced
    grpc_client.lookup = traced
    try:
        yield hit
    finally:
        party.lookup = original
        grpc_client.lookup = original


def by_explorer(cfg, environment: str, depth: int) -> tuple[set, Any]:
    from model.engines import bfs
    from model.engines.explore_system import HandoverSystem
    with recording() as hit:
        ex = bfs.explore(HandoverSystem(cfg, environment), depth, ())
    return hit, ex


def by_driver(fix_set: str, profile: str, cfg, environment: str, budget: int) -> set:
    from model.engines import driver as D
    with recording() as hit:
        D.observe(fix_set, profile, cfg=cfg, settings=D.settings_for("ci", budget),
                  environment=environment)
    return hit


def report(explorer: set, driver: set, depth: int, budget: int) -> dict:
    parties: dict = {}
    for name, table, state, msg, cite in rows():
        rid = row_id(name, table, state, msg)
        p = parties.setdefault(name, {"TABLE": [0, 0, 0, 0], "IGNORED": [0, 0, 0, 0],
                                      "unreached": []})
        counts = p[table]          # rows, by explorer, by driver, by either
        counts[0] += 1
        counts[1] += rid in explorer
        counts[2] += rid in driver
        counts[3] += rid in explorer or rid in driver
        if rid not in explorer and rid not in driver:
            p["unreached"].append({"row": rid, "citation": cite})
        elif rid not in explorer:
            p.setdefault("driver_only", []).append(rid)
    return {"explorer_depth": depth, "driver_budget": budget, "parties": parties}


def text(r: dict) -> str:
    lines = [f"rows reached: explorer to depth {r['explorer_depth']} / driver "
             f"({r['driver_budget']} examples) / either, of all rows"]
    for name, p in r["parties"].items():
        for table in ("TABLE", "IGNORED"):
            n, ex, dr, either = p[table]
            lines.append(f"  {name:<12} {table:<8} {ex:>3} / {dr:>3} / {either:>3} of {n}")
    for name, p in r["parties"].items():
        if p["unreached"]:
            lines.append(f"unreached by both ({name}):")
            lines += [f"  {u['row']}  -- {u['citation']}" for u in p["unreached"]]
        if p.get("driver_only"):
            lines.append(f"reached by the driver only ({name}): {', '.join(p['driver_only'])}")
    return "\n".join(lines) + "\n"


def markdown(r: dict) -> str:
    out = ["# handover coverage", "",
           f"Rows reached by the explorer to depth {r['explorer_depth']} and by a driver run "
           f"({r['driver_budget']} examples).", "",
           "| party | table | rows | explorer | driver | either |", "|---|---|---|---|---|---|"]
    for name, p in r["parties"].items():
        for table in ("TABLE", "IGNORED"):
            n, ex, dr, either = p[table]
            out.append(f"| {name} | {table} | {n} | {ex} | {dr} | {either} |")
    out.append("")
    for name, p in r["parties"].items():
        for u in p["unreached"]:
            out.append(f"- unreached: `{u['row']}`: {u['citation']}")
    return "\n".join(out) + "\n"


def add_parser(sub) -> None:
    p = sub.add_parser("coverage", help="which transition-table rows the explorer and the driver "
                                        "reach")
    p.add_argument("--fix", default="baseline", metavar="NAME", help="fix set (default baseline)")
    p.add_argument("--profile-assume", default=None, metavar="NAME",
                   help="assumption profile (default the reference)")
    p.add_argument("--assume", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--env", default="switching", metavar="ENV", help="switching (default) or faults")
    p.add_argument("--depth", default="4", metavar="N", help="explorer depth (default 4)")
    p.add_argument("--budget", default="100", metavar="N", help="driver examples (default 100)")
    p.add_argument("--format", default="text", metavar="FORMAT", help="text, json or markdown")
    p.set_defaults(func=cmd_coverage)


def cmd_coverage(args) -> int:
    import argparse as _a
    from model.engines import explore as X
    from model.usage import UsageError
    ns = _a.Namespace(fix=[args.fix], profile_assume=[args.profile_assume] if args.profile_assume
                      else [], assume=args.assume, env=args.env, depth=args.depth, property=[],
                      max_states=None, time_limit=None, format="text", export=None,
                      out=X.DEFAULT_OUT)
    opts = X.parse_args(ns)
    budget = X._positive("--budget", args.budget)
    if args.format not in ("text", "json", "markdown"):
        raise UsageError(f"--format takes text, json or markdown, not {args.format!r}")
    fix_set, profile, cfg = opts["cells"][0]
    explorer, _ = by_explorer(cfg, args.env, opts["depth"])
    driver = by_driver(fix_set, profile, cfg, args.env, budget)
    r = report(explorer, driver, opts["depth"], budget)
    out = {"text": text, "markdown": markdown, "json": lambda x: json.dumps(x, indent=2) + "\n"}
    sys.stdout.write(out[args.format](r))
    return 0
