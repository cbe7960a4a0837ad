"""`pytest model/`: the verification suite's options, parametrization and verdict matrix.

    pytest model/ [-n 2] [--profile dev|ci|nightly] [--fix NAME]... [--assume KEY=VALUE]...
                  [--profile-assume NAME]... [--budget N] [--mode explore|rounds]

Each (fix set, assumption profile) is one test (`test_verify.py`); the cell records they attach to
their reports (`user_properties`, so pytest-xdist workers hand them to the controller) become the
verdict matrix printed at the end and written under `results/` (`--results DIR`). Corpus replays
(`test_corpus.py`) attach theirs the same way. The results are merged by cell with earlier runs
and marked partial when cells are missing (`model/outputs/results.py`): a subset run (`--fix`, `--env`) or
an interrupted one (Ctrl-C) never passes for the full matrix.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import attrs
import pytest

import fixes
from model.engines import driver as D
from model import session as run_session
from model.outputs import results as R
from model.outputs import verdicts as V
from model.system.config import (ASSUMPTIONS, PROFILES, REFERENCE_PROFILE, ConfigError, assumptions_for,
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
    run_session.addoption(g)     # --seed, --update-manifest, --manifest (model/session.py)
    g.addoption("--results", default=None, metavar="DIR",
                help="where the matrices, cells.json and counterexamples go (default: results/ "
                     "in the rootdir)")
    g.addoption("--engine", default="driver", choices=("driver", "explore"),
                help="driver: Hypothesis sampling (evidence: N runs); explore: every interleaving "
                     "up to --depth (evidence: exhaustive to depth N; model/engines/explore.py)")
    g.addoption("--depth", type=int, default=5, metavar="N",
                help="steps per path for --engine explore (default 5)")


@attrs.frozen
class Selection:
    profile: str
    fix_sets: tuple
    profiles: tuple        # (label, base profile name, overrides dict as tuple)
    budget: int | None
    mode: str
    environments: tuple = tuple(D.ENVIRONMENTS)

    def settings(self):
        """The Hypothesis settings. With --budget in rounds mode (nightly's default) Hypothesis's
        own shrink phase is off: it is not bounded by max_examples (it stops after 500 shrinks or
        300 s per failure: `--budget 3` once ran one cell for 328 s); `model/engines/shrink.py` still
        shrinks every counterexample, within its own bound of replays."""
        if self.budget is not None and self.mode == "rounds":
            from hypothesis import Phase
            return D.settings_for(self.profile, self.budget,
                                  phases=[ph for ph in Phase if ph is not Phase.shrink])
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


_SELECTED: dict[str, list] = {"cells": [], "corpus": []}
"""The cell and corpus keys this run selected (after -k/deselection), from the collected ids."""

CELL_TEST, CORPUS_TEST = "test_fix_set_under_profile", "test_fix_introduces_no_violation"
WITNESS_TEST = "test_baseline_shows_every_witness"


def pytest_configure(config):
    config._handover = selection(config)
    config.pluginmanager.register(run_session.Session(config), "handover-session")
    out = config.getoption("results", default=None)
    config._handover_results = Path(os.path.relpath(Path(out).resolve() if out else
                                                    config.rootpath / "results"))


def _note_selected(nodeids) -> None:
    cells, corpus = [], []
    for nid in nodeids:
        name, _, param = nid.partition("[")
        if name.endswith("::" + CELL_TEST):
            cells.append(param[:-1])
        elif name.endswith("::" + CORPUS_TEST):
            corpus.append(param[:-1])
    _SELECTED.update(cells=cells, corpus=corpus)


def pytest_collection_modifyitems(session, config, items):
    """The longest test first (the witness test, a few seconds), the cells next, the corpus
    replays (hundredths of a second each) last, so that under xdist the two workers finish
    together rather than one waiting on a long test dealt out at the end."""
    rank = {WITNESS_TEST: 0, CORPUS_TEST: 2}
    items.sort(key=lambda item: rank.get(item.name.partition("[")[0], 1))


def pytest_collection_finish(session):
    _note_selected(item.nodeid for item in session.items)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    if not (_SELECTED["cells"] or _SELECTED["corpus"]):   # every worker collects the same ids
        _note_selected(ids)


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
    return request.config._handover_results


def pytest_runtest_logreport(report):
    if report.when != "call":
        return
    for key, value in report.user_properties:
        if key in _COLLECTED:
            _COLLECTED[key].append(json.loads(value))


def _full_selection(sel: Selection) -> bool:
    """The options select the whole matrix. The run is a full one only if, besides, it collected
    every cell and every corpus replay: `pytest model/test_corpus.py` or `-k` select less, and such
    a run must not start the store afresh (which would drop every stored cell and its pages)."""
    return (set(sel.fix_sets) == set(fixes.known()) and set(sel.environments) == set(D.ENVIRONMENTS)
            and {(label, base, ov) for label, base, ov in sel.profiles}
            == {(name, name, ()) for name in PROFILES})


def full_matrix() -> list[str]:
    """Every cell key of the full matrix (every environment, fix set and named profile)."""
    return [f"{fs}@{p}#{env}" for env in D.ENVIRONMENTS for fs in fixes.known() for p in PROFILES]


def _in_order(records: list, keys: list, key_of) -> list:
    """`records` in the order their tests were collected (`keys`; any other after, as they came):
    what the run stores and prints does not depend on which xdist worker finished first."""
    place = {k: i for i, k in enumerate(keys)}
    return sorted(records, key=lambda r: place.get(key_of(r), len(place)))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Merge this run's cells into results/ (model/outputs/results.py), mark what is missing, print."""
    if hasattr(config, "workerinput"):    # an xdist worker: the controller writes, once
        return
    cells, corpus = _COLLECTED["handover_cell"], _COLLECTED["handover_corpus"]
    out: Path = config._handover_results
    interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
    write = terminalreporter.write_line
    if not cells and not corpus:
        if interrupted and (_SELECTED["cells"] or _SELECTED["corpus"]):
            terminalreporter.section("handover results")
            write(f"interrupted before any cell finished: {out}/ is unchanged")
        return
    sel: Selection = config._handover
    cells = _in_order(cells, _SELECTED["cells"], R.cell_key)
    corpus = _in_order(corpus, _SELECTED["corpus"], R.corpus_key)
    from model import test_corpus
    run = R.new_run("pytest " + " ".join(config.invocation_params.args),
                    {"profile": sel.profile, "mode": sel.mode, "budget": sel.budget},
                    _SELECTED["cells"], _SELECTED["corpus"], interrupted,
                    [R.cell_key(c) for c in cells], [R.corpus_key(c) for c in corpus],
                    _full_selection(sel) and set(_SELECTED["cells"]) == set(full_matrix())
                    and set(_SELECTED["corpus"]) == set(test_corpus.full_keys()))
    root = Path.cwd()
    store = R.merge(R.load_store(out), run, cells, corpus, root)
    R.save_store(store, out)
    removed = R.clean(store, out, root)
    if cells:
        ms = V.matrices(list(store["cells"].values()))
        state = R.completeness(store["cells"], full_matrix())
        md, js = V.write(ms, out, status=state, note=R.status_lines(store, "verdict", state, run))
        terminalreporter.section("handover verdict matrix (this run)")
        write(V.text_all(V.matrices(cells)))
        write(f"written: {md}, {js} ({'complete' if state['complete'] else 'PARTIAL'}: "
              f"{state['cells']} of {state['of']} cells"
              + (f"; {len(store['cells']) - len(cells)} from earlier runs" if
                 len(store["cells"]) > len(cells) else "") + ")")
    if cells and not interrupted:    # after Ctrl-C, stop: no further simulation
        from model.engines import estimate   # beside the verdicts: how often, for timed users
        terminalreporter.section("handover estimated failure probability (this run's fix sets)")
        for line in estimate.matrix_lines(list(dict.fromkeys(c["fix_set"] for c in cells))):
            write(line)
    if corpus:
        m = test_corpus.corpus_matrix(list(store["corpus"].values()))
        state = R.completeness(store["corpus"], test_corpus.full_keys())
        path = test_corpus.write(m, out, note=R.status_lines(store, "corpus", state, run))
        terminalreporter.section("handover corpus replay (trace x fix set, this run)")
        write(test_corpus.text(test_corpus.corpus_matrix(corpus)))
        write(f"written: {path} ({'complete' if state['complete'] else 'PARTIAL'}: "
              f"{state['cells']} of {state['of']} cells)")
    if run["status"] != "complete":
        write(f"this run is {run['status'].upper()}: {run['finished']} of {run['selected']} "
              f"selected cells finished" + (f"; unfinished: {', '.join(run['missing'][:10])}"
                                            + (" ..." if len(run["missing"]) > 10 else "")
                                            if run["missing"] else ""))
    if removed:
        write(f"removed {len(removed)} counterexample files no current cell points to")
