"""Shared helpers for the tool's own tests: configs, handler contexts, connections, traces."""
from __future__ import annotations

from pathlib import Path

import pytest

from model.engines import runner
from fixes import make_config
from model.system.network import Conn
from model.system.parties.party import Ctx
from model.engines.trace import parse

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "model" / "corpus"


def cfg_for(fixes=("baseline",), **assumptions):
    return make_config(list(fixes), **assumptions)


def ctx(me: str, now: int = 0, cfg=None, **assumptions) -> Ctx:
    return Ctx(now, cfg or cfg_for(**assumptions), me)


def conn(cid: str, kind: str, client: str, server: str, target: str | None = None) -> Conn:
    return Conn(cid, kind, client, server, target or server)


def trace(steps: list, fixes=("baseline",), expect=None, **assumptions):
    data = {"format": "handover.trace/1", "assumptions": assumptions, "fixes": list(fixes),
            "steps": steps}
    if expect:
        data["expect"] = expect
    return parse(data, "test")


def replay(steps: list, fixes=("baseline",), **assumptions) -> runner.Result:
    return runner.run(trace(steps, fixes, **assumptions))


def of(effects: list, typ) -> list:
    """The effects of one type, in order."""
    return [e for e in effects if isinstance(e, typ)]


def logs(effects: list) -> list[str]:
    from model.system.effects import Log
    return [e.kind for e in effects if isinstance(e, Log)]


@pytest.fixture
def cfg():
    return cfg_for()
