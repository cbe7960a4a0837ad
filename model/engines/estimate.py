"""`handover estimate`: how often does each fix set lose the audio for real users?

    handover estimate [--fix NAME]... [--profile-assume NAME] [--assume KEY=VALUE]...
                      [--scenario MODEL] [--runs N] [--seed S] [--format text|json|markdown]
                      [--sweep back-after=A..B[:STEP]] [--out DIR] [--png PATH]

For each fix set, N simulated user sessions (`model.engines.users`) run in the timed engine
(`model.engines.timed`). A session fails when, settled after a region switch, the mic audio does not reach
the region the phone is connected to (`AudioReachesActiveRegion`). The report gives the failure
probability with a 95 % Wilson interval, and groups the failures into families: one failing
session per kind of violation is shrunk (`model.engines.shrink`), classified (`model.engines.classify`), measured
for its race window (`model.engines.race`) and written as a counterexample (`model.outputs.counterexample`);
failures whose shrunk counterexamples share a signature are one family. Every failing session is
also replayed as `handover replay` would replay it (`runner.run` on its timed trace) and must show
the same violation at the same step (`replayed`; a mismatch is reported as a model bug).

Session i of seed S draws its user from `random.Random(f"{S}/{i}/user")` and its latencies from
`random.Random(f"{S}/{i}/net")`: the same users meet every fix set (common random numbers), and
the same seed gives the same output. Exit 0 when the estimate ran; 2 on bad options (one line) and
when a session broke the model (the report is printed, then one line naming the error).
"""
from __future__ import annotations

import json
import math
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

import attrs

from model.system.config import ConfigError, Config, assumptions_for
from fixes import make_config
from model.engines.latency import Sampler
from model.engines.timed import PROP, Session, run_session
from model.engines.users import DEFAULT, ScenarioError, UserModel, parse as parse_scenario

Z95 = 1.959963984540054
OUT = Path("results") / "estimate"
SHRINK_REPLAYS = 200
"""Replays the shrinker may spend on each family's representative."""
USER_KINDS = ("connect", "switch_region", "ws_drop", "mic", "speak", "grpc_stream_error",
              "livekit_outage")


def wilson(failures: int, runs: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for failures/runs (95 % by default)."""
    if runs <= 0:
        raise ValueError("no runs")
    p = failures / runs
    denom = 1 + z * z / runs
    centre = (p + z * z / (2 * runs)) / denom
    half = z * math.sqrt(p * (1 - p) / runs + z * z / (4 * runs * runs)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


# --- running sessions ---------------------------------------------------------------------------

def session(cfg: Config, model: UserModel, seed: int, i: int, scale: float = 1.0) -> Session:
    """Session i of seed `seed`; `scale` multiplies every network latency."""
    events = model.events(random.Random(f"{seed}/{i}/user"), cfg, scale)
    return run_session(cfg, events, Sampler(random.Random(f"{seed}/{i}/net"), scale=scale),
                       model.tail_ms(cfg))


@attrs.define(eq=False)
class Estimate:
    fix: str
    cfg: Config
    scenario: str
    runs: int
    seed: int
    failures: list = attrs.Factory(list)       # (run index, Session)
    errors: list = attrs.Factory(list)         # (run index, Session) that hit a model error
    switches: int = 0
    families: list = attrs.Factory(list)       # Family
    unreplayed: list = attrs.Factory(list)     # (run index, what the replay found instead)
    skipped: int = 0                           # user actions the world did not offer
    scale: float = 1.0                         # network latencies multiplied by this

    @property
    def p_fail(self) -> float:
        return len(self.failures) / self.runs

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(len(self.failures), self.runs)


def estimate(fix: str, cfg: Config, model: UserModel, runs: int, seed: int,
             progress: "Progress | None" = None, verify: bool = False,
             scale: float = 1.0) -> Estimate:
    """Run the sessions; with `verify`, replay every failing session as `handover replay` would
    (`runner.run`) and record any that does not show the same violation at the same step."""
    est = Estimate(fix, cfg, model.name, runs, seed, scale=scale)
    for i in range(runs):
        s = session(cfg, model, seed, i, scale)
        est.switches += s.switches
        est.skipped += len(s.skipped)
        if s.error:
            est.errors.append((i, s))
        elif s.failed:
            est.failures.append((i, s))
            if verify:
                found = replays_to(s, cfg)
                if found is not None:
                    est.unreplayed.append((i, found))
        if progress:
            progress.advance()
    return est


def replays_to(s: Session, cfg: Config, prop: str = PROP) -> str | None:
    """None when replaying the session's steps finds its violation at its last step, with the same
    detail; else what the replay found."""
    from model.engines import runner
    from model.engines.trace import TraceError
    try:
        got = runner.run(_make_trace(s.steps, cfg, prop, "session"), cfg).violations.get(prop)
    except TraceError as e:
        return f"the replay stopped: {e}"
    want = (len(s.steps) - 1, s.detail)
    return None if got == want else f"replay found {got!r}, the session {want!r}"


# --- families -----------------------------------------------------------------------------------

@attrs.define(eq=False)
class Family:
    signature: str
    cls: str
    runs: list                 # run indices
    path: str                  # the shrunk counterexample
    timed_path: str            # the representative session as it ran (ticks and all)
    window: Any                # race.RaceWindow
    detail: str


def _shape(detail: str) -> str:
    return re.sub(r"\d+(\.\d+)?", "#", detail)


def _make_trace(steps: list[dict], cfg: Config, prop: str, name: str):
    from model.engines.trace import Trace, _freeze
    ref = assumptions_for()
    assumptions = tuple((k, v) for k, v in cfg.assumptions.items() if ref.get(k) != v)
    return Trace(tuple(_freeze(s) for s in steps), assumptions, tuple(cfg.fixes),
                 (("violates", (prop,)),), name)


def macro_candidates(s: Session) -> list[list[dict]]:
    """The session's user steps with the time between them as `advance` (the system runs normally
    in between), ending with a settle, or with the rest of the session and a settle; then with a
    settle after each user step, then with none between them."""
    steps: list[dict] = []
    last = None
    for t, step in s.user_times:
        if last is not None and t > last:
            steps.append({"step": "advance", "seconds": (t - last) / 1000})
        steps.append(step)
        last = t
    out = [steps + [{"step": "settle"}]]
    if last is not None and s.end_ms > last:
        out.append(steps + [{"step": "advance", "seconds": (s.end_ms - last) / 1000},
                            {"step": "settle"}])
    users = [step for _, step in s.user_times]
    settled = [x for step in users for x in (step, {"step": "settle"})]
    out += [settled, users + [{"step": "settle"}]]
    return out


def shrink_session(s: Session, cfg: Config, prop: str = PROP,
                   max_replays: int = SHRINK_REPLAYS) -> list[dict]:
    """A short trace showing the session's violation. Start from its macro form when that still
    shows it (`macro_candidates`; when none does, the session's own timed steps are returned
    whole); shrink (`model.engines.shrink`) without making
    the failure more contrived than that start (`model.engines.classify`: a shorter trace that needs two
    quick taps is another story than the user's); then turn each `advance` into a `settle`, and
    put a `settle` between two adjacent user steps, wherever the failure stays (the least
    contrived form of the same story)."""
    from model.engines import shrink as S
    from model.engines.classify import classify
    from model.engines.trace import TraceError
    start = None
    for cand in macro_candidates(s):
        try:
            if S.first_violation(cand, cfg, prop, after_switch=True) is not None:
                start = cand
                break
        except TraceError:
            continue
    if start is None:
        # only the timed interleaving shows it: its ticks are not the engines' clock steps, so
        # the shrinker (which takes only enabled actions) cannot work on it; keep it whole
        return list(s.steps)
    shrinker = _class_keeping()(cfg, prop, after_switch=True, max_replays=max_replays)
    shrinker.worst = _rank(classify(start, cfg))
    steps = shrinker.shrink(list(start))
    for k, step in enumerate(steps):
        if step["step"] == "advance":
            cand = steps[:k] + [{"step": "settle"}] + steps[k + 1:]
            if shrinker.predicate(cand) is not None:
                steps = cand
    # the least contrived form: a settle between two user steps wherever the failure stays
    k = 1
    while k < len(steps):
        if steps[k]["step"] in USER_KINDS and steps[k - 1]["step"] in USER_KINDS:
            cand = steps[:k] + [{"step": "settle"}] + steps[k:]
            found = shrinker.predicate(cand)
            if found is not None:
                steps = cand[:found + 1]
        k += 1
    return steps


def _rank(cls: str) -> int:
    from model.engines.classify import CLASSES
    return list(CLASSES).index(cls)


def _class_keeping():
    from model.engines import shrink as S
    from model.engines.classify import classify

    @attrs.define(eq=False)
    class ClassKeeping(S.Shrinker):
        """Accepts a candidate only when its class is no more contrived than `worst`."""
        worst: int = 0

        def predicate(self, steps: list[dict]) -> int | None:
            found = super().predicate(steps)
            if found is None:
                return None
            try:
                return found if _rank(classify(steps[:found + 1], self.cfg)) <= self.worst \
                    else None
            except ValueError:
                return None
    return ClassKeeping


def families(est: Estimate, out_dir: Path, prop: str = PROP,
             max_replays: int = SHRINK_REPLAYS, window: bool = True) -> list[Family]:
    """Group the failures: one representative per violation shape is shrunk and written; shapes
    whose shrunk counterexamples share a signature merge. Ordered by size, then signature."""
    from model.outputs import counterexample as CX
    from model.engines import race
    from model.engines.classify import classify, signature
    from model.engines.trace import dump
    by_shape: dict[str, list[tuple[int, Session]]] = {}
    for i, s in est.failures:
        by_shape.setdefault(_shape(s.detail or ""), []).append((i, s))
    merged: dict[str, Family] = {}
    scen = re.sub(r"[^A-Za-z0-9.-]+", "-", est.scenario)
    for k, (shape, members) in enumerate(sorted(by_shape.items(),
                                                key=lambda kv: (-len(kv[1]), kv[0]))):
        i, rep = members[0]
        steps = shrink_session(rep, est.cfg, prop, max_replays)
        sig = signature(prop, steps, est.cfg)
        if sig in merged:
            merged[sig].runs += [j for j, _ in members]
            continue
        name = CX.stem(est.fix, scen, f"family{len(merged) + 1}")
        trace = _make_trace(steps, est.cfg, prop, name)
        win = race.window(trace, est.cfg, prop) if window else None
        note = f"**Race window:** {win.text}" if win else ""
        desc = (f"{prop} violated by {est.fix} in session {i} of seed {est.seed} under the user "
                f"model {est.scenario} (handover estimate), shrunk to {len(steps)} steps."
                + (f" Race window: {win.text}" if win else ""))
        json_path, _ = CX.write(trace, est.cfg, prop, name, out_dir, description=desc, notes=note,
                                race_window=False)
        timed_path = Path(out_dir) / f"{name}.timed.json"
        dump(_make_trace(rep.steps, est.cfg, prop, name + ".timed"), timed_path,
             f"Session {i} of seed {est.seed} ({est.scenario}, {est.fix}) as the timed engine ran "
             f"it: deliveries, timers and ticks; the failing check is the last settle.")
        merged[sig] = Family(sig, classify(steps, est.cfg), [j for j, _ in members],
                             str(json_path), str(timed_path), win, rep.detail or "")
    out = sorted(merged.values(), key=lambda f: (-len(f.runs), f.signature))
    est.families = out
    return out


# --- output -------------------------------------------------------------------------------------

def as_json(est: Estimate) -> dict[str, Any]:
    lo, hi = est.interval
    n_fail = len(est.failures)
    return {
        "fix": est.fix,
        "fixes": list(est.cfg.fixes),
        "assumptions": dict(est.cfg.assumptions.items()),
        "scenario": est.scenario,
        "runs": est.runs,
        "seed": est.seed,
        "latency_scale": est.scale,
        "failures": n_fail,
        "p_fail": round(est.p_fail, 6),
        "ci_low": round(lo, 6),
        "ci_high": round(hi, 6),
        "switches": est.switches,
        "skipped_user_actions": est.skipped,
        "model_errors": len(est.errors),
        "replayed": len(est.failures) - len(est.unreplayed),
        "replay_mismatches": len(est.unreplayed),
        "families": [{
            "signature": f.signature, "class": f.cls, "count": len(f.runs),
            "share": round(len(f.runs) / n_fail, 6) if n_fail else 0.0,
            "path": f.path, "timed_path": f.timed_path, "detail": f.detail,
            "race_window": f.window.to_json() if f.window else None,
        } for f in est.families],
    }


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def text(ests: list[Estimate]) -> str:
    e0 = ests[0]
    lines = [f"handover estimate: user model {e0.scenario}, {e0.runs} sessions per fix set, "
             f"seed {e0.seed}" + (f", network latencies x{e0.scale:g}" if e0.scale != 1 else ""),
             f"P(a session's region switch ends with {PROP} violated once settled), 95% Wilson "
             f"interval", ""]
    width = max(len(e.fix) for e in ests)
    for e in ests:
        lo, hi = e.interval
        lines.append(f"{e.fix:<{width}}  {_pct(e.p_fail):>6}  [{_pct(lo)}, {_pct(hi)}]  "
                     f"{len(e.failures)}/{e.runs} sessions"
                     + (f"  ({len(e.errors)} model errors)" if e.errors else "")
                     + (f"  ({len(e.unreplayed)} failures do NOT replay: model bug)"
                        if e.unreplayed else "")
                     + (f"  ({e.skipped} user actions skipped: not possible when due)"
                        if e.skipped else ""))
        for f in e.families:
            lines.append(f"{'':<{width}}  {_pct(len(f.runs) / len(e.failures)):>6} of failures: "
                         f"{f.signature}")
            lines.append(f"{'':<{width}}          {f.path}")
            if f.window:
                lines.append(f"{'':<{width}}          window: {f.window.text}")
    return "\n".join(lines) + "\n"


def markdown(ests: list[Estimate]) -> str:
    e0 = ests[0]
    out = [f"# Estimated failure probability: {e0.scenario}", "",
           f"{e0.runs} simulated sessions per fix set, seed {e0.seed}; a session fails when "
           f"{PROP} is violated once settled after a region switch. 95 % Wilson interval.", "",
           "| fix set | p_fail | 95 % interval | failures | families |",
           "|---|---|---|---|---|"]
    for e in ests:
        lo, hi = e.interval
        fams = "<br>".join(f"{_pct(len(f.runs) / len(e.failures))} `{f.signature}` "
                           f"([trace]({f.path}))" + (f": {f.window.text}" if f.window else "")
                           for f in e.families) or "-"
        out.append(f"| {e.fix} | {_pct(e.p_fail)} | {_pct(lo)} - {_pct(hi)} | "
                   f"{len(e.failures)}/{e.runs} | {fams} |")
    return "\n".join(out) + "\n"


class Progress:
    """A progress bar on stderr: redrawn in place on a terminal, one line per label otherwise."""

    def __init__(self, total: int, stream=None):
        self.total, self.done = total, 0
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.label = ""
        self.start = time.monotonic()
        self.shown = -1

    def begin(self, label: str) -> None:
        self.label = label

    def advance(self) -> None:
        self.done += 1
        pct = 100 * self.done // self.total
        if self.tty and pct != self.shown:
            self.shown = pct
            bar = "#" * (pct // 4) + "." * (25 - pct // 4)
            self.stream.write(f"\r{self.label[:30]:<30} [{bar}] {self.done}/{self.total}")
            self.stream.flush()

    def end(self, label: str) -> None:
        secs = time.monotonic() - self.start
        if self.tty:
            self.stream.write("\r" + " " * 75 + "\r")
        self.stream.write(f"{label}: {self.done}/{self.total} sessions, {secs:.1f} s\n")
        self.stream.flush()


# --- beside the verdict matrix ------------------------------------------------------------------

MATRIX_RUNS = 40
MATRIX_SEED = 0
"""`pytest model/` estimates each fix set of its matrix with this many sessions of the default user
model (`users.DEFAULT`) under the reference profile: about 0.5 s per fix set, an interval of about
+-15 points at p = 0.5 and [0, 9 %] at p = 0."""


def matrix_lines(fix_sets: list[str], runs: int = MATRIX_RUNS, seed: int = MATRIX_SEED
                 ) -> list[str]:
    """One line per fix set: its estimated failure probability (no families: no shrinking)."""
    model = parse_scenario(DEFAULT)
    width = max((len(f) for f in fix_sets), default=0)
    lines = [f"P(audio lost after a region switch), user model {DEFAULT}, reference profile, "
             f"{runs} timed sessions per fix set, seed {seed} (handover estimate):"]
    for fix in fix_sets:
        est = estimate(fix, make_config([fix]), model, runs, seed)
        lo, hi = est.interval
        errors = f"  ({len(est.errors)} model errors)" if est.errors else ""
        lines.append(f"  {fix:<{width}}  {_pct(est.p_fail):>6}  [{_pct(lo)}, {_pct(hi)}]{errors}")
    return lines


# --- command line -------------------------------------------------------------------------------

def add_parser(sub) -> None:
    p = sub.add_parser(
        "estimate", help="failure probability of each fix set for simulated users",
        description="Run N simulated user sessions per fix set in the timed engine (message "
                    "latencies, human-paced switches) and report the probability that a region "
                    "switch ends with the mic audio not reaching the active region once settled, "
                    "with a 95 percent Wilson interval, and the failure families with their shrunk "
                    "counterexamples and race windows (docs/timing.md). Deterministic for a seed. "
                    "Progress on stderr.")
    p.add_argument("--fix", action="append", default=[], metavar="NAME",
                   help="fix set to estimate (repeatable; default baseline)")
    p.add_argument("--profile-assume", default=None, metavar="NAME",
                   help="named assumption profile (default actual-2025-10-17)")
    p.add_argument("--assume", action="append", default=[], metavar="KEY=VALUE",
                   help="assumption override (repeatable)")
    p.add_argument("--scenario", default=DEFAULT, metavar="MODEL",
                   help=f"user model: switch-once, back-after:SECONDS, tester, daily "
                        f"(default {DEFAULT})")
    p.add_argument("--runs", default="200", metavar="N", help="sessions per fix set (default 200)")
    p.add_argument("--seed", default="0", metavar="S", help="seed (default 0)")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.add_argument("--sweep", default=None, metavar="back-after=A..B[:STEP]",
                   help="failure probability against the seconds before switching back: a table "
                        "and a PNG")
    p.add_argument("--out", default=str(OUT), metavar="DIR",
                   help=f"where counterexamples and the sweep PNG go (default {OUT})")
    p.add_argument("--latency-scale", default="1", metavar="F",
                   help="multiply every network latency by F (a sensitivity check; default 1)")
    p.add_argument("--png", default=None, metavar="PATH",
                   help="the sweep's PNG (default DIR/sweep-back-after-<fixes>.png)")
    p.set_defaults(func=cmd_estimate)


def _int(value: str, option: str, low: int) -> int:
    from model.usage import UsageError
    try:
        n = int(value)
    except ValueError:
        raise UsageError(f"{option} takes a whole number, not {value!r}") from None
    if n < low:
        raise UsageError(f"{option} must be at least {low}, not {n}")
    return n


def configs(args) -> list[tuple[str, Config]]:
    """(fix set name, config) for each --fix; UsageError for unknown names or assumptions."""
    from model.usage import UsageError, parse_assume
    assume = parse_assume(args.assume)
    out = []
    for fix in args.fix or ["baseline"]:
        try:
            out.append((fix, make_config([fix], args.profile_assume, **assume)))
        except ConfigError as e:
            raise UsageError(str(e)) from None
    return out


def _scale(value: str) -> float:
    from model.usage import UsageError
    try:
        f = float(value)
    except ValueError:
        f = -1.0
    if not 0 < f <= 100:
        raise UsageError(f"--latency-scale takes a number above 0 and at most 100, not {value!r}")
    return f


def parse_sweep(spec: str) -> list[float]:
    """"back-after=5..120" (step 5) or "back-after=5..120:2.5" -> the seconds to try."""
    from model.usage import UsageError
    m = re.fullmatch(r"back-after=(\d+(?:\.\d+)?)\.\.(\d+(?:\.\d+)?)(?::(\d+(?:\.\d+)?))?", spec)
    if not m:
        raise UsageError(f"--sweep takes back-after=A..B or back-after=A..B:STEP (seconds), "
                         f"not {spec!r}")
    a, b = float(m[1]), float(m[2])
    step = float(m[3]) if m[3] else 5.0
    if b < a or step <= 0:
        raise UsageError(f"--sweep: need A <= B and a positive step, not {spec!r}")
    n = int(math.floor((b - a) / step + 1e-9)) + 1
    if n > 500:
        raise UsageError(f"--sweep: {n} points is too many (at most 500)")
    return [round(a + k * step, 6) for k in range(n)]


def _secs(x: float) -> str:
    return f"{x:g}"


def cmd_estimate(args) -> int:
    from model.usage import UsageError
    runs = _int(args.runs, "--runs", 1)
    seed = _int(args.seed, "--seed", 0)
    scale = _scale(args.latency_scale)
    cfgs = configs(args)
    if args.sweep:
        return sweep(cfgs, parse_sweep(args.sweep), runs, seed, args, scale)
    try:
        model = parse_scenario(args.scenario)
    except ScenarioError as e:
        raise UsageError(str(e)) from None
    progress = Progress(runs * len(cfgs))
    ests = []
    for fix, cfg in cfgs:
        progress.begin(f"{fix} {model.name}")
        est = estimate(fix, cfg, model, runs, seed, progress, verify=True, scale=scale)
        try:
            families(est, Path(args.out))
        except OSError as e:
            raise UsageError(f"cannot write counterexamples to {args.out}: {e.strerror}") from None
        ests.append(est)
    progress.end(f"estimate {model.name}")
    if args.format == "json":
        sys.stdout.write(json.dumps([as_json(e) for e in ests], indent=2) + "\n")
    elif args.format == "markdown":
        sys.stdout.write(markdown(ests))
    else:
        sys.stdout.write(text(ests))
    return _model_errors(ests, Path(args.out))


def _model_errors(ests: list[Estimate], out_dir: Path) -> int:
    """0, or 2 (a tool failure) with one line when a failing session does not replay, or naming
    the first model error and where its timed trace was written when a session broke the model:
    the estimate above is then not to be trusted."""
    from model.engines.trace import dump
    for e in ests:
        for i, why in e.unreplayed[:1]:
            print(f"handover: error: {e.fix}: {len(e.unreplayed)} failing sessions do not replay "
                  f"(model bug); session {i}: {why}", file=sys.stderr)
            return 2
    bad = [(e, i, s) for e in ests for i, s in e.errors]
    if not bad:
        return 0
    e, i, s = bad[0]
    path = out_dir / f"{re.sub(r'[^A-Za-z0-9+._-]+', '_', e.fix)}__model-error.timed.json"
    out_dir.mkdir(parents=True, exist_ok=True)
    dump(_make_trace(s.steps, e.cfg, PROP, path.stem), path, f"model error: {s.error}")
    print(f"handover: error: {len(bad)} sessions hit a model error; first ({e.fix}, session {i}): "
          f"{s.error}; its steps: {path}", file=sys.stderr)
    return 2


def sweep_rows(cfgs: list[tuple[str, Config]], points: list[float], runs: int, seed: int,
               progress: Progress | None = None, scale: float = 1.0) -> list[dict]:
    """The failure probability of each fix set at each back-after delay (no families), for a table
    or `plot_sweep` (a per-fix report page can draw its curve with these two)."""
    rows: list[dict] = []
    for secs in points:
        model = parse_scenario(f"back-after:{_secs(secs)}")
        for fix, cfg in cfgs:
            if progress:
                progress.begin(f"{fix} {model.name}")
            est = estimate(fix, cfg, model, runs, seed, progress, scale=scale)
            lo, hi = est.interval
            rows.append({"fix": fix, "seconds": secs, "scenario": model.name, "runs": runs,
                         "seed": seed, "failures": len(est.failures),
                         "p_fail": round(est.p_fail, 6), "ci_low": round(lo, 6),
                         "ci_high": round(hi, 6), "model_errors": len(est.errors)})
    return rows


def sweep(cfgs: list[tuple[str, Config]], points: list[float], runs: int, seed: int, args,
          scale: float = 1.0) -> int:
    progress = Progress(runs * len(cfgs) * len(points))
    rows = sweep_rows(cfgs, points, runs, seed, progress, scale)
    progress.end("sweep back-after")
    fixes = [f for f, _ in cfgs]
    png = Path(args.png) if args.png else Path(args.out) / (
        "sweep-back-after-" + "-".join(re.sub(r"[^A-Za-z0-9.+-]", "_", f) for f in fixes) + ".png")
    try:
        plot_sweep(rows, fixes, png, runs, seed)
    except OSError as e:
        from model.usage import UsageError
        raise UsageError(f"cannot write {png}: {e.strerror}") from None
    if args.format == "json":
        sys.stdout.write(json.dumps({"sweep": "back-after", "png": str(png), "rows": rows},
                                    indent=2) + "\n")
        return _sweep_errors(rows)
    md = args.format == "markdown"
    head = ["seconds"] + fixes
    table = [head]
    for secs in points:
        cells = [_secs(secs)]
        for fix in fixes:
            r = next(r for r in rows if r["fix"] == fix and r["seconds"] == secs)
            cells.append(f"{_pct(r['p_fail'])} [{_pct(r['ci_low'])}, {_pct(r['ci_high'])}]")
        table.append(cells)
    if md:
        lines = ["| " + " | ".join(table[0]) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in table[1:]]
        lines += ["", f"![failure probability against back-after seconds]({png})"]
    else:
        widths = [max(len(r[c]) for r in table) for c in range(len(head))]
        lines = [f"P(audio lost) against the seconds before switching back; {runs} sessions per "
                 f"point, seed {seed}, 95% Wilson interval", ""]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table]
        lines += ["", f"written: {png}"]
    sys.stdout.write("\n".join(lines) + "\n")
    return _sweep_errors(rows)


def _sweep_errors(rows: list[dict]) -> int:
    bad = sum(r["model_errors"] for r in rows)
    if bad:
        print(f"handover: error: {bad} sessions of the sweep hit a model error; run handover "
              f"estimate --scenario back-after:SECONDS on a point to see the first",
              file=sys.stderr)
        return 2
    return 0


def plot_sweep(rows: list[dict], fixes: list[str], png: Path, runs: int, seed: int) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    png.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for fix in fixes:
        rs = [r for r in rows if r["fix"] == fix]
        xs = [r["seconds"] for r in rs]
        ax.plot(xs, [r["p_fail"] for r in rs], marker="o", markersize=3, label=fix)
        ax.fill_between(xs, [r["ci_low"] for r in rs], [r["ci_high"] for r in rs], alpha=0.2)
    ax.axvline(60, color="grey", linestyle=":", linewidth=1)
    ax.text(60.8, 0.05, "60 s grace period", color="grey", fontsize=8, rotation=90, va="bottom")
    ax.set_xlabel("seconds between the two Save presses (switch away, switch back)")
    ax.set_ylabel("P(audio not reaching the active region)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"handover estimate --sweep back-after ({runs} sessions per point, seed {seed})",
                 fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png, metadata={"Software": None})
    plt.close(fig)
