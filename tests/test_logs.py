"""`handover logs check` and `handover logs generate` (model/logs/).

Generated logs of every corpus trace are explained and give the violations `handover replay` gives;
hand-written logs (tests/data/logs/) are explained, or rejected naming the first line the model
cannot explain; bad input is one line on stderr with exit status 2.
"""
from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from model import cli
from model.engines import runner
from model.logs import reader
from model.logs.statements import STATEMENTS
from model.engines.trace import load

ROOT = Path(__file__).parent.parent
CORPUS = sorted((ROOT / "model" / "corpus").glob("*.json"))
DATA = Path(__file__).parent / "data" / "logs"


def run_cli(*argv) -> tuple[int, str]:
    buf = io.StringIO()
    with redirect_stdout(buf):
        rc = cli.main([str(a) for a in argv])
    return rc, buf.getvalue()


def config_args(trace) -> list[str]:
    args = []
    for f in trace.fixes:
        args += ["--fix", f]
    for k, v in trace.assumptions:
        args += ["--assume", f"{k}={v}"]
    return args


def generated(path: Path, tmp_path: Path) -> Path:
    out = tmp_path / (path.stem + ".jsonl")
    rc, _ = run_cli("logs", "generate", path, "--out", out)
    assert rc == 0
    return out


def check_json(files, *extra) -> tuple[int, dict]:
    rc, out = run_cli("logs", "check", *files, "--format", "json", *extra)
    return rc, json.loads(out)


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_generated_logs_of_every_corpus_trace_give_replays_verdict(path, tmp_path):
    trace = load(path)
    replay = runner.run(trace)
    log = generated(path, tmp_path)
    rc, report = check_json([log], *config_args(trace))
    assert report["explained"], report
    assert report["violated"] == replay.violated
    assert rc == (1 if replay.violated else 0)
    assert report["search"]["expanded"] < report["search"]["budget"] / 2   # docs/logs.md
    for prop in replay.violated:  # evidence: lines of the log
        assert report["violations"][prop]["evidence"]
        assert all(e.startswith(str(log) + ":") for e in report["violations"][prop]["evidence"])


def test_generated_lines_are_labelled_and_known(tmp_path):
    log = generated(CORPUS[0], tmp_path)
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert lines and all(x["generated"] is True for x in lines)
    obs = reader.read([str(log)])
    assert obs.unknown == 0 and len(obs) == len(lines)


def test_generate_never_overwrites_without_force(tmp_path, capsys):
    out = tmp_path / "mine.jsonl"
    out.write_text("my own notes\n")
    assert cli.main(["logs", "generate", str(CORPUS[0]), "--out", str(out)]) == 2
    assert out.read_text() == "my own notes\n"
    assert "--force" in capsys.readouterr().err
    assert cli.main(["logs", "generate", str(CORPUS[0]), "--out", str(out), "--force"]) == 0
    assert '"generated": true' in out.read_text()


def test_generate_to_stdout_is_deterministic():
    first = run_cli("logs", "generate", CORPUS[0])
    assert first == run_cli("logs", "generate", CORPUS[0])
    assert first[0] == 0 and first[1].count("\n") > 10


def test_a_log_split_over_files_per_source_is_explained_the_same(tmp_path):
    path = ROOT / "model/corpus/switch-back-within-grace-shared.json"
    trace = load(path)
    lines = generated(path, tmp_path).read_text().splitlines()
    files = []
    for source in ("cloud", "bridge", "mobile", "livekit"):
        f = tmp_path / f"{source}.jsonl"
        f.write_text("".join(x + "\n" for x in lines
                             if reader.source_of(json.loads(x)) == source))
        files.append(f)
    rc, report = check_json(files, *config_args(trace))
    assert report["explained"] and report["violated"] == runner.run(trace).violated
    assert rc == 1


def test_cloud_lines_alone_are_explained(tmp_path):
    """Sources the log does not have are silent: the cloud's lines alone of the switch back
    within grace still show the stale isConnected() (user actions are then unobserved choices)."""
    path = ROOT / "model/corpus/switch-back-within-grace-shared.json"
    trace = load(path)
    lines = generated(path, tmp_path).read_text().splitlines()
    f = tmp_path / "cloud.jsonl"
    f.write_text("".join(x + "\n" for x in lines if reader.source_of(json.loads(x)) == "cloud"))
    rc, report = check_json([f], *config_args(trace))
    assert report["sources"] == ["cloud"]
    assert report["explained"] and report["violated"] == runner.run(trace).violated


def test_hand_written_cloud_logs_of_two_regions_are_explained():
    files = sorted(DATA.glob("switch-then-grace-expiry.*.jsonl"))
    rc, report = check_json(files)
    assert report["explained"], report
    assert report["unknown_skipped"] == 3          # the "Bridge health" lines
    assert report["lines"] == 15
    assert rc == (1 if report["violated"] else 0)


def test_trace_out_replays_to_the_same_verdict(tmp_path):
    files = sorted(DATA.glob("switch-then-grace-expiry.*.jsonl"))
    out = tmp_path / "rec.json"
    rc, report = check_json(files, "--trace-out", out)
    rec = load(out)
    assert runner.run(rec).violated == report["violated"]
    assert cli.main(["logs", "check", *map(str, files), "--trace-out", str(out)]) == 2  # exists


@pytest.mark.parametrize("name, line, expected", [
    ("impossible-order", 12, "dispose_start"),
    ("missing-line", 10, "grpc_join"),
])
def test_impossible_logs_name_the_first_line_the_model_cannot_explain(name, line, expected):
    rc, report = check_json([DATA / f"{name}.jsonl"], "--budget", "1500")
    assert rc == 3 and not report["explained"]
    assert report["first_unexplained"]["where"] == f"{DATA / name}.jsonl:{line}"
    assert report["expected"][0]["event"] == expected


def test_the_text_report_names_the_line_and_what_was_expected():
    rc, out = run_cli("logs", "check", DATA / "missing-line.jsonl", "--budget", "500")
    assert rc == 3
    assert f"NOT EXPLAINED: {DATA / 'missing-line.jsonl'}:10" in out
    assert "Joining LiveKit room via bridge" in out


def test_the_evidence_of_a_crash_is_the_panic_line(tmp_path):
    path = ROOT / "model/corpus/bridge-panic-on-stream-error.json"
    log = generated(path, tmp_path)
    rc, out = run_cli("logs", "check", log, *config_args(load(path)))
    assert rc == 1
    evidence = [x for x in out.splitlines() if "evidence" in x]
    assert any("panic: send on closed channel" in x for x in evidence)


def _write(tmp_path, *lines) -> Path:
    f = tmp_path / "log.jsonl"
    f.write_text("".join(lines))
    return f


CLOUD = ('{"level": 30, "time": 1760702400000, "region": "cloud-debug", "userId": "u@x", '
         '"msg": "New user session created"}\n')


@pytest.mark.parametrize("content, says", [
    ([CLOUD, "not json\n"], "log.jsonl:2: not JSON"),
    ([CLOUD, "[1, 2]\n"], "log.jsonl:2: a log line is a JSON object"),
    ([CLOUD, "[" * 100_000 + "]" * 100_000 + "\n"], "log.jsonl:2: nested too deeply"),
    ([CLOUD.replace('"time": 1760702400000, ', '')], "log.jsonl:1: no timestamp"),
    ([CLOUD.replace("cloud-debug", "centralus")], "log.jsonl:1: cloud line with region"),
    ([CLOUD, CLOUD.replace("u@x", "v@y")], "more than one user"),
    (['{"hello": "world"}\n'], "no known log line"),
    ([], "no known log line"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, content, says):
    f = _write(tmp_path, *content)
    assert cli.main(["logs", "check", str(f)]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1


@pytest.mark.parametrize("argv", [
    ["logs", "check", "/nonexistent/log.jsonl"],
    ["logs", "check", str(DATA / "missing-line.jsonl"), "--fix", "no-such-fix"],
    ["logs", "check", str(DATA / "missing-line.jsonl"), "--assume", "topology=ring"],
    ["logs", "check", str(DATA / "missing-line.jsonl"), "--budget", "-1"],
    ["logs", "check", str(DATA / "missing-line.jsonl"), "--tolerance", "nan"],
    ["logs", "check", str(DATA / "missing-line.jsonl"), "--choices", "x"],
    ["logs", "generate", "/nonexistent/trace.json"],
    ["logs"],
])
def test_bad_arguments_exit_2(argv, capsys):
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_unknown_lines_are_counted_and_skipped(tmp_path):
    f = _write(tmp_path, CLOUD.replace("u@x", "isaiah@mentra.glass"),
               '{"level": 30, "time": 1760702400001, "region": "cloud-debug", '
               '"msg": "Bridge health"}\n',
               '{"something": "else"}\n')
    obs = reader.read([str(f)])
    assert obs.unknown == 2 and len(obs) == 1


def test_the_check_is_deterministic():
    files = sorted(DATA.glob("switch-then-grace-expiry.*.jsonl"))
    assert run_cli("logs", "check", *files) == run_cli("logs", "check", *files)


def test_docs_show_the_mapping_table_of_the_code():
    from model.logs.statements import markdown_table
    assert markdown_table() in (ROOT / "docs" / "logs.md").read_text(), \
        "docs/logs.md is stale: run .venv/bin/python docs/gen_logs.py"


def doc_commands(text: str) -> list[tuple[str, list[str], int | None]]:
    """(command, output lines, exit status or None) for every `$ handover ...` in the page's code
    blocks; an `$ echo $?` after a command gives its status."""
    out: list = []
    for block in text.split("```")[1::2]:
        current = None
        for line in block.splitlines():
            if line.startswith("$ echo $?"):
                current[2] = "next"
            elif line.startswith("$ "):
                current = [line[2:] if line.startswith("$ handover ") else None, [], None]
                out.append(current)
            elif current is not None and current[2] == "next":
                current[2] = int(line)
            elif current is not None:
                current[1].append(line)
    return [(c, lines, rc) for c, lines, rc in out if c]


def test_docs_examples_are_what_the_commands_print(tmp_path, capsys, monkeypatch):
    """docs/logs.md shows real output: every `handover` command on the page prints it today."""
    import shlex
    monkeypatch.chdir(ROOT)
    page = (ROOT / "docs" / "logs.md").read_text()
    commands = doc_commands(page)
    assert len(commands) >= 6
    for command, lines, status in commands:
        argv = [a.replace("/tmp/switch-back.jsonl", str(tmp_path / "switch-back.jsonl"))
                for a in shlex.split(command)[1:]]
        rc = cli.main(argv)
        captured = capsys.readouterr()
        printed = (captured.out + captured.err).replace(str(tmp_path / "switch-back.jsonl"),
                                                        "/tmp/switch-back.jsonl")
        stale = f"docs/logs.md is stale for `{command}`: run .venv/bin/python docs/gen_logs.py"
        assert printed.splitlines() == lines, stale
        if status is not None:
            assert rc == status, stale


def test_every_model_event_is_mapped_or_declared_silent():
    """A kind a party logs that is neither mapped nor in SILENT would be silent by accident; a
    statement whose kind no party logs any more would never match."""
    import re

    from model.logs.statements import SILENT
    pattern = re.compile(r"\blog\(\s*\"([a-z_]+)\"")
    sources = [*ROOT.glob("model/**/*.py"), *ROOT.glob("fixes/*.py")]
    kinds = {k for f in sources for k in pattern.findall(f.read_text())} | {"crash", "restart"}
    mapped = {s.kind for s in STATEMENTS}
    assert kinds - mapped - set(SILENT) == set()
    assert mapped - kinds == set()
    assert mapped & set(SILENT) == set()


SAMPLE_TEXTS = {
    "participant_joined": "cloud-agent:isaiah@mentra.glass joined isaiah@mentra.glass as PA_1",
    "participant_left": "isaiah@mentra.glass (PA_2) left isaiah@mentra.glass: DUPLICATE_IDENTITY",
    "token_rejected": "401 for cloud-agent:isaiah@mentra.glass: invalid API key: APIfrance",
    "select_region": "switch region cloud-debug -> france",
    "room_connect": "room #4: connect to shared",
}
PARTIES = {"cloud": "region:france#1", "bridge": "bridge:cloud-livekit", "mobile": "mobile",
           "livekit": "livekit:shared"}


@pytest.mark.parametrize("st", STATEMENTS, ids=[f"{s.source}-{s.kind}" for s in STATEMENTS])
def test_every_generated_line_reads_back_as_its_event(st):
    from model.logs.statements import Event, render
    e = Event(PARTIES[st.source], st.kind, SAMPLE_TEXTS.get(st.kind, "x"), 1234)
    line = render(e, "isaiah@mentra.glass")
    assert line["generated"] is True
    got = reader.classify(line, "here")
    assert got is not None, line
    source, party, kind, detail = got
    assert (source, kind) == (st.source, st.kind)
    from model.logs.statements import key_of
    assert key_of(source, party, kind, detail) == e.key
    assert reader._time_ms(line, "here") == reader._time_ms(render(
        Event(e.party, e.kind, e.text, 0), "u"), "here") + 1234


def test_every_statement_cites_the_real_code():
    for s in STATEMENTS:
        assert ".go" in s.where or ".ts" in s.where or ".tsx" in s.where, s
    kinds = {(s.source, s.kind) for s in STATEMENTS}
    assert len(kinds) == len(STATEMENTS)
