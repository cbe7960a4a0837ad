"""`handover logs check FILE...`: is the observed log a behaviour of the model, and which
properties does that behaviour violate?

The search (`search.explain`) finds a model run whose events match the lines. That run is written
as a `handover.trace/1` trace of micro steps (`deliver`, `fire`, `tick`, user steps and faults),
with a `settle` wherever the system was at rest before the user, a fault or the clock moved it,
and one at the end, and replayed by `runner.run`: the properties are those of `handover replay`,
and each violation is shown with the log lines of the step it happened in (or the last line before
it) as evidence.

Exit status: 0 explained and every property holds; 1 explained and a property is violated; 3 not
explained (the first line the model cannot explain is named, with what the model expected there);
2 bad input.
"""
from __future__ import annotations

import json

import attrs

from model.properties import properties as P
from model.engines import runner
from model.system import world as W
from model.system.actions import FAULTS, USER_ACTIONS, ClockAdvances, ClockFiresTimer
from model.system.config import REGIONS, Config
from model.logs.reader import Line, Observed
from model.logs.search import Bound, Outcome, explain
from model.logs.statements import Event
from model.engines.trace import FORMAT, Trace, parse, step_of


@attrs.define(eq=False)
class Report:
    obs: Observed
    cfg: Config
    bound: Bound
    outcome: Outcome
    trace: dict | None = None          # the reconstructed run (handover.trace/1)
    result: runner.Result | None = None
    evidence: dict = attrs.Factory(dict)   # property -> [Line]

    @property
    def status(self) -> int:
        if not self.outcome.explained:
            return 3
        return 1 if self.result.violated else 0


def reconstruct(outcome: Outcome, cfg: Config) -> tuple[dict, list]:
    """The explaining run as a trace, and for each of its steps the lines it matched."""
    steps, matched = [], []
    for n in outcome.path:
        before = n.parent.world
        moves = isinstance(n.action, USER_ACTIONS + FAULTS + (ClockFiresTimer, ClockAdvances))
        if moves and W.quiescent(before) and steps and steps[-1] != {"step": "settle"}:
            steps.append({"step": "settle"})
            matched.append(())
        step = step_of(n.action, before)
        if step["step"] == "deliver":  # name the message, for the reader of --trace-out
            head = next(h for h in before.net.heads()
                        if (h.conn, h.to_server) == (n.action.conn, n.action.to_server))
            step["msg"] = type(head.msg).__name__
        steps.append(step)
        matched.append(n.matched)
    steps.append({"step": "settle"})
    matched.append(())
    data = {"format": FORMAT, "description": "reconstructed by handover logs check",
            "assumptions": dict(cfg.assumptions.items()), "fixes": list(cfg.fixes),
            "steps": steps}
    return data, matched


def evidence_for(step: int, matched: list, detail: str) -> list[Line]:
    """The lines of the step (or the last line matched before it), and the last three lines before
    it of each region the violation names (its cloud's and its bridge's), in log order."""
    before = [x for lines in matched[:step + 1] for x in lines]
    out = list(matched[step]) or before[-1:]
    for region in REGIONS:
        if region in detail:
            for party in (f"region:{region}", f"bridge:{region}"):
                out += [x for x in before if x.key[0] == party][-3:]
    return sorted(set(out), key=lambda x: (x.t, x.stream, x.lineno))


def check(obs: Observed, cfg: Config, bound: Bound = Bound()) -> Report:
    outcome = explain(obs, cfg, bound)
    report = Report(obs, cfg, bound, outcome)
    if outcome.explained:
        data, matched = reconstruct(outcome, cfg)
        trace: Trace = parse(data, "reconstructed")
        report.trace, report.result = data, runner.run(trace, cfg)
        report.evidence = {p: evidence_for(i, matched, d)
                           for p, (i, d) in report.result.violations.items()}
    return report


# --- output -------------------------------------------------------------------------------------

def _describe(e: Event) -> str:
    s = e.statement
    return f"{e.source} {e.party}: {s.msg!r} ({e.kind})" if s else f"{e.party}: {e.kind}"


def summary(r: Report) -> list[str]:
    per = {s: sum(1 for x in r.obs.lines if x.source == s) for s in sorted(r.obs.sources)}
    counts = ", ".join(f"{s} {n}" for s, n in per.items()) or "none"
    b = r.bound
    return [f"log: {len(r.obs)} lines matched against the model ({counts}); "
            f"{r.obs.unknown} unknown lines skipped",
            f"fixes: {', '.join(r.cfg.fixes)}; assumptions: "
            + ", ".join(f"{k}={v}" for k, v in r.cfg.assumptions.items()),
            f"search: {r.outcome.expanded} states expanded (bound: {b.budget} states, "
            f"{b.choices} choices between lines, "
            f"{b.tolerance / 1000:g} s tolerance)"]


def text(r: Report) -> str:
    out = summary(r)
    o = r.outcome
    if not o.explained:
        out.append("")
        if o.first_unexplained is not None:
            x = o.first_unexplained
            out += [f"NOT EXPLAINED: {x.where} is the first line the model cannot explain "
                    f"({x.key[0]}: {x.kind}):", f"  {x.raw}"]
        else:
            out.append(f"NOT EXPLAINED: every line is matched, but the model then writes more "
                       f"lines than the log has (it ends at {r.obs.lines[-1].where}):")
        if o.expected:
            out.append("  what the model could write there instead:")
            out += [f"    - {_describe(e)}" for e in o.expected]
        else:
            out.append("  the model could not write any further line there")
        if o.exhausted:
            out.append(f"  (the search stopped at its bound of {r.bound.budget} states)")
        if o.model_errors:
            out.append(f"  ({len(o.model_errors)} branches hit a model error; first: "
                       f"{o.model_errors[0]})")
        return "\n".join(out) + "\n"
    out += ["", f"explained: a model run of {len(r.trace['steps'])} steps writes every line "
                "(reconstructed trace: --trace-out)", "", "properties:"]
    width = max(len(p) for p in P.ALL)
    for name in P.ALL:
        if name in r.result.violations:
            out.append(f"  {name:<{width}}  VIOLATED: {r.result.violations[name][1]}")
            out += [f"      evidence {x.summary}" for x in r.evidence[name]]
        else:
            out.append(f"  {name:<{width}}  holds")
    return "\n".join(out) + "\n"


def as_json(r: Report) -> str:
    o = r.outcome
    data: dict = {
        "explained": o.explained, "status": r.status, "lines": len(r.obs),
        "unknown_skipped": r.obs.unknown, "sources": sorted(r.obs.sources),
        "fixes": list(r.cfg.fixes), "assumptions": dict(r.cfg.assumptions.items()),
        "search": {"expanded": o.expanded, "budget": r.bound.budget,
                   "choices": r.bound.choices, "tolerance_ms": r.bound.tolerance,
                   "exhausted": o.exhausted},
    }
    if o.explained:
        data["violated"] = r.result.violated
        data["held"] = r.result.held
        data["violations"] = {p: {"detail": d, "evidence": [x.where for x in r.evidence[p]]}
                              for p, (_, d) in r.result.violations.items()}
    else:
        x = o.first_unexplained
        data["first_unexplained"] = {"where": x.where, "line": x.raw} if x else None
        data["expected"] = [{"party": e.party, "event": e.kind,
                             "statement": e.statement.msg if e.statement else ""}
                            for e in o.expected]
    return json.dumps(data, indent=2) + "\n"
