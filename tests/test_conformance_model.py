"""The conformance scenarios against the model's LiveKit party (no server needed).

The same scenarios run against a real server in tests/live/; here the model must give the
observations livekit-facts.md predicts (`conformance.EXPECTED`).
"""
import asyncio

import pytest

from model.live import conformance as C
from model.live.model_side import ModelLiveKit


def observe(name: str) -> dict:
    async def go():
        a, b = ModelLiveKit("conformance-a"), ModelLiveKit("conformance-b")
        return await C.run_scenario(name, a, b)
    return asyncio.run(go())


@pytest.mark.parametrize("name", list(C.SCENARIOS))
def test_model_side_matches_the_facts(name):
    assert C.compare(observe(name), C.EXPECTED[name]) == []


def test_model_side_is_deterministic():
    assert observe("duplicate_identity") == observe("duplicate_identity")
