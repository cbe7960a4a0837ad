"""LiveKit access tokens: real HS256 JWTs in LiveKit's claim layout, on the model's clock.

Only the TypeScript cloud mints application tokens (system-facts.md, "Tokens"); the LiveKit server
mints refresh tokens. Validation follows livekit's `pkg/service/auth.go` (livekit-facts.md,
"Tokens"): an unknown `iss` is `invalid API key: <key>`; a bad signature or an `exp`/`nbf` outside
the 60 s leeway is `invalid token: <jwt>, error: <library error>` (auth.go:93-96 @v1.9.2, corrected
by the fidelity audit, item 13); a token that does not parse is `invalid authorization token`.

The library error differs between server series (go-jose in 1.9.x, golang-jwt v5 in 1.13.x):
`SERVER_ERRORS` keeps the texts of every supported series, observed on the real servers
(docs/livekit-server.md, "Refusal texts per version"). The model answers with the texts of
`MODEL_SERIES`, the bug's era; `classify_refusal` maps any supported series' text to its category.
"""
from __future__ import annotations

import functools

import attrs
import jwt

EPOCH = 1_760_702_400
"""Model time 0 in Unix seconds: 2025-10-17T12:00:00Z, the day of the report."""

CACHED = 4096
"""Tokens minted, parsed and checked are pure functions of their arguments: the last this many of
each are kept (a `pytest model/` cell mints and validates the same tokens thousands of times)."""


def unix_seconds(now_ms: int) -> int:
    return EPOCH + now_ms // 1000


@functools.lru_cache(maxsize=CACHED)
def mint(key: str, secret: str, identity: str, room: str, now_ms: int, ttl_ms: int,
         **grant_extra: bool) -> str:
    """A join token: `iss` key, `sub` identity, `nbf` now, `exp` now + ttl, `video` grant (the
    same arguments give the same token, so tokens are kept: `CACHED`)."""
    now = unix_seconds(now_ms)
    video = {"roomJoin": True, "room": room, "canPublish": True, "canSubscribe": True,
             "canPublishData": True, **grant_extra}
    claims = {"iss": key, "sub": identity, "nbf": now, "exp": now + ttl_ms // 1000,
              "name": identity, "video": video}
    return jwt.encode(claims, secret, algorithm="HS256")


@attrs.frozen
class Verdict:
    ok: bool
    reason: str = ""          # one of the codes below, empty when ok
    message: str = ""         # the text the real server answers with
    identity: str = ""
    room: str = ""
    exp_ms: int = 0           # expiry on the model clock


INVALID_API_KEY = "invalid_api_key"
EXPIRED = "expired"
NOT_YET_VALID = "not_yet_valid"
BAD_SIGNATURE = "bad_signature"
WRONG_ROOM = "wrong_room"
MALFORMED = "malformed"


MODEL_SERIES = "1.9"
"""The server series whose texts the model answers with: v1.9.2, the bug's era."""

SERVER_ERRORS: dict[str, dict[str, str]] = {
    # v1.9.2 (go-jose v4, read in the sources) and v1.9.11 (observed on the real server)
    "1.9": {EXPIRED: "go-jose/go-jose/jwt: validation failed, token is expired (exp)",
            NOT_YET_VALID: "go-jose/go-jose/jwt: validation failed, token not valid yet (nbf)",
            BAD_SIGNATURE: "go-jose/go-jose: error in cryptographic primitive"},
    # v1.13.5 (golang-jwt v5, observed on the real server)
    "1.13": {EXPIRED: "token has invalid claims: token is expired",
             NOT_YET_VALID: "token has invalid claims: token is not valid yet",
             BAD_SIGNATURE: "token signature is invalid: signature is invalid"},
}
"""The error part of `invalid token: <jwt>, error: <text>` per server series and category."""


def series_of(version: str) -> str:
    """'1.9.11' or 'v1.9.11' -> '1.9'; ValueError for a series with no known refusal texts."""
    parts = version.lstrip("v").split(".")
    series = ".".join(parts[:2])
    if series not in SERVER_ERRORS:
        raise ValueError(f"no refusal texts known for livekit-server {version} "
                         f"(known series: {', '.join(SERVER_ERRORS)})")
    return series


def refusal_text(category: str, token: str, key: str = "", series: str = MODEL_SERIES) -> str:
    """The server's 401 text for a refused token (auth.go:93-96)."""
    if category == INVALID_API_KEY:
        return "invalid API key: " + key
    if category == MALFORMED:
        return "invalid authorization token"
    return f"invalid token: {token}, error: {SERVER_ERRORS[series][category]}"


def classify_refusal(text: str, series: str | None = None) -> str | None:
    """The category of a server's refusal text (the part after `401 Unauthorized - `), by the
    texts of `series`, or of every supported series when None; None when nothing matches."""
    if text.startswith("invalid API key"):
        return INVALID_API_KEY
    if text.strip() == "invalid authorization token":
        return MALFORMED
    tables = [SERVER_ERRORS[series]] if series else list(SERVER_ERRORS.values())
    for table in tables:
        for category, error in table.items():
            if text.startswith("invalid token: ") and text.rstrip().endswith(", error: " + error):
                return category
    return None


def short(text: str) -> str:
    """A refusal text without the echoed JWT: `invalid token: <jwt>, error: X` -> `invalid
    token: X` (for narratives and property details)."""
    head, sep, error = text.partition(", error: ")
    return f"invalid token: {error}" if sep and head.startswith("invalid token: ") else text


def claims_of(token: str) -> dict:
    """The claims without any check (for narratives and for the live replay's re-minting); a
    copy the caller may change."""
    return {k: dict(v) if isinstance(v, dict) else v for k, v in _claims(token).items()}


@functools.lru_cache(maxsize=CACHED)
def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


@functools.lru_cache(maxsize=CACHED)
def _signed_by(token: str, secret: str) -> bool:
    try:
        jwt.decode(token, secret, algorithms=["HS256"], options={"verify_exp": False,
                                                                 "verify_nbf": False})
    except jwt.PyJWTError:
        return False
    return True


def validate(token: str, keys: dict, now_ms: int, leeway_ms: int, room: str | None = None) -> Verdict:
    """Check a token as a LiveKit server with `keys` (api key -> secret) would at connection time."""
    try:
        claims = claims_of(token)
    except jwt.PyJWTError:
        return Verdict(False, MALFORMED, refusal_text(MALFORMED, token))
    key = claims.get("iss", "")
    if key not in keys:
        return Verdict(False, INVALID_API_KEY, refusal_text(INVALID_API_KEY, token, key))
    if not _signed_by(token, keys[key]):
        return Verdict(False, BAD_SIGNATURE, refusal_text(BAD_SIGNATURE, token))
    now = unix_seconds(now_ms)
    leeway = leeway_ms // 1000
    exp_ms = (claims["exp"] - EPOCH) * 1000
    if now > claims["exp"] + leeway:
        return Verdict(False, EXPIRED, refusal_text(EXPIRED, token), exp_ms=exp_ms)
    if now < claims.get("nbf", now) - leeway:
        return Verdict(False, NOT_YET_VALID, refusal_text(NOT_YET_VALID, token))
    granted = claims.get("video", {}).get("room", "")
    if room is not None and granted != room:
        return Verdict(False, WRONG_ROOM, f"permissions denied: token is for room {granted!r}")
    return Verdict(True, identity=claims.get("sub", ""), room=granted, exp_ms=exp_ms)


def deployment_keys(deployment: str) -> tuple[str, str]:
    """Each deployment's API key and secret (a region signs with its deployment's pair,
    LiveKitManager.ts:34-36). Secrets are 32+ bytes as HS256 wants."""
    return "API" + deployment.replace("-", ""), f"secret-of-{deployment}-livekit-deployment-0001"
