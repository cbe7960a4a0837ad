"""The real log statements that matter, mapped to the model's events (`Log.kind` of a party).

Four sources write lines (one JSON object per line):
- `cloud`: the TypeScript cloud, pino JSON (`level` as a number, `time` in epoch ms, `msg`, base
  fields `pid`, `hostname`, and `region`, which the logger reads from `REGION`,
  `pino-logger.ts:11`), with `userId` and `service` bound per module;
- `bridge`: the Go bridge, structured JSON as its Better Stack logger ships it (seed report:
  `service:livekit-bridge`, `user_id`, `session_id`, `room_name`, `error`), `dt` ISO time,
  `message`;
- `mobile`: the phone's console lines (`msg`), as a log collector wraps them
  (`source: "mobile"`, `time`);
- `livekit`: the LiveKit server's JSON log (`logger: "livekit"`, `ts` ISO time, `msg`,
  `room`, `participant`).

Each `Statement` names the model event, the message, where the real code writes it (file:line as
the facts pages give it), and whether the message text is quoted in the facts or the seed report
(`quoted`) or assumed. A model event with no statement here is silent: the real code logs nothing
the facts know of there, or the model's event is an internal one (a packet sent, an SDK resuming).
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs

SOURCES = ("cloud", "bridge", "mobile", "livekit")
EPOCH = datetime(2025, 10, 17, 12, 0, 0, tzinfo=timezone.utc)
"""Generated logs start at this wall-clock time (the day of the report); model time 0 is here."""


@attrs.frozen
class Statement:
    kind: str          # the model event (Log.kind)
    source: str        # cloud | bridge | mobile | livekit
    msg: str           # the message; "{name}" marks an interpolated part
    where: str         # file:line in the real code (as the facts pages give it)
    quoted: str = ""   # where the exact text is quoted (facts page or seed); "" = assumed
    level: str = "info"
    service: str = ""  # the cloud's pino child-logger `service`

    def pattern(self) -> re.Pattern:
        parts = re.split(r"(\{\w+\})", self.msg)
        rx = "".join(f"(?P<{p[1:-1]}>.*)" if p.startswith("{") else re.escape(p) for p in parts)
        return re.compile(rx + r"\Z", re.S)


WG = "websocket-glasses.service.ts"
LKM = "LiveKitManager.ts"
GC = "LiveKitGrpcClient.ts"
US = "UserSession.ts"
MOB = "mobile/src/managers/"

STATEMENTS: tuple[Statement, ...] = (
    # --- cloud (TypeScript) ---
    Statement("session_created", "cloud", "New user session created",
              f"{US}:357-378 (createOrReconnect)", service="UserSession"),
    Statement("session_reconnected", "cloud", "Existing user session reused (reconnection)",
              f"{US}:357-378 (createOrReconnect)", service="UserSession"),
    Statement("bridge_early_return", "cloud", "Bridge subscriber already connected, skipping",
              f"{LKM}:213-216 (startBridgeSubscriber)", service="LiveKitManager"),
    Statement("grpc_join", "cloud", "Joining LiveKit room via bridge",
              f"{GC}:130-166 (connect: JoinRoom)", service="LiveKitGrpcClient"),
    Statement("grpc_joined", "cloud", "Joined LiveKit room, audio stream started",
              f"{GC}:130-166 (connect)", service="LiveKitGrpcClient"),
    Statement("grpc_join_failed", "cloud", "Failed to start bridge subscriber",
              f"{LKM}:112-117 (error logged and swallowed)", level="error",
              service="LiveKitManager"),
    Statement("ack_sent", "cloud", "Sent CONNECTION_ACK", f"{WG}:571-650 (handleConnectionInit)",
              service="websocket-glasses"),
    Statement("mic_state", "cloud", "Microphone state changed, ensuring bridge connected",
              f"{LKM}:256-312 (ensureBridgeConnected)", service="LiveKitManager"),
    Statement("ws_closed", "cloud", "Glasses connection closed",
              f"{WG}:1025-1139 (handleGlassesConnectionClose)", service="websocket-glasses"),
    Statement("grace_skipped", "cloud", "Grace period over, user reconnected, skipping cleanup",
              f"{WG}:1025-1139 (grace timer)", service="websocket-glasses"),
    Statement("dispose_start", "cloud", "Grace period expired, disposing user session",
              f"{WG}:1025-1139 (grace timer) -> {US}:596-679", service="websocket-glasses"),
    Statement("session_disposed", "cloud", "User session disposed",
              f"{US}:596-679 (deleted from the map at l.666)", service="UserSession"),
    Statement("rest_token", "cloud", "Minted LiveKit token for client",
              "api/client/livekit.api.ts:79-114 -> livekit.service.ts:46-80",
              service="livekit.service"),
    Statement("grpc_leave", "cloud", "Leaving LiveKit room (LeaveRoom)",
              f"{GC}:710-761 (disconnect)", service="LiveKitGrpcClient"),
    Statement("grpc_dispose", "cloud", "Disposing gRPC bridge client", f"{GC}:766-775 (dispose)",
              service="LiveKitGrpcClient"),
    Statement("grpc_stream_error", "cloud", "Audio stream error", f"{GC}:307-339 (stream error)",
              level="error", service="LiveKitGrpcClient"),
    Statement("grpc_retry", "cloud", "Reconnecting to bridge after stream error",
              f"{GC}:307-339 (one retry after 2000 ms)", service="LiveKitGrpcClient"),
    Statement("grpc_stream_end", "cloud", "Audio stream ended", f"{GC}:342-351 (stream end)",
              service="LiveKitGrpcClient"),
    Statement("livekit_disposed_on_close", "cloud",
              "Immediately disposing LiveKit due to glasses disconnect",
              f"{WG}:1025-1139 as patched by the report's Fix 2", quoted="seed report, Fix 2",
              service="websocket-glasses"),
    Statement("status_exception", "cloud",
              "Failed to get bridge status: this.client.getStatus is not a function",
              f"{WG}:717-752 @83a8053f4 (status check on reconnection)",
              quoted="system-facts.md (status-rejoin as deployed): the exception text",
              level="warn", service="LiveKitManager"),
    Statement("rejoin", "cloud", "Bridge not connected, rejoining",
              f"{LKM}:364 @753b1494c (rejoinBridge)", service="LiveKitManager"),
    Statement("rejoin_skipped", "cloud", "Rejoin skipped, last attempt under 2 s ago",
              f"{LKM}:364 @753b1494c (rejoinBridge backoff)", service="LiveKitManager"),
    # --- Go bridge ---
    Statement("bridge_connecting", "bridge", "Connecting to LiveKit room",
              "service.go:136-141 (ConnectToRoomWithToken)"),
    Statement("bridge_joined", "bridge", "Joined LiveKit room", "service.go:136-141"),
    Statement("bridge_join_refused", "bridge",
              "JoinRoom failed: session already exists for this user",
              "service.go:63-71", quoted="system-facts.md (Go bridge): the error text",
              level="error"),
    Statement("bridge_join_failed", "bridge", "Failed to connect to LiveKit room",
              "service.go:136-141 (the connect's error)",
              quoted="seed report: the error field, \"invalid token: ..., error: token is expired "
                     "(exp)\"", level="error"),
    Statement("bridge_session_closed", "bridge", "Closing room session",
              "service.go:180-206 (LeaveRoom), 304-329 (StreamAudio) -> session.go:155-192"),
    Statement("bridge_disconnected", "bridge", "Disconnected from LiveKit room",
              "service.go:126-132 (OnDisconnected only logs)", level="warn"),
    Statement("bridge_stream_refused", "bridge", "StreamAudio: no session for user",
              "service.go:226-230", level="error"),
    Statement("crash", "bridge", "panic: send on closed channel", "session.go:155-192",
              quoted="system-facts.md (Go bridge): \"send on closed channel\"", level="fatal"),
    # --- mobile ---
    Statement("select_region", "mobile", "WebSocketManager: connecting to {url}",
              f"{MOB}WebSocketManager.ts:43-95"),
    Statement("ws_closed", "mobile", "WebSocketManager: connection closed, reconnecting",
              f"{MOB}WebSocketManager.ts:97-116"),
    Statement("ws_reconnect", "mobile", "WebSocketManager: reconnecting",
              f"{MOB}WebSocketManager.ts:97-116"),
    Statement("ack", "mobile", "SocketCommsTS: connection ack, connecting to livekit",
              f"{MOB}SocketComms.ts:307-311", quoted="seed report, handle_connection_ack"),
    Statement("rest_token_request", "mobile", "RestComms: GET /api/client/livekit/token",
              f"{MOB}RestComms.tsx:291-295 (getLivekitUrlAndToken)"),
    Statement("room_disconnect", "mobile",
              "LivekitManager: Disconnecting from old room before reconnecting",
              f"{MOB}LivekitManager.ts:30-33",
              quoted="seed report, Fix 1 (the report's text for the same call)"),
    Statement("room_connect", "mobile", "LivekitManager: Connecting to room: {url}, {token}",
              f"{MOB}LivekitManager.ts:35-48 (connect)", quoted="seed report, LivekitManager"),
    Statement("room_connected", "mobile", "LivekitManager: Connected to room",
              f"{MOB}LivekitManager.ts:35-48 (Connected handler)",
              quoted="seed report, 'Required Information'"),
    Statement("room_disconnected", "mobile", "LivekitManager: Disconnected from room",
              f"{MOB}LivekitManager.ts:35-48 (Disconnected handler)",
              quoted="seed report, 'Required Information'"),
    # --- LiveKit server ---
    Statement("participant_joined", "livekit", "participant joined",
              "pkg/service/roommanager.go (StartSession)"),
    Statement("participant_left", "livekit", "participant left",
              "pkg/service/roommanager.go (LeaveRequest, reason)"),
    Statement("token_rejected", "livekit", "invalid {refusal}",
              "pkg/service/auth.go:93-96 @v1.9.2",
              quoted="fidelity-audit.md item 13 and livekit-facts.md: the 401 texts \"invalid "
                     "token: <jwt>, error: ...\", \"invalid API key: ...\", \"invalid "
                     "authorization token\"", level="warn"),
)
BY_EVENT: dict[tuple[str, str], Statement] = {(s.source, s.kind): s for s in STATEMENTS}
BY_SOURCE: dict[str, list[Statement]] = {src: [s for s in STATEMENTS if s.source == src]
                                         for src in SOURCES}
SILENT = ("mic_packet", "mic", "audio_received", "grpc_down", "bridge_reconnecting",
          "bridge_resumed", "participant_resumed", "room_closed", "room_reconnecting",
          "room_failed", "connect_failed", "restart", "grpc_retry_skipped",
          # the fidelity corrections' events (fidelity-audit.md): guards and bookkeeping whose
          # log statement, if any, the facts do not give
          "ack_lost", "apps_started", "bridge_map_deleted", "ensure_bridge_skipped",
          "grpc_connect_refused", "grpc_connect_skipped", "grpc_rejoin_refused",
          "grpc_status_disposed", "grpc_stream_refused", "mic_changed", "stale_ws_closed",
          # the recommended fix's own guard (a proposal, fixes/recommended.py part 3): no real log
          "livekit_init_skipped")
"""Model events no statement maps: per-packet events (the real code does not log each packet),
the SDKs' internal resume steps, a pod restart, and calls, guards or skipped retries whose log
statement the facts do not give. Among the latter: the ACK sent to a closed socket
(`websocket-glasses.service.ts:571-650`), apps started (`UserSession.ts:383-397`), the bridge's
map entry deleted by a stream's defer (`service.go:304-329`), `ensureBridgeConnected`'s
`isConnecting()` skip (`LiveKitManager.ts:258-264`), `connect()`'s disposed and connecting guards
(`LiveKitGrpcClient.ts:131-140`), `rejoin()` and `startAudioStream` on a disposed client (l.245,
771-774; the exception reaches the caller's catch), `getStatus()`'s `client_disposed` answer, the
MicrophoneManager debounce (`MicrophoneManager.ts:79-145`), a stale socket's close, and the
recommended fix's skipped LiveKit init (a proposal, so no real statement exists)."""

LEVELS = {"debug": 20, "info": 30, "warn": 40, "error": 50, "fatal": 60}


# --- model events -------------------------------------------------------------------------------

@attrs.frozen
class Event:
    """One line a party logged in a model step: its party id, `Log.kind`, text and time (ms)."""
    party: str
    kind: str
    text: str
    t: int = 0

    @property
    def source(self) -> str:
        return {"region": "cloud", "bridge": "bridge", "mobile": "mobile",
                "livekit": "livekit"}[self.party.split(":", 1)[0]]

    @property
    def statement(self) -> Statement | None:
        return BY_EVENT.get((self.source, self.kind))

    @property
    def key(self) -> tuple[str, str, str]:
        return key_of(self.source, self.party, self.kind, detail_of(self.kind, self.text))


def key_of(source: str, party: str, kind: str, detail: str) -> tuple[str, str, str]:
    """What a line and a model event must agree on: the party (a region or bridge pod; the mobile;
    any LiveKit deployment), the event, and a detail: for LiveKit lines whose participant it is
    (the bridge agent or the user), for the mobile's region switch the region it connects to."""
    where = "livekit" if source == "livekit" else party
    if source == "livekit" and detail:
        detail = "agent" if detail.startswith("cloud-agent:") else "user"
    return where, kind, detail


def detail_of(kind: str, text: str) -> str:
    """The detail of a model event, from its text (see key_of)."""
    if kind in ("participant_joined", "participant_left"):
        return text.split(" ", 1)[0]
    if kind == "token_rejected":
        return text.split(" ")[2].rstrip(":")
    if kind == "select_region":
        return text.split()[-1]
    return ""


def events_of(records) -> list[Event]:
    """The events of one model step: the log lines among the step's records
    (`runner.log_of`), crashes and restarts included."""
    from model.engines.runner import log_of
    return [Event(e.party, e.kind, e.text, e.t) for e in log_of(records)]


# --- generated lines ----------------------------------------------------------------------------

def _iso(ms: int) -> str:
    return (EPOCH + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _pod(party: str) -> tuple[str, int]:
    name = party.split(":", 1)[1]
    region, _, pod = name.partition("#")
    return region, int(pod or 0)


def _after(text: str, sep: str) -> str:
    return text.split(sep, 1)[1] if sep in text else text


def render(e: Event, user: str) -> dict[str, Any] | None:
    """The line the real statement writes for this event, at its model time, labelled
    `"generated": true`; None for a silent event."""
    t = e.t
    s = e.statement
    if s is None:
        return None
    if e.source == "cloud":
        region, pod = _pod(e.party)
        line = {"level": LEVELS[s.level], "time": int(EPOCH.timestamp() * 1000) + t, "pid": 1,
                "hostname": f"{region}-cloud-{pod}", "region": region, "service": s.service,
                "userId": user, "msg": s.msg}
        if e.kind == "grpc_join_failed":
            line["error"] = _after(e.text, "JoinRoom failed: ")
    elif e.source == "bridge":
        region, pod = _pod(e.party)
        line = {"dt": _iso(t), "level": s.level, "service": "livekit-bridge", "region": region,
                "hostname": f"{region}-cloud-{pod}", "user_id": user, "message": s.msg}
        if e.kind == "bridge_join_failed":
            line["error"] = _after(e.text, "JoinRoom: ")
    elif e.source == "mobile":
        msg = s.msg
        if e.kind == "select_region":
            msg = msg.format(url=f"wss://{detail_of(e.kind, e.text)}/glasses-ws")
        elif e.kind == "room_connect":
            msg = msg.format(url=_after(e.text, "connect to "), token="<token>")
        line = {"time": int(EPOCH.timestamp() * 1000) + t, "source": "mobile",
                "platform": "ios", "msg": msg}
    else:
        identity = detail_of(e.kind, e.text)
        line = {"ts": _iso(t), "level": s.level, "logger": "livekit",
                "deployment": e.party.split(":", 1)[1], "msg": s.msg}
        if e.kind == "token_rejected":  # the server's 401 text, verbatim
            line["msg"] = _after(e.text, ": ")
            line["participant"] = identity
        else:
            line["room"] = user
            line["participant"] = identity
        if e.kind == "participant_left":
            line["reason"] = e.text.rsplit(": ", 1)[-1]
    line["generated"] = True
    return line


def markdown_table() -> str:
    """The mapping table of docs/logs.md (a test keeps the page in step with STATEMENTS)."""
    rows = ["| model event | source | real statement (message) | file:line | format source |",
            "|---|---|---|---|---|"]
    for s in STATEMENTS:
        fmt = f"quoted: {s.quoted}" if s.quoted else "assumed"
        rows.append(f"| `{s.kind}` | {s.source} | `{s.msg}` | `{s.where}` | {fmt} |")
    return "\n".join(rows)
