"""Reading a run: a numbered narrative in the parties' own words, a verdict per property, and a
Mermaid sequence diagram with one lane per party (mobile, each region, each bridge, each LiveKit
deployment)."""
from __future__ import annotations

import json

from model import properties as P
from model.runner import Result


def _step_title(step: dict) -> str:
    args = ", ".join(f"{k}={v}" for k, v in step.items() if k != "step")
    return step["step"] + (f" ({args})" if args else "")


def _t(ms: int) -> str:
    return f"t={ms / 1000:.3f}s"


def narrative_lines(result: Result) -> list[str]:
    lines: list[str] = []
    for s in result.steps:
        lines.append(f"{s.index + 1}. {_step_title(s.step)}  [{_t(s.now)}]")
        for r in s.records:
            if r.kind in ("log", "crash", "fault", "user"):
                lines.append(f"   - {r.party}: {r.text}")
    return lines


def verdicts(result: Result):
    """(property, step number or None, detail) for every property, in properties.ALL order."""
    for name in P.ALL:
        i, detail = result.violations.get(name, (None, ""))
        yield name, (None if i is None else i + 1), detail


def verdict_lines(result: Result) -> list[str]:
    width = max(len(p) for p in P.ALL)
    out = [f"{name:<{width}}  VIOLATED at step {step}: {detail}" if step else
           f"{name:<{width}}  holds" for name, step, detail in verdicts(result)]
    seen = [n for n, ok in result.witnesses.items() if ok]
    out.append(f"witnesses seen: {', '.join(seen) or 'none'}")
    return out


def header(result: Result) -> str:
    a = ", ".join(f"{k}={v}" for k, v in result.cfg.assumptions.items())
    return f"fixes: {', '.join(result.cfg.fixes)}\nassumptions: {a}"


def text(result: Result) -> str:
    parts = [f"trace: {result.trace.name or '(unnamed)'}", header(result), "",
             *narrative_lines(result), "", "verdict:", *["  " + v for v in verdict_lines(result)]]
    if result.trace.expect:
        parts.append(f"expectation {'met' if result.expectation_met() else 'NOT met'}: "
                     + json.dumps({k: list(v) for k, v in result.trace.expect}))
    return "\n".join(parts) + "\n"


def as_json(result: Result) -> str:
    return json.dumps(result.to_json(), indent=2) + "\n"


# --- Mermaid ------------------------------------------------------------------------------------

def lanes(result: Result) -> list[str]:
    order = ["mobile"]
    parties = list(result.world.parties.keys())
    order += [p for p in parties if p.startswith("region:")]
    order += [p for p in parties if p.startswith("bridge:")]
    order += [p for p in parties if p.startswith("livekit:")]
    return order


def _alias(party: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in party)


def _escape(text: str) -> str:
    return text.replace(";", ",").replace("#", "no.").replace(":", " -").replace("\n", " ")


def mermaid(result: Result, max_lines: int = 400) -> str:
    known = set(lanes(result))
    out = ["sequenceDiagram"]
    out += [f"    participant {_alias(p)} as {p}" for p in lanes(result)]
    body: list[str] = []
    for s in result.steps:
        body.append(f"    Note over {_alias('mobile')}: {s.index + 1}. {_escape(_step_title(s.step))}")
        for r in s.records:
            if r.kind == "deliver" and r.peer in known and r.party in known and r.peer != r.party:
                body.append(f"    {_alias(r.peer)}->>{_alias(r.party)}: {r.text}")
            elif r.kind == "crash" and r.party in known:
                body.append(f"    Note over {_alias(r.party)}: CRASH {_escape(r.text)}")
            elif r.kind == "log" and r.party in known and dict(r.data).get("kind_") in _NOTED:
                body.append(f"    Note over {_alias(r.party)}: {_escape(r.text)}")
    if len(body) > max_lines:
        body = body[:max_lines] + [f"    Note over {_alias('mobile')}: ... "
                                   f"{len(body) - max_lines} more lines"]
    return "\n".join(out + body)


_NOTED = {"bridge_early_return", "bridge_disconnected", "participant_left", "token_rejected",
          "session_disposed", "grace_skipped", "room_disconnected", "audio_received",
          "bridge_join_refused", "grpc_stream_error"}


def markdown(result: Result, title: str = "") -> str:
    title = title or f"handover replay: {result.trace.name or 'trace'}"
    lines = [f"# {title}", "", "```", header(result), "```", "", "## What happened", ""]
    lines += narrative_lines(result)
    lines += ["", "## Verdict", ""]
    lines += [f"- **{name}: violated** at step {step}. {detail}" if step else f"- {name}: holds"
              for name, step, detail in verdicts(result)]
    lines += ["", "## Sequence diagram", "", "```mermaid", mermaid(result), "```", ""]
    return "\n".join(lines)
