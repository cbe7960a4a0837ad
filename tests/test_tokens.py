"""Tokens: real LiveKit JWTs (checked by livekit-api's TokenVerifier) and the LiveKit party's
refusals with the server's reasons and texts (tokens.py; livekit-facts.md, "Tokens")."""
import time
from datetime import timedelta

import jwt
import pytest
from livekit.api import TokenVerifier

from model.system.parties import livekit as L
from model.system import tokens
from model.system.config import BRIDGE_IDENTITY, USER
from model.system.effects import Close, Send
from model.system.messages import Join, JoinAccepted, JoinRefused
from conftest import conn, ctx

KEY, SECRET = tokens.deployment_keys("shared")


def real_now_ms() -> int:
    """Model time for the wall clock now (TokenVerifier checks against the real clock)."""
    return int((time.time() - tokens.EPOCH) * 1000)


@pytest.mark.parametrize("identity", [USER, BRIDGE_IDENTITY])
def test_minted_tokens_pass_livekit_api_TokenVerifier(identity):
    token = tokens.mint(KEY, SECRET, identity, USER, real_now_ms(), 24 * 3_600_000)
    claims = TokenVerifier(KEY, SECRET).verify(token)
    assert claims.identity == identity and claims.name == identity
    assert claims.video.room == USER and claims.video.room_join
    assert claims.video.can_publish and claims.video.can_subscribe and claims.video.can_publish_data


def test_TokenVerifier_rejects_another_deployments_key_and_an_expired_token():
    token = tokens.mint(KEY, SECRET, USER, USER, real_now_ms(), 60_000)
    other_key, other_secret = tokens.deployment_keys("france")
    with pytest.raises(jwt.PyJWTError):
        TokenVerifier(other_key, other_secret).verify(token)
    stale = tokens.mint(KEY, SECRET, USER, USER, real_now_ms() - 200_000, 60_000)
    with pytest.raises(jwt.ExpiredSignatureError):
        TokenVerifier(KEY, SECRET, leeway=timedelta(seconds=60)).verify(stale)


def test_the_model_and_TokenVerifier_agree_on_the_leeway_edge():
    now = real_now_ms()
    within = tokens.mint(KEY, SECRET, USER, USER, now - 110_000, 60_000)   # expired 50 s ago
    beyond = tokens.mint(KEY, SECRET, USER, USER, now - 130_000, 60_000)   # expired 70 s ago
    TokenVerifier(KEY, SECRET).verify(within)
    with pytest.raises(jwt.ExpiredSignatureError):
        TokenVerifier(KEY, SECRET).verify(beyond)
    keys = {KEY: SECRET}
    assert tokens.validate(within, keys, now, 60_000).ok
    assert tokens.validate(beyond, keys, now, 60_000).reason == tokens.EXPIRED


# --- the LiveKit party at join time -------------------------------------------------------------

def join_at(token: str, now_ms: int, deployment="shared", resume=False):
    me = f"livekit:{deployment}"
    c = conn("mobile/lk1", "signal", "mobile", me)
    return L.handle(L.initial(deployment), c, Join(token, resume), ctx(me, now=now_ms))


def refusal(eff):
    (send,) = [e for e in eff if isinstance(e, Send)]
    assert isinstance(send.msg, JoinRefused) and Close("mobile/lk1") in eff
    return send.msg


def test_expired_beyond_leeway_is_refused_with_the_v1_9_text():
    token = tokens.mint(KEY, SECRET, USER, USER, 0, 60_000)
    lk, eff = join_at(token, 60_000 + 61_000)
    msg = refusal(eff)
    assert msg.reason == tokens.EXPIRED
    # auth.go:93-96 @v1.9.2 (fidelity audit, item 13): `invalid token: <jwt>, error: <error>`
    assert msg.message == (f"invalid token: {token}, error: go-jose/go-jose/jwt: validation "
                           "failed, token is expired (exp)")
    assert len(lk.rooms) == 0
    (entry,) = [e for e in eff if getattr(e, "kind", "") == "token_rejected"]
    assert entry.get("reason") == "expired" and entry.get("identity") == USER


def test_expired_within_leeway_is_accepted():
    token = tokens.mint(KEY, SECRET, USER, USER, 0, 60_000)
    lk, eff = join_at(token, 60_000 + 60_000)
    assert any(isinstance(e, Send) and isinstance(e.msg, JoinAccepted) for e in eff)
    assert USER in lk.rooms[USER].participants


def test_not_yet_valid_beyond_leeway_is_refused():
    token = tokens.mint(KEY, SECRET, USER, USER, 120_000, 60_000)
    _, eff = join_at(token, 0)
    assert refusal(eff).reason == tokens.NOT_YET_VALID


def test_another_deployments_key_is_invalid_API_key():
    fkey, fsecret = tokens.deployment_keys("france")
    token = tokens.mint(fkey, fsecret, USER, USER, 0, 60_000)
    _, eff = join_at(token, 0, deployment="shared")
    msg = refusal(eff)
    assert msg.reason == tokens.INVALID_API_KEY and msg.message == f"invalid API key: {fkey}"


def test_a_known_key_with_the_wrong_secret_is_a_bad_signature():
    token = tokens.mint(KEY, "not-the-secret-of-shared-livekit-0001", USER, USER, 0, 60_000)
    msg = refusal(join_at(token, 0)[1])
    assert msg.reason == tokens.BAD_SIGNATURE
    assert msg.message == f"invalid token: {token}, error: go-jose/go-jose: error in cryptographic primitive"


def test_garbage_is_malformed():
    assert refusal(join_at("not-a-jwt", 0)[1]).reason == tokens.MALFORMED


def test_a_refused_resume_is_logged_as_a_resume():
    token = tokens.mint(KEY, SECRET, USER, USER, 0, 600_000)
    _, eff = join_at(token, 600_000 + 61_000, resume=True)
    (entry,) = [e for e in eff if getattr(e, "kind", "") == "token_rejected"]
    assert entry.get("resume") is True and entry.get("reason") == "expired"


def test_wrong_room_is_refused_by_validation_for_a_named_room():
    token = tokens.mint(KEY, SECRET, USER, "someone-else", 0, 60_000)
    v = tokens.validate(token, {KEY: SECRET}, 0, 60_000, room=USER)
    assert (v.ok, v.reason) == (False, tokens.WRONG_ROOM)
    assert tokens.validate(token, {KEY: SECRET}, 0, 60_000, room="someone-else").ok


def test_a_join_goes_to_the_room_its_token_names():
    """A signal Join names no room of its own: the server joins the room of the token's grant
    (livekit-facts.md: rooms are auto-created on join), so a token for another room does not
    fail, it lands the participant in that other room."""
    token = tokens.mint(KEY, SECRET, USER, "someone-else", 0, 60_000)
    lk, eff = join_at(token, 0)
    assert set(lk.rooms.keys()) == {"someone-else"}
    assert not [e for e in eff if isinstance(e, Send) and isinstance(e.msg, JoinRefused)]


def test_the_ttls_the_facts_give():
    from model.system.config import Timing
    t = Timing()
    assert t.mobile_token_ttl == 24 * 3_600_000
    assert t.bridge_token_ttl == 600_000 * 60_000
    assert (t.refresh_interval, t.refresh_ttl, t.leeway) == (300_000, 600_000, 60_000)


# --- refusal texts per server series (docs/livekit-server.md, "Refusal texts per version") -------

OBSERVED = {
    # v1.9.11, observed on the real server (the error part after "error: ")
    "1.9": {tokens.EXPIRED: "go-jose/go-jose/jwt: validation failed, token is expired (exp)",
            tokens.NOT_YET_VALID: "go-jose/go-jose/jwt: validation failed, token not valid yet (nbf)",
            tokens.BAD_SIGNATURE: "go-jose/go-jose: error in cryptographic primitive"},
    # v1.13.5, observed on the real server
    "1.13": {tokens.EXPIRED: "token has invalid claims: token is expired",
             tokens.NOT_YET_VALID: "token has invalid claims: token is not valid yet",
             tokens.BAD_SIGNATURE: "token signature is invalid: signature is invalid"},
}


@pytest.mark.parametrize("series", sorted(OBSERVED))
def test_every_series_refusal_text_is_recognised_as_its_category(series):
    for category, error in OBSERVED[series].items():
        text = f"invalid token: eyJhbGciOi.x.y, error: {error}"
        assert tokens.classify_refusal(text, series) == category
        assert tokens.classify_refusal(text) == category
        assert tokens.short(text) == f"invalid token: {error}"
    assert tokens.classify_refusal("invalid API key: APIx", series) == tokens.INVALID_API_KEY
    assert tokens.classify_refusal("invalid authorization token", series) == tokens.MALFORMED


def test_a_text_of_one_series_is_not_taken_for_the_other_series():
    text = "invalid token: a.b.c, error: " + OBSERVED["1.13"][tokens.BAD_SIGNATURE]
    assert tokens.classify_refusal(text, "1.9") is None
    assert tokens.classify_refusal("invalid token: a.b.c, error: something new") is None


def test_series_of_supported_versions_only():
    assert tokens.series_of("v1.9.11") == tokens.series_of("1.9.2") == "1.9"
    assert tokens.series_of("1.13.5") == "1.13"
    with pytest.raises(ValueError, match="no refusal texts known for livekit-server 1.5.3"):
        tokens.series_of("1.5.3")


def test_every_supported_version_has_refusal_texts():
    from model.live.server import BUILD_SCRIPT
    listed = [line.split("#")[0].strip() for line in
              (BUILD_SCRIPT.parent / "livekit-server-versions").read_text().splitlines()]
    for version in filter(None, listed):
        assert set(tokens.SERVER_ERRORS[tokens.series_of(version)]) == {
            tokens.EXPIRED, tokens.NOT_YET_VALID, tokens.BAD_SIGNATURE}
