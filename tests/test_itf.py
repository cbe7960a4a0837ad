"""`handover replay --format itf`: every corpus trace's output obeys the ITF rules.

The rules are those of the published format (Apalache ADR-015, "Informal Trace Format", which Quint
also reads), written out here as a checker: the top level is an object with `vars` (a list of
variable names) and `states` (a list), optionally `#meta` (an object), `params` (names) and `loop`
(an index); every state is an object whose keys are exactly the `vars` plus an optional `#meta`
object; values are booleans, strings, integers in the JavaScript safe range, lists, records
(objects whose keys do not start with '#'), or exactly one of the tagged forms `#bigint` (a decimal
string), `#tup` (a list), `#set` (a list without duplicates), `#map` (a list of [key, value] pairs
without duplicate keys) and `#unserializable` (a string). There is no null and no float.
"""
from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from model import cli
from model.outputs import itf
from model.engines import runner
from model.engines.trace import load

CORPUS = sorted((Path(__file__).parent.parent / "model" / "corpus").glob("*.json"))
SAFE = 2 ** 53 - 1
TAGS = {"#bigint", "#tup", "#set", "#map", "#unserializable"}


class ItfError(AssertionError):
    pass


def check_value(v, where: str) -> None:
    if isinstance(v, bool) or isinstance(v, str):
        return
    if isinstance(v, int):
        if not -SAFE <= v <= SAFE:
            raise ItfError(f"{where}: integer {v} outside the safe range must be a #bigint")
        return
    if isinstance(v, list):
        for i, x in enumerate(v):
            check_value(x, f"{where}[{i}]")
        return
    if not isinstance(v, dict):
        raise ItfError(f"{where}: {type(v).__name__} is not an ITF value")
    tags = [k for k in v if k.startswith("#")]
    if tags:
        if len(v) != 1 or tags[0] not in TAGS:
            raise ItfError(f"{where}: a tagged value has exactly one known tag, got {sorted(v)}")
        tag, body = tags[0], v[tags[0]]
        if tag == "#bigint":
            if not isinstance(body, str) or not re.fullmatch(r"-?[0-9]+", body):
                raise ItfError(f"{where}: #bigint holds a decimal string")
        elif tag == "#unserializable":
            if not isinstance(body, str):
                raise ItfError(f"{where}: #unserializable holds a string")
        elif tag in ("#tup", "#set"):
            if not isinstance(body, list):
                raise ItfError(f"{where}: {tag} holds a list")
            for i, x in enumerate(body):
                check_value(x, f"{where}{tag}[{i}]")
            if tag == "#set" and len({json.dumps(x, sort_keys=True) for x in body}) != len(body):
                raise ItfError(f"{where}: #set with duplicate elements")
        else:
            if not isinstance(body, list) or not all(isinstance(p, list) and len(p) == 2
                                                     for p in body):
                raise ItfError(f"{where}: #map holds [key, value] pairs")
            for i, (k, x) in enumerate(body):
                check_value(k, f"{where}#map[{i}].key")
                check_value(x, f"{where}#map[{i}].value")
            if len({json.dumps(k, sort_keys=True) for k, _ in body}) != len(body):
                raise ItfError(f"{where}: #map with duplicate keys")
        return
    for k, x in v.items():
        check_value(x, f"{where}.{k}")


def check_itf(doc) -> None:
    if not isinstance(doc, dict):
        raise ItfError("an ITF trace is a JSON object")
    unknown = set(doc) - {"#meta", "params", "vars", "states", "loop"}
    if unknown:
        raise ItfError(f"unknown top-level keys {sorted(unknown)}")
    if "#meta" in doc and not isinstance(doc["#meta"], dict):
        raise ItfError("#meta is an object")
    for key in ("params", "vars"):
        if key in doc and not (isinstance(doc[key], list) and all(isinstance(n, str)
                                                                 for n in doc[key])):
            raise ItfError(f"{key} is a list of names")
    if "vars" not in doc or "states" not in doc or not isinstance(doc["states"], list):
        raise ItfError("vars and states are required; states is a list")
    names = set(doc["vars"]) | set(doc.get("params", []))
    for i, state in enumerate(doc["states"]):
        if not isinstance(state, dict):
            raise ItfError(f"state {i} is an object")
        meta = state.get("#meta", {})
        if not isinstance(meta, dict):
            raise ItfError(f"state {i}: #meta is an object")
        if "index" in meta and meta["index"] != i:
            raise ItfError(f"state {i}: #meta.index is {meta['index']}")
        keys = set(state) - {"#meta"}
        if keys != names:
            raise ItfError(f"state {i}: variables {sorted(keys ^ names)} missing or unknown")
        for k in keys:
            check_value(state[k], f"state {i}.{k}")
    if "loop" in doc and not (isinstance(doc["loop"], int)
                              and 0 <= doc["loop"] < len(doc["states"])):
        raise ItfError("loop is the index of a state")


def itf_of(path: Path) -> tuple[int, dict]:
    buf = io.StringIO()
    with redirect_stdout(buf):
        rc = cli.main(["replay", str(path), "--format", "itf"])
    return rc, json.loads(buf.getvalue())


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_every_corpus_trace_is_valid_itf(path):
    rc, doc = itf_of(path)
    check_itf(doc)
    trace = load(path)
    result = runner.run(trace)
    assert rc == (1 if result.violated else 0)
    assert len(doc["states"]) == len(trace.steps) + 1
    assert doc["states"][0]["step"] == "init"
    assert [s["#meta"]["index"] for s in doc["states"]] == list(range(len(doc["states"])))
    assert doc["states"][-1]["violated"] == {"#set": sorted(result.violated)}
    assert doc["states"][-1]["now_ms"] == result.world.now
    assert doc["#meta"]["format"] == "ITF"


def test_states_follow_the_run():
    """The projection shows what replay shows: after the switch back within grace on the shared
    deployment, cloud-debug reused its session and france's bridge is in the room."""
    _, doc = itf_of(Path(__file__).parent.parent
                    / "model/corpus/switch-back-within-grace-shared.json")
    last = doc["states"][-1]
    assert last["mobile"]["backend"] == "cloud-debug"
    assert last["regions"]["cloud-debug"]["sessions"]["#map"][0][1]["reconnection"] is True
    room = last["livekit"]["shared"]
    members = {t["#tup"][2] for t in next(iter(room.values()))["#set"]}
    assert "bridge:france" in members


def test_the_docs_example_is_current():
    """docs/traces.md, section ITF, shows the last state of this replay, picked out."""
    _, doc = itf_of(Path(__file__).parent.parent
                    / "model/corpus/switch-back-within-grace-shared.json")
    last = doc["states"][-1]
    shown = json.dumps({k: last[k] for k in ("#meta", "step", "now_ms", "livekit", "violated")})
    assert shown in (Path(__file__).parent.parent / "docs" / "traces.md").read_text()


def test_numbers_beyond_the_safe_range_are_bigints():
    assert itf.num(2 ** 53 - 1) == 2 ** 53 - 1
    assert itf.num(2 ** 53) == {"#bigint": str(2 ** 53)}
    assert itf.num(-(2 ** 60)) == {"#bigint": str(-(2 ** 60))}
    check_value(itf.num(2 ** 70), "n")


@pytest.mark.parametrize("bad", [
    {"vars": ["x"], "states": [{"x": None}]},
    {"vars": ["x"], "states": [{"x": 1.5}]},
    {"vars": ["x"], "states": [{"x": 2 ** 53}]},
    {"vars": ["x"], "states": [{"y": 1}]},
    {"vars": ["x"], "states": [{"x": {"#set": [1, 1]}}]},
    {"vars": ["x"], "states": [{"x": {"#map": [[1, 2], [1, 3]]}}]},
    {"vars": ["x"], "states": [{"x": {"#bigint": "12a"}}]},
    {"vars": ["x"], "states": [{"x": {"#tup": [1], "#set": []}}]},
    {"vars": ["x"], "states": [{"#meta": {"index": 3}, "x": 1}]},
    {"states": []},
])
def test_the_checker_rejects_what_the_rules_forbid(bad):
    with pytest.raises(ItfError):
        check_itf(bad)


def test_itf_with_a_bad_trace_is_one_line_exit_2(tmp_path, capsys):
    p = tmp_path / "bad.json"
    p.write_text("{")
    assert cli.main(["replay", str(p), "--format", "itf"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
