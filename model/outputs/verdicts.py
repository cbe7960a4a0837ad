"""Verdicts: evaluate one (fix set, assumption profile), and build the verdict matrix.

`evaluate` runs the driver's search for one (fix set, profile), shrinks every violation it found
(`model.engines.shrink`), replays and writes each as a counterexample (`model.outputs.counterexample`), and returns
a *cell record*: plain JSON, so pytest-xdist workers can hand it to the controller. `matrix`
folds cell records into rows = fix sets (`fixes.known()` order), columns = properties
(`properties.ALL`): "holds (N runs)" summed over profiles, or "violated" with the profiles it failed
under and the shortest counterexample. `write` puts the matrix under `results/` as Markdown and
JSON; `python -m model.outputs.verdicts --docs` copies the Markdown into `docs/verdicts.md`.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from hypothesis import settings as Settings

import fixes
from model.engines import classify as C
from model.outputs import counterexample as CX
from model.engines import driver as D
from model.properties import properties as P
from model.engines import shrink as S
from model.system.config import Config
from model.engines.trace import dump

RESULTS = CX.RESULTS
COMMAND = "pytest model/ -n 2"
CALM_BUDGET = 20
"""Examples of the calm (everyday) search per cell."""
CALM_ENVIRONMENTS = ("switching",)
"""Where the calm search runs: the question "does it fix region switching" is asked there."""


def evaluate(fix_set: str, profile: str, *, settings=None, mode: str = "explore",
             cfg: Config | None = None, out_dir: str | Path = CX.COUNTEREXAMPLES,
             shrink_replays: int = 400, environment: str = D.DEFAULT_ENVIRONMENT,
             seed: int | None = D.DEFAULT_SEED, calm_budget: int = CALM_BUDGET,
             race_windows: bool = False, retry: bool = False) -> dict[str, Any]:
    """Search, shrink, replay and write; the cell record for (fix_set, profile, environment).

    Two searches: the driver's (every interleaving) and, in `CALM_ENVIRONMENTS`, a calm one
    (`driver.search(calm=True)`: every user step followed by a settle), whose findings are shrunk
    without becoming more contrived than `everyday`. Per property the counterexample kept is the
    least contrived class, then the shortest; the other is summarised in `others`. `race_windows`
    measures each counterexample's timing window (`model.engines.race`; slow, so nightly only). `retry`
    replays the cell's earlier counterexamples (`retry_earlier`; random runs only, so that the
    default run depends on the commit alone).

    Each violation carries its counterexample's class and family signature (`model.engines.classify`);
    `diagnostics` holds the strict forms (`properties.DIAGNOSTICS`), reported and never failing."""
    start = time.perf_counter()
    where = f"{profile}.{environment}"      # counterexample names: fix__profile.env__Property
    earlier = {}
    for stale in sorted(Path(out_dir).glob(CX.stem(fix_set, where, "X")[:-1] + "*")):
        if stale.suffix == ".json":
            earlier[stale.stem.rsplit("__", 1)[-1]] = stale.read_text()
        stale.unlink()       # a cell that now holds must not keep an old counterexample
    found = D.search(fix_set, profile, cfg=cfg, settings=settings, mode=mode,
                     environment=environment, seed=seed)
    if retry:
        retry_earlier(found, earlier)
    calm = (D.search(fix_set, profile, cfg=cfg, settings=Settings(found_settings(settings),
                                                                  max_examples=calm_budget),
                     environment=environment, seed=seed, calm=True)
            if calm_budget and environment in CALM_ENVIRONMENTS else D.SearchResult(
                fix_set, profile, found.cfg))
    cell: dict[str, Any] = {
        "fix_set": fix_set, "profile": profile, "environment": environment,
        "fixes": list(found.cfg.fixes),
        "assumptions": {k: v for k, v in found.cfg.assumptions.items()},
        "examples": found.examples, "steps": found.steps, "mode": mode,
        "witnesses": found.witnesses, "properties": {}, "errors": [], "diagnostics": {},
    }
    for prop in P.ALL:
        f = found.findings.get(prop)
        if f is None:
            cell["properties"][prop] = {"status": "holds", "runs": found.runs.get(prop, 0)}
            continue
        shrunk = [shrunk_candidate(f, found.cfg, prop, shrink_replays)]
        if prop in calm.findings:
            shrunk.append(shrunk_candidate(calm.findings[prop], found.cfg, prop, shrink_replays,
                                           max_class="everyday"))
        best, *others = sorted(shrunk, key=lambda c: (C.CLASSES_RANK[c["class"]], c["steps"]))
        steps = best.pop("trace_steps")
        trace = D.make_trace(steps, found.cfg, prop)
        name = CX.stem(fix_set, where, prop)
        json_path, md_path = CX.write(
            trace, found.cfg, prop, name, out_dir,
            description=f"{prop} violated by {fix_set} under {profile} ({environment} environment): "
                        f"found by the Hypothesis driver{' (calm search)' if best['calm'] else ''} "
                        f"({best['found_steps']} steps), shrunk to {len(steps)}; class "
                        f"{best['class']}.",
            notes=f"**Class:** {best['class']}: {C.CLASSES[best['class']]} "
                  f"(`docs/reading-verdicts.md`).", race_window=race_windows)
        cell["properties"][prop] = {
            "status": "violated", "counterexample": str(json_path), "page": str(md_path),
            "runs": found.runs.get(prop, 0), **best,
            "others": [{k: v for k, v in o.items() if k != "trace_steps"} for o in others]}
    for name in P.DIAGNOSTICS:
        f = found.diagnostics.get(name)
        cell["diagnostics"][name] = (
            {"status": "holds", "runs": found.runs.get(name, 0)} if f is None else
            {"status": "violated", "detail": f.detail, "found_steps": len(f.steps)})
    for k, (text, steps) in enumerate(found.errors):
        record: dict[str, Any] = {"error": text}
        if steps:
            try:
                small = S.Shrinker(found.cfg, text, error=True).shrink(steps)
            except ValueError:
                small = steps
            path = Path(out_dir).parent / "model-errors" / f"{CX.stem(fix_set, where, f'error{k + 1}')}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            dump(D.make_trace(small, found.cfg), path, f"model error: {text}")
            record.update(trace=str(path), steps=len(small))
        cell["errors"].append(record)
    cell["seconds"] = round(time.perf_counter() - start, 2)
    return cell


def found_settings(settings):
    return settings or D.SETTINGS["dev"]


def shrunk_candidate(f: D.Finding, cfg: Config, prop: str, replays: int,
                     max_class: str | None = None) -> dict[str, Any]:
    """A finding shrunk (keeping its class no worse than `max_class`) and described."""
    steps = S.shrink_steps(f.steps, cfg, prop, max_replays=replays, max_class=max_class)
    hit = S.first_violation(steps, cfg, prop)
    return {"detail": hit[1] if hit else f.detail, "steps": len(steps),
            "found_steps": len(f.steps), "class": C.classify(steps, cfg),
            "signature": C.signature(prop, steps, cfg), "calm": max_class is not None,
            "trace_steps": steps}


def retry_earlier(found: D.SearchResult, earlier: dict[str, str]) -> None:
    """Failures an earlier run found are not lost: each counterexample the cell had before
    (property -> its trace file's text) that this search did not find again is replayed under the
    cell's config, and kept as a finding when it still violates its property."""
    from model.engines.trace import TraceError, parse, step_dict
    for prop, text in earlier.items():
        if prop not in P.ALL or prop in found.findings:
            continue
        try:
            steps = [step_dict(s) for s in parse(json.loads(text)).steps]
            hit = S.first_violation(steps, found.cfg, prop)
        except (TraceError, ValueError, KeyError):
            continue     # the model changed under it: the trace no longer replays
        if hit is not None:
            found.findings[prop] = D.Finding(prop, hit[1], steps[:hit[0] + 1])


def violated(cell: dict) -> list[str]:
    return [p for p, v in cell["properties"].items() if v["status"] == "violated"]


# --- the matrix ---------------------------------------------------------------------------------

def matrix(cells: list[dict]) -> dict[str, Any]:
    order = {name: i for i, name in enumerate(fixes.known())}
    rows: dict[str, dict] = {}
    for cell in sorted(cells, key=lambda c: (order.get(c["fix_set"], len(order)), c["profile"])):
        row = rows.setdefault(cell["fix_set"], {p: {"status": "holds", "runs": 0, "profiles": [],
                                                    "held_under": []} for p in P.ALL})
        for prop, v in cell["properties"].items():
            agg = row[prop]
            if v["status"] == "violated":
                agg["status"] = "violated"
                agg["profiles"].append(cell["profile"])
                best = agg.get("steps")
                if best is None or v["steps"] < best:
                    agg.update(steps=v["steps"], counterexample=v["counterexample"],
                               page=v["page"], detail=v["detail"], profile=cell["profile"])
                cls = v.get("class", "unclassified")
                by = agg.setdefault("classes", {}).setdefault(cls, {"profiles": []})
                by["profiles"].append(cell["profile"])
                if by.get("steps") is None or v["steps"] < by["steps"]:
                    by.update(steps=v["steps"], counterexample=v["counterexample"],
                              page=v["page"], signature=v.get("signature", ""))
                agg["class"] = min(agg["classes"], key=_class_rank)
            else:
                agg["runs"] += v["runs"]
                if v.get("evidence"):        # --engine explore: "exhaustive to depth N"
                    agg["evidence"] = v["evidence"]
                agg["held_under"].append(cell["profile"])
    diagnostics: dict[str, dict] = {}
    for cell in cells:
        for name, v in cell.get("diagnostics", {}).items():
            agg = diagnostics.setdefault(cell["fix_set"], {}).setdefault(name, [])
            if v["status"] == "violated":
                agg.append(cell["profile"])
    diagnostics = {fs: diagnostics[fs] for fs in rows if fs in diagnostics}
    profiles = sorted({c["profile"] for c in cells})
    errors = [dict(e, fix_set=c["fix_set"], profile=c["profile"]) for c in cells for e in c["errors"]]
    witnesses: dict[str, int] = {n: 0 for n in P.WITNESSES}
    for c in cells:
        if c["fix_set"] == "baseline":
            for n, k in c["witnesses"].items():
                witnesses[n] += k
    return {"properties": list(P.ALL), "profiles": profiles, "rows": rows, "errors": errors,
            "diagnostics": diagnostics, "baseline_witnesses": witnesses,
            "examples": sum(c["examples"] for c in cells),
            "seconds": round(sum(c["seconds"] for c in cells), 1),
            "modes": sorted({c["mode"] for c in cells})}


def _class_rank(cls: str) -> int:
    order = list(C.CLASSES)
    return order.index(cls) if cls in order else len(order)


def matrices(cells: list[dict]) -> dict[str, dict]:
    """One matrix per environment, in `driver.ENVIRONMENTS` order."""
    envs = [e for e in D.ENVIRONMENTS if any(c.get("environment", D.DEFAULT_ENVIRONMENT) == e
                                            for c in cells)]
    return {e: matrix([c for c in cells if c.get("environment", D.DEFAULT_ENVIRONMENT) == e])
            for e in envs}


ENV_TITLES = {
    "switching": "Region switching (no gRPC or LiveKit faults): does the fix fix the bug?",
    "faults": "With faults (gRPC stream errors, LiveKit signal outages): what else breaks",
}


def _short(agg: dict, n_profiles: int) -> str:
    if agg["status"] == "holds":
        return f"holds ({agg.get('evidence') or str(agg['runs']) + ' runs'})"
    return f"VIOLATED {len(agg['profiles'])}/{n_profiles} {agg.get('class', '')}".rstrip()


def _by_class(agg: dict) -> list[tuple[str, dict]]:
    """(class, its shortest counterexample and profiles), from the everyday class on."""
    return sorted(agg.get("classes", {}).items(), key=lambda kv: _class_rank(kv[0]))


def diagnostics_lines(m: dict) -> list[str]:
    """One line per fix set: the strict diagnostics it violates (they never fail a run)."""
    out = []
    for fs, diag in m.get("diagnostics", {}).items():
        parts = [f"{name} under {len(under)}/{len(m['profiles'])}" for name, under in diag.items()
                 if under]
        out.append(f"{fs}: " + ("; ".join(parts) if parts else "none violated"))
    return out


def text(m: dict) -> str:
    """The terminal matrix: short cells, then one line per violated cell with its counterexample."""
    props = m["properties"]
    n = len(m["profiles"])
    cells = {(fs, p): _short(row[p], n) for fs, row in m["rows"].items() for p in props}
    w0 = max([len("fix set")] + [len(fs) for fs in m["rows"]])
    widths = [max([len(p)] + [len(cells[(fs, p)]) for fs in m["rows"]]) for p in props]
    lines = ["  ".join([f"{'fix set':<{w0}}"] + [f"{p:<{w}}" for p, w in zip(props, widths)])]
    for fs in m["rows"]:
        lines.append("  ".join([f"{fs:<{w0}}"] + [f"{cells[(fs, p)]:<{w}}"
                                                  for p, w in zip(props, widths)]))
    lines.append("")
    lines.append(f"profiles ({n}): {', '.join(m['profiles'])}")
    for fs, row in m["rows"].items():
        for p in props:
            agg = row[p]
            if agg["status"] == "violated":
                lines.append(f"{fs} / {p}: violated under {', '.join(agg['profiles'])}; "
                             f"shortest ({agg['steps']} steps): {agg['counterexample']}")
                for cls, by in _by_class(agg):
                    lines.append(f"    {cls} ({len(by['profiles'])} profiles), shortest "
                                 f"{by['steps']} steps: {by['counterexample']}")
    if m.get("diagnostics"):
        lines.append("diagnostics (strict forms, never a failure; docs/properties.md):")
        lines += ["    " + line for line in diagnostics_lines(m)]
    seen = m["baseline_witnesses"]
    if m["rows"].get("baseline"):
        lines.append("baseline witnesses seen: " + ", ".join(f"{k} x{v}" for k, v in seen.items()))
    for e in m["errors"]:
        lines.append(f"MODEL ERROR ({e['fix_set']} / {e['profile']}): {e['error']}"
                     + (f" -> {e['trace']}" if e.get("trace") else ""))
    return "\n".join(lines)


def markdown(m: dict, command: str = COMMAND) -> str:
    props = m["properties"]
    n = len(m["profiles"])
    out = ["# Verdict matrix", "",
           f"Regenerate: `{command}` (then `python -m model.outputs.verdicts --docs` to copy it here).", "",
           f"{m['examples']} driver runs over {n} assumption profiles "
           f"({', '.join(m['profiles'])}); search mode {', '.join(m['modes'])}; "
           f"{m['seconds']} s of search, shrinking and replay (summed over workers).", "",
           "| fix set | " + " | ".join(props) + " |",
           "|---|" + "---|" * len(props)]
    for fs, row in m["rows"].items():
        cells = []
        for p in props:
            agg = row[p]
            if agg["status"] == "holds":
                cells.append(f"holds ({agg.get('evidence') or str(agg['runs']) + ' runs'})")
            else:
                missing = [q for q in m["profiles"] if q not in agg["profiles"]]
                under = ("all profiles" if not missing else
                         f"all but {', '.join(missing)}" if len(missing) < len(agg["profiles"])
                         else ", ".join(agg["profiles"]))
                shortest = "; ".join(f"{cls} [{by['steps']} steps]({by['page']})"
                                     for cls, by in _by_class(agg))
                cells.append(f"**violated** under {under}: " + (shortest or
                                                                 f"[{agg['steps']} steps]"
                                                                 f"({agg['page']})"))
        out.append(f"| {fs} | " + " | ".join(cells) + " |")
    out += ["", "Counterexample links point into `results/` (git-ignored): run the command above to "
            "produce them. Each is a `handover.trace/1` file that `handover replay` replays to the "
            "violation, beside a Markdown page.", ""]
    if m.get("diagnostics"):
        out += ["Diagnostics (the strict forms of OneBridgePerRoom and BridgeStatusTruthful; "
                "reported, never a failure; `docs/properties.md`):", ""]
        out += [f"- {line}" for line in diagnostics_lines(m)] + [""]
    seen = m["baseline_witnesses"]
    if m["rows"].get("baseline"):
        out.append("Witnesses seen in the baseline's runs: "
                   + ", ".join(f"{k} ({v} runs)" for k, v in seen.items()) + ".")
        out.append("")
    if m["errors"]:
        out += ["## Model errors", ""]
        out += [f"- {e['fix_set']} / {e['profile']}: `{e['error']}`"
                + (f" ({e['trace']})" if e.get("trace") else "") for e in m["errors"]]
        out.append("")
    return "\n".join(out)


def text_all(ms: dict[str, dict]) -> str:
    return "\n\n".join(f"== environment: {env}: {ENV_TITLES.get(env, '')}\n{text(m)}"
                       for env, m in ms.items())


def markdown_all(ms: dict[str, dict], command: str = COMMAND) -> str:
    out = ["# Verdict matrix", "",
           f"Regenerate: `{command}` (then `python -m model.outputs.verdicts --docs` to copy it here, and "
           "`python -m model.outputs.report --docs` for the per-fix page at the end).", "",
           "How to read it: `docs/reading-verdicts.md`. One table per environment "
           "(`model/engines/driver.py: ENVIRONMENTS`). The expected verdict of every cell is pinned in "
           "`model/expected-verdicts.json`; `pytest model/` fails naming the cells that differ, "
           "and `pytest model/ -n 2 --update-manifest` rewrites it after a reviewed change.", ""]
    for env, m in ms.items():
        body = markdown(m, command).split("\n")
        start = next(i for i, line in enumerate(body) if line.startswith(f"{m['examples']} driver"))
        out += [f"## {ENV_TITLES.get(env, env)}", "", f"Environment `{env}`.", ""] + body[start:]
    return "\n".join(out)


def write(ms: dict[str, dict], out_dir: str | Path = RESULTS, status: dict | None = None,
          note: list[str] | None = None) -> tuple[Path, Path]:
    """Write every environment's matrix; `ms` is {environment: matrix} (or one matrix).

    `status` (`results.completeness`) says whether the matrix is complete; it goes into each
    environment's JSON as "status" (with that environment's missing cells), and `note` (Markdown
    lines: complete or PARTIAL, missing cells, runs) goes under the Markdown title. Each file is
    replaced whole (written aside, then renamed), so an interrupt never leaves half a file."""
    if "rows" in ms:
        ms = {D.DEFAULT_ENVIRONMENT: ms}
    if status is not None:
        ms = {env: dict(m, status={"complete": status["complete"], "cells": status["cells"],
                                   "of": status["of"],
                                   "missing": [k for k in status["missing"]
                                               if k.endswith(f"#{env}")]})
              for env, m in ms.items()}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / "verdicts.md", out / "verdicts.json"
    text = markdown_all(ms)
    if note:
        title, _, rest = text.partition("\n\n")
        text = title + "\n\n" + "\n".join(note) + "\n\n" + rest
    _replace(md, text)
    _replace(js, json.dumps(ms, indent=2) + "\n")
    return md, js


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.outputs.verdicts",
                                description="print or publish the last verdict matrix")
    p.add_argument("--results", default=str(RESULTS))
    p.add_argument("--docs", action="store_true", help="write docs/verdicts.md from the results")
    args = p.parse_args(argv)
    ms = json.loads((Path(args.results) / "verdicts.json").read_text())
    if "rows" in ms:
        ms = {D.DEFAULT_ENVIRONMENT: ms}
    partial = next((m["status"] for m in ms.values()
                    if not m.get("status", {}).get("complete", True)), None)
    if args.docs and partial:
        print(f"python -m model.outputs.verdicts: error: {args.results}/verdicts.json is PARTIAL "
              f"({partial['cells']} of {partial['of']} cells): publish a complete run",
              file=sys.stderr)
        return 2
    if args.docs:
        Path("docs/verdicts.md").write_text(markdown_all(ms).replace("](results/", "](../results/"))
    else:
        print(text_all(ms))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
