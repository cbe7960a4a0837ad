"""Model bugs the driver found, pinned as plain tests."""
import pytest

from model.system import world as W
from model.system.actions import MobileSpeaks, UserSelectsRegion, UserSetsMic
from fixes import make_config
from model.engines.runner import run
from model.engines.trace import parse


def trace(steps):
    return parse({"format": "handover.trace/1", "steps": steps})


def test_a_restarted_pod_opens_fresh_connections():
    """A bridge crash restarts both pods; their new connections must not reuse the dead ones'
    ids ("connection region:france/grpc2 opened twice")."""
    r = run(trace([{"step": "connect", "region": "france"}, {"step": "settle"},
                   {"step": "speak"},
                   {"step": "deliver", "conn": "mobile/lk4", "to": "server"},
                   {"step": "deliver", "conn": "bridge:france/lk1", "to": "client"},
                   {"step": "grpc_stream_error", "region": "france"},
                   {"step": "deliver", "conn": "region:france/grpc2.s1", "to": "server"},
                   {"step": "settle"}, {"step": "speak"}, {"step": "settle"}]))
    assert r.violated == ["BridgeNeverCrashes"]
    region = r.world.parties["region:france"]
    assert region.alive and region.life == 1
    assert any(c.startswith("region:france~1/grpc") for c in r.world.net.conns.keys())
    assert r.world.parties["region:france"].pipeline[-1] == ("audio-2", "livekit")


@pytest.mark.parametrize("action,first", [
    (UserSelectsRegion("france"), UserSelectsRegion("france")),
    (UserSetsMic(True), None),
    (MobileSpeaks(), UserSetsMic(False)),
])
def test_step_refuses_what_enabled_does_not_offer(action, first):
    cfg = make_config()
    w = W.initial(cfg)
    if first is not None:
        w = W.step(w, first, cfg)
    assert action not in W.enabled(w, cfg)
    with pytest.raises(W.Impossible):
        W.step(w, action, cfg)
