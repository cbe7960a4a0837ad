"""A replay in the Informal Trace Format (ITF), the JSON trace format of Apalache and Quint.

ITF (https://apalache-mc.org/docs/adr/015adr-trace.html) is one JSON object: `#meta` (here the
format, the description, the source trace, fixes and assumptions), `vars` (the variable names) and
`states`, a list of objects each holding `#meta: {"index": i}` and a value for every variable.
Values: JSON booleans and strings as they are; integers as JSON numbers inside the JavaScript safe
range (|n| < 2^53) and `{"#bigint": "<decimal>"}` outside it; lists as JSON arrays; records as
objects; tuples `{"#tup": [...]}`, sets `{"#set": [...]}`, maps `{"#map": [[k, v], ...]}`. ITF has
no null: an absent value is an empty set, "" or -1 below, as named per variable.

The states are a readable projection of the World, one per trace step (state 0 is the initial
world): what each party believes, what the LiveKit servers list, what is in flight, the timers,
and the properties violated so far. The projection only reads party state; it never steps the
world itself (`runner.apply_step` does, exactly as `handover replay`).
"""
from __future__ import annotations

import json
from typing import Any

from model.properties import properties as P
from model.engines import runner
from model.system import world as W
from model.system.config import Config
from model.outputs.render import _step_title
from model.engines.runner import Result
from model.engines.trace import Trace, TraceError, step_dict

FORMAT = "ITF"
SAFE = 2 ** 53 - 1

VARS = ("step", "now_ms", "mobile", "regions", "bridges", "livekit", "in_flight", "timers",
        "violated")
"""step: the trace step that led to this state ("init" for state 0); now_ms: the model clock;
mobile: the phone (backend "" before the first connect); regions: pod -> its UserSession map entry
(`map_session`: a set of 0 or 1 session ids), sessions and gRPC clients; bridges: pod -> the Go
map (user -> generation) and every session object; livekit: deployment -> room -> the participants
the server lists; in_flight: messages on their way, as (connection, direction, message); timers:
(party, name, key, due ms) in firing order; violated: the properties violated at or before this
state."""


def num(n: int) -> Any:
    return n if -SAFE <= n <= SAFE else {"#bigint": str(n)}


def tup(*items) -> dict:
    return {"#tup": list(items)}


def iset(items) -> dict:
    return {"#set": sorted(items, key=json.dumps)}


def imap(pairs) -> dict:
    return {"#map": sorted(([k, v] for k, v in pairs), key=lambda kv: json.dumps(kv[0]))}


def _enum(v) -> str:
    return getattr(v, "value", v) if v is not None else ""


def _opt(v) -> dict:
    """An optional value as a set of zero or one element (ITF has no null)."""
    return iset([] if v is None else [v if not isinstance(v, int) else num(v)])


def project_mobile(w: W.World) -> dict:
    m = w.mobile
    return {
        "backend": m.backend or "",
        "ws_status": _enum(m.ws_status),
        "mic_on": bool(m.mic_on),
        "room": _opt(m.room),
        "rooms": imap((num(rid), {"deployment": r.deployment, "phase": _enum(r.phase)})
                      for rid, r in m.rooms.items()),
    }


def project_region(r) -> dict:
    return {
        "alive": bool(r.alive),
        "map_session": _opt(r.map_sid),
        "sessions": imap((num(sid), {"phase": _enum(s.phase), "socket": s.ws or "",
                                     "reconnection": bool(s.reconnection),
                                     "client": num(-1 if s.client is None else s.client)})
                         for sid, s in r.sessions.items()),
        "clients": imap((num(cid), {"isConnected": bool(c.is_connected()),
                                    "joined": bool(c.joined), "disposed": bool(c.disposed)})
                        for cid, c in r.clients.items()),
    }


def project_bridge(b) -> dict:
    return {
        "alive": bool(b.alive),
        "map": imap((u, num(g)) for u, g in b.sessions.items()),
        "sessions": imap((num(g), {"phase": _enum(s.phase), "room": s.room, "deployment": s.url})
                         for g, s in b.all.items()),
    }


def project_livekit(lk) -> dict:
    return {name: iset(tup(p.identity, p.sid, p.client) for p in room.participants.values())
            for name, room in lk.rooms.items()}


def _name(pid: str) -> str:
    """'region:france#1' -> 'france#1'."""
    return pid.split(":", 1)[1]


def project(w: W.World, step: str, violated: list[str]) -> dict:
    parties = w.parties
    return {
        "step": step,
        "now_ms": num(w.now),
        "mobile": project_mobile(w),
        "regions": {_name(pid): project_region(s) for pid, s in parties.items()
                    if pid.startswith("region:")},
        "bridges": {_name(pid): project_bridge(s) for pid, s in parties.items()
                    if pid.startswith("bridge:")},
        "livekit": {_name(pid): project_livekit(s) for pid, s in parties.items()
                    if pid.startswith("livekit:")},
        "in_flight": [tup(h.conn, "to server" if h.to_server else "to client", type(h.msg).__name__)
                      for h in w.net.heads()],
        "timers": [tup(t.party, t.name, "" if t.key is None else str(t.key), num(t.due))
                   for t in w.clock.timers],
        "violated": iset(violated),
    }


def worlds(trace: Trace, cfg: Config) -> list[tuple[str, W.World]]:
    """(step title, world after it) for the initial world and every step, as `handover replay`
    runs them (`runner.apply_step`)."""
    w = W.initial(cfg)
    out = [("init", w)]
    for i, frozen in enumerate(trace.steps):
        step = step_dict(frozen)
        try:
            w = runner.apply_step(w, step, cfg)
        except (W.Impossible, RuntimeError, KeyError, AssertionError) as e:
            raise TraceError(f"step {i + 1} ({step['step']}): {e}") from None
        out.append((_step_title(step), w))
    return out


def to_itf(result: Result) -> dict:
    """The ITF object of a replay: its result says which properties were violated at which step."""
    trace, cfg = result.trace, result.cfg
    states = []
    for i, (title, w) in enumerate(worlds(trace, cfg)):
        violated = [p for p in P.ALL if p in result.violations and result.violations[p][0] < i]
        states.append({"#meta": {"index": i}, **project(w, title, violated)})
    meta = {
        "format": FORMAT,
        "format-description": "https://apalache-mc.org/docs/adr/015adr-trace.html",
        "description": f"handover replay of {trace.name or 'a trace'}: one state per trace step",
        "source": trace.name,
        "fixes": list(cfg.fixes),
        "assumptions": {k: v if not isinstance(v, int) or isinstance(v, bool) else num(v)
                        for k, v in cfg.assumptions.items()},
    }
    return {"#meta": meta, "vars": list(VARS), "states": states}


def render(result: Result) -> str:
    return json.dumps(to_itf(result), indent=1) + "\n"
