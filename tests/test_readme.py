"""The README says only what a run shows (issue 7, item 6).

- The "first result" excerpt is what `handover replay` prints for that trace today.
- Each finding carries a machine-checked claim, `<!-- claim: TRACE [fix=NAME] violates=P,... holds=P,... -->`:
  the trace is replayed (under that fix set) and must violate and hold exactly what it says.
- The triage claim, `<!-- triage: PROFILE=STEPS|none ... -->`, is checked against a deterministic
  `handover triage` run (the default budget, as the README's command), and each estimate claim,
  `<!-- estimate: SCENARIO FIX=FAILURES ... -->`, against `handover estimate --runs 500 --seed 1`.
- The verdict summary between `<!-- verdicts:start -->` and `<!-- verdicts:end -->` is rendered
  from the checked-in manifest (model/expected-verdicts.json), which `pytest model/` holds the
  matrix to: `python tests/test_readme.py` rewrites it after the manifest changed.
- Every repository path the README names exists.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CLAIM = re.compile(r"<!-- claim: (\S+)((?: \w+=\S*)*) -->")
TRIAGE = re.compile(r"<!-- triage: ((?:\S+=\S+ ?)+) -->")
ESTIMATE = re.compile(r"<!-- estimate: (\S+) ((?:\S+=\d+ ?)+) -->")
START, END = "<!-- verdicts:start -->", "<!-- verdicts:end -->"


def readme() -> str:
    return README.read_text()


def replay_text(path: str, fixes: list[str]) -> tuple[str, object]:
    from model.outputs import render
    from model.engines import runner
    from model.engines.trace import load
    trace = load(ROOT / path)
    result = runner.run(trace, runner.config_for(trace, fixes or None))
    return render.text(result), result


def claims() -> list[tuple[str, dict]]:
    out = []
    for m in CLAIM.finditer(readme()):
        fields = dict(f.split("=", 1) for f in m.group(2).split())
        out.append((m.group(1), fields))
    return out


def test_the_readme_makes_checked_claims():
    assert len(claims()) >= 4
    assert TRIAGE.search(readme())
    assert START in readme() and END in readme()


@pytest.mark.parametrize("path,fields", claims(), ids=[c[0].rsplit("/", 1)[-1] + "@" +
                                                       c[1].get("fix", "trace") for c in claims()])
def test_each_claim_is_what_a_replay_shows(path, fields):
    _, result = replay_text(path, [f for f in fields.get("fix", "").split(",") if f])
    for prop in filter(None, fields.get("violates", "").split(",")):
        assert prop in result.violated, f"README: {path} violates {prop}; replay: {result.violated}"
    for prop in filter(None, fields.get("holds", "").split(",")):
        assert prop not in result.violated, f"README: {path} holds {prop}; replay: {result.violated}"


def test_the_first_result_excerpt_is_what_replay_prints():
    text = readme()
    m = re.search(r"\$ \.venv/bin/handover replay (\S+)\n(.*?)```", text, re.S)
    assert m, "README has no replay example"
    actual = replay_text(m.group(1), [])[0].splitlines()
    shown = [line for line in m.group(2).splitlines() if line.strip() and line.strip() != "..."]
    missing = [line for line in shown if line not in actual]
    assert not missing, f"README shows lines today's replay does not print: {missing}"


def test_the_triage_claim_is_what_triage_finds(tmp_path):
    """Run as the user runs it: `handover triage --format json`, in its own process."""
    import json
    import subprocess
    claimed = dict(pair.split("=") for pair in TRIAGE.search(readme()).group(1).split())
    argv = [sys.executable, "-m", "model.cli", "triage", "--format", "json", "--out", str(tmp_path)]
    for profile in claimed:
        argv += ["--profile-assume", profile]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["profiles"]
    found = {r["profile"]: (str(r["steps"]) if r["symptom"] else "none") for r in rows}
    assert found == claimed, f"README claims {claimed}; triage finds {found}"


@pytest.mark.parametrize("scenario,counts", ESTIMATE.findall(README.read_text()))
def test_each_estimate_is_what_handover_estimate_counts(scenario, counts, capsys):
    """The README's `handover estimate ... --runs 500 --seed 1`: failures per fix set."""
    import json
    from model.cli import main
    claimed = {k: int(v) for k, v in (pair.split("=") for pair in counts.split())}
    argv = ["estimate", "--scenario", scenario, "--runs", "500", "--seed", "1", "--format", "json"]
    for fix in claimed:
        argv += ["--fix", fix]
    assert main(argv) in (0, 1)
    rows = json.loads(capsys.readouterr().out)
    assert {r["fix"]: r["failures"] for r in rows} == claimed


def summary() -> str:
    """The README's verdict summary, rendered from the manifest: one line per fix set, what it
    violates in the switching environment and under how many assumption profiles."""
    import fixes
    from model.outputs import manifest
    from model.properties.properties import ALL
    cells = manifest.load()
    lines = ["| fix set | region switching (`switching`), per property: profiles violated |",
             "|---|---|"]
    for fix_set in fixes.known():
        keys = [k for k in cells if k.startswith(fix_set + "@") and k.endswith("#switching")]
        if not keys:
            continue
        bad = {p: sum(p in cells[k] for k in keys) for p in ALL}
        said = ", ".join(f"{p} {n}/{len(keys)}" for p, n in bad.items() if n)
        lines.append(f"| {fix_set} | {said or f'every property holds under all {len(keys)}'} |")
    return "\n".join(lines)


def test_the_verdict_summary_is_the_manifest():
    text = readme()
    shown = text[text.index(START) + len(START):text.index(END)].strip()
    assert shown == summary(), "README's verdict summary is stale: run python tests/test_readme.py"


def test_every_path_the_readme_names_exists():
    names = set(re.findall(r"(?<![\w/.])((?:docs|model|fixes|scripts|tests|benchmarks)/[\w./-]+\w)",
                           readme()))
    missing = sorted(n for n in names if not (ROOT / n).exists())
    assert not missing, f"README names paths that do not exist: {missing}"


if __name__ == "__main__":  # rewrite the summary from the manifest
    sys.path.insert(0, str(ROOT))
    text = readme()
    new = text[:text.index(START) + len(START)] + "\n" + summary() + "\n" + text[text.index(END):]
    README.write_text(new)
    print("README.md: verdict summary rewritten from model/expected-verdicts.json")
