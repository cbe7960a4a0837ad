"""Message latencies and user-side durations for the timed engine (`model.engines.timed`), in one place.

Theory of operation. The untimed model delivers a message whenever an engine chooses; the timed
engine gives each message a delivery time = send time + a latency drawn for its *link*, the kind of
path the message travels (`link_of`). A latency is a log-normal distribution given by its median
and its 95th percentile, drawn in whole milliseconds with an explicit `random.Random` (no global
randomness). A channel stays FIFO: a message never overtakes an earlier one on its channel (the
engine delivers at `max(drawn time, previous delivery on the channel)`).

Where a number comes from: `source` says so. The facts (`../shared/design/system-facts.md`,
`fidelity-audit.md`) fix the *structure* (which hops are internet, which a local socket, what the
switch UI does) but no network figures; every network figure here is an estimate and says so.
docs/timing.md lists them all and explains the estimates from the model's own counterexamples.
"""
from __future__ import annotations

import math
import random

import attrs

from model.system.network import Conn
from model.system.parties.party import split


@attrs.frozen
class Latency:
    """A log-normal latency: half the draws are below `median_ms`, 95 % below `p95_ms`."""
    name: str
    median_ms: float
    p95_ms: float
    source: str

    @property
    def sigma(self) -> float:
        return math.log(self.p95_ms / self.median_ms) / 1.6448536269514722 if self.median_ms else 0.0

    def draw(self, rng: random.Random) -> int:
        if self.median_ms <= 0:
            return 0
        return int(round(rng.lognormvariate(math.log(self.median_ms), self.sigma)))

    @property
    def typical(self) -> int:
        return int(round(self.median_ms))


ESTIMATE = "estimate (no figure in the facts)"

PHONE_REGION = Latency(
    "phone_region", 45, 160,
    "glasses WebSocket, phone -> region over the internet (WebSocketManager.ts:43-95); " + ESTIMATE)
REST = Latency(
    "rest", 70, 300,
    "one leg of a REST call (half a round trip; RestComms.authenticatedRequest l.129, a new HTTPS "
    "request each time); " + ESTIMATE)
REGION_BRIDGE = Latency(
    "region_bridge", 1, 4,
    "gRPC between the cloud process and its Go bridge sidecar on a unix socket or local TCP "
    "(system-facts.md, Parties); " + ESTIMATE)
BRIDGE_LIVEKIT = Latency(
    "bridge_livekit", 30, 120,
    "the bridge's LiveKit signal connection, datacenter -> LiveKit (service.go:136-141); "
    + ESTIMATE)
PHONE_LIVEKIT = Latency(
    "phone_livekit", 80, 350,
    "the phone's LiveKit signal connection over the mobile internet (LivekitManager.ts:30-61); "
    + ESTIMATE)
LOCAL_AWAIT = Latency(
    "local_await", 5, 60,
    "an await on local I/O: room.disconnect(), dispose()'s analytics and location awaits "
    "(UserSession.ts:596-679; fidelity-audit.md says analytics does no I/O); " + ESTIMATE)
CPU = Latency(
    "cpu", 0, 0,
    "prompt CPU-only work (a goroutine handing a packet to a channel, effects.Await(prompt=True)): "
    "0 ms; ordered before the network at the same instant")

LINKS: dict[str, Latency] = {x.name: x for x in (PHONE_REGION, REST, REGION_BRIDGE, BRIDGE_LIVEKIT,
                                                 PHONE_LIVEKIT, LOCAL_AWAIT, CPU)}


def link_of(conn: Conn) -> str:
    """The link a connection's messages travel, from its kind and who opened it."""
    if conn.kind == "ws":
        return PHONE_REGION.name
    if conn.kind == "rest":
        return REST.name
    if conn.kind in ("grpc", "stream"):
        return REGION_BRIDGE.name
    if conn.kind == "signal":
        return PHONE_LIVEKIT.name if split(conn.client)[0] == "mobile" else BRIDGE_LIVEKIT.name
    if conn.kind == "local":
        return CPU.name if conn.id.endswith("/cpu") else LOCAL_AWAIT.name
    raise ValueError(f"no latency for connection {conn.id} of kind {conn.kind!r}")


# --- the switch UI (user side) ------------------------------------------------------------------

URL_TEST_TIMEOUT_MS = 5_000
"""The switch screen tests `<url>/apps/version` with a 5 s timeout before it offers the switch
(developer.tsx:51-103, fidelity-audit.md "Instant switches")."""

ALERT_OK = Latency(
    "alert_ok", 1_500, 4_000,
    "the user reads the 'switch backend?' alert and presses OK (developer.tsx:51-103); " + ESTIMATE)

INIT_ROUND_TRIPS = 2
"""After OK the app goes to /init: a version check and `exchangeToken`, two REST round trips,
before `socketComms.setAuthCreds` opens the new socket (init.tsx:110-131, SocketComms.ts:77-83)."""

USER_SIDE: dict[str, Latency] = {ALERT_OK.name: ALERT_OK}


class Sampler:
    """Draws latencies from one `random.Random`; `typical=True` always gives the medians (used by
    the race-window measurement, which varies one delay at a time). `scale` multiplies every
    network latency (not the user's own time, `USER_SIDE`): a sensitivity check on the
    estimates (`handover estimate --latency-scale`)."""

    def __init__(self, rng: random.Random | None = None, typical: bool = False,
                 scale: float = 1.0):
        self.rng = rng or random.Random(0)
        self.typical = typical
        self.scale = scale

    def draw(self, latency: Latency) -> int:
        ms = latency.typical if self.typical else latency.draw(self.rng)
        if self.scale != 1.0 and latency.name not in USER_SIDE:
            ms = int(round(ms * self.scale))
        return ms

    def link(self, conn: Conn) -> int:
        name = link_of(conn)
        if name not in LINKS:
            raise ValueError(f"no latency named {name!r} for connection {conn.id}")
        return self.draw(LINKS[name])

    def rest_round_trip(self) -> int:
        return self.draw(REST) + self.draw(REST)

    def switch_ui(self) -> int:
        """From pressing Save on the switch screen to the new socket opening: the URL test (a REST
        round trip, at most the 5 s timeout), the alert, then /init's round trips."""
        test = min(self.rest_round_trip(), URL_TEST_TIMEOUT_MS)
        return test + self.draw(ALERT_OK) + sum(self.rest_round_trip()
                                                for _ in range(INIT_ROUND_TRIPS))
