"""`pytest model/`: the verification suite's options, parametrization and verdict matrix.

    pytest model/ [-n 2] [--profile dev|ci|nightly] [--fix NAME]... [--assume KEY=VALUE]...
                  [--profile-assume NAME]... [--budget N] [--mode explore|rounds]

Each (fix set, assumption profile) is one test (`test_verify.py`); the cell records they attach to
their reports (`user_properties`, so pytest-xdist workers hand them to the controller) become the
verdict matrix printed at the end and written under `results/`. Corpus replays (`test_corpus.py`)
attach theirs the same way.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import attrs
import pytest

import fixes
from model import driver as D
from model import verdicts as V
from model.config import (ASSUMPTIONS, PROFILES, REFERENCE_PROFILE, ConfigError, assumptions_for,
                          parse_assumption)

DEFAULT_MODE = {"dev": "explore", "ci": "explore", "nightly": "rounds"}


def pytest_addoption(parser):
    g = parser.getgroup("handover", "handover verification (pytest model/)")
    g.addoption("--profile", default="dev", metavar="NAME",
                help=f"search settings profile: {', '.join(D.SETTINGS)} (default dev)")
    g.addoption("--fix", action="append", default=[], metavar="NAME",
                help="restrict to this fix set (repeatable; default: every registered one)")
    g.addoption("--assume", action="append", default=[], metavar="KEY=VALUE",
                help="one custom assumption profile instead of the named ones (repeatable keys)")
    g.addoption("--profile-assume", action="append", default=[], metavar="NAME",
                help="restrict to this named assumption profile (repeatable)")
    g.addoption("--env", action="append", default=[], metavar="NAME",
                help=f"restrict to this environment: {', '.join(D.ENVIRONMENTS)} (repeatable; "
                     "default: all)")
    g.addoption("--budget", type=int, default=None, metavar="N",
                help="Hypothesis examples per (fix set, profile) (default: the profile's)")
    g.addoption("--mode", default=None, metavar="MODE",
                help="search mode: explore (dev, ci) or rounds (nightly)")


@attrs.frozen
class Selection:
    profile: str
    fix_sets: tuple
    profiles: tuple        # (label, base profile name, overrides dict as tuple)
    budget: int | None
    mode: str
    environments: tuple = tuple(D.ENVIRONMENTS)

    def settings(self):
        return D.settings_for(self.profile, self.budget)


def _usage(msg: str) -> pytest.UsageError:
    return pytest.UsageError(msg)


def selection(config) -> Selection:
    opt = config.getoption
    profile = opt("profile", default="dev") or "dev"
    if profile not in D.SETTINGS:
        raise _usage(f"--profile: unknown settings profile {profile!r} "
                     f"(known: {', '.join(D.SETTINGS)})")
    known = fixes.known()
    for name in opt("fix", default=[]) or []:
        if name not in known:
            raise _usage(f"--fix: unknown fix set {name!r} (known: {', '.join(known)})")
    fix_sets = tuple(opt("fix", default=[]) or known)
    named = opt("profile_assume", default=[]) or []
    for name in named:
        if name not in PROFILES:
            raise _usage(f"--profile-assume: unknown assumption profile {name!r} "
                         f"(known: {', '.join(PROFILES)})")
    overrides: dict = {}
    for item in opt("assume", default=[]) or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise _usage(f"--assume takes KEY=VALUE, not {item!r} (keys: {', '.join(ASSUMPTIONS)})")
        try:
            overrides[key] = parse_assumption(key, value)
        except ConfigError as e:
            raise _usage(f"--assume: {e}") from None
    if overrides and not named:
        named = [REFERENCE_PROFILE]
    profiles = []
    for name in named or list(PROFILES):
        label = D.label_assumptions(assumptions_for(name, **overrides)) if overrides else name
        profiles.append((label, name, tuple(sorted(overrides.items()))))
    mode = opt("mode", default=None) or DEFAULT_MODE[profile]
    if mode not in ("explore", "rounds"):
        raise _usage(f"--mode: unknown search mode {mode!r} (known: explore, rounds)")
    budget = opt("budget", default=None)
    if budget is not None and budget < 1:
        raise _usage("--budget: at least 1 example")
    envs = opt("env", default=[]) or list(D.ENVIRONMENTS)
    for env in envs:
        if env not in D.ENVIRONMENTS:
            raise _usage(f"--env: unknown environment {env!r} (known: {', '.join(D.ENVIRONMENTS)})")
    return Selection(profile, fix_sets, tuple(dict.fromkeys(profiles)), budget, mode,
                     tuple(dict.fromkeys(envs)))


_COLLECTED: dict[str, list] = {"handover_cell": [], "handover_corpus": []}
"""Records from the tests' reports, in the process that prints the summary (xdist controller)."""


def pytest_configure(config):
    config._handover = selection(config)


def pytest_generate_tests(metafunc):
    if "cell" in metafunc.fixturenames:
        sel: Selection = metafunc.config._handover
        params = [(fs, label, base, dict(ov), env) for env in sel.environments
                  for fs in sel.fix_sets for label, base, ov in sel.profiles]
        metafunc.parametrize("cell", params, ids=[f"{p[0]}@{p[1]}#{p[4]}" for p in params])


@pytest.fixture
def selected(request) -> Selection:
    return request.config._handover


@pytest.fixture
def results_dir(request) -> Path:
    return Path(os.path.relpath(request.config.rootpath / "results"))


def pytest_runtest_logreport(report):
    if report.when != "call":
        return
    for key, value in report.user_properties:
        if key in _COLLECTED:
            _COLLECTED[key].append(json.loads(value))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    cells, corpus = _COLLECTED["handover_cell"], _COLLECTED["handover_corpus"]
    out = Path(os.path.relpath(config.rootpath / "results"))
    if cells:
        ms = V.matrices(cells)
        md, js = V.write(ms, out)
        terminalreporter.section("handover verdict matrix")
        terminalreporter.write_line(V.text_all(ms))
        terminalreporter.write_line(f"written: {md}, {js}")
    if corpus:
        from model import test_corpus
        m = test_corpus.corpus_matrix(corpus)
        path = test_corpus.write(m, out)
        terminalreporter.section("handover corpus replay (trace x fix set)")
        terminalreporter.write_line(test_corpus.text(m))
        terminalreporter.write_line(f"written: {path}")
