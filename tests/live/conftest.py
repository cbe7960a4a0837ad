"""Fixtures that run real livekit-server deployments on 127.0.0.1.

The binary comes from scripts/build-livekit-server.sh (or HANDOVER_LIVEKIT_SERVER). If it cannot be
found or built, the live tests are skipped locally with the reason, and FAIL in CI (CI=true).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest

from model.live.server import (
    LiveKitServer,
    ServerBinaryUnavailable,
    find_server_binary,
    server_version,
)

# Small server-wide room timers (seconds) so room-closing tests are quick.
EMPTY_TIMEOUT_S = 10
DEPARTURE_TIMEOUT_S = 3


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def livekit_binary(request) -> Path:
    """The binary (built on first use); its version is printed in the run's output. Without one
    the live tests are skipped locally (pytest -rs shows why) and FAIL in CI (CI=true)."""
    try:
        binary = find_server_binary()
    except ServerBinaryUnavailable as exc:
        if _in_ci():
            pytest.fail(f"livekit-server binary unavailable in CI: {exc}", pytrace=False)
        pytest.skip(f"livekit-server binary unavailable: {exc}")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"\nlivekit-server {server_version(binary)}: {binary}")
    return binary


@pytest.fixture(scope="session")
def livekit_version(livekit_binary: Path) -> str:
    return server_version(livekit_binary)


def _deployment(binary: Path, name: str):
    server = LiveKitServer(
        name=name,
        binary=binary,
        empty_timeout_s=EMPTY_TIMEOUT_S,
        departure_timeout_s=DEPARTURE_TIMEOUT_S,
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()
        server.cleanup()


@pytest.fixture(scope="session")
def deployment_a(livekit_binary: Path):
    yield from _deployment(livekit_binary, "a")


@pytest.fixture(scope="session")
def deployment_b(livekit_binary: Path):
    yield from _deployment(livekit_binary, "b")


def run_with_sides(
    fn: Callable[..., Awaitable[Any]], *servers: LiveKitServer, timeout_s: float = 60.0
) -> Any:
    """asyncio.run(fn(side_a, side_b, ...)) with one RealLiveKit per server, always closed."""
    from model.live.real_side import RealLiveKit

    async def main() -> Any:
        sides = [RealLiveKit(s) for s in servers]
        try:
            return await asyncio.wait_for(fn(*sides), timeout_s)
        finally:
            for side in sides:
                await side.aclose()

    return asyncio.run(main())
