"""Reading a run: a numbered narrative in the parties' own words, a verdict per property, and a
Mermaid sequence diagram with one lane per party that sends, receives or notes something (mobile,
each region pod, each bridge, each LiveKit deployment; silent parties get no lane).

Mermaid drops what follows a `#` in a participant label, so `region:france#1` (pod 1 of a two-pod
region) is labelled `region:france pod 1`, and its pod 0 `region:france pod 0`."""
from __future__ import annotations

import json

from model.properties import properties as P
from model.engines.runner import Result


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

def _pod_order(party: str) -> tuple:
    name, _, pod = party.partition("#")
    return name, int(pod) if pod.isdigit() else 0


def lanes(result: Result) -> list[str]:
    """Every party, in lane order: mobile, regions, bridges, LiveKit deployments; pods in order."""
    order = ["mobile"]
    parties = list(result.world.parties.keys())
    for kind in ("region:", "bridge:"):
        mine = [p for p in parties if p.startswith(kind)]
        bases = list(dict.fromkeys(_pod_order(p)[0] for p in mine))
        order += sorted(mine, key=lambda p: (bases.index(_pod_order(p)[0]), _pod_order(p)[1]))
    order += [p for p in parties if p.startswith("livekit:")]
    return order


def _alias(party: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in party)


def _label(party: str, parties: set) -> str:
    """A participant label Mermaid shows whole (it cuts a label at `#`)."""
    name, sep, pod = party.partition("#")
    if sep:
        return f"{name} pod {pod}"
    if f"{party}#1" in parties:
        return f"{party} pod 0"
    return party


def _escape(text: str) -> str:
    return text.replace(";", ",").replace("#", "no.").replace(":", " -").replace("\n", " ")


def mermaid(result: Result, max_lines: int = 400) -> str:
    """The sequence diagram; a lane only for a party that appears in the lines shown."""
    order = lanes(result)
    known = set(order)
    body: list[str] = []
    used = {"mobile"}            # the step notes are over the mobile's lane
    for s in result.steps:
        body.append(f"    Note over {_alias('mobile')}: {s.index + 1}. {_escape(_step_title(s.step))}")
        for r in s.records:
            if r.kind == "deliver" and r.peer in known and r.party in known and r.peer != r.party:
                body.append(f"    {_alias(r.peer)}->>{_alias(r.party)}: {r.text}")
                line_parties = (r.peer, r.party)
            elif r.kind == "crash" and r.party in known:
                body.append(f"    Note over {_alias(r.party)}: CRASH {_escape(r.text)}")
                line_parties = (r.party,)
            elif r.kind == "log" and r.party in known and dict(r.data).get("kind_") in _NOTED:
                body.append(f"    Note over {_alias(r.party)}: {_escape(r.text)}")
                line_parties = (r.party,)
            else:
                continue
            if len(body) <= max_lines:
                used.update(line_parties)
    if len(body) > max_lines:
        body = body[:max_lines] + [f"    Note over {_alias('mobile')}: ... "
                                   f"{len(body) - max_lines} more lines"]
    out = ["sequenceDiagram"]
    out += [f"    participant {_alias(p)} as {_label(p, known)}" for p in order if p in used]
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
