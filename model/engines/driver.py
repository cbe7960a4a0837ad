"""The Hypothesis stateful driver: random search over `world.enabled`, one machine per (fix set,
assumption profile).

Theory of operation. `HandoverMachine` is a `RuleBasedStateMachine` whose rules are the model's
action kinds (`model.system.actions`), one rule per kind, each guarded by a `@precondition` that an action
of that kind is enabled now; the rule draws which enabled action of its kind to take (an index, so
the replay Hypothesis prints is plain Python), applies it with `world.step_verbose`, and records it
as a `handover.trace/1` step (`trace.step_of`). A `settle` rule runs the system fault-free to
quiescence (`world.settle`) and checks the quiescence properties; teardown settles once more and
checks them again. Every safety property is an `@invariant`, and is also checked after every micro
step inside a settle, exactly as `runner.run` does, so whatever the driver finds replays.

Targets. A machine raises only for its *target* properties (`targets`); a violation of any other
property is recorded and the run goes on. Each property raises its own exception class
(`OneBridgePerRoomViolated`, ...), from one place, so Hypothesis treats each property as a distinct
bug, shrinks each separately and reports all of them (`report_multiple_bugs`). `search` runs rounds:
all properties are targets in the first; a property found violated stops being a target, so it
cannot mask the others in the next round; it stops when a round finds nothing new. The exception
carries the recorded steps, which become the counterexample trace (then `model.engines.shrink` shortens it).

Machines are built by `machine_for(fix_set, profile)` and registered as module-level classes with
valid names (`Baseline_Actual20251017`, `Fix1Fix2_H2PerRegion`, ...), constructible with no
arguments, so `from model.engines.driver import Baseline_Actual20251017` makes a printed replay runnable.
"""
from __future__ import annotations

import hashlib
import re
import time
from typing import Any

import attrs
from hypothesis import HealthCheck, Phase, seed as hypothesis_seed, settings as Settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, invariant, precondition, rule,
                                 run_state_machine_as_test)

from model.system import actions as A
from model.properties import properties as P
from model.system import world as W
from model.system.parties.party import ProtocolError
from model.system.config import PROFILES, REFERENCE_PROFILE, Config, assumptions_for
from fixes import make_config
from model.engines.trace import FORMAT, Trace, _freeze, step_of

# --- settings profiles --------------------------------------------------------------------------

_COMMON = dict(deadline=None, stateful_step_count=30, report_multiple_bugs=True,
               suppress_health_check=list(HealthCheck), print_blob=False)

# Every profile sets derandomize explicitly: Hypothesis loads its own "ci" profile (derandomize,
# no database) when it sees CI=true, and settings not given here would be inherited from it.
SETTINGS: dict[str, Settings] = {
    # the default: a quick budget per (fix set, profile) and round, no example database; the
    # search is seeded (`cell_seed`, base `DEFAULT_SEED`), so every run finds the same
    "dev": Settings(max_examples=60, database=None, derandomize=False, **_COMMON),
    # the same search as dev (same seed and budget); kept as the name CI jobs use
    "ci": Settings(max_examples=60, database=None, derandomize=True, **_COMMON),
    # long runs: large budgets, a random seed base (printed), persistent example database
    # under .hypothesis/examples (failures found by earlier nightly runs are replayed first)
    "nightly": Settings(max_examples=1000, derandomize=False,
                        **{**_COMMON, "stateful_step_count": 60}),
}
"""Hypothesis settings per profile (`pytest model/ --profile NAME`). `max_examples` is the budget of
one search round of one (fix set, assumption profile); see docs/driver.md."""

DEFAULT_SEED = 0
"""The seed base of every run that is not random (`--profile dev|ci` without `--seed`)."""
RANDOM_PROFILES = ("nightly",)
"""Settings profiles whose seed base is drawn at random (and printed) unless `--seed` is given."""


def cell_seed(base: int, *parts: object) -> int:
    """The Hypothesis seed of one search: a digest of the run's seed base and what is searched
    (fix set, profile, environment, round), so cells differ from each other and not between runs."""
    digest = hashlib.sha256(":".join(map(str, (base, *parts))).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def settings_for(profile: str, budget: int | None = None, **overrides: Any) -> Settings:
    base = SETTINGS[profile]
    if profile == "nightly" and "database" not in overrides:
        from hypothesis.database import DirectoryBasedExampleDatabase
        overrides["database"] = DirectoryBasedExampleDatabase(".hypothesis/examples")
    if budget is not None:
        overrides["max_examples"] = budget
    return Settings(base, **overrides)


# --- violations ---------------------------------------------------------------------------------

class Violation(AssertionError):
    """A target property was violated; carries the steps that led there."""
    prop = ""

    def __init__(self, detail: str, steps: list[dict]):
        super().__init__(f"{self.prop}: {detail}")
        self.detail, self.steps = detail, steps


VIOLATIONS: dict[str, type[Violation]] = {}
for _name in P.ALL:
    VIOLATIONS[_name] = type(f"{_name}Violated", (Violation,), {"prop": _name,
                                                               "__module__": __name__})
    globals()[f"{_name}Violated"] = VIOLATIONS[_name]


def _raise(prop: str, detail: str, steps: list[dict]) -> None:
    # one raise site for every property: Hypothesis tells bugs apart by exception type and place
    raise VIOLATIONS[prop](detail, list(steps))


# --- the machine --------------------------------------------------------------------------------

MODEL_ERRORS = (ProtocolError, RuntimeError, AssertionError, ValueError, KeyError, TypeError)
"""What a model bug raises inside `world.step`/`settle` (`Violation`s are raised outside it)."""

PICK = st.integers(min_value=0, max_value=15)
"""Which of the enabled actions of a kind (index modulo how many there are): shrinks to the first."""


@attrs.define(eq=False)
class Tally:
    """What the runs of one machine class saw: completed runs per target property, recorded (non
    target) violations with their steps, witnesses."""
    runs: int = 0
    checked: dict = attrs.Factory(dict)        # property -> completed runs in which it held
    recorded: dict = attrs.Factory(dict)       # property -> (detail, steps) (shortest seen)
    witnesses: dict = attrs.Factory(lambda: {n: 0 for n in P.WITNESSES})
    steps: int = 0                             # actions and settles taken, all runs
    errors: dict = attrs.Factory(dict)         # model error text -> steps (shortest seen)


ENVIRONMENTS: dict[str, frozenset] = {
    "switching": frozenset({A.GrpcStreamErrors, A.LiveKitSignalLost}),
    "faults": frozenset(),
}
"""What the environment may do, as the action kinds it may NOT take. `switching`: the user switches
regions and toggles the mic, the phone speaks, the glasses socket drops (everyday mobile life, what
the grace period exists for), messages are delivered in any order and time passes. `faults` adds
gRPC stream errors and LiveKit signal outages. The question "does this fix fix region switching?"
is answered under `switching`; `faults` shows what else breaks."""
DEFAULT_ENVIRONMENT = "faults"


SAFETY_CHECKS = {**P.SAFETY, **P.DIAGNOSTIC_SAFETY}
QUIESCENT_CHECKS = {**P.QUIESCENT, **P.DIAGNOSTIC_QUIESCENT}
"""What a run checks: the properties and the diagnostics (recorded, never a target)."""


CALM_EXCLUDED = frozenset({A.NetworkDelivers, A.ClockFiresTimer})
"""What a calm machine (`calm=True`, `search(..., calm=True)`) never does itself: it delivers and
fires timers only inside `settle` and `advance`. Every user step or fault it takes is followed by
a settle, and time passes only with the system running normally, so whatever it finds is of the
class `everyday` (or `fault`): `model.engines.classify`."""


class HandoverMachine(RuleBasedStateMachine):
    """Base class; `machine_for` makes the subclass for one fix set and assumption profile."""
    fix_set: str = "baseline"
    profile: str = REFERENCE_PROFILE
    cfg: Config = None  # type: ignore[assignment]
    targets: frozenset = frozenset(P.ALL)
    require_switch: bool = False     # a target counts only after a region switch (triage)
    calm: bool = False               # everyday search: every action is followed by a settle
    environment: str = DEFAULT_ENVIRONMENT
    tally: Tally = None  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.world = W.initial(self.cfg)
        self.steps: list[dict] = []
        self.violated: dict[str, str] = {}
        self.switched = False
        self.failed = False
        self.dead = False                # the model raised an error: the run does nothing more
        self.inside: list | None = None  # actions taken so far by the settle in progress
        self._kinds: dict | None = None

    # --- bookkeeping ------------------------------------------------------------------------
    def enabled_of(self, kind: type) -> list:
        if kind in ENVIRONMENTS[self.environment] or (self.calm and kind in CALM_EXCLUDED):
            return []
        if self._kinds is None:
            kinds: dict = {}
            for a in W.enabled(self.world, self.cfg):
                kinds.setdefault(type(a), []).append(a)
            self._kinds = kinds
        return self._kinds.get(kind, [])

    def check(self, name: str, detail: str | None) -> None:
        if self.dead or not detail or name in self.violated:
            return
        if self.require_switch and not self.switched:
            return
        self.violated[name] = detail
        steps = self.trace_steps()
        if name in self.targets:
            self.failed = True
            _raise(name, detail, steps)
        seen = self.tally.recorded.get(name)
        if seen is None or len(seen[1]) > len(steps):
            self.tally.recorded[name] = (detail, steps)

    def trace_steps(self) -> list[dict]:
        """The steps so far; inside a settle, the settle is spelled out as the micro steps it has
        taken, so the trace ends exactly where a safety property broke."""
        if self.inside is None:
            return list(self.steps)
        return self.steps[:-1] + [step_of(a) for a in self.inside]

    def check_safety(self, world: W.World) -> None:
        for name, fn in SAFETY_CHECKS.items():
            if name not in self.violated:
                self.check(name, fn(world, self.cfg))

    def check_quiescent(self) -> None:
        if W.quiescent(self.world):
            for name, fn in QUIESCENT_CHECKS.items():
                if name not in self.violated:
                    self.check(name, fn(self.world, self.cfg))

    def model_error(self, exc: Exception) -> None:
        """The model itself failed (a party got a message it does not expect, a connection
        opened twice, ...): not a property verdict. Recorded with its steps; the run goes idle."""
        text = f"{type(exc).__name__}: {exc}"
        seen = self.tally.errors.get(text)
        if seen is None or len(seen) > len(self.steps):
            self.tally.errors[text] = list(self.steps)
        self.dead = True

    def take(self, kind: type, pick: int) -> None:
        if self.dead:
            return
        options = self.enabled_of(kind)
        action = options[pick % len(options)]
        step = step_of(action, self.world)
        if isinstance(action, A.NetworkDelivers):
            head = next(h for h in self.world.net.heads()
                        if (h.conn, h.to_server) == (action.conn, action.to_server))
            step["msg"] = type(head.msg).__name__
        elif isinstance(action, A.ClockFiresTimer):
            t = self.world.clock.next()
            step.update(timer=t.name, party=t.party)
        elif isinstance(action, A.UserSelectsRegion) and step["step"] == "switch_region":
            self.switched = True
        self.steps.append(step)
        try:
            self.world = W.step(self.world, action, self.cfg)
        except Violation:
            raise
        except MODEL_ERRORS as exc:
            return self.model_error(exc)
        self._kinds = None
        self.check_safety(self.world)   # also an invariant; here so steps are attributed at once
        if self.calm:
            self.run_settle()

    def run_settle(self) -> None:
        self.run_macro({"step": "settle"}, W.settle)

    def run_macro(self, step: dict, run, *args) -> None:
        """A macro step (`settle`, `advance`): the system runs normally; safety is checked after
        every micro step it takes, the quiescence properties at the end."""
        if self.dead:
            return
        self.steps.append(step)
        self.inside = []

        def on_step(action, world, records):
            self.inside.append(action)
            self.check_safety(world)
        try:
            self.world = run(self.world, *args, self.cfg, on_step, records=False)
        except Violation:
            raise
        except MODEL_ERRORS as exc:
            return self.model_error(exc)
        finally:
            self.inside = None
        self._kinds = None
        self.check_quiescent()

    # --- rules: the environment's actions, one per kind ---------------------------------------
    @precondition(lambda self: self.enabled_of(A.UserSelectsRegion))
    @rule(pick=PICK)
    def user_selects_region(self, pick):
        self.take(A.UserSelectsRegion, pick)

    @precondition(lambda self: self.enabled_of(A.MobileSpeaks))
    @rule()
    def mobile_speaks(self):
        self.take(A.MobileSpeaks, 0)

    @precondition(lambda self: self.enabled_of(A.UserSetsMic))
    @rule()
    def user_sets_mic(self):
        self.take(A.UserSetsMic, 0)

    @precondition(lambda self: self.enabled_of(A.GlassesSocketDrops))
    @rule()
    def glasses_socket_drops(self):
        self.take(A.GlassesSocketDrops, 0)

    @precondition(lambda self: self.enabled_of(A.GrpcStreamErrors))
    @rule(pick=PICK)
    def grpc_stream_errors(self, pick):
        self.take(A.GrpcStreamErrors, pick)

    @precondition(lambda self: self.enabled_of(A.LiveKitSignalLost))
    @rule(pick=PICK)
    def livekit_signal_lost(self, pick):
        self.take(A.LiveKitSignalLost, pick)

    @precondition(lambda self: self.enabled_of(A.NetworkDelivers))
    @rule(pick=PICK)
    def network_delivers(self, pick):
        self.take(A.NetworkDelivers, pick)

    @precondition(lambda self: self.enabled_of(A.ClockFiresTimer))
    @rule()
    def clock_fires_timer(self):
        self.take(A.ClockFiresTimer, 0)

    @rule(ms=st.sampled_from(W.ADVANCE_MS))
    def clock_advances(self, ms):
        if not self.calm:
            options = self.enabled_of(A.ClockAdvances)
            if A.ClockAdvances(ms) in options:
                return self.take(A.ClockAdvances, options.index(A.ClockAdvances(ms)))
        # calm, or a bare tick would pass a message's delivery deadline (message_delay=bounded,
        # world.tick_overdue): time passes with the system running normally
        self.run_macro({"step": "advance", "seconds": ms / 1000}, W.advance, ms)

    @rule()
    def settle(self):
        self.run_settle()

    # --- safety: after every rule --------------------------------------------------------------
    @invariant()
    def one_bridge_per_room_strict(self):
        self.check_once("OneBridgePerRoomStrict", P.one_bridge_per_room_strict)

    @invariant()
    def no_stale_token_use(self):
        self.check_once("NoStaleTokenUse", P.no_stale_token_use)

    @invariant()
    def bridge_never_crashes(self):
        self.check_once("BridgeNeverCrashes", P.bridge_never_crashes)

    def check_once(self, name: str, fn) -> None:
        """`check` the property on the world now, unless the run already holds its verdict (the
        property is pure: not evaluating it changes nothing)."""
        if name not in self.violated:
            self.check(name, fn(self.world, self.cfg))

    def teardown(self):
        if self.failed or self.dead:
            return
        self.run_settle()
        if self.dead or self.failed:
            return
        t = self.tally
        t.runs += 1
        t.steps += len(self.steps)
        for name in P.NAMES:
            if name not in self.violated:
                t.checked[name] = t.checked.get(name, 0) + 1
        for name, seen in P.witnesses(self.world).items():
            t.witnesses[name] += seen


# --- the factory --------------------------------------------------------------------------------

def _camel(name: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in re.split(r"[^0-9A-Za-z]+", name) if w)


def class_name(fix_set: str, profile: str, environment: str = DEFAULT_ENVIRONMENT) -> str:
    suffix = "" if environment == DEFAULT_ENVIRONMENT else f"_{_camel(environment)}"
    return f"{_camel(fix_set)}_{_camel(profile)}{suffix}"


def machine_for(fix_set: str, profile: str = REFERENCE_PROFILE, *, cfg: Config | None = None,
                register: bool = True, environment: str = DEFAULT_ENVIRONMENT
                ) -> type[HandoverMachine]:
    """The machine class for one fix set under one assumption profile, registered in this module.

    `profile` is a name in `config.PROFILES`, or any label when `cfg` is given (a custom
    assumption set, or a test-only configuration)."""
    if environment not in ENVIRONMENTS:
        raise ValueError(f"unknown environment {environment!r} (known: {', '.join(ENVIRONMENTS)})")
    name = class_name(fix_set, profile, environment)
    existing = globals().get(name)
    if existing is not None and cfg is None:
        return existing
    if cfg is None:
        cfg = make_config([fix_set], profile)
    cls = type(name, (HandoverMachine,), {
        "fix_set": fix_set, "profile": profile, "cfg": cfg, "tally": Tally(),
        "environment": environment,
        "__module__": __name__, "__qualname__": name,
        "__doc__": f"{fix_set} under the assumption profile {profile}, environment "
                   f"{environment}."})
    if register:
        globals()[name] = cls
        cls.TestCase.__name__ = f"Test{name}"
    return cls


def variant(base: type[HandoverMachine], targets, require_switch: bool = False,
            calm: bool = False) -> type[HandoverMachine]:
    """The same machine (same name, so the printed replay stays valid) raising only for `targets`,
    with a fresh tally."""
    return type(base.__name__, (base,), {"targets": frozenset(targets), "tally": Tally(),
                                         "require_switch": require_switch, "calm": calm,
                                         "__module__": __name__, "__qualname__": base.__name__})


def label_assumptions(values: dict) -> str:
    """A profile label for a custom assumption set: "topology=per-region,pods_per_region=2"."""
    ref = assumptions_for()
    return ",".join(f"{k}={str(v).lower()}" for k, v in values.items() if ref.get(k) != v) \
        or REFERENCE_PROFILE


for _fix_set in __import__("fixes").known():
    for _profile in PROFILES:
        machine_for(_fix_set, _profile)


# --- search -------------------------------------------------------------------------------------

@attrs.define(eq=False)
class Finding:
    prop: str
    detail: str
    steps: list            # trace steps as Hypothesis shrank them


@attrs.define(eq=False)
class SearchResult:
    fix_set: str
    profile: str
    cfg: Config
    runs: dict = attrs.Factory(dict)            # property -> completed runs in which it held
    findings: dict = attrs.Factory(dict)        # property -> Finding
    diagnostics: dict = attrs.Factory(dict)     # diagnostic -> Finding (shortest seen, unshrunk)
    errors: list = attrs.Factory(list)          # (error text, steps): model errors
    witnesses: dict = attrs.Factory(dict)
    examples: int = 0
    steps: int = 0
    rounds: int = 0
    seconds: float = 0.0

    def trace_of(self, finding: Finding) -> Trace:
        return make_trace(finding.steps, self.cfg, finding.prop)


def make_trace(steps: list, cfg: Config, prop: str | None = None, name: str = "") -> Trace:
    ref = assumptions_for()
    assumptions = tuple((k, v) for k, v in cfg.assumptions.items() if ref.get(k) != v)
    expect = (("violates", (prop,)),) if prop else ()
    return Trace(tuple(_freeze(s) for s in steps), assumptions, tuple(cfg.fixes), expect, name)


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for e in exc.exceptions for leaf in _leaves(e)]
    return [exc]


def search(fix_set: str, profile: str = REFERENCE_PROFILE, *, cfg: Config | None = None,
           settings: Settings | None = None, mode: str = "explore", properties=P.ALL,
           require_switch: bool = False, max_rounds: int = 8,
           environment: str = DEFAULT_ENVIRONMENT, seed: int | None = DEFAULT_SEED,
           calm: bool = False) -> SearchResult:
    """Search for violations of each of `properties`; each one found is a Finding with its steps.

    mode "explore": one Hypothesis run in which nothing raises; every violation is recorded with
    the shortest steps seen (no masking, no Hypothesis shrinking: `model.engines.shrink` does it).
    mode "rounds": Hypothesis runs that raise for the properties not found yet, each property its
    own bug, shrunk by Hypothesis; a found property stops being a target (module docstring)."""
    settings = settings or SETTINGS["dev"]
    base = machine_for(fix_set, profile, cfg=cfg, environment=environment)
    result = SearchResult(fix_set, profile, base.cfg, witnesses={n: 0 for n in P.WITNESSES})
    wanted = [p for p in P.ALL if p in properties]
    start = time.perf_counter()
    if mode == "explore":
        machine = seeded(variant(base, (), require_switch, calm), seed, fix_set, profile,
                         environment, "calm" if calm else 1)
        run_state_machine_as_test(machine, settings=settings)
        result.rounds = 1
        _absorb(result, machine.tally, [])
        for name in wanted:
            if name in machine.tally.recorded:
                detail, steps = machine.tally.recorded[name]
                result.findings[name] = Finding(name, detail, steps)
    elif mode == "rounds":
        remaining = wanted
        while remaining and result.rounds < max_rounds:
            result.rounds += 1
            machine = seeded(variant(base, remaining, require_switch, calm), seed, fix_set, profile,
                             environment, result.rounds)
            found: list[BaseException] = []
            try:
                run_state_machine_as_test(machine, settings=settings)
            except Exception as exc:  # noqa: BLE001 - Violations and model errors, sorted below
                found = _leaves(exc)
            new = _absorb(result, machine.tally, found)
            remaining = [p for p in remaining if p not in result.findings]
            if not new:
                break
    else:
        raise ValueError(f"unknown search mode {mode!r} (explore, rounds)")
    result.seconds = time.perf_counter() - start
    return result


def _absorb(result: SearchResult, t: Tally, found: list[BaseException]) -> int:
    for name, n in t.checked.items():
        result.runs[name] = result.runs.get(name, 0) + n
    for name, n in t.witnesses.items():
        result.witnesses[name] += n
    result.examples += t.runs
    result.steps += t.steps
    for name in P.DIAGNOSTICS:
        seen, known = t.recorded.get(name), result.diagnostics.get(name)
        if seen is not None and (known is None or len(seen[1]) < len(known.steps)):
            result.diagnostics[name] = Finding(name, seen[0], seen[1])
    for text, steps in t.errors.items():
        if text not in dict(result.errors):
            result.errors.append((text, steps))
    new = 0
    for exc in found:
        if isinstance(exc, Violation):
            if exc.prop not in result.findings:
                result.findings[exc.prop] = Finding(exc.prop, exc.detail, exc.steps)
                new += 1
        else:
            result.errors.append((f"{type(exc).__name__}: {exc}", []))
    return new


def seeded(machine: type[HandoverMachine], seed: int | None, *parts: object
           ) -> type[HandoverMachine]:
    """The machine with its Hypothesis seed set (`cell_seed(seed, *parts)`); unchanged when
    `seed` is None (Hypothesis's own randomness)."""
    if seed is None:
        return machine
    return hypothesis_seed(cell_seed(seed, *parts))(machine)


def observe(fix_set: str, profile: str = REFERENCE_PROFILE, *, cfg: Config | None = None,
            settings: Settings | None = None, environment: str = DEFAULT_ENVIRONMENT,
            seed: int | None = DEFAULT_SEED) -> Tally:
    """Run the machine with no target (nothing raises) and return what it saw: witnesses, and
    the violations recorded (with their unshrunk steps)."""
    base = machine_for(fix_set, profile, cfg=cfg, environment=environment)
    machine = seeded(variant(base, ()), seed, fix_set, profile, environment, "observe")
    run_state_machine_as_test(machine, settings=settings or SETTINGS["dev"])
    return machine.tally


__all__ = ["HandoverMachine", "SETTINGS", "Violation", "VIOLATIONS", "machine_for", "search",
           "observe", "settings_for", "make_trace", "SearchResult", "Finding", "FORMAT"]
