"""The `handover.trace/1` format: hand-written scenarios, shrunk counterexamples and the corpus.

```json
{"format": "handover.trace/1", "assumptions": {"topology": "shared"}, "fixes": ["baseline"],
 "steps": [{"step": "connect", "region": "cloud-debug"}, {"step": "settle"}],
 "expect": {"violates": ["AudioReachesActiveRegion"], "holds": ["BridgeNeverCrashes"]}}
```

Macro steps (for people): connect, switch_region, ws_drop, mic, speak, grpc_stream_error,
livekit_outage, advance, settle. Micro steps (engines emit them): deliver, fire, tick. Omitted
assumptions take the reference profile's values. Every problem is a `TraceError` with one line.

What is refused besides unknown names and wrong types (docs/traces.md, "What is refused"): a file
that is not UTF-8, JSON nested deeper than `MAX_DEPTH`, a duplicate key in an object, NaN,
Infinity and numbers out of float range, durations that are not a positive whole number of
milliseconds up to `MAX_SECONDS` (outages: whole seconds), an empty `steps`, and an `expect` that
names a property twice.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import attrs

from model.system import actions as A
from model.system.config import ASSUMPTIONS, REGIONS, ConfigError, parse_assumption

FORMAT = "handover.trace/1"


class TraceError(ValueError):
    """A malformed trace or step (one line, names the problem)."""


# step name -> {field: (type, required)}
STEPS: dict[str, dict[str, tuple[type | tuple, bool]]] = {
    "connect": {"region": (str, True)},
    "switch_region": {"to": (str, True)},
    "ws_drop": {},
    "mic": {"on": (bool, True)},
    "speak": {},
    "grpc_stream_error": {"region": (str, True), "pod": (int, False)},
    "livekit_outage": {"participant": (str, True), "seconds": ((int, float), True)},
    "advance": {"seconds": ((int, float), True)},
    "settle": {},
    "deliver": {"conn": (str, True), "to": (str, True), "pod": (int, False), "msg": (str, False)},
    "fire": {"timer": (str, False), "party": (str, False)},
    "tick": {"ms": (int, True)},
}
MACRO = ("advance", "settle")

MAX_SECONDS = 86_400
"""The longest `advance` or `livekit_outage` one step may ask for (one day, the mobile token's
lifetime, `config.Timing.mobile_token_ttl`); longer stretches are several steps. `tick.ms` is bounded
by the same day in milliseconds."""

MAX_PODS = max(ASSUMPTIONS["pods_per_region"][0])

MAX_DEPTH = 32
"""JSON nesting deeper than this is refused (a trace nests 4 levels)."""

MAX_BYTES = 64 * 1024 * 1024
"""A trace file larger than this is refused unread."""


@attrs.frozen
class Trace:
    steps: tuple
    assumptions: tuple = ()       # (key, value) pairs given in the file
    fixes: tuple = ("baseline",)
    expect: tuple = ()            # (("violates", (...)), ("holds", (...)))
    name: str = ""

    def expectation(self, key: str) -> tuple:
        return dict(self.expect).get(key, ())


def check_step(i: int, step: Any) -> dict:
    where = f"step {i + 1}"
    if not isinstance(step, dict) or "step" not in step:
        raise TraceError(f"{where}: each step is an object with a \"step\" field")
    kind = step["step"]
    if not isinstance(kind, str):
        raise TraceError(f"{where}: \"step\" is a step name (a string), not {_kind(kind)}")
    if kind not in STEPS:
        raise TraceError(f"{where}: unknown step {kind!r} (known: {', '.join(STEPS)})")
    fields = STEPS[kind]
    for key in step:
        if key != "step" and key not in fields:
            raise TraceError(f"{where} ({kind}): unknown field {key!r}")
    for key, (typ, required) in fields.items():
        if key not in step:
            if required:
                raise TraceError(f"{where} ({kind}): missing field {key!r}")
            continue
        value = step[key]
        if isinstance(value, bool) and typ is not bool:
            raise TraceError(f"{where} ({kind}): field {key!r} has the wrong type")
        if not isinstance(value, typ):
            raise TraceError(f"{where} ({kind}): field {key!r} has the wrong type")
    for key in ("region", "to"):
        if kind in ("connect", "switch_region", "grpc_stream_error") and key in step \
                and step[key] not in REGIONS:
            raise TraceError(f"{where} ({kind}): unknown region {step[key]!r} "
                             f"(known: {', '.join(REGIONS)})")
    if kind == "deliver" and step["to"] not in ("server", "client"):
        raise TraceError(f"{where} (deliver): \"to\" is \"server\" or \"client\"")
    if kind == "livekit_outage":
        p = step["participant"]
        if p != "mobile" and not (p.startswith("bridge:") and p.split(":", 1)[1].split("#")[0]
                                  in REGIONS):
            raise TraceError(f"{where} (livekit_outage): participant is \"mobile\" or "
                             f"\"bridge:<region>\", not {p!r}")
    if "seconds" in step:
        _check_seconds(f"{where} ({kind})", step["seconds"], whole=kind == "livekit_outage")
    if "pod" in step and step["pod"] not in range(MAX_PODS):
        raise TraceError(f"{where} ({kind}): pod is a number from 0 to {MAX_PODS - 1} (a region "
                         f"has at most {MAX_PODS} pods), not {step['pod']!r}")
    if "ms" in step and not 0 < step["ms"] <= MAX_SECONDS * 1000:
        raise TraceError(f"{where} ({kind}): ms must be a whole number from 1 to "
                         f"{MAX_SECONDS * 1000}, not {step['ms']!r}")
    return step


def _check_seconds(where: str, value: float, whole: bool) -> None:
    """A duration: positive, finite, at most MAX_SECONDS, a whole number of milliseconds (the
    model's clock counts milliseconds), or of seconds for an outage (`LiveKitSignalLost.seconds`)."""
    unit = "seconds" if whole else "milliseconds"
    if not (0 < value <= MAX_SECONDS and math.isfinite(value)):   # an int may overflow a float
        raise TraceError(f"{where}: seconds must be more than 0 and at most {MAX_SECONDS}, "
                         f"not {value!r}")
    scaled = value if whole else value * 1000
    if abs(scaled - round(scaled)) > 1e-6 * max(1.0, abs(scaled)) or round(scaled) < 1:
        raise TraceError(f"{where}: seconds must be a whole number of {unit}, not {value!r}")


def _kind(value: Any) -> str:
    return {list: "a list", dict: "an object", bool: "a boolean", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def parse(data: Any, name: str = "") -> Trace:
    if not isinstance(data, dict):
        raise TraceError("a trace is a JSON object")
    if data.get("format") != FORMAT:
        raise TraceError(f"\"format\" must be {FORMAT!r}")
    unknown = set(data) - {"format", "assumptions", "fixes", "steps", "expect", "description"}
    if unknown:
        raise TraceError(f"unknown top-level field {sorted(unknown)[0]!r}")
    if not isinstance(data.get("description", ""), str):
        raise TraceError("\"description\" is a string")
    assumptions = data.get("assumptions", {})
    if not isinstance(assumptions, dict):
        raise TraceError("\"assumptions\" is an object")
    try:
        parsed = tuple((k, parse_assumption(k, v)) for k, v in assumptions.items())
    except ConfigError as e:
        raise TraceError(str(e)) from None
    fixes = data.get("fixes", ["baseline"])
    if not isinstance(fixes, list) or not all(isinstance(f, str) for f in fixes) or not fixes:
        raise TraceError("\"fixes\" is a non-empty list of fix names")
    steps = data.get("steps")
    if not isinstance(steps, list):
        raise TraceError("\"steps\" is a list")
    if not steps:
        raise TraceError("\"steps\" is empty: a trace needs at least one step")
    checked = tuple(check_step(i, s) for i, s in enumerate(steps))
    expect = data.get("expect", {})
    if not isinstance(expect, dict) or set(expect) - {"violates", "holds"}:
        raise TraceError("\"expect\" is an object with \"violates\" and/or \"holds\" lists")
    from model.properties.properties import ALL
    for key, names in expect.items():
        if not isinstance(names, list):
            raise TraceError(f"expect.{key} is a list of property names")
        for n in names:
            if not isinstance(n, str) or n not in ALL:
                raise TraceError(f"expect.{key}: unknown property {n!r} (known: {', '.join(ALL)})")
            if names.count(n) > 1:
                raise TraceError(f"expect.{key} names {n} twice")
    both = [n for n in expect.get("violates", []) if n in expect.get("holds", [])]
    if both:
        raise TraceError(f"expect contradicts itself: {both[0]} is in both \"violates\" and "
                         f"\"holds\"")
    return Trace(tuple(_freeze(s) for s in checked), parsed, tuple(fixes),
                 tuple((k, tuple(v)) for k, v in expect.items()), name)


def check_pods(trace: Trace, pods_per_region: int) -> None:
    """A step naming pod 1 when the configuration has one pod per region is refused (rather than
    ignored where the pod does not matter)."""
    for i, step in enumerate(trace.steps):
        pod = dict(step).get("pod")
        if pod is not None and pod >= pods_per_region:
            raise TraceError(f"step {i + 1} ({dict(step)['step']}): pod {pod} does not exist with "
                             f"pods_per_region={pods_per_region}")


def _freeze(step: dict) -> tuple:
    return tuple(sorted(step.items()))


def step_dict(step: tuple) -> dict:
    d = dict(step)
    return {"step": d.pop("step"), **d}


def load(path: str | Path) -> Trace:
    p = Path(path)
    try:
        with open(p, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise TraceError(f"cannot read {p}: {e.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise TraceError(f"{p}: larger than {MAX_BYTES // (1024 * 1024)} MiB, not a trace")
    return parse(loads(raw, str(p)), p.stem)


class _Refused(ValueError):
    """Raised from inside json.loads' hooks."""


def _no_duplicates(pairs: list) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f"duplicate key {key!r} in one object")
        out[key] = value
    return out


def _no_constant(name: str):
    raise _Refused(f"{name} is not a number a trace may hold")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {text} is out of range")
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether lists/objects nest more than `limit` levels (iterative; stops at the first too deep)."""
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, (list, dict)):
            if depth > limit:
                return True
            stack.extend((c, depth + 1) for c in (v.values() if isinstance(v, dict) else v))
    return False


def loads(raw: bytes, where: str = "trace") -> Any:
    """Strict JSON from the bytes of a trace file: UTF-8, nesting at most MAX_DEPTH, no duplicate
    keys, no NaN/Infinity, no float that overflows. Every refusal is a one-line TraceError."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise TraceError(f"{where}: not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start}); "
                         f"a trace is UTF-8 JSON") from None
    too_deep = TraceError(f"{where}: JSON nested deeper than {MAX_DEPTH} levels, not a trace")
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant,
                          parse_float=_finite_float)
    except RecursionError:
        raise too_deep from None
    except json.JSONDecodeError as e:
        raise TraceError(f"{where}: not JSON ({e.msg} at line {e.lineno})") from None
    except _Refused as e:
        raise TraceError(f"{where}: {e}") from None
    except ValueError as e:   # e.g. an integer of more than 4300 digits
        raise TraceError(f"{where}: not JSON ({str(e).splitlines()[0] if str(e) else type(e).__name__})") \
            from None
    if _deeper_than(data, MAX_DEPTH):
        raise too_deep
    return data


def to_json(trace: Trace, description: str = "") -> dict:
    out: dict = {"format": FORMAT}
    if description:
        out["description"] = description
    out["assumptions"] = dict(trace.assumptions)
    out["fixes"] = list(trace.fixes)
    out["steps"] = [step_dict(s) for s in trace.steps]
    if trace.expect:
        out["expect"] = {k: list(v) for k, v in trace.expect}
    return out


def dump(trace: Trace, path: str | Path, description: str = "") -> None:
    # one step per line: traces are read in reviews
    Path(path).write_text(_compact_steps(to_json(trace, description)) + "\n")


def _compact_steps(data: dict) -> str:
    head = {k: v for k, v in data.items() if k != "steps" and k != "expect"}
    parts = [f'  "{k}": {json.dumps(v)}' for k, v in head.items()]
    steps = ",\n".join("    " + json.dumps(s) for s in data["steps"])
    parts.append(f'  "steps": [\n{steps}\n  ]')
    if "expect" in data:
        parts.append(f'  "expect": {json.dumps(data["expect"])}')
    return "{\n" + ",\n".join(parts) + "\n}"


# --- steps <-> actions --------------------------------------------------------------------------

def action_of(step: dict):
    """The action of a user, fault or micro step (None for the macro steps advance/settle)."""
    kind = step["step"]
    if kind in ("connect", "switch_region"):
        return A.UserSelectsRegion(step.get("region") or step.get("to"))
    if kind == "ws_drop":
        return A.GlassesSocketDrops()
    if kind == "mic":
        return A.UserSetsMic(step["on"])
    if kind == "speak":
        return A.MobileSpeaks()
    if kind == "grpc_stream_error":
        return A.GrpcStreamErrors(step["region"], step.get("pod", 0))
    if kind == "livekit_outage":
        return A.LiveKitSignalLost(step["participant"], int(step["seconds"]))
    if kind == "deliver":
        return A.NetworkDelivers(step["conn"], step["to"] == "server", step.get("pod"))
    if kind == "fire":
        return A.ClockFiresTimer()
    if kind == "tick":
        return A.ClockAdvances(step["ms"])
    return None


def step_of(action, world=None) -> dict:
    """The trace step for an action (the inverse of action_of)."""
    if isinstance(action, A.UserSelectsRegion):
        if world is not None and world.mobile.backend is None:
            return {"step": "connect", "region": action.region}
        return {"step": "switch_region", "to": action.region}
    if isinstance(action, A.GlassesSocketDrops):
        return {"step": "ws_drop"}
    if isinstance(action, A.UserSetsMic):
        return {"step": "mic", "on": action.on}
    if isinstance(action, A.MobileSpeaks):
        return {"step": "speak"}
    if isinstance(action, A.GrpcStreamErrors):
        return {"step": "grpc_stream_error", "region": action.region,
                **({"pod": action.pod} if action.pod else {})}
    if isinstance(action, A.LiveKitSignalLost):
        return {"step": "livekit_outage", "participant": action.participant,
                "seconds": action.seconds}
    if isinstance(action, A.NetworkDelivers):
        d = {"step": "deliver", "conn": action.conn, "to": "server" if action.to_server else "client"}
        if action.pod is not None:
            d["pod"] = action.pod
        return d
    if isinstance(action, A.ClockFiresTimer):
        return {"step": "fire"}
    if isinstance(action, A.ClockAdvances):
        return {"step": "tick", "ms": action.ms}
    raise TypeError(action)


def known_assumptions() -> list[str]:
    return list(ASSUMPTIONS)
