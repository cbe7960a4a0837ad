"""Random walks through the model: a cross-check of the verdict matrix's search (docs/fixes.md).

Each walk starts from the initial world and takes up to N actions drawn from `world.enabled`
(the `switching` environment: no gRPC stream errors, no LiveKit outages), weighted towards
deliveries and timers so that messages and timers interleave in many orders; after the walk the
system settles. Safety properties are checked after every action, quiescence properties whenever
the world is quiescent and at the end. Walk `i` draws from `random.Random(i)`: the same command
prints the same result on every machine.

    .venv/bin/python scripts/random_walks.py --fix recommended --profile actual-2025-10-17 --walks 400
    .venv/bin/python scripts/random_walks.py --fix recommended --walks 400 --out /tmp/walks

Prints, per profile, each property violated with the shortest walk's length and seed; `--out DIR`
also writes that walk as a `handover.trace/1` file (shrink it by replaying it through
`handover replay` or `model.engines.shrink.shrink_steps`). Exit 0 when no walk violated a
property, 1 when one did, 2 on bad input.
"""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fixes import make_config  # noqa: E402
from model.engines.driver import ENVIRONMENTS  # noqa: E402
from model.engines.trace import step_of  # noqa: E402
from model.properties import properties as P  # noqa: E402
from model.system import actions as A  # noqa: E402
from model.system import world as W  # noqa: E402
from model.system.config import PROFILES, ConfigError, assumptions_for  # noqa: E402
from model.usage import Parser, UsageError  # noqa: E402

EXCLUDED = tuple(ENVIRONMENTS["switching"])
"""The action kinds the `switching` environment does not take."""
WEIGHTS = ((A.NetworkDelivers, 6), (A.ClockFiresTimer, 3), (A.UserSelectsRegion, 1.5),
           (A.GlassesSocketDrops, 1), (A.ClockAdvances, 0.5))
OTHER_WEIGHT = 0.7
LENGTHS = (10, 20, 40, 60)


def _weight(action) -> float:
    return next((w for kind, w in WEIGHTS if isinstance(action, kind)), OTHER_WEIGHT)


def _violated(w, cfg, quiescent: bool) -> dict:
    found = P.check_safety(w, cfg)
    if quiescent:
        found.update(P.check_quiescent(w, cfg))
    return {k: v for k, v in found.items() if k in P.ALL}


def walk(cfg, rng: random.Random, length: int) -> tuple[list, dict]:
    """One walk: (its steps, the properties violated with their detail)."""
    w, steps = W.initial(cfg), []
    for _ in range(length):
        acts = [a for a in W.enabled(w, cfg) if not isinstance(a, EXCLUDED)]
        a = rng.choices(acts, [_weight(x) for x in acts])[0]
        steps.append(step_of(a, w))
        w = W.step(w, a, cfg)
        bad = _violated(w, cfg, W.quiescent(w))
        if bad:
            return steps, bad
    w = W.settle(w, cfg)
    steps.append({"step": "settle"})
    return steps, _violated(w, cfg, True)


def main(argv: list[str]) -> int:
    ap = Parser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fix", default="recommended")
    ap.add_argument("--profile", action="append", default=[],
                    help="assumption profile (repeatable; default: every one)")
    ap.add_argument("--walks", type=int, default=400)
    ap.add_argument("--out", type=Path, default=None)
    try:
        args = ap.parse_args(argv)
    except UsageError as e:
        print(f"random_walks: {e}", file=sys.stderr)
        return 2
    try:
        profiles = args.profile or list(PROFILES)
        cfgs = {p: make_config([args.fix], p) for p in profiles}
    except ConfigError as e:
        print(f"random_walks: {e}", file=sys.stderr)
        return 2
    if args.walks < 1:
        print("random_walks: --walks must be at least 1", file=sys.stderr)
        return 2
    any_bad = False
    for profile, cfg in cfgs.items():
        best: dict = {}
        for seed in range(args.walks):
            rng = random.Random(seed)
            steps, bad = walk(cfg, rng, rng.choice(LENGTHS))
            for prop in bad:
                if prop not in best or len(steps) < len(best[prop][0]):
                    best[prop] = (steps, seed)
        any_bad = any_bad or bool(best)
        summary = ", ".join(f"{p} ({len(s)} steps, walk {seed})"
                            for p, (s, seed) in sorted(best.items())) or "nothing violated"
        print(f"{args.fix} under {profile}, {args.walks} walks: {summary}")
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            for prop, (steps, seed) in best.items():
                trace = {"format": "handover.trace/1", "fixes": [args.fix],
                         "description": f"random walk {seed} under {profile}",
                         "assumptions": assumptions_for(profile), "steps": steps,
                         "expect": {"violates": [prop]}}
                (args.out / f"{args.fix}.{profile}.{prop}.json").write_text(
                    json.dumps(trace, indent=1) + "\n")
    return 1 if any_bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
