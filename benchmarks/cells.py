"""CPU time of `pytest model/`'s cells by phase, in one process (measured, never asserted).

    .venv/bin/python benchmarks/cells.py [--every 9] [--out results/bench-cells.json]

Runs every `--every`-th cell of the default matrix (dev settings, seed 0) as `pytest model/` does
(`model.outputs.verdicts.evaluate`, pages written to a temporary directory) and reports the CPU
seconds of this process (`time.process_time`, so other jobs on the machine count little) spent in
the driver's searches, the trace shrinker, writing counterexamples, and the rest. `digest` is a
hash of the cell records (timings and paths left out) and of the counterexample files: two runs,
before and after a change, that print the same digest produced the same verdicts and traces.
Before/after on another commit:

    git archive COMMIT | (mkdir -p /tmp/before && tar -x -C /tmp/before)
    PYTHONPATH=/tmp/before .venv/bin/python benchmarks/cells.py
"""
from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path

import fixes
from model.engines import driver as D
from model.engines import shrink as S
from model.outputs import counterexample as CX
from model.outputs import verdicts as V
from model.system.config import PROFILES

SPENT: dict[str, float] = {"search": 0.0, "shrink": 0.0, "write": 0.0}


def timed(phase: str, fn):
    def wrapper(*args, **kwargs):
        start = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            SPENT[phase] += time.process_time() - start
    return wrapper


def cells(every: int) -> list[tuple[str, str, str]]:
    full = [(fs, p, env) for env in D.ENVIRONMENTS for fs in fixes.known() for p in PROFILES]
    return full[::every]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--every", type=int, default=9, help="run every N-th cell (default 9: 30 cells)")
    p.add_argument("--out", default="results/bench-cells.json")
    args = p.parse_args(argv)
    D.search = timed("search", D.search)
    S.shrink_steps = timed("shrink", S.shrink_steps)
    CX.write = timed("write", CX.write)
    digest = hashlib.sha256()
    chosen = cells(args.every)
    start = time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "counterexamples"
        for fs, profile, env in chosen:
            record = V.evaluate(fs, profile, settings=D.settings_for("dev"), out_dir=out,
                                environment=env)
            record.pop("seconds")
            digest.update(json.dumps(record, sort_keys=True).replace(tmp, "").encode())
        for f in sorted(out.iterdir()):
            digest.update(f.name.encode() + f.read_text().replace(tmp, "").encode())
    total = time.process_time() - start
    row = {"cells": len(chosen), "every": args.every, "cpu_seconds": round(total, 1),
           **{k: round(v, 1) for k, v in SPENT.items()},
           "rest": round(total - sum(SPENT.values()), 1), "digest": digest.hexdigest()[:16]}
    print(" ".join(f"{k}={v}" for k, v in row.items()))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(row, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
