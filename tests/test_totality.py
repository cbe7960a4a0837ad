"""Totality of the transition tables (house-style: h2's state x input checks).

Each party module has `STATES`, `MESSAGES`, `TABLE` and `IGNORED`. Every pair of the product has
exactly one outcome: a handler (TABLE), a documented ignore (IGNORED, with a reason), or a named
`ProtocolError` that fails the run. No pair is in both tables. The product is not covered by the
two tables alone: `STATES` unites the kinds of object a message can address (a socket, a Room, a
connect() call, ...), and a message only ever reaches the kinds `target_state` routes it to. So
the reachable pairs are checked by running the model: random fault-including walks over
`world.enabled` under every profile and fix set must never meet a ProtocolError.
"""
import random

import pytest
from hypothesis import given, settings, strategies as st

import fixes
from model.system.parties import bridge, grpc_client, livekit, mobile, region
from model.system import world as W
from model.system.config import PROFILES
from fixes import make_config
from model.system.parties.party import ProtocolError, lookup

MODULES = [mobile, region, grpc_client, bridge, livekit]
IDS = [m.__name__.split(".")[-1] for m in MODULES]


@pytest.mark.parametrize("mod", MODULES, ids=IDS)
def test_tables_are_disjoint_and_within_states_x_messages(mod):
    assert not set(mod.TABLE) & set(mod.IGNORED)
    for state, msg in list(mod.TABLE) + list(mod.IGNORED):
        assert state in mod.STATES and msg in mod.MESSAGES, (state, msg)


@pytest.mark.parametrize("mod", MODULES, ids=IDS)
def test_every_ignore_has_a_reason_and_every_entry_a_handler(mod):
    for key, reason in mod.IGNORED.items():
        assert isinstance(reason, str) and reason.strip(), key
    for key, handler in mod.TABLE.items():
        assert callable(handler), key


@pytest.mark.parametrize("mod", MODULES, ids=IDS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_pair_has_exactly_one_outcome(mod, data):
    state = data.draw(st.sampled_from(mod.STATES))
    msg_type = data.draw(st.sampled_from(mod.MESSAGES))
    key = (state, msg_type)
    msg = object.__new__(msg_type)
    try:
        got = lookup("p", mod.TABLE, mod.IGNORED, state, msg)
    except ProtocolError as e:
        assert key not in mod.TABLE and key not in mod.IGNORED
        assert msg_type.__name__ in str(e) and str(state) in str(e)
        return
    assert got is mod.TABLE.get(key) or got == mod.IGNORED.get(key)


@pytest.mark.parametrize("mod", MODULES, ids=IDS)
def test_exhaustively_no_pair_is_silent(mod):
    for state in mod.STATES:
        for msg_type in mod.MESSAGES:
            key = (state, msg_type)
            if key in mod.TABLE or key in mod.IGNORED:
                continue
            with pytest.raises(ProtocolError):
                lookup("p", mod.TABLE, mod.IGNORED, state, object.__new__(msg_type))


# --- the reachable pairs, by running the model --------------------------------------------------

def walk(cfg, seed: int, length: int, seen: set) -> None:
    rng = random.Random(seed)
    w = W.initial(cfg)
    logged = 0
    for _ in range(length):
        acts = [a for a in W.enabled(w, cfg) if not (isinstance(a, W.ClockAdvances) and a.ms > 61_000)]
        w, records = W.step_verbose(w, rng.choice(acts), cfg)
        logged += sum(r.entry is not None for r in records)
        seen.add(logged)


CONFIGS = [pytest.param("baseline", p, id=f"baseline/{p}") for p in PROFILES] + [
    pytest.param(f, None, id=f) for f in fixes.known() if f != "baseline"]


@pytest.mark.parametrize("fix,profile", CONFIGS)
def test_random_walks_never_meet_a_protocol_error(fix, profile):
    cfg = make_config([fix], profile)
    seen: set = set()
    for seed in range(6):
        walk(cfg, seed, 120, seen)
    assert max(seen) > 10        # the walks did something
