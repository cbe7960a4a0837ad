"""A LiveKit deployment: joins, kicks, resume, data, timers (livekit.py)."""
from model.system.parties import livekit as L
from model.system import tokens
from model.system.config import BRIDGE_IDENTITY, USER
from model.system.effects import CancelTimer, Close, Send, SetTimer
from model.system.messages import (ClientLeave, ConnClosed, DataReceived, Join, JoinAccepted,
                            JoinRefused, RefreshToken, SendData, ServerLeave, TimerFired)
from conftest import conn, ctx, logs, of

ME = "livekit:shared"
C = ctx(ME)
KEY, SECRET = tokens.deployment_keys("shared")


def tok(identity=USER, room=USER, now=0, ttl=3_600_000, key=KEY, secret=SECRET):
    return tokens.mint(key, secret, identity, room, now, ttl)


def sig(cid, client="mobile"):
    return conn(cid, "signal", client, ME)


def join(lk, cid, identity=USER, client="mobile", now=0, resume=False, token=None):
    return L.handle(lk, sig(cid, client), Join(token or tok(identity), resume), ctx(ME, now=now))


def test_full_join_auto_creates_the_room_and_answers_with_a_refresh_token():
    lk, eff = join(L.initial("shared"), "m/lk1")
    p = lk.rooms[USER].participants[USER]
    assert (p.sid, p.conn, p.client, p.phase) == ("PA_shared_1", "m/lk1", "mobile", L.PartPhase.ACTIVE)
    (acc,) = [e.msg for e in of(eff, Send)]
    assert isinstance(acc, JoinAccepted) and not acc.resumed
    claims = tokens.claims_of(acc.refresh_token)
    assert claims["exp"] - claims["nbf"] == 600 and claims["sub"] == USER
    assert SetTimer("refresh", 300_000, "PA_shared_1") in eff


def test_a_duplicate_identity_kicks_the_older_participant():
    lk, _ = join(L.initial("shared"), "a/lk1", BRIDGE_IDENTITY, "bridge:cloud-debug")
    lk, eff = join(lk, "b/lk1", BRIDGE_IDENTITY, "bridge:france")
    p = lk.rooms[USER].participants[BRIDGE_IDENTITY]
    assert p.client == "bridge:france" and p.sid == "PA_shared_2"
    assert eff[:2] == [Send("a/lk1", ServerLeave("DISCONNECT", "DUPLICATE_IDENTITY")), Close("a/lk1")]


def test_data_reaches_every_other_active_participant_with_the_sender_identity():
    lk, _ = join(L.initial("shared"), "m/lk1")
    lk, _ = join(lk, "b/lk1", BRIDGE_IDENTITY, "bridge:france")
    lk2, eff = L.handle(lk, sig("m/lk1"), SendData("audio-1"), C)
    assert lk2 == lk and eff == [Send("b/lk1", DataReceived(USER, "audio-1"))]


def test_signal_loss_waits_for_a_resume_then_times_out():
    lk, _ = join(L.initial("shared"), "m/lk1")
    lk, eff = L.handle(lk, sig("m/lk1"), ConnClosed(True), C)
    assert lk.rooms[USER].participants[USER].phase is L.PartPhase.WAITING
    assert eff == [SetTimer("resume_wait", 20_000, "PA_shared_1")]
    # data from a waiting participant goes nowhere; data to it is not sent
    assert L.handle(lk, sig("m/lk1"), SendData("x"), C) == (lk, [])
    lk2, eff = L.handle(lk, None, TimerFired("resume_wait", "PA_shared_1"), C)
    assert USER not in lk2.rooms[USER].participants
    assert SetTimer("departure", 20_000, USER) in eff
    assert [e.get("reason") for e in eff if hasattr(e, "get")] == ["CONNECTION_TIMEOUT"]


def test_resume_matches_by_identity():
    lk, _ = join(L.initial("shared"), "m/lk1")
    lk, _ = L.handle(lk, sig("m/lk1"), ConnClosed(True), C)
    lk, eff = join(lk, "m/lk2", resume=True)
    p = lk.rooms[USER].participants[USER]
    assert p.conn == "m/lk2" and p.phase is L.PartPhase.ACTIVE and p.sid == "PA_shared_1"
    assert CancelTimer("resume_wait", "PA_shared_1") in eff
    assert [e.msg.resumed for e in of(eff, Send)] == [True]


def test_resume_of_an_unknown_identity_is_state_mismatch():
    lk, eff = join(L.initial("shared"), "m/lk1", resume=True)
    assert eff == [Send("m/lk1", ServerLeave("RECONNECT", "STATE_MISMATCH")), Close("m/lk1")]


def test_client_leave_removes_and_starts_the_departure_timer_that_closes_the_room():
    lk, _ = join(L.initial("shared"), "m/lk1")
    lk, eff = L.handle(lk, sig("m/lk1"), ClientLeave(), C)
    assert len(lk.rooms[USER].participants) == 0 and SetTimer("departure", 20_000, USER) in eff
    lk, eff = L.handle(lk, None, TimerFired("departure", USER), C)
    assert USER not in lk.rooms and logs(eff) == ["room_closed"]


def test_departure_timer_keeps_a_room_someone_rejoined():
    lk, _ = join(L.initial("shared"), "m/lk1")
    lk, _ = L.handle(lk, sig("m/lk1"), ClientLeave(), C)
    lk, eff = join(lk, "m/lk2")
    assert CancelTimer("departure", USER) in eff
    assert L.handle(lk, None, TimerFired("departure", USER), C) == (lk, [])


def test_refresh_timer_sends_a_new_token_and_rearms():
    lk, _ = join(L.initial("shared"), "m/lk1")
    lk2, eff = L.handle(lk, None, TimerFired("refresh", "PA_shared_1"), ctx(ME, now=300_000))
    assert eff[0] == SetTimer("refresh", 300_000, "PA_shared_1")
    assert isinstance(eff[1].msg, RefreshToken)
    assert tokens.claims_of(eff[1].msg.token)["nbf"] == tokens.EPOCH + 300


def test_a_connected_participant_outlives_its_token():
    lk, _ = join(L.initial("shared"), "m/lk1", token=tok(ttl=1_000))
    lk2, eff = L.handle(lk, None, TimerFired("refresh", "PA_shared_1"), ctx(ME, now=3_600_000))
    assert USER in lk2.rooms[USER].participants and isinstance(eff[1].msg, RefreshToken)


def test_stale_connections_and_timers_change_nothing():
    lk, _ = join(L.initial("shared"), "m/lk1")
    for msg in (SendData("x"), ClientLeave(), ConnClosed(True)):
        assert L.handle(lk, sig("old/lk0"), msg, C) == (lk, [])
    assert L.handle(lk, None, TimerFired("refresh", "PA_nobody"), C) == (lk, [])
    assert L.handle(lk, None, TimerFired("departure", "no-room"), C) == (lk, [])


def test_server_api():
    lk, _ = join(L.initial("shared"), "m/lk1")
    assert L.api_list_participants(lk, USER) == [USER] and L.api_list_participants(lk, "x") == []
    lk2, eff = L.api_remove_participant(lk, USER, USER, C)
    assert eff[0] == Send("m/lk1", ServerLeave("DISCONNECT", "PARTICIPANT_REMOVED"))
    lk3, eff = L.api_delete_room(lk, USER, C)
    assert USER not in lk3.rooms and eff[0] == Send("m/lk1", ServerLeave("DISCONNECT", "ROOM_DELETED"))
