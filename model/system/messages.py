"""Every message of the model, grouped by the connection that carries it. Requests are imperative,
facts past tense (house-style.md). Each has a one-line docstring per field."""
from __future__ import annotations

from typing import Any

import attrs

# --- any connection ---------------------------------------------------------------------------


@attrs.frozen
class ConnClosed:
    """The connection closed. error: it failed (fault, crash, unreachable) rather than being closed
    by the other end."""
    error: bool


@attrs.frozen
class Resumed:
    """A local await completed. tag: which await."""
    tag: Any


@attrs.frozen
class TimerFired:
    """A timer set by this party fell due. name, key: as set."""
    name: str
    key: Any = None


# --- glasses WebSocket (mobile <-> region pod) -------------------------------------------------


@attrs.frozen
class GlassesConnect:
    """WebSocket opened to glasses-ws; its delivery is the server accepting the socket, which from
    then on fires `close` (websocket-glasses.service.ts:217-219). livekit: the `livekit=true`
    query flag (WebSocketManager.ts:67)."""
    livekit: bool = True


@attrs.frozen
class MicStateChanged:
    """The microphone state, reported over the glasses socket; the cloud's MicrophoneManager
    debounces it before `ensureBridgeConnected` (MicrophoneManager.ts:79-145, l.128). The facts do
    not name the real message (docs/model.md, "Approximations"). on: new state."""
    on: bool


@attrs.frozen
class MicAudio:
    """Binary audio frame over the WebSocket (MantleBridge.tsx:426-437). packet: its id."""
    packet: str


@attrs.frozen
class ConnectionAck:
    """CONNECTION_ACK (websocket-glasses.service.ts:571-650). session: the region's session number."""
    session: int


# --- REST (mobile -> region pod) ---------------------------------------------------------------


@attrs.frozen
class TokenRequest:
    """GET /api/client/livekit/token (livekit.api.ts:79-114)."""


@attrs.frozen
class TokenResponse:
    """{url, token}. url: the LiveKit deployment name; token: the 24 h mobile JWT."""
    url: str
    token: str


# --- gRPC unary (region pod's LiveKitGrpcClient <-> bridge) ------------------------------------


@attrs.frozen
class JoinRoom:
    """JoinRoom RPC. user: userId; room: room name; url: deployment; token: bridge JWT."""
    user: str
    room: str
    url: str
    token: str


@attrs.frozen
class JoinRoomReply:
    """JoinRoom result. ok: joined; error: the Go error text when not."""
    ok: bool
    error: str = ""


@attrs.frozen
class LeaveRoom:
    """LeaveRoom RPC. user: the userId whose session should close (service.go:180-206)."""
    user: str


@attrs.frozen
class LeaveRoomReply:
    """LeaveRoom result. had_session: the map held a session for the user."""
    had_session: bool


@attrs.frozen
class GetStatus:
    """GetStatus RPC (status-rejoin). user: userId."""
    user: str


@attrs.frozen
class StatusReply:
    """GetStatus result. connected: the bridge's flag; reason: why not, when not."""
    connected: bool
    reason: str = ""


# --- gRPC StreamAudio (one stream per connect) -------------------------------------------------


@attrs.frozen
class StreamAudio:
    """Opens the audio stream. user: userId whose session the stream attaches to."""
    user: str


@attrs.frozen
class AudioFrame:
    """Audio forwarded by the bridge. packet: the mobile's packet id."""
    packet: str


# --- LiveKit signal connection (participant <-> deployment) ------------------------------------


@attrs.frozen
class Join:
    """Signal connect. token: JWT; resume: reconnect=1 (resume by identity); room: the room the
    client believes it is in (from the token for a full join)."""
    token: str
    resume: bool = False


@attrs.frozen
class JoinAccepted:
    """Join (or resume) answered. sid: participant SID; resumed: an existing participant was
    re-attached; refresh_token: the first refreshed token."""
    sid: str
    resumed: bool
    refresh_token: str


@attrs.frozen
class JoinRefused:
    """HTTP 401 at connect. reason: machine code; message: the server's text."""
    reason: str
    message: str


@attrs.frozen
class RefreshToken:
    """SignalResponse.refresh_token. token: valid 10 min."""
    token: str


@attrs.frozen
class SendData:
    """publishData from this participant. packet: payload id."""
    packet: str


@attrs.frozen
class DataReceived:
    """A data packet delivered to this participant. sender: sender identity; packet: payload id."""
    sender: str
    packet: str


@attrs.frozen
class ClientLeave:
    """The client leaves (room.disconnect())."""


@attrs.frozen
class ServerLeave:
    """LeaveRequest from the server. action: DISCONNECT | RECONNECT; reason: DUPLICATE_IDENTITY,
    STATE_MISMATCH, PARTICIPANT_REMOVED, ROOM_DELETED, ..."""
    action: str
    reason: str


def name_of(msg: Any) -> str:
    """Short label for narratives and diagrams."""
    return type(msg).__name__
