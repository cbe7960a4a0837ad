"""`pytest model/`: every registered fix set under every assumption profile (see conftest.py).

Each (fix set, profile, environment) is one test: the Hypothesis driver searches for violations of
every property, each violation is shrunk, replayed and written under results/counterexamples/, and
the test compares the verdict with the checked-in manifest (`model/expected-verdicts.json`,
`model/outputs/manifest.py`): it passes when they agree, and fails naming the properties whose verdict
changed. A cell the manifest does not know passes when it holds everything. A model error always
fails. The verdict matrix is printed at the end.
"""
from __future__ import annotations

import json

import pytest

from model.engines import driver as D
from model.properties import properties as P
from model import session as run_session
from model.outputs import verdicts as V
from fixes import make_config


def test_fix_set_under_profile(cell, selected, results_dir, request):
    fix_set, label, base, overrides, environment = cell
    cfg = make_config([fix_set], base, **overrides) if overrides else None
    seed = getattr(request.config, "_handover_seed", D.DEFAULT_SEED)
    explore = request.config.getoption("engine", default="driver") == "explore"
    if explore:     # every interleaving up to --depth (model/engines/explore.py)
        from model.engines import explore as X
        record = X.evaluate(fix_set, label, cfg or make_config([fix_set], base), environment,
                            request.config.getoption("depth"), results_dir / "explore")
    else:
        record = V.evaluate(fix_set, label, settings=selected.settings(), mode=selected.mode,
                            cfg=cfg, out_dir=results_dir / "counterexamples",
                            environment=environment, seed=seed,
                            race_windows=selected.profile in D.RANDOM_PROFILES,
                            retry=run_session.is_random(request.config))
    request.node.user_properties.append(("handover_cell", json.dumps(record)))
    problems = []
    if not request.config.getoption("update_manifest", default=False):
        why = (X.unexpected if explore else run_session.expected_failure)(
            request.config._handover_manifest, record)
        if why:
            problems.append(why)
    for e in record["errors"]:
        problems.append(f"MODEL ERROR {e['error']}" + (f"\n    trace: {e['trace']}"
                                                       if e.get("trace") else ""))
    if problems:
        pytest.fail(f"{fix_set} under {label} ({environment}):\n  " + "\n  ".join(problems),
                    pytrace=False)


WITNESS_BUDGET = 300


def test_baseline_shows_every_witness(selected, request):
    """A model that does nothing cannot pass: the baseline's runs under the reference profile show
    audio through LiveKit, a completed region switch and a grace period disposing a session."""
    tally = D.observe("baseline", settings=D.settings_for(selected.profile, WITNESS_BUDGET),
                      seed=getattr(request.config, "_handover_seed", D.DEFAULT_SEED))
    missing = [n for n in P.WITNESSES if not tally.witnesses[n]]
    assert not missing, f"never seen in {tally.runs} baseline runs: {', '.join(missing)}"
