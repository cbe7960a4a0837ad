"""Counterexample classes (`model/engines/classify.py`) on pinned step lists, one or more per class."""
from __future__ import annotations

import pytest

from model.engines import classify as C
from model.engines import runner
from fixes import make_config
from model.engines.trace import TraceError, parse

REF = make_config(["baseline"], "adversarial")   # instant switches and joins, as the traces were cut


def S(kind, **fields):
    return {"step": kind, **fields}


SETTLE = S("settle")

# The report's reproduction: every user step followed by a settle (model/corpus/report-repro-*).
REPORT_REPRO = [S("connect", region="cloud-debug"), SETTLE, S("speak"), SETTLE,
                S("switch_region", to="cloud-livekit"), SETTLE, S("switch_region", to="france"),
                SETTLE]
# Switch away and back within the grace period, time passing normally in between.
AWAY_AND_BACK = [S("connect", region="cloud-debug"), SETTLE, S("switch_region", to="france"),
                 S("advance", seconds=30), S("switch_region", to="cloud-debug"), SETTLE]
# The driver's shrunk counterexample: away and back before the first switch settled.
QUICK = [S("connect", region="cloud-livekit"), S("switch_region", to="cloud-debug"),
         S("switch_region", to="cloud-livekit"), S("ws_drop"), SETTLE]
# The first connect spelled out: the ACK overtakes the audio stream's opening (not the oldest).
_HEADS = [("mobile/ws1", "server"), ("region:france/grpc2", "server"),
          ("bridge:france/lk1", "server"), ("bridge:france/lk1", "client"),
          ("region:france/grpc2", "client")]
CANONICAL = ([S("connect", region="france")] + [S("deliver", conn=c, to=t) for c, t in _HEADS]
             + [S("deliver", conn="region:france/grpc2.s1", to="server"),
                S("deliver", conn="mobile/ws1", to="client"), SETTLE])
REORDERED = ([S("connect", region="france")] + [S("deliver", conn=c, to=t) for c, t in _HEADS]
             + [S("deliver", conn="mobile/ws1", to="client"), SETTLE])
# The phone's 5 s reconnect timer fires while the socket's close is still on its way to the region.
FIRE_RACE = [S("connect", region="france"), SETTLE, S("ws_drop"), S("fire"), SETTLE]
TICK_RACE = [S("connect", region="france"), SETTLE, S("ws_drop"), S("tick", ms=6000), SETTLE]
TICK_CALM = [S("connect", region="france"), SETTLE, S("ws_drop"), SETTLE, S("tick", ms=1000),
             S("switch_region", to="cloud-debug"), SETTLE]
# model/corpus/bridge-panic-on-stream-error.json: a gRPC stream error races a data packet.
FAULT = [S("connect", region="cloud-debug"), SETTLE, S("speak"),
         S("deliver", conn="mobile/lk4", to="server", msg="SendData"),
         S("deliver", conn="bridge:cloud-debug/lk1", to="client", msg="DataReceived"),
         S("grpc_stream_error", region="cloud-debug"),
         S("deliver", conn="region:cloud-debug/grpc2.s1", to="server"),
         S("deliver", conn="bridge:cloud-debug/cpu", to="server", msg="Resumed"), SETTLE]


def test_the_classes_run_from_everyday_to_most_contrived():
    assert list(C.CLASSES) == ["everyday", "quick-succession", "reordered-delivery",
                               "timer-race", "fault"]
    assert all(C.CLASSES.values())


@pytest.mark.parametrize("steps, cls", [
    (REPORT_REPRO, "everyday"),
    (AWAY_AND_BACK, "everyday"),
    (CANONICAL, "everyday"),
    (TICK_CALM, "everyday"),
    (QUICK, "quick-succession"),
    (REORDERED, "reordered-delivery"),
    (FIRE_RACE, "timer-race"),
    (TICK_RACE, "timer-race"),
    (FAULT, "fault"),
], ids=["report-repro", "away-and-back", "canonical-micro", "calm-tick", "quick", "reordered",
        "fire-race", "tick-race", "fault"])
def test_each_pinned_trace_gets_its_class(steps, cls):
    assert C.classify(steps, REF) == cls


def test_a_trace_has_the_class_of_its_most_contrived_ingredient():
    assert C.classes_present(FAULT, REF) == ["reordered-delivery", "fault"]
    assert C.classes_present(REPORT_REPRO, REF) == ["everyday"]


def test_audio_in_flight_is_not_a_second_action():
    steps = [S("connect", region="france"), SETTLE, S("speak"), S("switch_region", to="cloud-debug"),
             SETTLE]
    assert C.classify(steps, REF) == "everyday"
    assert C.classify([S("connect", region="france"), S("speak"),
                       S("switch_region", to="cloud-debug"), SETTLE], REF) == "quick-succession"


def test_a_micro_run_that_reaches_rest_counts_as_a_settle():
    from model.system import world as W
    from model.system.actions import UserSelectsRegion
    w, micro = W.step(W.initial(REF), UserSelectsRegion("france"), REF), []
    while not W.quiescent(w):
        h = W.canonical_head(w)
        assert h is not None, "the first connect sets no activity timer"
        micro.append(S("deliver", conn=h.conn, to="server" if h.to_server else "client"))
        w = runner.apply_step(w, micro[-1], REF)
    steps = [S("connect", region="france")] + micro + [S("switch_region", to="cloud-debug"),
                                                       SETTLE]
    assert C.classify(steps, REF) == "everyday"
    assert C.classify(steps) == "quick-succession"      # the shape alone cannot tell


def test_without_a_config_the_shape_decides():
    assert C.classify(REPORT_REPRO) == "everyday"
    assert C.classify(QUICK) == "quick-succession"
    assert C.classify(FAULT) == "fault"
    assert C.classify([S("connect", region="france"),
                       S("deliver", conn="mobile/ws1", to="server", pod=1), SETTLE]) \
        == "reordered-delivery"


def test_the_class_depends_on_the_config_the_steps_ran_under():
    # with two pods, routing the first connection to pod 1 is not the canonical round robin
    two = make_config(["baseline"], "two-pods")
    steps = [S("connect", region="france"), S("deliver", conn="mobile/ws1", to="server", pod=1),
             SETTLE]
    assert C.classify(steps, two) == "reordered-delivery"
    assert C.classify(steps[:1] + [dict(steps[1], pod=0)] + steps[2:], two) == "everyday"


def test_steps_that_cannot_be_replayed_are_a_one_line_error():
    with pytest.raises(TraceError, match="step 2"):
        C.classify([S("connect", region="france"), S("deliver", conn="nowhere", to="server")], REF)


def test_a_signature_names_property_class_and_story():
    sig = C.signature("AudioReachesActiveRegion", QUICK, REF)
    assert sig == "AudioReachesActiveRegion|quick-succession|connect>switch_region>switch_region>ws_drop"
    other = [S("connect", region="cloud-debug"), S("switch_region", to="france"),
             S("switch_region", to="cloud-debug"), S("ws_drop"), SETTLE]
    assert C.signature("AudioReachesActiveRegion", other, REF) == sig   # regions left out
    assert C.signature("GraceKeepsAudio", QUICK, REF) != sig


def test_pinned_steps_are_valid_trace_steps_and_replay():
    for steps in (REPORT_REPRO, AWAY_AND_BACK, QUICK, REORDERED, CANONICAL, FIRE_RACE, TICK_RACE,
                  TICK_CALM, FAULT):
        trace = parse({"format": "handover.trace/1", "steps": steps})
        runner.run(trace, REF)
