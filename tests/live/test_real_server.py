"""The conformance scenarios against a real livekit-server, and the server fixture itself."""

from __future__ import annotations

import os
import socket
import subprocess
import time

import jwt
import pytest

from model.live.conformance import (
    EXPECTED,
    REFUSAL_INVALID_API_KEY,
    REFUSAL_TOKEN_EXPIRED,
    SCENARIOS,
    compare,
    refreshed_tokens,
)
from model.live.server import BUILD_SCRIPT, LOOPBACK, LiveKitServer, ServerStartError

from .conftest import run_with_sides

pytestmark = pytest.mark.live


# -- conformance -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_matches_livekit_facts(name, deployment_a, deployment_b):
    observed = run_with_sides(SCENARIOS[name], deployment_a, deployment_b)
    diffs = compare(observed, EXPECTED[name])
    assert not diffs, f"{name}: real server differs from livekit-facts.md:\n" + "\n".join(diffs)


def test_scenarios_and_expectations_cover_each_other():
    assert set(SCENARIOS) == set(EXPECTED)


# -- exact shapes of what the real server and SDK report ----------------------------------------


def test_refusals_surface_as_connect_error_with_401_text(deployment_a, deployment_b):
    """A refused join raises livekit.rtc.ConnectError whose message carries the HTTP status and
    the server's reason text (recorded in docs/livekit-server.md)."""
    from livekit import rtc

    async def go(a, b):
        room = a.unique("refuse")
        out = {}
        for label, token in {
            "foreign": b.mint("x", room),
            "expired": a.mint("y", room, exp_offset_s=-90),
        }.items():
            r = rtc.Room()
            try:
                await r.connect(a.url, token)
            except rtc.ConnectError as exc:
                out[label] = exc.message
            else:  # pragma: no cover - would be a conformance failure
                await r.disconnect()
                out[label] = None
        out["foreign_join"] = await a.join("f", "f", room, b.mint("f", room))
        return out

    out = run_with_sides(go, deployment_a, deployment_b)
    assert out["foreign"] == (
        f"engine: signal failure: client error: 401 Unauthorized - invalid API key: {deployment_b.key}"
    )
    assert out["expired"].startswith(
        "engine: signal failure: client error: 401 Unauthorized - invalid token: "
    )
    assert "token is expired" in out["expired"]
    j = out["foreign_join"]
    assert (j.ok, j.status, j.refusal) == (False, 401, REFUSAL_INVALID_API_KEY)
    assert j.reason == f"invalid API key: {deployment_b.key}"


def test_expired_reason_text_drops_the_echoed_token(deployment_a, deployment_b):
    async def go(a, b):
        room = a.unique("refuse")
        return await a.join("e", "e", room, a.mint("e", room, exp_offset_s=-90))

    j = run_with_sides(go, deployment_a, deployment_b)
    assert (j.ok, j.status, j.refusal) == (False, 401, REFUSAL_TOKEN_EXPIRED)
    assert j.reason.startswith("invalid token: ") and "eyJ" not in j.reason
    assert "token is expired" in j.reason


def test_refresh_token_arrives_at_join_and_its_lifetime(deployment_a, livekit_version):
    """The refresh token comes with the join (before connect() returns or right after). Its life:
    10 min for a short-lived original; for a long-lived original, v1.13.x keeps the original's exp
    (roommanager.refreshToken: validFor = max(10 min, time left)), v1.9.x gives 10 min."""

    async def go(a):
        room = a.unique("refresh")
        t0 = a.now()
        await a.join("long", "long", room, a.mint("long", room, ttl_s=3600))
        await a.join("short", "short", room, a.mint("short", room, ttl_s=120))
        await a.settle(0.3)
        first = [e for e in a.events("long") if e["kind"] == "token_refreshed"]
        return {
            "delay_s": first[0]["at"] - t0 if first else None,
            "long": jwt.decode(refreshed_tokens(a, "long")[0], options={"verify_signature": False}),
            "short": jwt.decode(refreshed_tokens(a, "short")[0], options={"verify_signature": False}),
            "now": time.time(),
        }

    out = run_with_sides(go, deployment_a)
    assert out["delay_s"] is not None and out["delay_s"] < 2.0
    short = out["short"]
    assert short["exp"] - short["nbf"] == 600
    assert short["iss"] == deployment_a.key and short["sub"] == "short"
    long_life = out["long"]["exp"] - out["now"]
    major_minor = tuple(int(x) for x in livekit_version.split(".")[:2])
    assert major_minor in ((1, 9), (1, 13)), f"livekit-server {livekit_version} is not supported"
    if major_minor == (1, 13):
        assert 3590 <= long_life <= 3601, long_life
    else:
        assert 590 <= long_life <= 601, long_life


# -- the server fixture ------------------------------------------------------------------------


def test_deployment_binds_only_loopback(deployment_a, deployment_b):
    for dep in (deployment_a, deployment_b):
        sockets = dep.listening_sockets()
        assert sockets, "no sockets found for the server process"
        assert {addr for _, addr, _ in sockets} == {LOOPBACK}, sockets
        assert ("tcp", LOOPBACK, dep.port) in sockets
        assert ("udp", LOOPBACK, dep.udp_port) in sockets
        assert dep.url == f"ws://{LOOPBACK}:{dep.port}"
        assert dep.http_url == f"http://{LOOPBACK}:{dep.port}"


def test_two_deployments_are_independent(deployment_a, deployment_b):
    assert deployment_a.port != deployment_b.port
    assert deployment_a.udp_port != deployment_b.udp_port
    assert deployment_a.key != deployment_b.key
    assert deployment_a.secret != deployment_b.secret
    assert deployment_a.running and deployment_b.running


def test_server_stops_cleanly(livekit_binary):
    server = LiveKitServer(name="stopper", binary=livekit_binary)
    with server:
        pid, port = server.pid, server.port
        assert server.running
    assert not server.running
    assert server.last_exit_code == 0
    assert not os.path.exists(f"/proc/{pid}")  # exited and reaped
    with socket.socket() as s:  # nobody listens on the port any more (TIME_WAIT is fine)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((LOOPBACK, port))
    server.cleanup()


def test_server_is_stopped_when_the_body_raises(livekit_binary):
    server = LiveKitServer(name="raiser", binary=livekit_binary)
    with pytest.raises(RuntimeError, match="boom"):
        with server:
            assert server.running
            raise RuntimeError("boom")
    assert not server.running
    server.cleanup()


def test_start_failure_is_reported_and_process_reaped(livekit_binary, deployment_a):
    # The signal port is taken by deployment_a: the new server must exit, and start() say so.
    server = LiveKitServer(name="clash", binary=livekit_binary, port=deployment_a.port, start_timeout_s=10)
    t0 = time.monotonic()
    try:
        with pytest.raises(ServerStartError) as info:
            server.start()
        assert time.monotonic() - t0 < 10
        assert "clash" in str(info.value)
        assert not server.running
        assert deployment_a.running
    finally:
        server.cleanup()


# -- the build script --------------------------------------------------------------------------


def test_build_script_is_idempotent(livekit_binary):
    """A second run uses the cached binary the fixture got, and builds nothing."""
    if os.environ.get("HANDOVER_LIVEKIT_SERVER"):
        env = {**os.environ, "HANDOVER_CACHE": str(livekit_binary.parents[2]),
               "LIVEKIT_SERVER_VERSION": livekit_binary.parent.name}
        if not (livekit_binary.parent.name.startswith("v")
                and livekit_binary.parents[1].name == "livekit-server"):
            pytest.fail(f"HANDOVER_LIVEKIT_SERVER={livekit_binary} is not a binary the build script "
                        "made; point it at <cache>/livekit-server/<version>/server")
    else:
        env = dict(os.environ)
    proc = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=60,
                          env=env)
    assert proc.returncode == 0, proc.stderr
    assert "building" not in proc.stderr and "using livekit-server v" in proc.stderr
    assert proc.stdout.strip().splitlines() == [str(livekit_binary)]


def test_server_stops_with_a_participant_still_connected(livekit_binary):
    """A plain SIGTERM makes livekit-server wait for participants to leave; stop() forces it."""
    import asyncio

    from model.live.real_side import RealLiveKit

    server = LiveKitServer(name="busy", binary=livekit_binary, stop_timeout_s=5)
    server.start()
    try:

        async def go():
            side = RealLiveKit(server)
            room = side.unique("busy")
            assert (await side.join("p", "p", room, side.mint("p", room))).ok
            t0 = time.monotonic()
            code = await asyncio.to_thread(server.stop)
            took = time.monotonic() - t0
            await side.aclose()
            return code, took

        code, took = asyncio.run(go())
    finally:
        server.cleanup()
    assert code == 0
    assert took < 5
