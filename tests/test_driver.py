"""The Hypothesis driver: machines, settings profiles, and that it finds a planted bug."""
from __future__ import annotations

import attrs
import pytest
from hypothesis.stateful import run_state_machine_as_test

import fixes
from model.engines import driver as D
from model.properties import properties as P
from model.engines import runner
from model.system.config import PROFILES
from fixes import make_config
from model.system.effects import Crash
from model.system.fmap import FMap


def planted_crash(b, conn, msg, ctx):
    """Test-only seam: a bridge panics on a JoinRoom for a user it already has a session for,
    where the baseline refuses it (never registered as a fix)."""
    from model.system.parties import bridge
    if msg.user in b.sessions:
        return b, [Crash("panic: planted by tests/test_driver.py")]
    return bridge.join_room(b, conn, msg, ctx)


def planted_config():
    cfg = make_config(["baseline"], "adversarial")   # instant joins: the planted bug is quick to hit
    return attrs.evolve(cfg, fixes=("planted-crash",),
                        seams=FMap.of({"bridge.join_room": planted_crash}))


def test_every_registered_machine_is_a_module_level_class_constructible_without_arguments():
    for fix_set in fixes.known():
        for profile in PROFILES:
            cls = D.machine_for(fix_set, profile)
            assert cls.__name__.isidentifier()
            assert getattr(D, cls.__name__) is cls
            assert cls.__module__ == "model.engines.driver"
    m = D.Baseline_Actual20251017()
    assert m.world.mobile.backend is None
    m.teardown()


def test_one_rule_per_action_kind_plus_settle_and_an_invariant_per_safety_property():
    marked = [getattr(D.HandoverMachine, n) for n in dir(D.HandoverMachine)]
    rules = {f.__name__ for f in marked if hasattr(f, "hypothesis_stateful_rule")}
    assert rules == {"user_selects_region", "mobile_speaks", "user_sets_mic", "glasses_socket_drops",
                     "grpc_stream_errors", "livekit_signal_lost", "network_delivers",
                     "clock_fires_timer", "clock_advances", "settle"}
    invariants = {f.__name__ for f in marked if hasattr(f, "hypothesis_stateful_invariant")}
    assert len(invariants) == len(P.SAFETY) + len(P.DIAGNOSTIC_SAFETY)


def test_settings_profiles():
    assert D.SETTINGS["ci"].derandomize and D.SETTINGS["ci"].database is None
    assert not D.SETTINGS["nightly"].derandomize
    assert D.SETTINGS["nightly"].max_examples > D.SETTINGS["dev"].max_examples
    assert D.settings_for("nightly").database is not None


def test_the_driver_finds_a_planted_bridge_crash_within_a_fixed_budget(tmp_path):
    cfg = planted_config()
    found = D.search("planted-crash", "toy", cfg=cfg,
                     settings=D.settings_for("ci", 30), properties=("BridgeNeverCrashes",))
    f = found.findings["BridgeNeverCrashes"]
    assert "planted" in f.detail
    result = runner.run(D.make_trace(f.steps, cfg, "BridgeNeverCrashes"), cfg)
    assert "BridgeNeverCrashes" in result.violations


def test_rounds_mode_raises_per_property_and_hypothesis_shrinks_it():
    cfg = planted_config()
    found = D.search("planted-crash", "toy", cfg=cfg, mode="rounds", properties=(
        "BridgeNeverCrashes",), settings=D.settings_for("ci", 100, stateful_step_count=15),
        seed=None)      # Hypothesis's own derandomized ci run
    f = found.findings["BridgeNeverCrashes"]
    assert len(f.steps) <= 20
    result = runner.run(D.make_trace(f.steps, cfg, "BridgeNeverCrashes"), cfg)
    assert "BridgeNeverCrashes" in result.violations


def test_the_printed_replay_class_reraises_the_target_violation():
    cls = D.variant(D.machine_for("planted-crash", "toy", cfg=planted_config()),
                    ["BridgeNeverCrashes"])
    with pytest.raises(D.VIOLATIONS["BridgeNeverCrashes"]):
        run_state_machine_as_test(cls, settings=D.settings_for("ci", 30, phases=[
            D.Phase.generate]))


def test_each_property_has_its_own_exception_class():
    assert len({c for c in D.VIOLATIONS.values()}) == len(P.ALL)
    assert all(issubclass(c, AssertionError) for c in D.VIOLATIONS.values())


def test_the_switching_environment_takes_no_gRPC_or_LiveKit_fault():
    from model.system import actions as A
    from fixes import make_config
    import model.system.world as W
    m = D.machine_for("baseline", environment="switching")()
    m.world = W.initial(m.cfg)
    for step in (A.UserSelectsRegion("france"),):
        m.world = W.settle(W.step(m.world, step, m.cfg), m.cfg)
    m._kinds = None
    assert W.enabled(m.world, m.cfg)            # faults are enabled in the world...
    assert any(isinstance(a, A.GrpcStreamErrors) for a in W.enabled(m.world, m.cfg))
    assert m.enabled_of(A.GrpcStreamErrors) == [] and m.enabled_of(A.LiveKitSignalLost) == []
    assert m.enabled_of(A.UserSelectsRegion)     # ...but this environment never takes them
    assert D.class_name("baseline", "actual-2025-10-17", "switching").endswith("_Switching")
