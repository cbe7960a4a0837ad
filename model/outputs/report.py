"""The per-fix page: the report's question answered for each fix set (`results/report.md`).

For each fix set, from the cells of the last verdict matrix (`results/cells.json`) and a replay of
the corpus traces that express the report's reproduction (`REPORT_FAMILY`):
- whether it fixes the reported scenario family (every property holds on each family trace);
- which violations it introduces: (environment, profile, property) cells it violates where the
  baseline holds;
- which failure classes remain (`model.engines.classify`), each with its shortest counterexample;
- which fix sets it is strictly better than: the set of cells it violates is a proper subset of
  theirs (a partial order; `ranking` lays it out in levels, the undominated first).

`pytest model/` writes the page and prints its short form (`model/session.py`);
`python -m model.outputs.report [--results DIR] [--docs]` rebuilds it from the stored cells, and `--docs`
publishes it into docs/verdicts.md (between the `REPORT_BEGIN`/`REPORT_END` markers).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import fixes
from model.engines import classify as C
from model.properties import properties as P

REPORT_FAMILY = ("report-repro-shared", "report-repro-per-region", "report-repro-centralus-shared",
                 "switch-back-within-grace-shared")
"""The corpus traces that express the report's reproduction: its three switches under each
topology, and the way back to a region within the grace period that the report describes."""
ENV_ORDER = ("switching", "faults")
ORDER_ENVIRONMENT = "switching"
"""The partial order compares fix sets on the question asked: region switching (faults break
every fix somewhere, so over both environments almost nothing is comparable)."""
REPORT_BEGIN, REPORT_END = "<!-- report: begin -->", "<!-- report: end -->"
DOCS = Path("docs/verdicts.md")


def family(corpus_dir: Path | None = None) -> dict[str, dict[str, list[str]]]:
    """fix set -> family trace -> properties it violates there (replayed now)."""
    from model import test_corpus
    folder = corpus_dir or test_corpus.CORPUS_DIR
    out: dict[str, dict[str, list[str]]] = {}
    for fs in fixes.known():
        for name in REPORT_FAMILY:
            path = folder / f"{name}.json"
            if path.exists():
                cell = test_corpus.replay(path, fs)
                out.setdefault(fs, {})[name] = (cell["violated"] if cell["status"] != "not replayable"
                                                else ["not replayable"])
    return out


def violations(cells: list[dict]) -> dict[str, set]:
    """fix set -> {(environment, profile, property)} it violates."""
    out: dict[str, set] = {}
    for c in cells:
        got = out.setdefault(c["fix_set"], set())
        for prop, v in c["properties"].items():
            if v["status"] == "violated":
                got.add((c.get("environment", "faults"), c["profile"], prop))
    return out


def strictly_better(cells: list[dict]) -> dict[str, list[str]]:
    """fix set -> the fix sets it is strictly better than (its violations a proper subset of
    theirs, over the same cells)."""
    bad = violations(cells)
    keys = {fs: {(c.get("environment"), c["profile"]) for c in cells if c["fix_set"] == fs}
            for fs in bad}
    return {a: [b for b in bad if b != a and keys[a] == keys[b] and bad[a] < bad[b]]
            for a in bad}


def ranking(better: dict[str, list[str]]) -> list[list[str]]:
    """Levels of the partial order: level 0 is dominated by nobody; each later level only by fix
    sets of earlier levels."""
    order = [fs for fs in fixes.known() if fs in better] + [fs for fs in better
                                                            if fs not in fixes.known()]
    dominated_by = {fs: {a for a in better if fs in better[a]} for fs in order}
    levels, placed = [], set()
    while len(placed) < len(order):
        level = [fs for fs in order if fs not in placed and dominated_by[fs] <= placed]
        if not level:                                   # cannot happen for a strict order
            level = [fs for fs in order if fs not in placed]
        levels.append(level)
        placed |= set(level)
    return levels


def remaining(cells: list[dict], fix_set: str) -> dict[str, dict[str, dict]]:
    """environment -> class -> {property: shortest violation of that class (steps, page, ...)}."""
    out: dict[str, dict[str, dict]] = {}
    for c in cells:
        if c["fix_set"] != fix_set:
            continue
        env = c.get("environment", "faults")
        for prop, v in c["properties"].items():
            if v["status"] != "violated":
                continue
            by = out.setdefault(env, {}).setdefault(v.get("class", "unclassified"), {})
            best = by.get(prop)
            if best is None or v["steps"] < best["steps"]:
                by[prop] = {"steps": v["steps"], "page": v["page"], "profile": c["profile"],
                            "signature": v.get("signature", "")}
    return out


def build(cells: list[dict], fam: dict | None = None) -> dict:
    """Everything the page says, as data (also written as results/report.json)."""
    fam = family() if fam is None else fam
    bad = violations(cells)
    base = bad.get("baseline", set())
    asked = [c for c in cells if c.get("environment") == ORDER_ENVIRONMENT] or cells
    better = strictly_better(asked)
    fix_sets = [fs for fs in fixes.known() if fs in bad] + [fs for fs in bad
                                                           if fs not in fixes.known()]
    per = {}
    for fs in fix_sets:
        f = fam.get(fs, {})
        per[fs] = {
            "family": f, "fixes_family": bool(f) and not any(f.values()),
            "introduces": (sorted(bad[fs] - base) if "baseline" in bad else None)
            if fs != "baseline" else [],
            "remaining": remaining(cells, fs),
            "better_than": better.get(fs, []),
            "holds_everything": {env: not any(e == env for e, _, _ in bad[fs]) for env in ENV_ORDER
                                 if any(c.get("environment") == env and c["fix_set"] == fs
                                        for c in cells)},
        }
    return {"fix_sets": per, "ranking": ranking(better), "family_traces": list(REPORT_FAMILY)}


def _link(page: str, prefix: str) -> str:
    return prefix + page.split("results/", 1)[-1] if "results/" in page else page


def _introduced_text(intro: list) -> str:
    by: dict = {}
    for env, profile, prop in intro:
        by.setdefault((env, prop), []).append(profile)
    return "; ".join(f"{prop} ({env}: {', '.join(sorted(ps))})" for (env, prop), ps in sorted(by.items()))


def markdown(rep: dict, link_prefix: str = "") -> str:
    out = ["# What each fix does: the report's question, answered", "",
           "Built from the last verdict matrix (`pytest model/`; `python -m model.outputs.report` rebuilds "
           "it). How to read it: `docs/reading-verdicts.md`.", "",
           f"## Ranking in the `{ORDER_ENVIRONMENT}` environment (strictly better = violates a "
           "proper subset of the other's cells)", ""]
    for i, level in enumerate(rep["ranking"]):
        out.append(f"{i + 1}. " + ", ".join(
            f"{fs}" + (f" (better than {', '.join(rep['fix_sets'][fs]['better_than'])})"
                       if rep["fix_sets"][fs]["better_than"] else "") for fs in level))
    out.append("")
    for fs, r in rep["fix_sets"].items():
        out += [f"## {fs}", ""]
        fam = r["family"]
        if fam:
            broken = {t: v for t, v in fam.items() if v}
            out.append("- **Reported scenario family** (" + ", ".join(f"`{t}`" for t in fam) + "): "
                       + ("fixed: every property holds on each." if not broken else
                          "not fixed: " + "; ".join(f"`{t}` violates {', '.join(v)}"
                                                     for t, v in broken.items()) + "."))
        holds = [env for env, ok in r["holds_everything"].items() if ok]
        if holds:
            out.append(f"- **Holds every property** under every profile in: {', '.join(holds)}.")
        if fs != "baseline":
            out.append("- **Introduces** (violated here, held by the baseline in the same cell): "
                       + ("unknown (the baseline was not run)" if r["introduces"] is None else
                          _introduced_text(r["introduces"]) or "nothing") + ".")
        for env in ENV_ORDER:
            classes = r["remaining"].get(env)
            if not classes:
                continue
            out.append(f"- **Remaining failure classes, {env}:**")
            for cls in sorted(classes, key=lambda c: C.CLASSES_RANK.get(c, 99)):
                items = ", ".join(
                    f"{prop} [{v['steps']} steps]({_link(v['page'], link_prefix)}) "
                    f"({v['profile']})" for prop, v in sorted(classes[cls].items()))
                out.append(f"  - {cls}: {items}")
        out.append("- **Strictly better than:** " + (", ".join(r["better_than"]) or "none") + ".")
        out.append("")
    if rep.get("sweep"):
        out += sweep_markdown(rep["sweep"], link_prefix)
    return "\n".join(out)


# --- the sweep: failure probability against the time before switching back ----------------------

SWEEP_POINTS = (5, 15, 30, 45, 55, 65, 90)
"""Seconds before the user switches back (`handover estimate --scenario back-after:S`); they
straddle the app start (5 s) and the 60 s grace period."""
SWEEP_RUNS, SWEEP_SEED = 40, 1
"""Simulated sessions per (fix set, point) and the seed: small, so `--sweep` stays well under a
minute; `handover estimate --sweep` gives tighter intervals."""


def sweep(fix_sets: list[str], runs: int = SWEEP_RUNS, seed: int = SWEEP_SEED,
          png: Path | None = None) -> list[dict]:
    """The timed engine's sweep (`model.engines.estimate.sweep_rows`) for each fix set under the reference
    profile, and its curve as a PNG when `png` is given."""
    from model.engines import estimate as E
    from fixes import make_config
    rows = E.sweep_rows([(fs, make_config([fs])) for fs in fix_sets], list(SWEEP_POINTS), runs, seed)
    if png is not None:
        E.plot_sweep(rows, fix_sets, png, runs, seed)
    return rows


def sweep_markdown(rows: list[dict], link_prefix: str = "") -> list[str]:
    points = sorted({r["seconds"] for r in rows})
    fix_sets = list(dict.fromkeys(r["fix"] for r in rows))
    p = {(r["fix"], r["seconds"]): r["p_fail"] for r in rows}
    runs = rows[0]["runs"]
    out = ["## Failure probability against the time before switching back", "",
           f"`handover estimate --scenario back-after:S`, {runs} simulated sessions per cell, seed "
           f"{SWEEP_SEED}, reference profile (docs/timing.md). The curve: "
           f"[sweep.png]({link_prefix}sweep.png) (written beside results/report.md by "
           "`python -m model.outputs.report --sweep`).", "",
           "| fix set | " + " | ".join(f"{s:g} s" for s in points) + " |",
           "|---|" + "---|" * len(points)]
    for fs in fix_sets:
        out.append(f"| {fs} | " + " | ".join(f"{100 * p[(fs, s)]:.0f}%" for s in points) + " |")
    return out + [""]


def short(rep: dict) -> list[str]:
    """The terminal form: one line per fix set."""
    lines = []
    for fs, r in rep["fix_sets"].items():
        classes = sorted({c for env in r["remaining"].values() for c in env},
                         key=lambda c: C.CLASSES_RANK.get(c, 99))
        sw = r["remaining"].get("switching", {})
        lines.append(
            f"{fs}: report family {'FIXED' if r['fixes_family'] else 'not fixed'}; "
            + (f"introduces {len(r['introduces'])}; " if r["introduces"] else "")
            + ("switching: holds everything; " if not sw else
               "switching fails: " + ", ".join(sorted(sw, key=lambda c: C.CLASSES_RANK.get(c, 99)))
               + "; ")
            + f"classes left: {', '.join(classes) or 'none'}; "
            + f"better than {len(r['better_than'])}")
    return lines


def write(rep: dict, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(rep, indent=1, default=list) + "\n")
    path = out_dir / "report.md"
    path.write_text(markdown(rep, link_prefix=""))
    return path


def publish(rep: dict, docs: Path = DOCS) -> Path:
    """Put the page into docs/verdicts.md between the markers (appended the first time)."""
    text = docs.read_text() if docs.exists() else ""
    body = markdown(rep, link_prefix="../results/").replace("# What each fix does",
                                                            "## What each fix does", 1)
    body = body.replace("\n## ", "\n### ").replace("\n### What each fix does", "\n## What each fix does")
    block = f"{REPORT_BEGIN}\n{body}\n{REPORT_END}"
    if REPORT_BEGIN in text and REPORT_END in text:
        head, rest = text.split(REPORT_BEGIN, 1)
        text = head + block + rest.split(REPORT_END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    docs.write_text(text)
    return docs


def cells_of(results: Path) -> list[dict]:
    path = results / "cells.json"
    data = json.loads(path.read_text())
    cells = data.get("cells", data)
    return list(cells.values()) if isinstance(cells, dict) else list(cells)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.outputs.report",
                                description="rebuild the per-fix page from the stored cells")
    p.add_argument("--results", default="results")
    p.add_argument("--docs", action="store_true", help="also publish it into docs/verdicts.md")
    p.add_argument("--sweep", action="store_true",
                   help="add the timed engine's failure probability against the time before "
                        "switching back (table and sweep.png; about half a minute)")
    args = p.parse_args(argv)
    try:
        cells = cells_of(Path(args.results))
    except (OSError, json.JSONDecodeError, AttributeError) as e:
        print(f"python -m model.outputs.report: no readable cells in {args.results}/cells.json ({e})")
        return 2
    rep = build(cells)
    if args.sweep:
        rep["sweep"] = sweep(list(rep["fix_sets"]), png=Path(args.results) / "sweep.png")
    path = write(rep, Path(args.results))
    print("\n".join(short(rep)))
    print(f"written: {path}")
    if args.docs:
        print(f"published: {publish(rep)}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())


__all__ = ["REPORT_FAMILY", "build", "markdown", "short", "write", "publish", "strictly_better",
           "ranking", "violations"]
_ = P  # the properties' names are the cells' keys
