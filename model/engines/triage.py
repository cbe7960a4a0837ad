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

Progress goes to stderr, one line per profile with its time and the time so far. Ctrl-C stops the
run within a second (`model.engines.interrupts`), exit status 130; the counterexamples already written stay.

Exit status: 0 when the triage ran (whatever it found), 2 on bad input or an --out it cannot write
(one line on stderr), 130 interrupted.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from model.outputs import counterexample as CX
from model.engines import driver as D
from model.engines import shrink as S
from model.system.config import PROFILES

SYMPTOM = "AudioReachesActiveRegion"
DEFAULT_BUDGET = 300


def add_parser(sub) -> None:
    p = sub.add_parser("triage", help="which assumption profiles produce the reported symptom "
                                      "under the baseline",
                       description="For each assumption profile, search the baseline (no fix) in "
                                   "the switching environment for the reported symptom: "
                                   f"{SYMPTOM} violated after a region switch. Profiles that "
                                   "produce it are listed with their shortest counterexample "
                                   "(written under --out); the others are 'not found within the "
                                   "budget', which is not a proof. Deterministic unless --random. "
                                   "Progress on stderr.",
                       epilog="exit status: 0 the triage ran (whatever it found); 2 bad input or "
                              "an --out it cannot write; 130 interrupted (Ctrl-C)")
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
    from model.usage import UsageError
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
    try:       # before the search, not after minutes of it
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".handover-probe-", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise UsageError(f"--out {out}: cannot write there ({e.strerror or e})") from None
    return budget, args.profile_assume or list(PROFILES)


def triage(profiles: list[str], budget: int, out: Path, derandomize: bool = True,
           between=lambda: None, progress=lambda row, k, total: None) -> list[dict]:
    """One row per profile. `between()` runs before each profile (the interrupt check);
    `progress(row, k, total)` after each."""
    rows = []
    settings = D.settings_for("ci" if derandomize else "dev", budget)
    for k, profile in enumerate(profiles):
        between()
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
            for old in (out / f"{profile}__{SYMPTOM}.json", out / f"{profile}__{SYMPTOM}.md"):
                old.unlink(missing_ok=True)     # an earlier triage's, no longer true
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
        progress(row, k + 1, len(profiles))
    return rows


def progress_line(row: dict, k: int, total: int, elapsed: float) -> str:
    found = (f"symptom in {row['steps']} steps" if row["symptom"]
             else f"not found in {row['runs']} runs")
    return (f"triage [{k}/{total}] {row['profile']}: {found} ({row['seconds']:.1f} s; "
            f"{elapsed:.1f} s elapsed)")


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
    from model.engines.interrupts import Guard
    budget, profiles = _check(args)
    t0 = time.perf_counter()

    def progress(row, k, total):
        print(progress_line(row, k, total, time.perf_counter() - t0), file=sys.stderr, flush=True)
    print(f"triage: {len(profiles)} profile{'s' * (len(profiles) != 1)}, {budget} examples each; "
          f"Ctrl-C stops",
          file=sys.stderr, flush=True)
    with Guard() as guard:
        rows = triage(profiles, budget, Path(args.out), derandomize=not args.random,
                      between=guard.check, progress=progress)
    if args.format == "json":
        sys.stdout.write(json.dumps({"symptom": SYMPTOM, "profiles": rows}, indent=2) + "\n")
    else:
        sys.stdout.write(text(rows))
    return 0
