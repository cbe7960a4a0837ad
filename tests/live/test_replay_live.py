"""Live replay (`handover replay --livekit-dev | --livekit ...`) against real livekit-server.

Every corpus trace that a real server can reproduce is replayed live and must agree with the model
step by step; a counterexample under the shared topology must reproduce its violation; errors,
divergences and interruptions are reported with their exit status, and nothing is left behind.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from model.system.parties import livekit as LK
from model.cli import main
from model.engines.trace import load

pytestmark = pytest.mark.live

CORPUS = sorted(Path(__file__).resolve().parents[2].joinpath("model", "corpus").glob("*.json"))
LIVE_CORPUS = [p for p in CORPUS if "livekit_outage" not in p.read_text()]


@pytest.fixture(autouse=True)
def server_binary(livekit_binary, monkeypatch):
    monkeypatch.setenv("HANDOVER_LIVEKIT_SERVER", str(livekit_binary))


def replay(capsys, *argv) -> tuple[int, dict, str]:
    code = main(["replay", *argv, "--format", "json"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else {}), err


@pytest.mark.parametrize("path", LIVE_CORPUS, ids=lambda p: p.stem)
def test_every_corpus_trace_agrees_with_a_real_server(path, capsys):
    model_code, model, _ = replay(capsys, str(path))
    code, live, err = replay(capsys, str(path), "--livekit-dev")
    assert code != 3, live["live"]["divergence"]
    assert live["live"]["agreed"] and code == model_code, err
    assert live["violated"] == model["violated"]


def test_a_shared_topology_counterexample_reproduces_on_a_real_server(capsys):
    code, live, _ = replay(capsys, "model/corpus/switch-back-within-grace-shared.json", "--livekit-dev")
    assert code == 1
    assert live["live"]["agreed"] and live["live"]["operations"] > 0
    assert "AudioReachesActiveRegion" in live["violated"]


def test_existing_deployment_by_name(deployment_a, capsys):
    a = deployment_a
    code, live, err = replay(capsys, "model/corpus/report-repro-shared.json",
                             "--livekit", f"shared={a.url},{a.key},{a.secret}")
    assert code in (0, 1) and live["live"]["agreed"], err
    assert [r for r in asyncio.run(_rooms(a)) if r.startswith("hv-")] == []


async def _rooms(server):
    from model.live.real_side import RealLiveKit
    side = RealLiveKit(server)
    try:
        return await side.list_rooms()
    finally:
        await side.aclose()


def test_a_divergence_is_reported_with_both_sides(monkeypatch, capsys):
    """A model LiveKit that forgot duplicate-identity kicks must be caught by the real server."""
    real_remove = LK.remove

    def no_kick(lk, room, p, reason, ctx, notify):
        if reason == "DUPLICATE_IDENTITY":
            return LK._put(lk, room.__class__(room.name, room.created, room.participants.delete(
                p.identity))), []
        return real_remove(lk, room, p, reason, ctx, notify)
    monkeypatch.setattr(LK, "remove", no_kick)
    code = main(["replay", "model/corpus/switch-back-within-grace-shared.json", "--livekit-dev"])
    out, _ = capsys.readouterr()
    assert code == 3
    line = out.strip().splitlines()[-1]
    assert line.startswith("live: DIVERGED at step") and "kicks" in line
    assert "model" in line and "real" in line


def test_unreachable_server_is_one_line_and_exit_2(capsys):
    code = main(["replay", "model/corpus/report-repro-shared.json", "--livekit",
                 "shared=ws://127.0.0.1:9,APIx,secretsecretsecretsecretsecret00"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "does not answer" in err and "Traceback" not in err


def test_wrong_key_is_one_line_and_exit_2(deployment_a, capsys):
    a = deployment_a
    code = main(["replay", "model/corpus/report-repro-shared.json", "--livekit",
                 f"shared={a.url},{a.key},wrong-secret-wrong-secret-wrong-secret"])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err


def test_missing_deployment_and_bad_spec(capsys):
    assert main(["replay", "model/corpus/report-repro-shared.json", "--livekit",
                 "france=ws://127.0.0.1:9,k,s"]) == 2
    assert "shared" in capsys.readouterr().err
    assert main(["replay", "model/corpus/report-repro-shared.json", "--livekit", "shared=nope"]) == 2
    assert "NAME=URL,KEY,SECRET" in capsys.readouterr().err


def test_outage_traces_are_refused_as_not_reproducible(tmp_path, capsys):
    trace = tmp_path / "outage.json"
    trace.write_text(json.dumps({"format": "handover.trace/1", "steps": [
        {"step": "connect", "region": "france"}, {"step": "settle"},
        {"step": "livekit_outage", "participant": "mobile", "seconds": 10}]}))
    before = trace.read_text()
    assert main(["replay", str(trace), "--livekit-dev"]) == 2
    assert "livekit_outage" in capsys.readouterr().err
    assert trace.read_text() == before


def test_an_interrupted_replay_leaves_no_room_behind(deployment_a, tmp_path):
    """Ctrl-C in the middle of a replay: exit 130, every room it made is deleted."""
    a = deployment_a
    steps = [{"step": "connect", "region": "cloud-debug"}, {"step": "settle"}]
    steps += [{"step": "speak"}, {"step": "settle"}] * 40
    trace = tmp_path / "long.json"
    trace.write_text(json.dumps({"format": "handover.trace/1", "steps": steps}))
    proc = subprocess.Popen([sys.executable, "-m", "model.cli", "replay", str(trace), "--livekit",
                             f"shared={a.url},{a.key},{a.secret}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(
            r.startswith("hv-") for r in asyncio.run(_rooms(a))):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert [r for r in asyncio.run(_rooms(a)) if r.startswith("hv-")] == []
