"""Benchmarks of the exhaustive explorer (measured, never asserted).

    .venv/bin/python benchmarks/explore.py [--depths 4-8] [--limit 120] [--shrink-depth 5]
                                           [--fix NAME]... [--out results/bench-explore.json]

1. Rates, same run: distinct states per second of the explorer (baseline, reference profile,
   switching environment, every property) against raw `world.step` calls per second (random walks
   over `world.enabled`, no key, no checks), and the share of the explorer's time spent outside
   computing successors (deduplication and property checks).
2. State counts for depths 4..8 (each depth a fresh exploration, `--limit` seconds at most; a depth
   cut short says how far it got), for the baseline and, once it exists, `recommended`.
3. The depth reached completely within 60 s (the issue's goal: switch away, wait, switch back,
   settle).
4. The truth for the shrinker: for every (fix set, property) the explorer finds violated up to
   `--shrink-depth`, the length of the driver's shrunk counterexample (ci settings, 100 examples,
   `model/engines/shrink.py`) against the explorer's minimum.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fixes  # noqa: E402
from model.engines import bfs, driver as D, shrink as S  # noqa: E402
from model.properties import properties as P
from model.system import world as W
from model.system.config import REFERENCE_PROFILE  # noqa: E402
from fixes import make_config
from model.engines.explore_system import HandoverSystem  # noqa: E402

ENV = "switching"


def explore(fix_set: str, depth: int, limit: float | None, props=P.ALL) -> dict:
    cfg = make_config([fix_set])
    system = HandoverSystem(cfg, ENV)
    ex = bfs.explore(system, depth, props, time_limit=limit)
    return {"fix_set": fix_set, "depth": depth, "depth_done": ex.depth_done, "states": ex.states,
            "transitions": ex.transitions, "seconds": round(ex.seconds, 2),
            "stopped": ex.stopped or None, "states_per_s": round(ex.states / ex.seconds),
            "step_calls": system.steps, "step_seconds": round(system.step_seconds, 2),
            "overhead_share": round(1 - system.step_seconds / ex.seconds, 2),
            "found": {p: f.depth for p, f in ex.found.items()}}


def raw_steps_per_second(seconds: float, seed: int = 0) -> float:
    cfg = make_config(["baseline"])
    rng = random.Random(seed)
    excluded = D.ENVIRONMENTS[ENV]
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        w = W.initial(cfg)
        for _ in range(8):
            acts = [a for a in W.enabled(w, cfg) if type(a) not in excluded]
            try:
                w = W.step(w, rng.choice(acts), cfg)
            except D.MODEL_ERRORS:
                break
            n += 1
    return n / (time.perf_counter() - start)


def shrinker_truth(fix_sets: list[str], depth: int) -> list[dict]:
    """Per violated (fix set, property): the explorer's minimum over all steps and over macro
    steps only (`--steps macro`: the everyday shape), and the driver's shrunk length."""
    rows = []
    for fix_set in fix_sets:
        cfg = make_config([fix_set])
        ex = bfs.explore(HandoverSystem(cfg, ENV), depth, P.ALL)
        if not ex.found:
            continue
        macro = bfs.explore(HandoverSystem(cfg, ENV, macro=True), depth, tuple(ex.found))
        found = D.search(fix_set, REFERENCE_PROFILE, settings=D.settings_for("ci", 100),
                         environment=ENV)
        for prop, f in ex.found.items():
            row = {"fix_set": fix_set, "property": prop, "explorer_minimum": f.depth,
                   "explorer_macro_minimum": macro.found[prop].depth if prop in macro.found
                   else None}
            if prop in found.findings:
                steps = S.shrink_steps(found.findings[prop].steps, found.cfg, prop)
                row.update(driver_found=len(found.findings[prop].steps), driver_shrunk=len(steps),
                           driver_micro=sum(s["step"] in S.MICRO for s in steps))
            rows.append(row)
    return rows


def _print_truth(rows: list[dict]) -> None:
    for row in rows:
        print(f"{row['fix_set']} {row['property']}: explorer {row['explorer_minimum']} "
              f"(macro steps only: {row['explorer_macro_minimum'] or '>depth'}), driver shrunk "
              f"{row.get('driver_shrunk', '-')} with {row.get('driver_micro', '-')} micro steps "
              f"(found {row.get('driver_found', '-')})", flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--depths", default="4-8")
    p.add_argument("--limit", type=float, default=120.0)
    p.add_argument("--shrink-depth", type=int, default=5)
    p.add_argument("--fix", action="append", default=[])
    p.add_argument("--skip-truth", action="store_true")
    p.add_argument("--only-truth", action="store_true")
    p.add_argument("--without-pass-5", action="store_true",
                   help="shrink without pass 5 (pairs replaced by one step), for the comparison "
                        "in docs/performance.md")
    p.add_argument("--out", default="results/bench-explore.json")
    args = p.parse_args(argv)
    lo, hi = (int(x) for x in args.depths.split("-"))
    if args.without_pass_5:
        S.Shrinker.substitute_pairs = lambda self, best: best
    out: dict = {}
    if args.only_truth:
        out["truth"] = shrinker_truth(args.fix or fixes.known(), args.shrink_depth)
        _print_truth(out["truth"])
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
        return 0
    rate = explore("baseline", 5, None)
    raw = raw_steps_per_second(10.0)
    out["rates"] = {"explorer": rate, "raw_world_step_per_s": round(raw)}
    print(f"rates: explorer {rate['states_per_s']} distinct states/s "
          f"({rate['transitions']} transitions in {rate['seconds']} s; "
          f"{rate['overhead_share']:.0%} of the time outside successors); raw world.step "
          f"{raw:.0f} calls/s", flush=True)
    sets = ["baseline"] + (["recommended"] if "recommended" in fixes.known() else [])
    out["counts"] = []
    for fix_set in sets:
        for depth in range(lo, hi + 1):
            r = explore(fix_set, depth, args.limit)
            out["counts"].append(r)
            print(f"{fix_set} depth {depth}: {r['states']} states, {r['transitions']} transitions,"
                  f" {r['seconds']} s, complete to {r['depth_done']}"
                  + (f" (stopped: {r['stopped']})" if r["stopped"] else ""), flush=True)
            if r["stopped"]:
                break
    r = explore("baseline", 12, 60.0)
    out["in_60s"] = r
    print(f"baseline within 60 s: depth {r['depth_done']} complete ({r['states']} states)",
          flush=True)
    if not args.skip_truth:
        out["truth"] = shrinker_truth(args.fix or fixes.known(), args.shrink_depth)
        _print_truth(out["truth"])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
