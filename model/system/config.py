"""Configuration: regions, assumption parameters, timing constants, and the resolved fix seams.

Everything the facts leave open is an *assumption* (`ASSUMPTIONS`), never a silent choice
(`../shared/design/system-facts.md`, "Unknowns"). A *profile* is a named set of assumption values;
`actual-2025-10-17` is the reference: the code at commit 507b226e4.
"""
from __future__ import annotations

from typing import Any, Callable

import attrs

from model.system.fmap import FMap

USER = "isaiah@mentra.glass"
"""The one user of the model (the report's user). Room name and mobile identity (LiveKitManager.ts:50-52,
livekit.service.ts:59)."""

BRIDGE_IDENTITY = "cloud-agent:" + USER
"""Every region's and pod's bridge joins with this identity (LiveKitManager.ts:183)."""

REGIONS = ("cloud-debug", "cloud-livekit", "france")
"""The report's regions (seed report, "Problem Description")."""

GEO = {"cloud-debug": "centralus", "cloud-livekit": "centralus", "france": "france"}
"""The cloud location of each region (system-facts.md, "Region names used in the report"). Whether
this is the `REGION` env var fix 3 appends to room names is the assumption `region_env`."""

# name -> (allowed values, default in the reference profile, what it means)
ASSUMPTIONS: dict[str, tuple[tuple, Any, str]] = {
    "topology": (("shared", "per-region", "centralus-shared"), "shared",
                 "which regions share one LiveKit deployment (LIVEKIT_URL + key)"),
    "grace_cleanup": ((True, False), True,
                      "GRACE_PERIOD_CLEANUP_ENABLED (websocket-glasses.service.ts:43)"),
    "mobile_disconnects_first": ((True, False), True,
                                 "LivekitManager.connect() disconnects an existing room first "
                                 "(LivekitManager.ts:30-33; report hypothesis H1 says it might not)"),
    "rest_follows_region": ((True, False), True,
                            "REST base URL re-read on every call (settings.ts:358-370; H5 says stale)"),
    "pods_per_region": ((1, 2), 1, "pods per region without sticky routing"),
    "region_env": (("per-location", "per-deployment", "unset"), "per-location",
                   "the REGION env var of each region: set nowhere in the repository, only the "
                   "logger reads it (pino-logger.ts:11); 'centralus' for both centralus regions "
                   "comes from the report's prose (fidelity-audit.md, second audit)"),
    "dispose_location_io": (("timed", "none", "unbounded"), "timed",
                            "dispose()'s `await locationManager.dispose()` (UserSession.ts:637) does "
                            "I/O when a location is cached (LocationManager.ts:371-389): it lasts "
                            "Timing.location_persist; 'none': no location cached; 'unbounded': any "
                            "delivery may overtake it for any time (adversarial)"),
    "app_start": (("timed", "instant"), "timed",
                  "a new session starts its apps before LiveKit init (websocket-glasses.service.ts:"
                  "576-601), taking Timing.app_start; 'instant' joins LiveKit at once"),
    "human_paced_switches": ((True, False), True,
                             "a region switch is human-gated and takes seconds (developer.tsx:51-103, "
                             "init.tsx:110-131): the next switch only Timing.switch_gap after the "
                             "last; False allows any number of switches in one instant "
                             "(adversarial)"),
    "silent_close": ((False, True), False,
                     "True: a glasses socket closed before its first message is delivered is never "
                     "seen as closed by the region (the old model's artifact, adversarial); real: "
                     "every accepted socket fires close (websocket-glasses.service.ts:217-219)"),
    "message_delay": (("bounded", "unbounded"), "bounded",
                      "how long a message may stay in flight: 'bounded' delivers every network "
                      "message within Timing.max_delay of its sending (the clock never passes that "
                      "deadline; a lost message is a fault action instead); 'unbounded' lets any "
                      "message wait while any time passes (full asynchrony, adversarial). The "
                      "facts give no delays: gRPC to the bridge beside the cloud (unix socket or "
                      "TCP), WebSockets, REST and LiveKit signalling take milliseconds to "
                      "hundreds of milliseconds when nothing fails"),
    "stream_eof_cleanup": ((False, True), False,
                           "the bridge's StreamAudio treats a client half-close (io.EOF) like a "
                           "receive error and closes the userId's session (service.go:304-329 names "
                           "receive errors only)"),
}

PROFILES: dict[str, dict[str, Any]] = {
    "actual-2025-10-17": {},
    "grace-off-2025-09": {"grace_cleanup": False},
    "H1-no-disconnect-first": {"mobile_disconnects_first": False},
    "H2-per-region": {"topology": "per-region"},
    "centralus-shared": {"topology": "centralus-shared"},
    "H5-stale-rest": {"rest_follows_region": False},
    "two-pods": {"pods_per_region": 2},
    "eof-cleanup": {"stream_eof_cleanup": True},
    "adversarial": {"dispose_location_io": "unbounded", "human_paced_switches": False,
                    "silent_close": True, "app_start": "instant", "message_delay": "unbounded"},
}
"""Named assumption profiles; omitted keys take the reference values."""

REFERENCE_PROFILE = "actual-2025-10-17"


class ConfigError(ValueError):
    """Bad user input about configuration (unknown assumption, value, fix or profile)."""


def parse_assumption(key: str, raw: Any) -> Any:
    """Validate one assumption; strings such as "true" or "2" (from a CLI) are converted."""
    if key not in ASSUMPTIONS:
        raise ConfigError(f"unknown assumption {key!r} (known: {', '.join(ASSUMPTIONS)})")
    allowed = ASSUMPTIONS[key][0]
    for value in allowed:
        if raw == value or (isinstance(raw, str) and raw.lower() == str(value).lower()):
            if type(raw) is type(value) or isinstance(raw, str):
                return value
    raise ConfigError(f"assumption {key} takes one of {', '.join(map(str, allowed))}, not {raw!r}")


def assumptions_for(profile: str | None = None, **overrides: Any) -> dict[str, Any]:
    if profile is not None and profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r} (known: {', '.join(PROFILES)})")
    values = {k: spec[1] for k, spec in ASSUMPTIONS.items()}
    values.update(PROFILES.get(profile or REFERENCE_PROFILE, {}))
    for k, v in overrides.items():
        values[k] = parse_assumption(k, v)
    return values


@attrs.frozen
class Timing:
    """Timing constants in milliseconds, each with where the real system sets it."""
    grace: int = 60_000                     # RECONNECT_GRACE_PERIOD_MS (websocket-glasses.service.ts:40)
    grpc_retry: int = 2_000                 # LiveKitGrpcClient.ts:307-339
    ws_reconnect: int = 5_000               # WebSocketManager.ts:97-116
    rejoin_throttle: int = 2_000            # rejoinBridge (LiveKitManager.ts:364 at 753b1494c)
    mobile_token_ttl: int = 1_440 * 60_000  # livekit.service.ts:72
    ack_token_ttl: int = 300_000            # mintClientPublishToken (LiveKitManager.ts:58-83)
    bridge_token_ttl: int = 600_000 * 60_000  # "600000m" (LiveKitManager.ts:179-204)
    refresh_interval: int = 300_000         # livekit-facts.md "Tokens": every 5 min
    refresh_ttl: int = 600_000              # valid 10 min
    leeway: int = 60_000                    # pkg/service/auth.go: 60 s leeway on exp/nbf
    departure_timeout: int = 20_000         # room departure_timeout default
    empty_timeout: int = 300_000            # room empty_timeout default
    resume_wait: int = 20_000               # server waits ~10+5+5 s for a resume after ICE loss
    # server-sdk-go v2.10.0: 10 tries, try i after i^2 x 300 ms, stop when the delay passes 60 s
    sdk_retry_delays: tuple = tuple(i * i * 300 for i in range(10))
    sdk_retry_cap: int = 60_000
    # The mobile's LiveKit client SDK resume schedule is not in the facts; the model uses the same
    # schedule as the Go SDK (documented in docs/model.md, "Constants the facts leave open").
    mobile_sdk_retry_delays: tuple = tuple(i * i * 300 for i in range(10))
    pod_restart: int = 10_000               # not in the facts: Kubernetes restarts a dead pod
    # A region switch: Save -> test fetch of <url>/apps/version (5 s timeout) -> alert -> OK ->
    # /init -> version check -> exchangeToken -> setAuthCreds -> new socket (developer.tsx:51-103,
    # init.tsx:110-131, SocketComms.ts:77-83). The human steps take seconds; the model's lower
    # bound between two switches is an estimate (not in the facts).
    switch_gap: int = 3_000
    # A new session starts its apps before handleLiveKitInit (websocket-glasses.service.ts:576-601):
    # each app start may wait up to APP_SESSION_TIMEOUT_MS = 5000 (AppManager.ts:53), the webhook
    # up to 10 s (AppManager.ts:652).
    app_session_timeout: int = 5_000
    app_webhook_timeout: int = 10_000
    # How long the apps' start holds a new session's LiveKit init: bounded by the timeouts above;
    # the model uses one app's timeout (an estimate: the facts give the bounds, not the typical).
    app_start: int = 5_000
    # `await locationManager.dispose()` persisting a cached location (LocationManager.ts:371-389):
    # a local database write; the bound is an estimate (not in the facts).
    location_persist: int = 100
    # MicrophoneManager's debounce before onMicStateChange (MicrophoneManager.ts:79-145, l.128);
    # its length is not in the facts pages: an estimate.
    mic_debounce: int = 1_000
    # The longest a network message stays in flight under `message_delay=bounded`: not in the
    # facts (an estimate, generous for a sidecar's gRPC, a WebSocket or LiveKit signalling).
    max_delay: int = 1_000


@attrs.frozen
class Config:
    regions: tuple = REGIONS
    assumptions: FMap = FMap.of(assumptions_for())
    fixes: tuple = ("baseline",)
    seams: FMap = FMap()
    timing: Timing = Timing()

    def a(self, key: str) -> Any:
        """One assumption value."""
        return self.assumptions[key]

    def seam(self, name: str) -> Callable:
        """The implementation of a named behaviour: the baseline's unless a fix replaces it."""
        from model.system import seams
        return self.seams.get(name) or seams.baseline(name)

    # --- derived topology -------------------------------------------------------------------
    def deployment_of(self, region: str) -> str:
        """The LiveKit deployment (one LIVEKIT_URL + key) a region uses (LiveKitManager.ts:34-36)."""
        topo = self.a("topology")
        if topo == "shared":
            return "shared"
        if topo == "centralus-shared":
            return "centralus" if GEO[region] == "centralus" else region
        return region

    def region_env(self, region: str) -> str | None:
        """process.env.REGION of a region's pods under assumption `region_env` (None: unset)."""
        mode = self.a("region_env")
        if mode == "unset":
            return None
        return GEO[region] if mode == "per-location" else region

    def deployments(self) -> tuple:
        return tuple(sorted({self.deployment_of(r) for r in self.regions}))

    def pods(self) -> tuple:
        """Every (region, pod) pair; pod 0 exists always, pod 1 when pods_per_region is 2."""
        return tuple((r, p) for r in self.regions for p in range(self.a("pods_per_region")))
