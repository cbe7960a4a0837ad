"""`handover replay`: exit statuses, --check, formats, and one-line errors (cli.py)."""
import json
import shutil

import pytest

from model import cli
from model.properties import properties as P
from conftest import CORPUS

GOOD = CORPUS / "report-repro-per-region.json"        # every property holds
BAD = CORPUS / "switch-back-within-grace-shared.json"  # violations, expectation met


def run(capsys, *argv):
    code = cli.main(["replay", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


def write(tmp_path, data, name="t.json"):
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return p


def steps(*s):
    return {"format": "handover.trace/1", "steps": list(s)}


SETTLE = {"step": "settle"}


def test_exit_0_when_every_property_holds(capsys):
    code, out, err = run(capsys, GOOD)
    assert code == 0 and err == "" and "verdict:" in out


def test_exit_1_when_a_property_is_violated(capsys):
    code, out, _ = run(capsys, BAD)
    assert code == 1 and "AudioReachesActiveRegion  VIOLATED at step 6" in out


def test_check_says_whether_expect_was_met(capsys, tmp_path):
    assert run(capsys, BAD, "--check")[0] == 0
    data = json.loads(BAD.read_text())
    data["expect"] = {"holds": ["AudioReachesActiveRegion"]}
    code, out, _ = run(capsys, write(tmp_path, data), "--check")
    assert code == 1 and "expectation NOT met" in out


def test_fix_and_assume_override_the_trace(capsys):
    code, out, _ = run(capsys, BAD, "--assume", "topology=per-region")
    assert code == 0 and "topology=per-region" in out
    code, out, _ = run(capsys, BAD, "--fix", "baseline", "--format", "json")
    assert json.loads(out)["fixes"] == ["baseline"]


def test_json_has_the_documented_keys(capsys):
    code, out, _ = run(capsys, BAD, "--format", "json")
    data = json.loads(out)
    assert {"violated", "held", "steps", "fixes", "assumptions"} <= set(data)
    assert data["violated"] == ["AudioReachesActiveRegion", "BridgeStatusTruthful"]
    assert set(data["violated"]) | set(data["held"]) == set(P.ALL)
    assert data["steps"] == 6 and data["assumptions"]["topology"] == "shared"


def _mermaid(out: str) -> tuple[dict, str]:
    """{alias: label} of the participants, and the diagram's other lines."""
    assert "```mermaid\nsequenceDiagram" in out
    block = out.split("```mermaid\n", 1)[1].split("```", 1)[0]
    lanes = dict(ln.strip()[len("participant "):].split(" as ", 1) for ln in block.splitlines()
                 if ln.strip().startswith("participant "))
    rest = "\n".join(ln for ln in block.splitlines() if not ln.strip().startswith("participant "))
    return lanes, rest


def test_markdown_has_a_mermaid_diagram_with_a_lane_per_party_that_takes_part(capsys):
    _, out, _ = run(capsys, BAD, "--format", "markdown")
    lanes, _ = _mermaid(out)
    # cloud-debug -> france -> cloud-debug: cloud-livekit and its bridge say nothing, get no lane
    regions = ["cloud-debug", "france"]
    assert list(lanes.values()) == (["mobile"] + [f"region:{r}" for r in regions]
                                    + [f"bridge:{r}" for r in regions] + ["livekit:shared"])


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.json")) + ["two-pods"],
                         ids=lambda p: getattr(p, "stem", p))
def test_every_mermaid_lane_is_used_and_labels_survive_mermaid(capsys, tmp_path, path):
    """Mermaid cuts a participant label at '#': labels carry no '#' and stay distinct; a lane is
    declared only for a party that has a message or a note."""
    if path == "two-pods":
        path = write(tmp_path, {**steps({"step": "connect", "region": "france"}, SETTLE,
                                         {"step": "switch_region", "to": "cloud-debug"}, SETTLE),
                                "assumptions": {"pods_per_region": 2}})
    _, out, _ = run(capsys, path, "--format", "markdown")
    lanes, rest = _mermaid(out)
    assert all("#" not in label for label in lanes.values())
    assert len(set(lanes.values())) == len(lanes)
    for alias in lanes:
        assert (f"over {alias}:" in rest or f"{alias}->>" in rest or f">>{alias}:" in rest), alias
    if "two" in path.name:
        assert "region:france pod 0" in lanes.values() and "region:france pod 1" in lanes.values()


@pytest.mark.parametrize("content,needle", [
    ("{not json", "not JSON"),
    ("[1, 2]", "a trace is a JSON object"),
    (json.dumps({"format": "handover.trace/0", "steps": []}), "format"),
    (json.dumps(steps({"step": "teleport"})), "unknown step 'teleport'"),
    (json.dumps(steps({"step": "connect", "region": "mars"})), "unknown region 'mars'"),
    (json.dumps(steps({"step": "ws_drop"})), "step 1 (ws_drop): not possible here"),
    (json.dumps(steps({"step": "connect", "region": "france"}, {"step": "grpc_stream_error",
                                                               "region": "france"})),
     "step 2 (grpc_stream_error): not possible here"),
    (json.dumps({**steps(SETTLE), "fixes": ["fix9"]}), "unknown fix 'fix9'"),
    (json.dumps({**steps(SETTLE), "assumptions": {"weather": "rain"}}), "unknown assumption 'weather'"),
    (json.dumps({**steps(SETTLE), "assumptions": {"topology": "nope"}}), "topology"),
])
def test_bad_traces_are_one_line_errors_with_exit_2(capsys, tmp_path, content, needle):
    code, out, err = run(capsys, write(tmp_path, content))
    assert code == 2 and out == ""
    assert err.startswith("handover: error: ") and err.count("\n") == 1
    assert needle in err and "Traceback" not in err


@pytest.mark.parametrize("argv,needle", [
    (["--assume", "topology=nope"], "topology"),
    (["--assume", "nope=1"], "unknown assumption 'nope'"),
    (["--assume", "topology"], "KEY=VALUE"),
    (["--fix", "fix9"], "unknown fix 'fix9'"),
    (["--format", "pdf"], "pdf"),
])
def test_bad_options_are_one_line_errors_with_exit_2(capsys, argv, needle):
    code, out, err = run(capsys, GOOD, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and needle in err


def test_a_missing_file_is_a_one_line_error(capsys, tmp_path):
    code, _, err = run(capsys, tmp_path / "nope.json")
    assert code == 2 and "cannot read" in err and err.count("\n") == 1


def test_the_console_script_prints_no_traceback(tmp_path):
    import subprocess
    import sys
    from pathlib import Path
    script = Path(sys.executable).parent / "handover"
    if not script.exists():
        pytest.skip("console script not installed")
    bad = write(tmp_path, json.dumps(steps({"step": "ws_drop"})))
    got = subprocess.run([str(script), "replay", str(bad)], capture_output=True, text=True)
    assert got.returncode == 2 and got.stdout == "" and got.stderr.count("\n") == 1
    assert "Traceback" not in got.stderr


def test_nothing_the_user_wrote_is_modified(capsys, tmp_path):
    trace = tmp_path / "mine.json"
    shutil.copy(BAD, trace)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    mtime = trace.stat().st_mtime_ns
    for fmt in ("text", "json", "markdown"):
        run(capsys, trace, "--format", fmt, "--check")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert trace.stat().st_mtime_ns == mtime


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0
    from importlib import metadata
    assert capsys.readouterr().out.strip() == f"handover {metadata.version('handover')}"


def test_replay_help_lists_fix_names_assumption_keys_and_exit_statuses(capsys):
    import fixes
    from model.system.config import ASSUMPTIONS
    with pytest.raises(SystemExit):
        cli.main(["replay", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert all(name in out for name in fixes.known())
    assert all(f"{key}=" in out for key in ASSUMPTIONS)
    assert "topology=shared|per-region|centralus-shared" in out
    for status in ("0 every property held", "1 a property was violated", "2 bad input",
                   "3 model and real server disagree", "130 interrupted"):
        assert status in out


def test_triage_help_has_a_description(capsys):
    with pytest.raises(SystemExit):
        cli.main(["triage", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "For each assumption profile, search the baseline" in out and "130 interrupted" in out


def test_ctrl_c_during_a_replay_is_exit_130(monkeypatch, capsys):
    from model.engines import runner

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(runner, "run", interrupted)
    assert cli.main(["replay", str(GOOD)]) == 130
    out = capsys.readouterr()
    assert out.out == "" and out.err == "handover: interrupted\n"
