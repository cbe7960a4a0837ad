"""The same trace twice gives the same world and the same output, also in a fresh process."""
import subprocess
import sys
from pathlib import Path

import pytest

from model.outputs import render
from model.engines import runner
from model.engines.trace import load
from conftest import CORPUS, ROOT

TRACE = CORPUS / "switch-back-within-grace-shared.json"


def outputs(path):
    r = runner.run(load(path))
    return r, {"text": render.text(r), "json": render.as_json(r), "markdown": render.markdown(r)}


@pytest.mark.parametrize("name", ["report-repro-shared", "switch-back-within-grace-shared",
                                  "grace-expiry-shared"])
def test_two_runs_give_equal_worlds_and_identical_output(name):
    a, out_a = outputs(CORPUS / f"{name}.json")
    b, out_b = outputs(CORPUS / f"{name}.json")
    assert a.world == b.world and hash(a.world) == hash(b.world)
    assert out_a == out_b
    assert a.violations == b.violations and a.witnesses == b.witnesses


def test_a_fresh_process_gives_the_same_output_in_every_format():
    _, expected = outputs(TRACE)
    script = Path(sys.executable).parent / "handover"      # the installed console script
    exe = ([str(script)] if script.exists() else [sys.executable, "-m", "model.cli"])
    exe += ["replay", str(TRACE)]
    for fmt, want in expected.items():
        got = subprocess.run(exe + ["--format", fmt], capture_output=True, text=True, cwd=ROOT,
                             env={"PYTHONHASHSEED": "12345", "PATH": ""})
        assert got.returncode == 1 and got.stderr == ""
        assert got.stdout == want, fmt


def test_worlds_are_hashable_values():
    a, _ = outputs(TRACE)
    assert len({a.world, a.world}) == 1
