"""`handover replay` on bad input: every case exits 2 with one line on stderr and no traceback.

The named cases are the ones an independent run found (issue 7, item 4) plus the odd inputs that
used to be accepted silently. The property test builds malformed traces from the valid ones in
`model/corpus/` (a field of the wrong type, a number out of range, an unknown name, random bytes)
and asserts the same for every one of them, in-process (`model.cli.main`) for speed; a few cases go
through the real console script.
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import fixes
from model import cli
from model.system.config import ASSUMPTIONS, REGIONS
from model.properties.properties import ALL
from model.engines.trace import MAX_DEPTH, MAX_SECONDS, STEPS
from conftest import CORPUS

TRACES = sorted(CORPUS.glob("*.json"))
VALID = [json.loads(p.read_text()) for p in TRACES]
SCRIPT = Path(sys.executable).parent / "handover"


def replay_bytes(data: bytes, *extra: str) -> tuple[int, str, str]:
    """`handover replay FILE` in-process on a file holding `data`: (exit status, stdout, stderr)."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "t.json"
        path.write_bytes(data)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(["replay", str(path), *extra])
    return code, out.getvalue(), err.getvalue()


def assert_one_line_exit_2(code: int, out: str, err: str, needle: str = "") -> None:
    assert code == 2, (code, err)
    assert out == "", out[:200]
    assert err.startswith("handover: error: ") and err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err and "internal error" not in err, err
    assert needle in err, err


def trace(*steps, **top) -> bytes:
    return json.dumps({"format": "handover.trace/1", "steps": list(steps), **top}).encode()


CONNECT = {"step": "connect", "region": "france"}

CASES = {
    "step given as a list": (trace({"step": ["connect"]}), "a step name (a string), not a list"),
    "step given as an object": (trace({"step": {"x": 1}}), "not an object"),
    "seconds NaN": (b'{"format":"handover.trace/1","steps":[{"step":"advance","seconds":NaN}]}',
                    "NaN is not a number"),
    "seconds Infinity": (b'{"format":"handover.trace/1","steps":[{"step":"advance",'
                         b'"seconds":Infinity}]}', "Infinity is not a number"),
    "seconds -Infinity": (b'{"format":"handover.trace/1","steps":[{"step":"advance",'
                          b'"seconds":-Infinity}]}', "-Infinity is not a number"),
    "seconds 1e400": (b'{"format":"handover.trace/1","steps":[{"step":"advance","seconds":1e400}]}',
                      "1e400 is out of range"),
    "seconds 1e300": (trace({"step": "advance", "seconds": 1e300}), f"at most {MAX_SECONDS}"),
    "seconds 1e-9": (trace({"step": "advance", "seconds": 1e-9}), "whole number of milliseconds"),
    "seconds 0.0015": (trace({"step": "advance", "seconds": 0.0015}), "whole number of milliseconds"),
    "seconds 0": (trace({"step": "advance", "seconds": 0}), "more than 0"),
    "seconds over a day": (trace({"step": "advance", "seconds": MAX_SECONDS + 1}), "at most"),
    "outage of 1.5 s": (trace(CONNECT, {"step": "livekit_outage", "participant": "mobile",
                                        "seconds": 1.5}), "whole number of seconds"),
    "tick of 0 ms": (trace({"step": "tick", "ms": 0}), "ms must be a whole number"),
    "tick over a day": (trace({"step": "tick", "ms": MAX_SECONDS * 1000 + 1}), "ms must be"),
    "seconds of 401 digits": (b'{"format":"handover.trace/1","steps":[{"step":"advance",'
                              b'"seconds":1' + b"0" * 400 + b"}]}", "at most 86400"),
    "integer of 5000 digits": (b'{"format":"handover.trace/1","steps":[{"step":"tick","ms":'
                               + b"9" * 5000 + b"}]}", "not JSON"),
    "JSON nested 100,000 deep": (b"[" * 100_000 + b"]" * 100_000, f"deeper than {MAX_DEPTH}"),
    "objects nested 100,000 deep": (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "deeper than"),
    "binary file": (bytes(range(256)) * 4, "not UTF-8"),
    "Latin-1 file": ('{"format":"handover.trace/1","description":"café","steps":[{"step":"settle"}]}'
                     .encode("latin-1"), "not UTF-8 text (byte 0xe9"),
    "UTF-16 file": ('{"format":"handover.trace/1","steps":[{"step":"settle"}]}'.encode("utf-16"),
                    "not UTF-8 text (byte 0xff"),
    "UTF-8 with a BOM": (b"\xef\xbb\xbf" + trace({"step": "settle"}), "not JSON"),
    "empty file": (b"", "not JSON"),
    "duplicate top-level key": (b'{"format":"handover.trace/1","steps":[{"step":"settle"}],'
                                b'"steps":[]}', "duplicate key 'steps'"),
    "duplicate key in a step": (b'{"format":"handover.trace/1","steps":[{"step":"connect",'
                                b'"region":"france","region":"mars"}]}', "duplicate key 'region'"),
    "empty steps": (trace(), "\"steps\" is empty"),
    "expect contradicts itself": (trace(CONNECT, expect={"violates": ["OneBridgePerRoom"],
                                                         "holds": ["OneBridgePerRoom"]}),
                                  "contradicts itself: OneBridgePerRoom"),
    "expect names a property twice": (trace(CONNECT, expect={"holds": ["NoZombieBridges"] * 2}),
                                      "twice"),
    "description not a string": (trace(CONNECT, description=["x"]), "description"),
    "mic given as a string": (trace(CONNECT, {"step": "mic", "on": "yes"}), "wrong type"),
    "pod 9 on a deliver": (trace(CONNECT, {"step": "deliver", "conn": "mobile/ws1", "to": "server",
                                           "pod": 9}), "pod is a number from 0 to 1"),
    "pod 1 with one pod per region": (trace(CONNECT, {"step": "grpc_stream_error",
                                                      "region": "france", "pod": 1}),
                                      "pod 1 does not exist with pods_per_region=1"),
    "pod given as a boolean": (trace(CONNECT, {"step": "grpc_stream_error", "region": "france",
                                               "pod": True}), "wrong type"),
}


@pytest.mark.parametrize("data,needle", CASES.values(), ids=CASES.keys())
def test_each_bad_input_is_one_line_and_exit_2(data, needle):
    assert_one_line_exit_2(*replay_bytes(data), needle)


def test_a_valid_trace_still_replays():
    """The refusals above do not refuse the corpus (every one replays to its expectation)."""
    for path in TRACES:
        code, out, err = replay_bytes(path.read_bytes(), "--check")
        assert code == 0 and err == "", (path.name, err)


def test_live_replay_without_the_live_extra_is_one_line(monkeypatch):
    """`--livekit NAME=...` when the `livekit` package is not installed (README command 1)."""
    monkeypatch.setitem(sys.modules, "livekit.rtc", None)    # import livekit.rtc -> ImportError
    data = TRACES[0].read_bytes()
    for extra in (["--livekit", "shared=ws://127.0.0.1:1,key,secret"], ["--livekit-dev"]):
        assert_one_line_exit_2(*replay_bytes(data, *extra), "the 'live' extra")


def _script(argv: list[str], prelude: str = "") -> subprocess.CompletedProcess:
    if prelude:   # the same entry point, after a prelude (to hide a package)
        cmd = [sys.executable, "-c", f"{prelude}\nimport sys\nfrom model.cli import main\n"
                                     f"sys.exit(main(sys.argv[1:]))", *argv]
    else:
        if not SCRIPT.exists():
            pytest.skip("console script not installed")
        cmd = [str(SCRIPT), *argv]
    return subprocess.run(cmd, capture_output=True, timeout=60)


@pytest.mark.parametrize("case", ["step given as a list", "seconds NaN", "JSON nested 100,000 deep",
                                  "binary file", "UTF-16 file", "duplicate top-level key"])
def test_the_console_script_on_bad_input(case, tmp_path):
    path = tmp_path / "t.json"
    path.write_bytes(CASES[case][0])
    got = _script(["replay", str(path)])
    assert_one_line_exit_2(got.returncode, got.stdout.decode(), got.stderr.decode(), CASES[case][1])


def test_the_console_script_without_the_live_extra():
    got = _script(["replay", str(TRACES[0]), "--livekit", "shared=ws://127.0.0.1:1,k,s"],
                  prelude="import sys; sys.modules['livekit.rtc'] = None")
    assert_one_line_exit_2(got.returncode, got.stdout.decode(), got.stderr.decode(), "live")


def test_a_crash_is_exit_2_not_1(monkeypatch, capsys):
    """Whatever escapes the checks (a bug) is a one-line internal error with exit 2, never 1."""
    from model.engines import runner
    monkeypatch.setattr(runner, "run", lambda *a, **k: 1 / 0)
    assert cli.main(["replay", str(TRACES[0])]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: ZeroDivisionError" in err


# --- the property test: malformed traces built from valid ones ----------------------------------

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                    | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)

NAMES = {"step": set(STEPS), "region": set(REGIONS), "to": set(REGIONS) | {"server", "client"},
         "participant": {"mobile"} | {f"bridge:{r}" for r in REGIONS}}


def _kind_ok(value, typ) -> bool:
    if isinstance(value, bool):
        return typ is bool
    return isinstance(value, typ)


def wrong_type(typ):
    """A JSON value that is not of `typ` (bools are not numbers here, as in the trace checks)."""
    return JSON.filter(lambda v: not _kind_ok(v, typ))


def unknown(known) -> st.SearchStrategy[str]:
    return st.text(min_size=0, max_size=12).filter(lambda s: s not in known)


BAD_NUMBERS = {
    "seconds": st.one_of(st.sampled_from([0, -1, -0.5, math.nan, math.inf, -math.inf, 1e300, 1e-9,
                                          MAX_SECONDS + 0.001, MAX_SECONDS + 1]),
                         st.floats(max_value=0, allow_nan=False),
                         st.floats(min_value=MAX_SECONDS, exclude_min=True),
                         st.integers(max_value=0), st.integers(min_value=MAX_SECONDS + 1),
                         st.integers(min_value=10**308, max_value=10**1000)),   # beyond a float
    "ms": st.one_of(st.integers(max_value=0), st.integers(min_value=MAX_SECONDS * 1000 + 1),
                    st.integers(min_value=10**308, max_value=10**1000)),
    "pod": st.one_of(st.integers(max_value=-1), st.integers(min_value=2),
                     st.integers(min_value=10**308, max_value=10**1000)),
}


@st.composite
def malformed(draw) -> bytes:
    data = json.loads(json.dumps(draw(st.sampled_from(VALID))))       # a fresh copy
    steps = data["steps"]
    how = draw(st.sampled_from(["top-type", "step-type", "field-type", "number", "name",
                                "extra-field", "assumption", "fix", "expect", "bytes"]))
    if how == "top-type":
        key, typ = draw(st.sampled_from([("format", str), ("assumptions", dict), ("fixes", list),
                                         ("steps", list), ("expect", dict),
                                         ("description", str)]))
        data[key] = draw(wrong_type(typ) if key != "format" else JSON)
    elif how == "step-type":
        steps[draw(st.integers(0, len(steps) - 1))] = draw(wrong_type(dict))
    elif how == "field-type":
        kind = draw(st.sampled_from([k for k in STEPS if STEPS[k]]))
        field = draw(st.sampled_from(sorted(STEPS[kind])))
        step = {"step": kind, **{f: {"region": "france", "to": "france", "on": True, "pod": 0,
                                     "participant": "mobile", "seconds": 10, "conn": "c",
                                     "msg": "Join", "timer": "grace", "party": "p", "ms": 5}[f]
                                 for f, (_, req) in STEPS[kind].items() if req}}
        if kind == "deliver":
            step["to"] = "server"
        step[field] = draw(wrong_type(STEPS[kind][field][0]))
        steps.insert(draw(st.integers(0, len(steps))), step)
    elif how == "number":
        kind, field = draw(st.sampled_from([("advance", "seconds"), ("livekit_outage", "seconds"),
                                            ("tick", "ms"), ("grpc_stream_error", "pod"),
                                            ("deliver", "pod")]))
        step = {"step": kind, field: draw(BAD_NUMBERS[field])}
        if kind == "livekit_outage":
            step["participant"] = "mobile"
        if kind == "grpc_stream_error":
            step["region"] = "france"
        if kind == "deliver":
            step.update(conn="mobile/ws1", to="server")
        steps.insert(draw(st.integers(0, len(steps))), step)
    elif how == "name":
        i = draw(st.integers(0, len(steps) - 1))
        named = [f for f in ("step", "region", "to", "participant", "conn", "msg")
                 if f in steps[i]]
        if named:
            f = draw(st.sampled_from(named))
            known = NAMES.get(f) or {s.get(f) for s in steps}   # conn, msg: this trace's own
            steps[i][f] = draw(unknown(known))
        else:
            steps[i]["step"] = draw(unknown(NAMES["step"]))
    elif how == "extra-field":
        target = draw(st.sampled_from(["top", "step"]))
        if target == "top":
            data[draw(unknown({"format", "assumptions", "fixes", "steps", "expect",
                               "description"}))] = draw(JSON)
        else:
            step = steps[draw(st.integers(0, len(steps) - 1))]
            step[draw(unknown(set(STEPS[step["step"]]) | {"step"}))] = draw(JSON)
    elif how == "assumption":
        assumptions = data.setdefault("assumptions", {})
        if draw(st.booleans()):
            assumptions[draw(unknown(set(ASSUMPTIONS)))] = draw(JSON)
        else:
            key = draw(st.sampled_from(sorted(ASSUMPTIONS)))
            allowed = {str(v).lower() for v in ASSUMPTIONS[key][0]}
            assumptions[key] = draw(JSON.filter(
                lambda v: not (isinstance(v, str) and v.lower() in allowed)
                and not any(v == a and type(v) is type(a) for a in ASSUMPTIONS[key][0])))
    elif how == "fix":
        names = data.setdefault("fixes", ["baseline"])
        names.insert(draw(st.integers(0, len(names))), draw(unknown(set(fixes.known()))))
    elif how == "expect":
        key = draw(st.sampled_from(["violates", "holds"]))
        data.setdefault("expect", {}).setdefault(key, []).append(draw(unknown(set(ALL))))
    raw = json.dumps(data).encode()
    if how == "bytes":
        cut = draw(st.sampled_from(["truncate", "invalid-utf8", "random"]))
        if cut == "truncate":
            raw = raw[:draw(st.integers(0, len(raw) - 1))]
        elif cut == "invalid-utf8":        # 0xff is never valid in UTF-8
            at = draw(st.integers(0, len(raw)))
            raw = raw[:at] + draw(st.binary(max_size=16)) + b"\xff" + raw[at:]
        else:
            raw = draw(st.binary(max_size=200)) + b"\xff"
    return raw


@settings(max_examples=1000, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(malformed())
def test_malformed_traces_are_one_line_errors_with_exit_2(data):
    assert_one_line_exit_2(*replay_bytes(data))
