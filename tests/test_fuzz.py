"""`handover fuzz` (model/engines/fuzz.py): families, the persistent database, JSON, Ctrl-C, bad options."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import Phase

from model.engines import driver as D
from model.engines import fuzz as F
from model.system.config import PROFILES

HANDOVER = [sys.executable, "-m", "model.cli"]
CELL = ("baseline", "actual-2025-10-17")


def fuzz(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*HANDOVER, "fuzz", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=Path(__file__).parent.parent)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    db = tmp_path_factory.mktemp("db")
    runs = []
    for k in (1, 2):
        out = tmp_path_factory.mktemp(f"out{k}")
        p = fuzz("--minutes", "0.05", "--fix", "baseline", "--db", str(db), "--out", str(out),
                 "--format", "json")
        runs.append((p, json.loads(p.stdout) if p.stdout else None, out))
    return db, runs


def test_first_run_finds_the_baselines_families(two_runs):
    _, [(p, r, out), _] = two_runs
    assert p.returncode == 1, p.stderr
    props = {f["property"] for f in r["families"]}
    assert "AudioReachesActiveRegion" in props            # the reported symptom
    assert all(f["new"] for f in r["families"])
    for f in r["families"]:
        assert set(f) >= {"signature", "property", "count", "new", "trace"}
        assert f["signature"].startswith(f["property"] + "|") and f["count"] >= 1
        assert Path(f["trace"]).is_file()
    assert len({f["signature"] for f in r["families"]}) == len(r["families"])   # each once
    assert (out / "fuzz-report.md").read_text().startswith("# handover fuzz report")
    assert json.loads((out / "fuzz-report.json").read_text())["families"] == r["families"]
    assert "elapsed" in p.stderr and "left" in p.stderr and "cases" in p.stderr


def test_second_run_reports_them_as_known(two_runs):
    db, [(_, first, _), (p, second, _)] = two_runs
    assert p.returncode == 1, p.stderr
    before = {f["signature"] for f in first["families"]}
    again = [f for f in second["families"] if f["signature"] in before]
    assert again, "the second run met none of the first run's families"
    assert not any(f["new"] for f in again)
    assert all(f["new"] for f in second["families"] if f["signature"] not in before)
    index = json.loads((db / F.INDEX).read_text())["families"]
    assert before | {f["signature"] for f in second["families"]} == set(index)


def test_the_database_is_replayed_first(tmp_path):
    """What Hypothesis saved in one run fails at once in the next, with the driver's settings,
    another seed and no generation at all (reuse phase only)."""
    first = F.one_round(CELL, 0, 0, "switching", tmp_path)
    assert first["hits"]
    props = {h["property"] for h in first["hits"]}
    only_reuse = D.settings_for("dev", 1, database=F.settings(tmp_path).database,
                                phases=(Phase.reuse,))
    again = D.search(*CELL, settings=only_reuse, mode="rounds", environment="switching", seed=99,
                     properties=sorted(props), max_rounds=len(props))
    assert set(again.findings) & props
    empty = D.search(*CELL, settings=D.settings_for("dev", 1, database=F.settings(
        tmp_path / "none").database, phases=(Phase.reuse,)), mode="rounds",
        environment="switching", seed=99)
    assert not empty.findings                              # the finding came from the database


def test_bandit_prefers_cells_with_nothing_found():
    cells = ["a", "b", "c"]
    assert F.pick(cells, {"a": 0, "b": 0, "c": 0}, {c: set() for c in cells}) == "a"
    assert F.pick(cells, {"a": 1, "b": 1, "c": 0}, {c: set() for c in cells}) == "c"
    found = {"a": {"P", "Q"}, "b": set(), "c": set()}
    assert F.pick(cells, {"a": 1, "b": 2, "c": 2}, found) == "b"     # 2*1 < 1*3
    assert F.pick(cells, {"a": 1, "b": 3, "c": 3}, found) == "a"     # 3 = 3 = 3: the earlier cell


def test_ctrl_c_writes_the_report_and_keeps_the_database(tmp_path):
    db, out = tmp_path / "db", tmp_path / "out"
    p = subprocess.Popen([*HANDOVER, "fuzz", "--minutes", "5", "--fix", "baseline", "--db",
                          str(db), "--out", str(out)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, cwd=Path(__file__).parent.parent)
    line = ""
    deadline = time.time() + 30
    while "rounds" not in line and time.time() < deadline:   # after the first round's progress
        line = p.stderr.readline()
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=30)
    assert p.returncode == 130, stderr
    r = json.loads((out / "fuzz-report.json").read_text())
    assert r["interrupted"] is True and r["rounds"] >= 1
    assert "interrupted" in stdout
    index = json.loads((db / F.INDEX).read_text())["families"]
    assert {f["signature"] for f in r["families"]} <= set(index)
    assert not list(db.rglob("*.tmp"))
    assert "Traceback" not in stderr


@pytest.mark.parametrize("args, word", [
    (["--minutes", "soon"], "--minutes"), (["--minutes", "0"], "--minutes"),
    (["--fix", "nope"], "nope"), (["--env", "moon"], "moon"), (["--workers", "0"], "--workers"),
    (["--format", "yaml"], "yaml"), (["--seed", "x"], "--seed")])
def test_bad_options_exit_2_with_one_line(args, word, tmp_path):
    p = fuzz(*args, "--db", str(tmp_path / "db"), "--out", str(tmp_path / "out"))
    assert p.returncode == 2
    assert p.stdout == "" and len(p.stderr.strip().splitlines()) == 1 and word in p.stderr


def test_a_db_that_is_a_file_is_bad_input(tmp_path):
    (tmp_path / "db").write_text("mine")
    p = fuzz("--db", str(tmp_path / "db"), "--out", str(tmp_path / "out"))
    assert p.returncode == 2 and (tmp_path / "db").read_text() == "mine"


def test_workflow_parses():
    wf = Path(__file__).parent.parent / ".github" / "workflows" / "nightly.yml"
    import yaml  # the dev extra installs PyYAML
    doc = yaml.safe_load(wf.read_text())
    assert "schedule" in doc[True] and "workflow_dispatch" in doc[True]   # `on:` loads as True
    steps = [s.get("run", "") for s in doc["jobs"]["fuzz"]["steps"]]
    assert any("pip install -q -e '.[dev]'" in s for s in steps)   # the README's setup
    assert any("handover fuzz" in s for s in steps)


def test_two_workers_share_the_cells(tmp_path):
    p = fuzz("--minutes", "0.04", "--fix", "baseline", "--workers", "2", "--db",
             str(tmp_path / "db"), "--out", str(tmp_path / "out"), "--format", "json")
    assert p.returncode == 1, p.stderr
    r = json.loads(p.stdout)
    assert r["workers"] == 2 and r["rounds"] >= 2 and r["families"]
    order = [f"baseline/{p}" for p in PROFILES]
    dealt = {order.index(c) % 2 for f in r["families"] for c in f["cells"]}
    assert dealt == {0, 1}            # both workers' cells (dealt round-robin) produced families
