"""Counterexample classes: what kind of failure a trace is, derived from its steps alone.

A shrunk counterexample keeps only the steps the failure needs, so what it contains says how
contrived the failure is. Each class below is one *ingredient*; a trace's class is the most
contrived ingredient it contains (`CLASSES` is ordered from the everyday failure to the most
contrived), because a shrunk trace needs every ingredient it still has.

- **fault**: a `grpc_stream_error` or `livekit_outage` step (an infrastructure fault; the
  `switching` environment has none, `driver.ENVIRONMENTS`).
- **timer-race**: a micro `fire` or `tick` taken while a message is still in flight, or a `tick`
  that differs from the same time passing normally (`world.advance`, which delivers every message
  before each timer): a timer fires between two deliveries. Real timers are mostly seconds (2 s
  gRPC retry, 5 s WebSocket reconnect), deliveries milliseconds, so this needs a timer due just
  as a message travels, or a message held up: under `message_delay=bounded` (the reference) for
  at most `Timing.max_delay`, under `unbounded` (adversarial) for any time.
- **reordered-delivery**: a micro `deliver` that is not the canonical one (`world.canonical_head`:
  prompt local work first, then the oldest message in flight; canonical pod routing): the network
  chose an order a normal run does not take.
- **quick-succession**: a user-level step (`connect`, `switch_region`, `ws_drop`, `mic`) taken
  before the system ran normally after the previous one: no `settle`, no `advance` (time passing
  with every message delivered) and no quiescent world (`world.quiescent`) between them. Two user
  actions with no settle between them. `speak` is not counted: the phone's audio flows all the
  time, so audio in flight is not a second action. A glasses socket drop counts with the user's
  actions: it is everyday mobile life (`docs/driver.md`, "Environments"), but one that lands
  before the previous action settled is the same kind of coincidence as a second tap.
- **everyday**: none of the above: ordinary user steps with the system settling (`settle`) or
  running normally while time passes (`advance`) in between, every delivery in the canonical
  order. The report's own failure (switch away and back within the grace period) is one.

`classify(steps, cfg)` replays the steps under `cfg` (the trace's config) to judge each micro step
against the canonical run and each user step against quiescence. Without `cfg` only the shape of
the steps is used, which is exact for `fault` and conservative for the rest: `quick-succession`
when no `settle`/`advance` separates two user-level steps, `reordered-delivery` for a `deliver`
routed to a pod other than 0; a micro run's order is not judged (pass `cfg` for that).

`signature(prop, steps, cfg)` names a failure family: the property, the class and the sequence of
user-level and fault steps ("AudioReachesActiveRegion|everyday|connect>switch_region>
switch_region"). Regions, timings and micro steps are left out, so two runs that shrink to the same
story in different regions share a signature.
"""
from __future__ import annotations

from typing import Sequence

from model.system import world as W
from model.system.config import Config
from model.system.parties.party import ProtocolError
from model.engines.runner import apply_step
from model.engines.trace import TraceError

CLASSES: dict[str, str] = {
    "everyday": "ordinary user steps, the system settling (or time passing normally) in between",
    "quick-succession": "a user step (switch, connect, socket drop, mic) before the previous one "
                        "settled",
    "reordered-delivery": "the network delivers in an order a normal run does not take",
    "timer-race": "a timer fires (or time passes) while a message is still in flight",
    "fault": "an infrastructure fault: a gRPC stream error or a LiveKit signal outage",
}
"""Class name -> one line, ordered from the everyday failure to the most contrived."""

USER_STEPS = ("connect", "switch_region", "ws_drop", "mic")
"""Steps that are a user's (or the phone's everyday) action: two of them need a settle between."""
FAULT_STEPS = ("grpc_stream_error", "livekit_outage")
SEPARATORS = ("settle", "advance")
STORY_STEPS = USER_STEPS + ("speak",) + FAULT_STEPS
"""The steps a signature keeps, in order."""

CLASSES_RANK = {name: i for i, name in enumerate(CLASSES)}
"""Class name -> its place in `CLASSES` (0 = everyday)."""
_RANK = CLASSES_RANK


def _worst(found: set[str]) -> str:
    return max(found, key=_RANK.__getitem__) if found else "everyday"


def classify(steps: Sequence[dict], cfg: Config | None = None) -> str:
    """The class of a counterexample (a key of `CLASSES`), from its `handover.trace/1` steps.

    With `cfg` the steps are replayed (a step that cannot be replayed is a `TraceError`)."""
    steps = [dict(s) for s in steps]
    if cfg is None:
        return _worst(_by_shape(steps))
    return _worst(_by_replay(steps, cfg))


def classes_present(steps: Sequence[dict], cfg: Config | None = None) -> list[str]:
    """Every ingredient the steps contain, in `CLASSES` order ("everyday" when none)."""
    steps = [dict(s) for s in steps]
    found = _by_shape(steps) if cfg is None else _by_replay(steps, cfg)
    return [c for c in CLASSES if c in found] or ["everyday"]


def signature(prop: str, steps: Sequence[dict], cfg: Config | None = None) -> str:
    """`<property>|<class>|<user-level steps joined by '>'>`: a failure family."""
    story = ">".join(s["step"] for s in steps if s["step"] in STORY_STEPS)
    return f"{prop}|{classify(steps, cfg)}|{story}"


# --- the two judges -----------------------------------------------------------------------------

def _by_shape(steps: list[dict]) -> set[str]:
    found: set[str] = set()
    acted = False        # a user step since the last separator
    for s in steps:
        kind = s["step"]
        if kind in FAULT_STEPS:
            found.add("fault")
        elif kind == "deliver" and s.get("pod", 0) != 0:
            found.add("reordered-delivery")
        elif kind in SEPARATORS:
            acted = False
        elif kind in USER_STEPS:
            if acted:
                found.add("quick-succession")
            acted = True
    return found


def _by_replay(steps: list[dict], cfg: Config) -> set[str]:
    found: set[str] = set()
    w = W.initial(cfg)
    acted = False        # a user step was taken before
    settled = True       # the system ran normally to rest (or through time) since then
    for i, s in enumerate(steps):
        kind = s["step"]
        if kind in FAULT_STEPS:
            found.add("fault")
        elif kind in USER_STEPS:
            if acted and not settled:
                found.add("quick-succession")
            acted, settled = True, False
        elif kind == "deliver" and not _canonical_delivery(w, s, cfg):
            found.add("reordered-delivery")
        elif kind in ("fire", "tick") and not w.net.idle():
            found.add("timer-race")
        try:
            after = apply_step(w, s, cfg)
        except (W.Impossible, ProtocolError, RuntimeError, KeyError, ValueError) as e:
            raise TraceError(f"step {i + 1} ({kind}): cannot be replayed: {e}") from None
        if kind == "tick" and w.net.idle():
            # a tick is time passing normally when it ends where `advance` would
            if after == W.advance(w, s["ms"], cfg):
                settled = True
            else:
                found.add("timer-race")
        if kind in SEPARATORS or W.quiescent(after):
            settled = True
        w = after
    return found


def _canonical_delivery(w: W.World, step: dict, cfg: Config) -> bool:
    head = W.canonical_head(w)
    if head is None or (head.conn, head.to_server) != (step["conn"], step["to"] == "server"):
        return False
    pod = step.get("pod")
    if pod is None or not head.to_server or w.net.conn(head.conn).server:
        return True
    return pod == w.routes % cfg.a("pods_per_region")


__all__ = ["CLASSES", "classify", "classes_present", "signature", "USER_STEPS", "FAULT_STEPS"]
