"""`handover triage`: errors and outputs."""
from __future__ import annotations

import json

import pytest

from model.cli import main


@pytest.mark.parametrize("argv, message", [
    (["--budget", "x"], "--budget"),
    (["--budget", "0"], "--budget"),
    (["--format", "yaml"], "--format"),
    (["--profile-assume", "H9"], "H2-per-region"),
])
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    assert main(["triage", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_out_must_be_a_directory(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("")
    assert main(["triage", "--out", str(f)]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_json_output_names_each_profile_with_its_shortest_counterexample(tmp_path, capsys):
    argv = ["triage", "--budget", "60", "--format", "json", "--out", str(tmp_path),
            "--profile-assume", "actual-2025-10-17", "--profile-assume", "H2-per-region"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["symptom"] == "AudioReachesActiveRegion"
    rows = {r["profile"]: r for r in data["profiles"]}
    assert set(rows) == {"actual-2025-10-17", "H2-per-region"}
    for r in rows.values():
        if r["symptom"]:
            assert main(["replay", r["counterexample"], "--check"]) == 0
            trace = json.loads(open(r["counterexample"]).read())
            assert any(s["step"] == "switch_region" for s in trace["steps"])
    assert rows["actual-2025-10-17"]["symptom"]


def test_text_output_lists_both_groups(tmp_path, capsys):
    assert main(["triage", "--budget", "5", "--out", str(tmp_path),
                 "--profile-assume", "actual-2025-10-17"]) == 0
    out = capsys.readouterr().out
    assert "can produce it" in out and "not found within the budget" in out
