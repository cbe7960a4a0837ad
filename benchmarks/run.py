"""Benchmarks of the Hypothesis driver (measured, never asserted).

    .venv/bin/python benchmarks/run.py [--seeds 5] [--examples 200] [--matrix] [--out results/benchmarks.json]

1. steps/s: the driver against an empty RuleBasedStateMachine with the same number of rules (10)
   and invariants (3), same settings, measured in the same run; the ratio is the model's cost.
2. first violation of AudioReachesActiveRegion under the baseline, shared topology (reference
   profile): test cases and seconds until Hypothesis first finds it (generation only), per seed.
3. counterexample length: as found, after Hypothesis's shrinking (rounds mode, one seed), and after
   the trace-level shrinker.
4. with --matrix: wall time of the default `pytest model/ -n 2` (and -n 0).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import hypothesis.core
from hypothesis import Phase, strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, invariant, rule,
                                 run_state_machine_as_test)

from model.engines import driver as D
from model.engines import shrink as S

TARGET = "AudioReachesActiveRegion"


class Empty(RuleBasedStateMachine):
    """Ten rules shaped like the driver's (five draw an index), three invariants, no model."""
    steps = 0

    def _s(self):
        type(self).steps += 1

    @rule(pick=D.PICK)
    def r1(self, pick): self._s()
    @rule()
    def r2(self): self._s()
    @rule()
    def r3(self): self._s()
    @rule()
    def r4(self): self._s()
    @rule(pick=D.PICK)
    def r5(self, pick): self._s()
    @rule(pick=D.PICK)
    def r6(self, pick): self._s()
    @rule(pick=D.PICK)
    def r7(self, pick): self._s()
    @rule()
    def r8(self): self._s()
    @rule(ms=st.sampled_from((1, 2, 3)))
    def r9(self, ms): self._s()
    @rule()
    def r10(self): self._s()

    @invariant()
    def i1(self): pass
    @invariant()
    def i2(self): pass
    @invariant()
    def i3(self): pass


def with_seed(seed: int | None):
    hypothesis.core.global_force_seed = seed   # what pytest's --hypothesis-seed sets


def steps_per_second(examples: int, seed: int = 0) -> dict:
    settings = D.settings_for("dev", examples, phases=[Phase.generate])
    with_seed(seed)
    Empty.steps = 0
    t = time.perf_counter()
    run_state_machine_as_test(Empty, settings=settings)
    empty_s = time.perf_counter() - t
    empty_steps = Empty.steps
    t = time.perf_counter()
    tally = D.observe("baseline", settings=settings)
    drv_s = time.perf_counter() - t
    with_seed(None)
    empty_rate, drv_rate = empty_steps / empty_s, tally.steps / drv_s
    return {"examples": examples, "empty_steps": empty_steps, "empty_seconds": round(empty_s, 2),
            "empty_steps_per_s": round(empty_rate), "driver_steps": tally.steps,
            "driver_runs": tally.runs, "driver_seconds": round(drv_s, 2),
            "driver_steps_per_s": round(drv_rate), "slowdown": round(empty_rate / drv_rate, 1)}


def first_violation(seeds: int, budget: int = 2000) -> list[dict]:
    """Cases and time until the first AudioReachesActiveRegion violation, generation only."""
    rows = []
    settings = D.settings_for("dev", budget, phases=[Phase.generate], report_multiple_bugs=False)
    for seed in range(seeds):
        with_seed(seed)
        t = time.perf_counter()
        found = D.search("baseline", "actual-2025-10-17", settings=settings, mode="rounds",
                         properties=(TARGET,), max_rounds=1)
        secs = time.perf_counter() - t
        f = found.findings.get(TARGET)
        cfg = found.cfg
        row = {"seed": seed, "found": f is not None, "seconds": round(secs, 2),
               "cases": found.examples + (1 if f else 0)}
        if f:
            small = S.shrink_steps(f.steps, cfg, TARGET)
            row.update(found_steps=len(f.steps), shrunk_steps=len(small))
        rows.append(row)
    with_seed(None)
    return rows


def hypothesis_shrunk_length(seed: int = 0) -> dict:
    with_seed(seed)
    t = time.perf_counter()
    found = D.search("baseline", "actual-2025-10-17", mode="rounds", properties=(TARGET,),
                     settings=D.settings_for("dev", 300), max_rounds=1)
    secs = time.perf_counter() - t
    with_seed(None)
    f = found.findings.get(TARGET)
    if f is None:
        return {"seed": seed, "found": False}
    small = S.shrink_steps(f.steps, found.cfg, TARGET)
    return {"seed": seed, "found": True, "hypothesis_shrunk_steps": len(f.steps),
            "then_trace_shrunk_steps": len(small), "cases_incl_shrinking": found.examples,
            "seconds": round(secs, 1)}


def matrix_wall_time(workers: str) -> dict:
    t = time.perf_counter()
    cmd = [sys.executable, "-m", "pytest", "model/", "-q", "-p", "no:randomly", "-n", workers]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return {"command": " ".join(["pytest"] + cmd[3:]), "seconds": round(time.perf_counter() - t, 1),
            "summary": proc.stdout.strip().splitlines()[-1] if proc.stdout else ""}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--examples", type=int, default=200)
    p.add_argument("--matrix", action="store_true", help="also time the whole pytest model/")
    p.add_argument("--out", default="results/benchmarks.json")
    args = p.parse_args(argv)
    out: dict = {"cpus": os.cpu_count()}
    out["steps_per_second"] = sps = steps_per_second(args.examples)
    print(f"steps/s: driver {sps['driver_steps_per_s']} vs empty machine "
          f"{sps['empty_steps_per_s']} (x{sps['slowdown']} slower; {sps['driver_runs']} runs, "
          f"{sps['driver_steps']} steps)")
    out["first_violation"] = rows = first_violation(args.seeds)
    print(f"\nfirst {TARGET} violation, baseline, shared topology:")
    print(f"{'seed':>4}  {'cases':>5}  {'seconds':>7}  {'found':>5}  {'shrunk':>6}")
    for r in rows:
        print(f"{r['seed']:>4}  {r['cases']:>5}  {r['seconds']:>7}  {r.get('found_steps', '-'):>5}"
              f"  {r.get('shrunk_steps', '-'):>6}")
    hits = [r for r in rows if r["found"]]
    if hits:
        print(f"median: {statistics.median(r['cases'] for r in hits)} cases, "
              f"{statistics.median(r['seconds'] for r in hits)} s; shrunk length median "
              f"{statistics.median(r['shrunk_steps'] for r in hits)} steps")
    out["hypothesis_shrink"] = h = hypothesis_shrunk_length()
    print(f"\nHypothesis-shrunk (rounds mode, seed 0): {h}")
    if args.matrix:
        out["matrix"] = [matrix_wall_time("2"), matrix_wall_time("0")]
        for m in out["matrix"]:
            print(f"\n{m['command']}: {m['seconds']} s ({m['summary']})")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
