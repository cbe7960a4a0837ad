"""scripts/random_walks.py, the seeded cross-check of the matrix's search that docs/fixes.md quotes
("What it does not fix"): the same walks give the same findings, bad input exits 2."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "random_walks.py"


def walks(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_the_quoted_walk_finds_the_ghost_join_and_writes_a_replayable_trace(tmp_path):
    r = walks("--fix", "recommended", "--profile", "actual-2025-10-17", "--walks", "400",
              "--out", str(tmp_path))
    assert r.returncode == 1, r.stderr
    assert r.stdout.strip() == ("recommended under actual-2025-10-17, 400 walks: "
                                "GraceKeepsAudio (61 steps, walk 387)")
    trace = tmp_path / "recommended.actual-2025-10-17.GraceKeepsAudio.json"
    assert json.loads(trace.read_text())["expect"] == {"violates": ["GraceKeepsAudio"]}
    replay = subprocess.run([sys.executable, "-m", "model.cli", "replay", str(trace), "--check"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert replay.returncode == 0, replay.stdout[-500:] + replay.stderr


def test_per_region_deployments_show_nothing_in_400_walks():
    r = walks("--fix", "recommended", "--profile", "H2-per-region", "--walks", "400")
    assert r.returncode == 0 and r.stdout.strip().endswith("400 walks: nothing violated")


def test_bad_input_is_one_line_and_exit_2():
    for args in (["--fix", "nope"], ["--profile", "nope"], ["--walks", "0"], ["--walks", "x"]):
        r = walks(*args)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
        assert "Traceback" not in r.stderr
