"""`handover logs generate TRACE`: the lines the real system would write for a trace.

The trace is run as `handover replay` runs it, one atomic action at a time (a `tick` is split into
the timers it fires and the rest of the jump, so that every event has the time it happened at);
each event a statement maps becomes that statement's line (`statements.render`), labelled
`"generated": true`.
"""
from __future__ import annotations

import json
from typing import Iterator

from model.engines import runner
from model.system import world as W
from model.system.actions import ClockAdvances
from model.system.config import USER, Config
from model.logs.statements import events_of, render
from model.engines.trace import Trace, step_dict


def atomic_run(trace: Trace, cfg: Config) -> Iterator[tuple]:
    """(action, world after, records) for every atomic action of the trace's run. Call
    `runner.run` first: it turns a bad trace into a TraceError."""
    out: list = []

    def observe(action, world, records):
        out.append((action, world, records))

    w = W.initial(cfg)
    for frozen in trace.steps:
        step = step_dict(frozen)
        if step["step"] == "tick":
            target = w.now + step["ms"]
            while (t := w.clock.next()) is not None and t.due <= target:
                w = runner.apply_step(w, {"step": "fire"}, cfg, observe)
            if target > w.now:
                jump = ClockAdvances(target - w.now)
                w, records = W.step_verbose(w, jump, cfg)
                observe(jump, w, records)
        else:
            w = runner.apply_step(w, step, cfg, observe)
        yield from out
        out.clear()


def lines(trace: Trace, cfg: Config) -> list[dict]:
    runner.run(trace, cfg)  # a bad trace fails here, with replay's message
    out = []
    for _action, _world, records in atomic_run(trace, cfg):
        for e in events_of(records):
            line = render(e, USER)
            if line is not None:
                out.append(line)
    return out


def text(trace: Trace, cfg: Config) -> str:
    return "".join(json.dumps(x) + "\n" for x in lines(trace, cfg))
