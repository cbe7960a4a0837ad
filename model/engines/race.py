"""Race windows: how wide is the timing window a counterexample needs?

A counterexample trace says *that* a failure can happen; the window says how likely its timing is.
`window(trace, cfg, prop)` replays the trace's user-level story (its user and fault steps, in
order) in the timed engine (`model.engines.timed`) with every message taking its link's typical latency
(`latency.Sampler(typical=True)`), then varies one delay at a time until the violation disappears:

1. *User timing.* For each step after the first, the delay since the previous user step is set to
   each value of `GRID` (0 ms to 10 min) and to the trace's own delay, with the other delays as in
   the trace; each change of outcome between two points is bisected to the millisecond. A trace's delay is "wait until
   the system is quiet, plus the time its `advance` steps let pass" where the trace settles or
   advances between two steps, and the model time that passed otherwise.
2. *Message delays.* The story as in the trace, with `LATENCY_DRAWS` independent random latency
   draws (`latency` distributions): how many of them show the violation.

The result reads like "needs the switch to cloud-debug within 0 ms-60.05 s of the switch to france;
at any message delays (20/20 random-latency runs)". A delay whose every tested value shows the
violation is "any delay"; a story that never shows it in timed runs is reported as such (its
interleaving needs message delays far from typical ones, or a reordering latencies alone do not
make).
"""
from __future__ import annotations

import random
from typing import Any

import attrs

from model.system import world as W
from model.system.config import Config
from model.engines.latency import Sampler
from model.system.parties.party import ProtocolError
from model.engines.runner import apply_step
from model.engines.timed import PROP, Scheduler, UserEvent
from model.engines.trace import Trace, step_dict

STORY = ("connect", "switch_region", "ws_drop", "mic", "speak", "grpc_stream_error",
         "livekit_outage")
"""The steps that are the story; everything else is the system running (or an engine's choice)."""

GRID = (0, 1, 2, 5, 10, 20, 50, 100, 150, 200, 300, 500, 750, 1_000, 1_500, 2_000, 3_000, 5_000,
        7_500, 10_000, 15_000, 20_000, 30_000, 40_000, 50_000, 55_000, 58_000, 59_000, 60_000,
        61_000, 62_000, 65_000, 70_000, 90_000, 120_000, 180_000, 300_000, 600_000)
"""User delays tried (ms): dense around the model's timers (2 s retry, 5 s reconnect, 20 s windows,
60 s grace)."""

QUICK_GRID = (0, 10, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 40_000, 59_000,
              60_000, 61_000, 120_000, 600_000)
"""A coarser grid for counterexample pages (`quick=True`)."""
QUICK_HALVINGS = 10
"""With `quick=True`, each change of outcome is bisected 10 times: to 1 ms within 1 s of a grid
point, to about 60 ms between 1 and 2 min."""

LATENCY_DRAWS = 20
QUICK_DRAWS = 10
TAIL_MS = 90_000
"""The timed replay runs on this long after the last step (the grace period and its dispose)."""


@attrs.frozen
class GapWindow:
    index: int               # the story step whose delay was varied (1 = the second step)
    before: str              # "the switch to france"
    after: str               # "the switch to cloud-debug"
    base_ms: int | None      # the delay in the trace when it was a fixed time, else None (quiet)
    violated: tuple          # ((lo, hi), ...) ms intervals where the violation shows
    tested: tuple            # (min, max) of the delays tried

    @property
    def any_delay(self) -> bool:
        return self.violated == ((self.tested[0], self.tested[1]),)

    @property
    def text(self) -> str:
        if not self.violated:
            return f"never with {self.after} at any tested delay after {self.before}"
        if self.any_delay:
            return (f"{self.after} at any delay after {self.before} (tested "
                    f"{_ms(self.tested[0])}-{_ms(self.tested[1])})")
        spans = " or ".join(self._span(lo, hi) for lo, hi in self.violated)
        return f"{self.after} {spans} {self.before}"

    def _span(self, lo: int, hi: int) -> str:
        if hi == self.tested[1]:
            return f"at least {_ms(lo)} after"
        if lo == self.tested[0]:
            return f"within {_ms(hi)} of"
        return f"{_ms(lo)}-{_ms(hi)} after"


@attrs.frozen
class RaceWindow:
    prop: str
    reproduced: bool         # the timed replay with typical latencies shows the violation
    gaps: tuple              # GapWindow per story step after the first
    latency_hits: int        # random-latency replays that show the violation
    latency_draws: int
    runs: int                # timed replays spent
    rebased: str = ""        # the delay moved to, when the trace's own delays do not show it
    unmeasured: str = ""     # why nothing was measured (a property the timed engine cannot check)

    @property
    def bounded(self) -> list[GapWindow]:
        return [g for g in self.gaps if g.violated and not g.any_delay]

    @property
    def text(self) -> str:
        if self.unmeasured:
            return f"not measured: {self.unmeasured}"
        lat = f"{self.latency_hits}/{self.latency_draws} random-latency runs"
        if self.latency_hits == self.latency_draws:
            lat = f"at any message delays ({lat})"
        elif self.latency_hits:
            lat = f"only at some message delays ({lat})"
        else:
            lat = f"not at drawn message delays ({lat})"
        if not self.reproduced and not any(g.violated for g in self.gaps):
            return (f"not reproduced in timed runs with typical latencies at any tested user "
                    f"timing; {lat}: needs an interleaving far from typical message delays")
        where = "the others as in the trace"
        if self.rebased:
            where = (f"at typical latencies the trace's own delays do not show it; measured with "
                     f"{self.rebased}, the others as in the trace")
        if self.bounded:
            needs = "; ".join(g.text for g in self.bounded)
            return f"needs {needs} (one delay varied at a time, {where}); {lat}"
        return f"any delay: happens at every tested user timing (0 ms-10 min between steps), {lat}"

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "reproduced_at_typical_latency": self.reproduced,
                "rebased": self.rebased,
                "latency_hits": self.latency_hits, "latency_draws": self.latency_draws,
                "gaps": [{"step": g.index + 1, "before": g.before, "after": g.after,
                          "violated_ms": [list(v) for v in g.violated],
                          "tested_ms": list(g.tested)} for g in self.gaps]}


def _ms(ms: int) -> str:
    if ms < 1_000:
        return f"{ms} ms"
    return f"{ms / 1000:.3f}".rstrip("0").rstrip(".") + " s"


def describe(step: dict) -> str:
    kind = step["step"]
    if kind == "connect":
        return f"the connect to {step['region']}"
    if kind == "switch_region":
        return f"the switch to {step['to']}"
    if kind == "ws_drop":
        return "the socket drop"
    if kind == "mic":
        return f"mic {'on' if step['on'] else 'off'}"
    if kind == "speak":
        return "a mic packet"
    if kind == "grpc_stream_error":
        return f"the gRPC stream error at {step['region']}"
    return f"{step['participant']}'s LiveKit outage"


def story(steps: list[dict], cfg: Config) -> list[UserEvent]:
    """The trace's story as user events: each delay as in the trace (see module docstring)."""
    w = W.initial(cfg)
    events: list[UserEvent] = []
    last_t, settled = 0, False
    for i, step in enumerate(steps):
        kind = step["step"]
        if kind in STORY:
            if events:
                gap = w.now - last_t
                events.append(UserEvent.of(step, gap, "quiet" if settled else "prev"))
            else:
                events.append(UserEvent.of(step, 0))
            last_t, settled = w.now, False
        elif kind in ("settle", "advance"):
            settled = True
        try:
            w = apply_step(w, step, cfg)
        except (W.Impossible, ProtocolError, RuntimeError, KeyError) as e:
            raise ValueError(f"step {i + 1} ({kind}) cannot be replayed: {e}") from None
    return events


class _Probe:
    def __init__(self, cfg: Config, prop: str, budget: int):
        self.cfg, self.prop, self.budget, self.runs = cfg, prop, budget, 0

    def session(self, events: list[UserEvent], sampler: Sampler | None = None):
        self.runs += 1
        return Scheduler(self.cfg, events, sampler or Sampler(typical=True), TAIL_MS, self.prop,
                         record=False, after_switch=False).run()

    def violated(self, events: list[UserEvent], sampler: Sampler | None = None) -> bool:
        return self.session(events, sampler).failed


def _intervals(points: list[tuple[int, bool]]) -> tuple:
    out, start, prev = [], None, None
    for d, bad in points:
        if bad and start is None:
            start = d
        if not bad and start is not None:
            out.append((start, prev))
            start = None
        prev = d
    if start is not None:
        out.append((start, prev))
    return tuple(out)


def scan_gap(probe: _Probe, events: list[UserEvent], k: int, grid=GRID,
             max_halvings: int = 64) -> tuple:
    """The delays before story step k (ms intervals) at which the violation shows; each change of
    outcome is bisected to 1 ms, or for `max_halvings` halvings."""
    def bad(d: int) -> bool:
        evs = list(events)
        evs[k] = UserEvent(events[k].step, d, "prev")
        return probe.violated(evs)

    seen = {d: bad(d) for d in grid}
    points = sorted(seen.items())
    for (a, ba), (b, bb) in zip(points, points[1:]):
        if ba == bb:
            continue
        lo, hi = a, b           # outcome(lo) = ba, outcome(hi) = bb
        for _ in range(max_halvings):
            if hi - lo <= 1:
                break
            mid = (lo + hi) // 2
            seen[mid] = bad(mid)
            if seen[mid] == ba:
                lo = mid
            else:
                hi = mid
    return _intervals(sorted(seen.items()))


def window(trace: Trace, cfg: Config, prop: str | None = None, draws: int = LATENCY_DRAWS,
           grid=GRID, quick: bool = False) -> RaceWindow:
    """Measure the race window of `trace`'s violation of `prop` (default: the first property the
    trace expects violated, else AudioReachesActiveRegion); see the module docstring. `quick`:
    `QUICK_GRID`, `QUICK_HALVINGS` and `QUICK_DRAWS` latency draws (about half the runs)."""
    if quick:
        grid, draws = QUICK_GRID, min(draws, QUICK_DRAWS)
    prop = prop or (trace.expectation("violates") or (PROP,))[0]
    from model.properties import properties as P
    if prop not in P.SAFETY and prop not in P.QUIESCENT:
        return RaceWindow(prop, False, (), 0, 0, 0,
                          unmeasured=f"{prop} is not a safety or quiescence property")
    steps = [step_dict(s) for s in trace.steps]
    events = story(steps, cfg)
    probe = _Probe(cfg, prop, 0)
    base_run = probe.session(events) if events else None
    reproduced = bool(base_run and base_run.failed)
    gaps = _scan_all(probe, events, base_run, grid, quick)
    rebased = ""
    if not reproduced:
        # the trace's own delays do not show it at typical latencies: move to the first delay
        # that does, and measure every window again from there
        g = next((g for g in gaps if g.violated), None)
        if g is not None:
            d = g.violated[0][0]
            events[g.index] = UserEvent(events[g.index].step, d, "prev")
            rebased = f"{g.after} {_ms(d)} after {g.before}"
            gaps = _scan_all(probe, events, probe.session(events), grid, quick)
    hits = sum(probe.violated(events, Sampler(random.Random(f"race/{d}"))) for d in range(draws))
    return RaceWindow(prop, reproduced, tuple(gaps), hits, draws, probe.runs, rebased)


def _scan_all(probe: _Probe, events: list[UserEvent], base_run, grid, quick: bool) -> list:
    # the base run's own delays join the grid, so a window narrower than a grid cell is found
    at = [t for t, _ in base_run.user_times] if base_run else []
    own = [b - a for a, b in zip(at, at[1:])] if len(at) == len(events) else []
    gaps = []
    for k in range(1, len(events)):
        base = events[k]
        points = tuple(sorted(set(grid) | ({own[k - 1]} if own else set())))
        violated = scan_gap(probe, events, k, points, QUICK_HALVINGS if quick else 64)
        gaps.append(GapWindow(k, describe(events[k - 1].as_step), describe(base.as_step),
                              base.delay if base.after == "prev" else None, violated,
                              (points[0], points[-1])))
    return gaps


def main(argv: list[str] | None = None) -> int:
    """`python -m model.engines.race TRACE.json...`: the race window of each trace's violation (the first
    property its `expect` names, else AudioReachesActiveRegion). Exit 2 on a bad trace."""
    import sys
    from model.engines.runner import config_for
    from model.engines.trace import TraceError, load
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python -m model.engines.race TRACE.json...", file=sys.stderr)
        return 2
    for path in paths:
        try:
            trace = load(path)
            win = window(trace, config_for(trace))
        except (TraceError, ValueError) as e:
            print(f"model.engines.race: error: {e}", file=sys.stderr)
            return 2
        print(f"{path}: {win.prop}: {win.text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
