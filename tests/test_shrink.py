"""The trace-level shrinker keeps the violation and removes the steps that do not matter."""
from __future__ import annotations

import pytest

from model.engines import shrink as S
from fixes import make_config
from model.engines.trace import TraceError

CFG = make_config(["baseline"])
CORE = [{"step": "connect", "region": "cloud-debug"},
        {"step": "switch_region", "to": "cloud-livekit"},
        {"step": "settle"}]


def test_the_core_violates_and_a_prefix_does_not():
    assert S.first_violation(CORE, CFG, "OneBridgePerRoomStrict") is not None
    assert S.first_violation(CORE[:1], CFG, "OneBridgePerRoomStrict") is None


def test_irrelevant_steps_are_removed():
    noisy = [{"step": "mic", "on": False}, {"step": "mic", "on": True},
             {"step": "connect", "region": "cloud-debug"}, {"step": "advance", "seconds": 3},
             {"step": "speak"}, {"step": "settle"},
             {"step": "switch_region", "to": "cloud-livekit"}, {"step": "settle"},
             {"step": "settle"}, {"step": "advance", "seconds": 90}, {"step": "speak"}]
    small = S.shrink_steps(noisy, CFG, "OneBridgePerRoomStrict")
    assert len(small) <= 4
    assert S.first_violation(small, CFG, "OneBridgePerRoomStrict") is not None
    assert not any(s["step"] in ("mic", "speak", "advance") for s in small)


def test_runs_of_micro_deliveries_become_one_settle():
    micro = [{"step": "connect", "region": "cloud-debug"},
             {"step": "deliver", "conn": "mobile/ws1", "to": "server", "pod": 0},
             {"step": "switch_region", "to": "cloud-livekit"}, {"step": "settle"}]
    small = S.shrink_steps(micro, CFG, "OneBridgePerRoomStrict")
    assert not any(s["step"] == "deliver" for s in small)


def test_impossible_candidates_are_rejected_not_errors():
    with pytest.raises(TraceError):
        S.first_violation([{"step": "deliver", "conn": "nope/ws9", "to": "server"}], CFG,
                          "OneBridgePerRoomStrict")
    sh = S.Shrinker(CFG, "OneBridgePerRoomStrict")
    assert sh.test([{"step": "deliver", "conn": "nope/ws9", "to": "server"}]) is None


def test_a_trace_without_the_violation_is_refused():
    with pytest.raises(ValueError):
        S.shrink_steps(CORE[:1], CFG, "OneBridgePerRoomStrict")


def test_the_first_selection_is_written_as_connect():
    assert S.normalize([{"step": "switch_region", "to": "france"}])[0] == {
        "step": "connect", "region": "france"}


def test_two_steps_become_one_step_the_found_trace_did_not_take(monkeypatch):
    """Pass 5: deleting alone keeps the road the search took (away and back); replacing a pair of
    steps by an enabled everyday step finds the shorter road (a microphone change)."""
    cfg = make_config(["fix3-region-room-names"])
    found = [{"step": "connect", "region": "cloud-livekit"},
             {"step": "switch_region", "to": "cloud-debug"}, {"step": "settle"},
             {"step": "switch_region", "to": "cloud-livekit"}, {"step": "settle"}]
    small = S.shrink_steps(found, cfg, "BridgeStatusTruthful")
    assert len(small) == 4 and S.first_violation(small, cfg, "BridgeStatusTruthful") is not None
    assert small[2]["step"] == "mic"
    monkeypatch.setattr(S.Shrinker, "substitute_pairs", lambda self, best: best)
    assert len(S.shrink_steps(found, cfg, "BridgeStatusTruthful")) == 5


def test_the_pass_brings_no_fault_into_a_trace_without_one():
    cfg = make_config(["fix3-region-room-names"])
    shrinker = S.Shrinker(cfg, "BridgeStatusTruthful")
    menu = shrinker._menu([{"step": "connect", "region": "cloud-debug"}, {"step": "settle"}],
                          set(S.EVERYDAY))
    assert menu and {m["step"] for m in menu} <= set(S.EVERYDAY)
    assert shrinker.replays == 1
