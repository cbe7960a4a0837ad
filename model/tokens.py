"""LiveKit access tokens: real HS256 JWTs in LiveKit's claim layout, on the model's clock.

Only the TypeScript cloud mints application tokens (system-facts.md, "Tokens"); the LiveKit server
mints refresh tokens. Validation follows livekit's `pkg/service/auth.go` (livekit-facts.md,
"Tokens"): an unknown `iss` is `invalid API key`; a bad signature or an `exp`/`nbf` outside the
60 s leeway is `invalid authorization token: ...`, with v1.9.x's error text.
"""
from __future__ import annotations

import attrs
import jwt

EPOCH = 1_760_702_400
"""Model time 0 in Unix seconds: 2025-10-17T12:00:00Z, the day of the report."""


def unix_seconds(now_ms: int) -> int:
    return EPOCH + now_ms // 1000


def mint(key: str, secret: str, identity: str, room: str, now_ms: int, ttl_ms: int,
         **grant_extra: bool) -> str:
    """A join token: `iss` key, `sub` identity, `nbf` now, `exp` now + ttl, `video` grant."""
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


def claims_of(token: str) -> dict:
    """The claims without any check (for narratives and for the live replay's re-minting)."""
    return jwt.decode(token, options={"verify_signature": False})


def validate(token: str, keys: dict, now_ms: int, leeway_ms: int, room: str | None = None) -> Verdict:
    """Check a token as a LiveKit server with `keys` (api key -> secret) would at connection time."""
    try:
        claims = claims_of(token)
    except jwt.PyJWTError:
        return Verdict(False, MALFORMED, "invalid authorization token: malformed")
    key = claims.get("iss", "")
    if key not in keys:
        return Verdict(False, INVALID_API_KEY, "invalid API key: " + key)
    try:
        jwt.decode(token, keys[key], algorithms=["HS256"], options={"verify_exp": False,
                                                                    "verify_nbf": False})
    except jwt.PyJWTError:
        return Verdict(False, BAD_SIGNATURE, "invalid authorization token: square/go-jose: error in "
                                             "cryptographic primitive")
    now = unix_seconds(now_ms)
    leeway = leeway_ms // 1000
    exp_ms = (claims["exp"] - EPOCH) * 1000
    if now > claims["exp"] + leeway:
        return Verdict(False, EXPIRED, "invalid authorization token: go-jose/go-jose/jwt: "
                                       "validation failed, token is expired (exp)", exp_ms=exp_ms)
    if now < claims.get("nbf", now) - leeway:
        return Verdict(False, NOT_YET_VALID, "invalid authorization token: go-jose/go-jose/jwt: "
                                             "validation failed, token not valid yet (nbf)")
    granted = claims.get("video", {}).get("room", "")
    if room is not None and granted != room:
        return Verdict(False, WRONG_ROOM, f"permissions denied: token is for room {granted!r}")
    return Verdict(True, identity=claims.get("sub", ""), room=granted, exp_ms=exp_ms)


def deployment_keys(deployment: str) -> tuple[str, str]:
    """Each deployment's API key and secret (a region signs with its deployment's pair,
    LiveKitManager.ts:34-36). Secrets are 32+ bytes as HS256 wants."""
    return "API" + deployment.replace("-", ""), f"secret-of-{deployment}-livekit-deployment-0001"
