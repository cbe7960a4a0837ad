"""`handover fuzz`: a time-boxed search across fix sets and assumption profiles that remembers.

    handover fuzz [--minutes M] [--fix NAME]... [--env ENV] [--workers N] [--db PATH] [--out DIR]
                  [--format text|json|markdown] [--seed N]

Cells are (fix set, assumption profile) pairs in one environment (`driver.ENVIRONMENTS`, default
`switching`). The run is a loop of *rounds* until the time is up; one round is one
`driver.search(..., mode="rounds")` of one cell with `ROUND_EXAMPLES` examples per Hypothesis run,
a fresh seed (`driver.cell_seed(seed, "fuzz", cell, round)`) and the persistent example database
(`--db`), so every failing example Hypothesis finds is saved there and replayed first by the next
run of the same machine (Hypothesis's `reuse_existing_test_cases`; `tests/test_fuzz.py` checks it).

Budget rule (a bandit over cells): the next round goes to the cell with the lowest weight
`rounds(cell) * (1 + found(cell))`, where `found` is how many properties the cell has been seen to
violate in this run; ties go to the earlier cell (fix sets in the order given, profiles in
`config.PROFILES` order). Until every cell has had a round, unexplored cells come first; after
that, a cell where nothing was found gets about `1 + k` times the rounds of a cell where k
properties already fail.

Failure families: every violation found is shrunk (`model.engines.shrink`) and grouped by
`model.engines.classify.signature(prop, steps, cfg)`: the property, the counterexample class and the
user-level step sequence. A family keeps its shortest trace, how many rounds hit it and the cells
it was seen in; it is *new* unless the family index beside the database (`<db>/fuzz-families.json`)
lists it from an earlier run. The report (`fuzz-report.json`, `fuzz-report.md`, one trace and page
per family under `--out`) is written at the end and also when Ctrl-C stops the run.

Progress goes to stderr after every round: elapsed and remaining time, cases run, families found.

Exit status: 0 no family found; 1 families found (a property is violated); 2 bad input or a tool
failure; 130 interrupted (the report written, the database intact).
"""
from __future__ import annotations

import json
import multiprocessing
import os
import queue
import sys
import tempfile
import time
from pathlib import Path

from model.outputs import counterexample as CX
from model.engines import driver as D
from model.engines import shrink as S
from model.system.config import PROFILES

DEFAULT_DB = ".hypothesis/fuzz"
DEFAULT_OUT = "results/fuzz"
DEFAULT_ENV = "switching"
DEFAULT_MINUTES = 10.0
ROUND_EXAMPLES = 25
"""Examples per Hypothesis run in one round: small, so a round ends within seconds of the deadline."""
SHRINK_REPLAYS = 200
MAX_ROUNDS = 3
"""Hypothesis runs per round (`driver.search` rounds: a property found stops being a target)."""
INDEX = "fuzz-families.json"
FORMATS = ("text", "json", "markdown")


def add_parser(sub) -> None:
    p = sub.add_parser("fuzz", help="time-boxed search across fix sets and profiles, with a "
                                    "persistent example database and failure families",
                       description="Search every (fix set, assumption profile) cell until the time "
                                   "is up, spending rounds where nothing has been found yet; every "
                                   "failing example is kept in a Hypothesis example database "
                                   "(--db) and replayed first by the next run. Failures are "
                                   "grouped into families (property, counterexample class, user "
                                   "steps); the report marks the families new since the last run "
                                   "on the same database. Progress on stderr. See docs/nightly.md.",
                       epilog="exit status: 0 no failure family found; 1 families found; 2 bad "
                              "input; 130 interrupted (Ctrl-C: report written, database intact)")
    p.add_argument("--minutes", default=str(DEFAULT_MINUTES), metavar="M",
                   help=f"time budget in minutes (default {DEFAULT_MINUTES:g}; fractions allowed)")
    p.add_argument("--fix", action="append", default=[], metavar="NAME",
                   help="fix sets to search (repeatable; default every registered fix set)")
    p.add_argument("--env", default=DEFAULT_ENV, metavar="ENV",
                   help=f"environment: {' or '.join(D.ENVIRONMENTS)} (default {DEFAULT_ENV})")
    p.add_argument("--workers", default="1", metavar="N", help="worker processes (default 1)")
    p.add_argument("--db", default=DEFAULT_DB, metavar="PATH",
                   help=f"Hypothesis example database directory (default {DEFAULT_DB})")
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                   help=f"where the report and family traces go (default {DEFAULT_OUT})")
    p.add_argument("--format", default="text", metavar="FORMAT",
                   help="stdout report: text (default), json or markdown")
    p.add_argument("--seed", default="0", metavar="N", help="seed base of the rounds (default 0)")
    p.set_defaults(func=cmd_fuzz)


# --- options ------------------------------------------------------------------------------------

def _writable(path: Path, what: str) -> None:
    from model.usage import UsageError
    if path.exists() and not path.is_dir():
        raise UsageError(f"{what} {path} exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".handover-probe-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise UsageError(f"{what} {path}: cannot write there ({e.strerror or e})") from None


def check(args) -> dict:
    """The options, validated: one UsageError (exit 2) naming the first bad one."""
    import fixes
    from model.usage import UsageError
    try:
        minutes = float(args.minutes)
    except ValueError:
        raise UsageError(f"--minutes takes a number of minutes, not {args.minutes!r}") from None
    if not minutes > 0 or minutes == float("inf"):
        raise UsageError(f"--minutes must be a positive number, not {args.minutes!r}")
    try:
        workers, seed = int(args.workers), int(args.seed)
    except ValueError:
        raise UsageError(f"--workers and --seed take whole numbers, not "
                         f"{args.workers!r}/{args.seed!r}") from None
    if workers < 1:
        raise UsageError("--workers: at least 1")
    known = fixes.known()
    for name in args.fix:
        if name not in known:
            raise UsageError(f"unknown fix set {name!r} (known: {', '.join(known)})")
    if args.env not in D.ENVIRONMENTS:
        raise UsageError(f"unknown environment {args.env!r} (known: {', '.join(D.ENVIRONMENTS)})")
    if args.format not in FORMATS:
        raise UsageError(f"--format takes {', '.join(FORMATS)}, not {args.format!r}")
    db, out = Path(args.db), Path(args.out)
    _writable(db, "--db")
    _writable(out, "--out")
    index = db / INDEX
    if index.exists():
        try:
            json.loads(index.read_text())["families"]
        except (ValueError, KeyError, TypeError):
            raise UsageError(f"--db {db}: {INDEX} is not a family index") from None
    fix_sets = list(dict.fromkeys(args.fix)) or known
    return dict(minutes=minutes, workers=workers, seed=seed, env=args.env, db=db, out=out,
                cells=[(f, p) for f in fix_sets for p in PROFILES])


# --- the search ---------------------------------------------------------------------------------

def weight(rounds: int, found: int) -> int:
    """The bandit's weight of a cell (module docstring): the next round goes to the lowest."""
    return rounds * (1 + found)


def pick(cells: list, rounds: dict, found: dict):
    return min(cells, key=lambda c: (weight(rounds[c], len(found[c])), cells.index(c)))


def _keeping_db(db: Path):
    from hypothesis.database import DirectoryBasedExampleDatabase

    class KeepingDatabase(DirectoryBasedExampleDatabase):
        """Never forgets: Hypothesis deletes (or demotes) a saved example that no longer fails, and
        a round whose targets exclude a property already found would make it forget that
        property's examples; here they stay, and every run replays them first."""

        def delete(self, key: bytes, value: bytes) -> None:
            pass

        def move(self, src: bytes, dest: bytes, value: bytes) -> None:
            pass

    return KeepingDatabase(str(db))


def settings(db: Path):
    from hypothesis import Phase
    # no Hypothesis shrink phase: a failing example is saved to the database when it is found,
    # and `model.engines.shrink` shrinks it (in a fraction of the time Hypothesis's shrinker takes here)
    return D.settings_for("dev", ROUND_EXAMPLES, database=_keeping_db(db),
                          phases=(Phase.explicit, Phase.reuse, Phase.generate))


def one_round(cell: tuple, k: int, seed: int, env: str, db: Path, properties=D.P.ALL) -> dict:
    """One round of one cell, its targets `properties`: what it ran and the violations, shrunk,
    with their signatures."""
    from model.engines.classify import signature
    fix_set, profile = cell
    found = D.search(fix_set, profile, settings=settings(db), mode="rounds", environment=env,
                     properties=properties,
                     seed=D.cell_seed(seed, "fuzz", fix_set, profile, env, k),
                     max_rounds=MAX_ROUNDS)
    hits = []
    for prop, f in found.findings.items():
        steps = S.shrink_steps(f.steps, found.cfg, prop, max_replays=SHRINK_REPLAYS)
        hits.append({"signature": signature(prop, steps, found.cfg), "property": prop,
                     "detail": S.first_violation(steps, found.cfg, prop)[1], "steps": steps})
    return {"cell": list(cell), "cases": found.examples, "hits": hits,
            "errors": [t for t, _ in found.errors]}


def run_cells(cells: list, deadline: float, seed: int, env: str, db: Path, emit,
              stop=lambda: False) -> None:
    """Rounds over `cells` by the bandit rule until `deadline` (time.time()) or `stop()`;
    `emit(round_result)` after each."""
    rounds = {c: 0 for c in cells}
    found: dict = {c: set() for c in cells}
    while time.time() < deadline and not stop():
        cell = pick(cells, rounds, found)
        # targets: the properties not yet violated in this cell (all again once every one is)
        targets = [p for p in D.P.ALL if p not in found[cell]] or D.P.ALL
        res = one_round(cell, rounds[cell], seed, env, db, targets)
        rounds[cell] += 1
        found[cell].update(h["property"] for h in res["hits"])
        emit(res)


def _worker(cells, deadline, seed, env, db, q) -> None:
    try:
        run_cells(cells, deadline, seed, env, db, q.put)
    except KeyboardInterrupt:
        pass                      # the round in progress is dropped; the parent writes the report
    except Exception as exc:      # noqa: BLE001 - a tool failure, told to the parent (exit 2)
        q.put({"crash": f"{type(exc).__name__}: {exc}"})
    finally:
        q.put(None)


class Families:
    """Failure families seen in this run, against the index of earlier runs on the same database."""

    def __init__(self, known: dict) -> None:
        self.known = known                 # signature -> {"first_seen": ...}
        self.fam: dict = {}                # signature -> entry
        self.cases = self.rounds = 0
        self.errors: dict = {}

    def add(self, res: dict) -> None:
        self.rounds += 1
        self.cases += res["cases"]
        for e in res["errors"]:
            self.errors[e] = self.errors.get(e, 0) + 1
        cell = "/".join(res["cell"])
        for h in res["hits"]:
            e = self.fam.get(h["signature"])
            if e is None:
                e = self.fam[h["signature"]] = {
                    "signature": h["signature"], "property": h["property"], "count": 0,
                    "new": h["signature"] not in self.known, "cells": [], "steps": None}
            e["count"] += 1
            if cell not in e["cells"]:
                e["cells"].append(cell)
            if e["steps"] is None or len(h["steps"]) < len(e["steps"]):
                e.update(steps=h["steps"], cell=cell, detail=h["detail"])


def load_index(db: Path) -> dict:
    path = db / INDEX
    return json.loads(path.read_text())["families"] if path.exists() else {}


def save_index(db: Path, known: dict, fams: Families, stamp: str) -> None:
    merged = dict(known)
    for sig in fams.fam:
        merged.setdefault(sig, {"first_seen": stamp})
    _replace(db / INDEX, json.dumps({"format": "handover.fuzz-families/1", "families": merged},
                                    indent=2, sort_keys=True) + "\n")


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# --- the report ---------------------------------------------------------------------------------

def write_traces(fams: Families, out: Path) -> None:
    """One trace (and page) per family under `out/families/`, named by its index in the report."""
    from fixes import make_config
    for i, e in enumerate(sorted(fams.fam.values(), key=_order)):
        fix_set, profile = e["cell"].split("/")
        cfg = make_config([fix_set], profile)
        name = f"family-{i + 1:02d}"
        try:
            json_path, md_path = CX.write(D.make_trace(e["steps"], cfg, e["property"]), cfg,
                                          e["property"], name, out / "families",
                                          description=f"handover fuzz family {e['signature']} "
                                                      f"({fix_set}, {profile})",
                                          race_window=False)
            e.update(trace=str(json_path), page=str(md_path))
        except CX.CounterexampleError as exc:     # a shrunk trace that no longer replays
            e.update(trace=None, page=None, error=str(exc))


def _order(e: dict):
    return (not e["new"], e["property"], e["signature"])


def report(fams: Families, opts: dict, elapsed: float, interrupted: bool) -> dict:
    entries = [{k: e.get(k) for k in ("signature", "property", "count", "new", "cells", "cell",
                                       "detail", "trace", "page")} | {"steps": len(e["steps"])}
               for e in sorted(fams.fam.values(), key=_order)]
    return {"format": "handover.fuzz-report/1", "environment": opts["env"],
            "minutes": opts["minutes"], "seconds": round(elapsed, 1), "seed": opts["seed"],
            "workers": opts["workers"], "db": str(opts["db"]), "interrupted": interrupted,
            "cells": len(opts["cells"]), "rounds": fams.rounds, "cases": fams.cases,
            "new": sum(e["new"] for e in entries), "model_errors": fams.errors,
            "families": entries}


def text(r: dict) -> str:
    head = (f"fuzz: {r['rounds']} rounds, {r['cases']} cases over {r['cells']} cells in "
            f"{r['seconds']:.0f} s ({r['environment']})"
            + (" (interrupted)" if r["interrupted"] else ""))
    lines = [head, f"{len(r['families'])} failure families, {r['new']} new:"]
    for e in r["families"]:
        lines.append(f"  {'NEW  ' if e['new'] else 'known'} {e['count']:>3}x {e['steps']:>2} steps "
                     f"{e['signature']}")
        lines.append(f"        {e['cell']}: {e['trace']}")
    if r["model_errors"]:
        lines.append(f"model errors ({len(r['model_errors'])}): "
                     + "; ".join(list(r["model_errors"])[:3]))
    return "\n".join(lines) + "\n"


def markdown(r: dict) -> str:
    lines = ["# handover fuzz report", "",
             f"Environment `{r['environment']}`, {r['cells']} cells, {r['rounds']} rounds, "
             f"{r['cases']} cases in {r['seconds']:.0f} s (seed {r['seed']}, database "
             f"`{r['db']}`){' — interrupted' if r['interrupted'] else ''}.", "",
             f"**{len(r['families'])} failure families, {r['new']} new since the last run on "
             f"this database.**", ""]
    if r["families"]:
        lines += ["| | family (property \\| class \\| user steps) | hits | shortest | cells | trace |",
                  "|---|---|---|---|---|---|"]
        for e in r["families"]:
            name = Path(e["trace"]).name if e["trace"] else ""
            trace = f"[{name}](families/{name})" if name else "(no replay)"   # beside the report
            sig = e["signature"].replace("|", " \\| ")       # a pipe inside a table cell
            lines.append(f"| {'**new**' if e['new'] else 'known'} | "
                         f"`{sig}` | {e['count']} | "
                         f"{e['steps']} steps | {len(e['cells'])} | {trace} |")
    if r["model_errors"]:
        lines += ["", "Model errors: " + "; ".join(f"`{t}`" for t in r["model_errors"])]
    return "\n".join(lines) + "\n"


# --- the command --------------------------------------------------------------------------------

def cmd_fuzz(args) -> int:
    from model.engines.interrupts import Guard
    opts = check(args)
    start = time.time()
    deadline = start + 60 * opts["minutes"]
    fams = Families(load_index(opts["db"]))
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start))

    def progress():
        now = time.time()
        print(f"fuzz: {now - start:6.1f} s elapsed, {max(0.0, deadline - now):6.1f} s left, "
              f"{fams.cases} cases, {fams.rounds} rounds, {len(fams.fam)} families "
              f"({sum(e['new'] for e in fams.fam.values())} new)", file=sys.stderr, flush=True)

    def take(res):
        fams.add(res)
        progress()

    n = min(opts["workers"], len(opts["cells"]))
    print(f"fuzz: {len(opts['cells'])} cells ({opts['env']}), {opts['minutes']:g} min, "
          f"{n} worker{'s' * (n != 1)}, database {opts['db']}; Ctrl-C stops",
          file=sys.stderr, flush=True)
    interrupted = False
    procs: list = []
    try:
        with Guard("handover fuzz: interrupted") as guard:
            if n == 1:
                run_cells(opts["cells"], deadline, opts["seed"], opts["env"], opts["db"], take,
                          stop=lambda: guard.requested)
            else:
                procs = _spawn(opts, deadline, n)
                _collect(procs, take)
    except KeyboardInterrupt:
        interrupted = True
        _stop(procs, take)
    r = finish(fams, opts, start, stamp, interrupted)
    out = {"json": json.dumps(r, indent=2) + "\n", "markdown": markdown(r)}.get(args.format)
    sys.stdout.write(out if out is not None else text(r))
    if interrupted:
        print("handover fuzz: interrupted; report and database written", file=sys.stderr)
        return 130
    return 1 if r["families"] else 0


def finish(fams: Families, opts: dict, start: float, stamp: str, interrupted: bool) -> dict:
    write_traces(fams, opts["out"])
    r = report(fams, opts, time.time() - start, interrupted)
    _replace(opts["out"] / "fuzz-report.json", json.dumps(r, indent=2) + "\n")
    _replace(opts["out"] / "fuzz-report.md", markdown(r))
    save_index(opts["db"], fams.known, fams, stamp)
    return r


def _spawn(opts: dict, deadline: float, n: int) -> list:
    ctx = multiprocessing.get_context("spawn")
    procs = []
    for w in range(n):
        q = ctx.Queue()
        p = ctx.Process(target=_worker, args=(opts["cells"][w::n], deadline, opts["seed"],
                                              opts["env"], opts["db"], q), daemon=True)
        p.start()
        procs.append((p, q))
    return procs


def _collect(procs: list, take, timeout: float | None = None) -> None:
    live = list(procs)
    end = None if timeout is None else time.time() + timeout
    while live and (end is None or time.time() < end):
        for p, q in list(live):
            try:
                res = q.get(timeout=0.2)
            except queue.Empty:
                if not p.is_alive():
                    live.remove((p, q))
                continue
            if res is None:
                live.remove((p, q))
            elif "crash" in res:
                raise RuntimeError(f"fuzz worker failed: {res['crash']}")
            else:
                take(res)


def _stop(procs: list, take) -> None:
    """After Ctrl-C: the workers got the SIGINT too (same process group); collect what they
    finish, then end the ones still running (only the processes this command started)."""
    for p, _ in procs:
        if p.is_alive() and p.pid:
            try:
                os.kill(p.pid, 2)
            except OSError:
                pass
    _collect(procs, take, timeout=5.0)
    for p, _ in procs:
        if p.is_alive():
            p.terminate()
        p.join(1.0)
