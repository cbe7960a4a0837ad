"""The scenario runner: apply a trace to the model and report every property.

Safety properties are checked after every micro step (including those inside `advance` and
`settle`); quiescence properties after every `settle` step, and once more at the end when the final
world is quiescent. The first violation of each property is kept with the step it happened in.
Used by `handover replay`, the regression corpus, and every engine to re-check what it found.
"""
from __future__ import annotations

from typing import Any

import attrs

from model.properties import properties as P
from model.system import world as W
from model.system.config import Config, ConfigError
from fixes import make_config
from model.system.parties.party import ProtocolError
from model.engines.trace import Trace, TraceError, action_of, step_dict


@attrs.define(eq=False)
class StepResult:
    index: int
    step: dict
    records: list
    now: int


@attrs.define(eq=False)
class Result:
    trace: Trace
    cfg: Config
    world: W.World
    steps: list
    violations: dict          # property -> (step index, detail)
    witnesses: dict

    @property
    def log(self) -> list:
        """Every line the parties logged, in order (`monitors.LogEntry`): an output of the run, read
        from the steps' records; the World keeps only the monitors properties need."""
        return log_of(r for s in self.steps for r in s.records)

    @property
    def violated(self) -> list[str]:
        return [p for p in P.ALL if p in self.violations]

    @property
    def held(self) -> list[str]:
        return [p for p in P.ALL if p not in self.violations]

    def expectation_met(self) -> bool:
        want_bad = set(self.trace.expectation("violates"))
        want_good = set(self.trace.expectation("holds"))
        return want_bad <= set(self.violated) and not (want_good & set(self.violated))

    def to_json(self) -> dict[str, Any]:
        return {
            "trace": self.trace.name,
            "fixes": list(self.cfg.fixes),
            "assumptions": dict(self.cfg.assumptions.items()),
            "steps": len(self.trace.steps),
            "violated": self.violated,
            "held": self.held,
            "violations": {p: {"step": i + 1, "detail": d} for p, (i, d) in self.violations.items()},
            "witnesses": self.witnesses,
            "expect": {k: list(v) for k, v in self.trace.expect},
            "expectation_met": self.expectation_met(),
            "end_time_ms": self.world.now,
        }


def log_of(records) -> list:
    """The log lines (`monitors.LogEntry`) among `world.Record`s, in order."""
    return [r.entry for r in records if r.entry is not None]


def config_for(trace: Trace, fixes: list | None = None, assume: dict | None = None) -> Config:
    """The trace's config; command-line fixes replace the trace's, assumptions override it."""
    values = dict(trace.assumptions)
    values.update(assume or {})
    try:
        return make_config(fixes or list(trace.fixes), **values)
    except ConfigError as e:
        raise TraceError(str(e)) from None


def run(trace: Trace, cfg: Config | None = None, stop_at_violation: bool = False) -> Result:
    cfg = cfg or config_for(trace)
    w = W.initial(cfg)
    violations: dict = {}
    results: list[StepResult] = []

    for i, frozen in enumerate(trace.steps):
        step = step_dict(frozen)
        records: list = []

        def observe(action, world, recs, i=i):
            records.extend(recs)
            for name, detail in P.check_safety(world, cfg).items():
                violations.setdefault(name, (i, detail))

        try:
            w = apply_step(w, step, cfg, observe)
        except W.Impossible as e:
            raise TraceError(f"step {i + 1} ({step['step']}): not possible here: {e}") from None
        except ProtocolError as e:
            raise TraceError(f"step {i + 1} ({step['step']}): model protocol error: {e}") from None
        except (RuntimeError, KeyError, AssertionError, StopIteration) as e:
            raise TraceError(f"step {i + 1} ({step['step']}): model error: "
                             f"{type(e).__name__}: {e}") from None
        if step["step"] == "settle":
            for name, detail in P.check_quiescent(w, cfg).items():
                violations.setdefault(name, (i, detail))
        results.append(StepResult(i, step, records, w.now))
        if stop_at_violation and violations:
            break
    if trace.steps and W.quiescent(w):
        for name, detail in P.check_quiescent(w, cfg).items():
            violations.setdefault(name, (len(trace.steps) - 1, detail))
    return Result(trace, cfg, w, results, violations, P.witnesses(w))


def apply_step(w: W.World, step: dict, cfg: Config, observe=None, records: bool = True
               ) -> W.World:
    """The world after `step`; `observe(action, world, records)` sees every micro step (with no
    records when `records` is false)."""
    kind = step["step"]
    if kind == "settle":
        return W.settle(w, cfg, observe, records)
    if kind == "advance":
        return W.advance(w, int(step["seconds"] * 1000), cfg, observe, records)
    action = action_of(step)
    if kind == "fire" and (step.get("timer") or step.get("party")):
        t = w.clock.next()
        if t is None or (step.get("timer", t.name), step.get("party", t.party)) != (t.name, t.party):
            raise W.Impossible(f"the earliest timer is not {step.get('party', '')} "
                               f"{step.get('timer', '')}".rstrip())
    if kind == "deliver" and step.get("msg"):
        head = next((h for h in w.net.heads() if h.conn == step["conn"]
                     and h.to_server == (step["to"] == "server")), None)
        if head is not None and type(head.msg).__name__ != step["msg"]:
            raise W.Impossible(f"the next message on {step['conn']} is "
                               f"{type(head.msg).__name__}, not {step['msg']}")
    w2, recs = W.step_verbose(w, action, cfg, records and observe is not None)
    if observe is not None:
        observe(action, w2, recs)
    return w2
