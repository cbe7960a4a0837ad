"""Long traces: replay speed against the run's length (measured, never asserted).

    .venv/bin/python benchmarks/steps.py [--lengths 10,100,1000,10000] [--out results/steps.json]
                                         [--cli 100000] [--cycle speak|drop]

A trace of `connect france, settle` then N times `speak, settle` (the reference profile, baseline)
is replayed with `runner.run`, exactly as `handover replay` does: every safety property after every
micro step, the quiescence properties after every settle. For each N it reports trace steps per
second, micro steps (deliveries and timer firings) per second, and the ratio of micro steps/s to
that at the shortest length: a flat ratio means the cost per step does not depend on the run's
length (linear time). The reference, measured in the same run, is raw `world.step` calls replaying
the micro steps of the shortest run with no property checked; "x reference" is the replay's speed
as a share of that (the rest of the time goes to checking properties and recording). Times are
CPU seconds of this process.

With `--cycle drop` the repeated part is `ws_drop, settle, speak, settle` instead: the parties'
own state (room handles, sockets, connections) grows with each reconnection, which the monitors do
not address (docs/performance.md, "Long traces").

With `--cli N`, it also writes that trace with N steps to a temporary file and times
`python -m model.cli replay` on it in a child process (CPU and wall seconds, peak memory, lines
printed), the whole command a user runs.

To measure an older tree the same way (docs/performance.md, "Long traces"):

    git archive 9f70e02 | (mkdir -p /tmp/before && tar -x -C /tmp/before)
    PYTHONPATH=/tmp/before .venv/bin/python benchmarks/steps.py
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from model.engines import runner
from model.system import world as W
from model.engines.trace import parse, step_dict

MIN_SECONDS = 0.5
"""Short runs are repeated until they take at least this long."""


CYCLES = {
    "speak": [{"step": "speak"}, {"step": "settle"}],
    "drop": [{"step": "ws_drop"}, {"step": "settle"}, {"step": "speak"}, {"step": "settle"}],
}
"""What is repeated N times after the connect. `drop`: the glasses socket drops and reconnects
within grace each time (new sockets, new room handles: the parties' own state grows)."""
CYCLE = "speak"


def trace_data(n: int) -> dict:
    steps = [{"step": "connect", "region": "france"}, {"step": "settle"}]
    steps += CYCLES[CYCLE] * n
    return {"format": "handover.trace/1", "steps": steps}


def trace(n: int):
    return parse(trace_data(n), f"{CYCLE}-{n}")


def micro_actions(n: int) -> list:
    """The micro steps (actions given to `world.step`) of the n-cycle run, in order."""
    t = trace(n)
    cfg = runner.config_for(t)
    w, actions = W.initial(cfg), []
    for step in t.steps:
        w = runner.apply_step(w, step_dict(step), cfg, lambda a, world, recs: actions.append(a))
    return actions


def timed(fn) -> tuple[float, int]:
    """(CPU seconds per call, calls) of fn, repeated until MIN_SECONDS have passed. CPU time of
    this process, not wall time: the machine is shared, and other work running at the same time
    would otherwise show up as a slowdown of whichever length happened to be measured then."""
    calls, start = 0, time.process_time()
    while True:
        fn()
        calls += 1
        spent = time.process_time() - start
        if spent >= MIN_SECONDS:
            return spent / calls, calls


def reference(n: int) -> dict:
    t = trace(n)
    cfg = runner.config_for(t)
    actions = micro_actions(n)

    def replay():
        w = W.initial(cfg)
        for a in actions:
            w = W.step(w, a, cfg)
    seconds, calls = timed(replay)
    return {"what": f"world.step over the {len(actions)} micro steps of the {n}-cycle {CYCLE} run, "
                    "no properties", "micro_steps_per_s": round(len(actions) / seconds)}


def measure(n: int) -> dict:
    t = trace(n)
    micro = len(micro_actions(n))
    seconds, calls = timed(lambda: runner.run(t))
    return {"pairs": n, "trace_steps": len(t.steps), "micro_steps": micro,
            "seconds": round(seconds, 4), "repeats": calls,
            "trace_steps_per_s": round(len(t.steps) / seconds),
            "micro_steps_per_s": round(micro / seconds)}


def _env_for_this_tree() -> dict:
    """The child imports the same `model` package as this process (PYTHONPATH=/tmp/before ...)."""
    root = str(Path(runner.__file__).resolve().parent.parent)
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH")) if p)}


def cli_replay(steps: int) -> dict:
    """`python -m model.cli replay` of the speak/settle trace with `steps` steps, in a child."""
    data = trace_data((steps - 2) // len(CYCLES[CYCLE]))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.json"
        path.write_text(json.dumps(data))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "model.cli", "replay", str(path)],
                              capture_output=True, text=True, cwd=tmp, env=_env_for_this_tree())
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"trace_steps": len(data["steps"]), "exit": done.returncode,
            "cpu_seconds": round(after.ru_utime + after.ru_stime - before.ru_utime
                                 - before.ru_stime, 2),
            "wall_seconds": round(wall, 2), "max_rss_mb": round(after.ru_maxrss / 1024),
            "lines": done.stdout.count("\n")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lengths", default="10,100,1000,10000",
                    help="numbers of cycles (speak/settle pairs by default), comma-separated")
    ap.add_argument("--out", default="results/steps.json")
    ap.add_argument("--cycle", choices=sorted(CYCLES), default="speak",
                    help="what is repeated: speak/settle (default), or a socket drop as well")
    ap.add_argument("--cli", type=int, metavar="STEPS",
                    help="also time `handover replay` of the trace with this many steps")
    args = ap.parse_args()
    global CYCLE
    CYCLE = args.cycle
    lengths = [int(x) for x in args.lengths.split(",")]

    ref = reference(lengths[0])
    rows = [measure(n) for n in lengths]
    for r in rows:
        r["vs_shortest"] = round(r["micro_steps_per_s"] / rows[0]["micro_steps_per_s"], 2)
        r["x_reference"] = round(r["micro_steps_per_s"] / ref["micro_steps_per_s"], 2)

    print(f"reference: {ref['what']}: {ref['micro_steps_per_s']} micro steps/s")
    print(f"| {CYCLE} cycles | trace steps | micro steps | seconds | trace steps/s | "
          "micro steps/s | vs shortest | x reference |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['pairs']:,} | {r['trace_steps']:,} | {r['micro_steps']:,} | {r['seconds']:.3f} | "
              f"{r['trace_steps_per_s']:,} | {r['micro_steps_per_s']:,} | {r['vs_shortest']} | "
              f"{r['x_reference']} |")
    report = {"reference": ref, "rows": rows}
    if args.cli:
        report["cli"] = cli = cli_replay(args.cli)
        print(f"handover replay, {cli['trace_steps']:,} steps: exit {cli['exit']}, "
              f"{cli['cpu_seconds']} s CPU, {cli['wall_seconds']} s wall, "
              f"{cli['max_rss_mb']} MB peak, {cli['lines']:,} lines")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    main()
