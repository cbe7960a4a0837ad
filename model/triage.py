"""`handover triage`: which assumption profiles can produce the reported symptom under the baseline?

    handover triage [--budget N] [--format text|json] [--out DIR] [--profile-assume NAME]...
                    [--random]

The symptom (the seed report): after a region switch, the phone's mic audio no longer reaches the
region its WebSocket is open to, i.e. `AudioReachesActiveRegion` is violated at a quiescent point
after a `switch_region` step. For each assumption profile in `config.PROFILES` (the report's
hypotheses H1, H2, H5 and the other unknowns, and the reference `actual-2025-10-17`) the driver
searches the baseline for that symptom with a budget of N examples; a profile that produces it gets
its shortest counterexample (shrunk, replayed, written under DIR), the others are reported as "not
found within the budget" (which is not a proof). Deterministic unless --random.

Exit status: 0 when the triage ran (whatever it found), 2 on bad input (one line on stderr).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from model import counterexample as CX
from model import driver as D
from model import shrink as S
from model.config import PROFILES

SYMPTOM = "AudioReachesActiveRegion"
DEFAULT_BUDGET = 300


def add_parser(sub) -> None:
    p = sub.add_parser("triage", help="which assumption profiles produce the reported symptom "
                                      "under the baseline")
    p.add_argument("--budget", default=str(DEFAULT_BUDGET), metavar="N",
                   help=f"Hypothesis examples per profile (default {DEFAULT_BUDGET})")
    p.add_argument("--format", default="text", metavar="FORMAT", help="text (default) or json")
    p.add_argument("--out", default="results/triage", metavar="DIR",
                   help="where counterexamples are written (default results/triage)")
    p.add_argument("--profile-assume", action="append", default=[], metavar="NAME",
                   help="only these assumption profiles (repeatable; default all)")
    p.add_argument("--random", action="store_true", help="random search instead of derandomized")
    p.set_defaults(func=cmd_triage)


def _check(args) -> tuple[int, list[str]]:
    from model.cli import UsageError
    try:
        budget = int(args.budget)
    except ValueError:
        raise UsageError(f"--budget takes a whole number of examples, not {args.budget!r}") from None
    if budget < 1:
        raise UsageError("--budget: at least 1 example")
    if args.format not in ("text", "json"):
        raise UsageError(f"--format takes text or json, not {args.format!r}")
    for name in args.profile_assume:
        if name not in PROFILES:
            raise UsageError(f"unknown assumption profile {name!r} (known: {', '.join(PROFILES)})")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a directory")
    return budget, args.profile_assume or list(PROFILES)


def triage(profiles: list[str], budget: int, out: Path, derandomize: bool = True) -> list[dict]:
    rows = []
    settings = D.settings_for("ci" if derandomize else "dev", budget)
    for profile in profiles:
        start = time.perf_counter()
        # the switching environment: an outage can silence audio anywhere; the report's question
        # is whether switching regions alone does it
        found = D.search("baseline", profile, settings=settings, properties=(SYMPTOM,),
                         require_switch=True, environment="switching")
        row: dict = {"profile": profile, "assumptions": PROFILES[profile], "budget": budget,
                     "runs": found.examples}
        f = found.findings.get(SYMPTOM)
        if f is None:
            row["symptom"] = False
        else:
            steps = S.shrink_steps(f.steps, found.cfg, SYMPTOM, after_switch=True)
            name = f"{profile}__{SYMPTOM}"
            json_path, md_path = CX.write(
                D.make_trace(steps, found.cfg, SYMPTOM), found.cfg, SYMPTOM, name, out,
                description=f"handover triage: the reported symptom under the baseline, assumption "
                            f"profile {profile} ({len(f.steps)} steps found, shrunk to {len(steps)})")
            row.update(symptom=True, steps=len(steps), counterexample=str(json_path),
                       page=str(md_path), detail=S.first_violation(steps, found.cfg, SYMPTOM,
                                                                    after_switch=True)[1])
        row["seconds"] = round(time.perf_counter() - start, 2)
        rows.append(row)
    return rows


def text(rows: list[dict]) -> str:
    w = max(len(r["profile"]) for r in rows)
    yes = [r for r in rows if r["symptom"]]
    no = [r for r in rows if not r["symptom"]]
    lines = [f"symptom: {SYMPTOM} violated after a region switch, under the baseline", ""]
    lines.append(f"can produce it ({len(yes)}):")
    for r in sorted(yes, key=lambda r: r["steps"]):
        lines.append(f"  {r['profile']:<{w}}  {r['steps']:>2} steps  {r['counterexample']}")
        lines.append(f"  {'':<{w}}            {r['detail']}")
    lines.append(f"not found within the budget ({len(no)}):")
    for r in no:
        lines.append(f"  {r['profile']:<{w}}  {r['runs']} runs")
    return "\n".join(lines) + "\n"


def cmd_triage(args) -> int:
    budget, profiles = _check(args)
    rows = triage(profiles, budget, Path(args.out), derandomize=not args.random)
    if args.format == "json":
        sys.stdout.write(json.dumps({"symptom": SYMPTOM, "profiles": rows}, indent=2) + "\n")
    else:
        sys.stdout.write(text(rows))
    return 0
