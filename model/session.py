"""`pytest model/`'s run-wide behaviour: the seed, progress lines and the manifest check.

- **Seed.** Every search is seeded (`driver.cell_seed`) from one seed base: `driver.DEFAULT_SEED`
  for `--profile dev|ci`, so the default run finds the same counterexamples every time; a random
  base for `--profile nightly`, printed in the header and the summary with the command that
  reproduces it; `--seed N` sets it for any profile. Under pytest-xdist the controller draws the
  base and hands it to the workers (`pytest_configure_node`).
- **Progress.** A line per finished cell: how many are done and left, the cell, and its verdict
  against the manifest.
- **Manifest.** `model.outputs.manifest`: each cell test (`test_verify.py`) passes when its verdict matches
  the checked-in expectation; the summary names the cells that changed and the new ones;
  `--update-manifest` rewrites the entries of the cells this run evaluated.

`model/conftest.py` adds the options (`addoption`) and registers `Session` at configure time.
"""
from __future__ import annotations

import json
import secrets

import pytest

from model.engines import driver as D
from model.outputs import manifest as M
from model.system.config import PROFILES

CELL_TEST = "test_fix_set_under_profile"


def addoption(g) -> None:
    g.addoption("--seed", type=int, default=None, metavar="N",
                help="seed base of the searches (default: fixed for dev/ci, random and printed "
                     "for nightly)")
    g.addoption("--update-manifest", action="store_true", default=False,
                help=f"rewrite the expected verdicts of the cells this run evaluates in "
                     f"{M.MANIFEST.name} (after a reviewed change; default run only)")
    g.addoption("--manifest", default=str(M.MANIFEST), metavar="PATH",
                help="the expected-verdicts manifest to check against (default: %(default)s)")


def seed_for(config) -> int:
    worker = getattr(config, "workerinput", None)
    if worker and "handover_seed" in worker:
        return int(worker["handover_seed"])
    given = config.getoption("seed", default=None)
    if given is not None:
        return given
    profile = config.getoption("profile", default="dev") or "dev"
    return secrets.randbelow(2 ** 32) if profile in D.RANDOM_PROFILES else D.DEFAULT_SEED


def is_random(config) -> bool:
    profile = config.getoption("profile", default="dev") or "dev"
    return profile in D.RANDOM_PROFILES or config.getoption("seed", default=None) is not None


class Session:
    """The plugin object; one per pytest process."""

    def __init__(self, config):
        self.config = config
        self.seed = seed_for(config)
        config._handover_seed = self.seed
        self.update = config.getoption("update_manifest", default=False)
        if self.update and (is_random(config) or config.getoption("budget", default=None)
                            or config.getoption("mode", default=None)):
            raise pytest.UsageError("--update-manifest: the manifest pins the default run's "
                                    "verdicts; drop --profile nightly, --seed, --budget and --mode")
        self.path = config.getoption("manifest", default=str(M.MANIFEST))
        try:
            self.manifest = M.load(self.path)
        except M.ManifestError as e:
            raise pytest.UsageError(f"--manifest: {e}") from None
        config._handover_manifest = self.manifest
        sel = config._handover
        self.total = len(sel.environments) * len(sel.fix_sets) * len(sel.profiles)
        self.checks: list[M.Check] = []
        self.results: dict[str, list[str]] = {}

    # --- seed -----------------------------------------------------------------------------------
    def reproduce(self) -> str:
        return (f"seed base {self.seed}; reproduce: pytest model/ --profile "
                f"{self.config.getoption('profile', default='dev') or 'dev'} --seed {self.seed}")

    def pytest_report_header(self, config):
        kind = "random" if is_random(config) else "fixed"
        return [f"handover: {kind} {self.reproduce()}; manifest {self.path}"]

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node):
        node.workerinput["handover_seed"] = self.seed

    # --- progress ------------------------------------------------------------------------------
    def pytest_collection_finish(self, session):
        n = sum(item.nodeid.split("[")[0].endswith("::" + CELL_TEST) for item in session.items)
        if n:
            self.total = n

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids):
        n = sum(i.split("[")[0].endswith("::" + CELL_TEST) for i in ids)
        if n:
            self.total = n

    def pytest_runtest_logreport(self, report):
        if report.when != "call" or hasattr(self.config, "workerinput"):
            return
        for name, value in report.user_properties:
            if name != "handover_cell":
                continue
            cell = json.loads(value)
            key = M.key(cell["fix_set"], cell["profile"], cell["environment"])
            violated = [p for p, v in cell["properties"].items() if v["status"] == "violated"]
            check = M.check(self.manifest, key, violated)
            self.checks.append(check)
            if cell["profile"] in PROFILES:
                self.results[key] = violated
            tr = self.config.pluginmanager.get_plugin("terminalreporter")
            if tr is not None:
                done = len(self.checks)
                tr.write_line(f"[{done}/{self.total}, {max(self.total - done, 0)} left] "
                              f"{check.text()} ({cell.get('seconds', 0):.1f} s)")

    # --- the manifest --------------------------------------------------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter, exitstatus, config):
        if not self.checks:
            return
        write = terminalreporter.write_line
        if self.update:
            self.report(terminalreporter)
            M.dump(M.updated(self.manifest, self.results), self.path)
            write(f"rewrote {len(self.results)} cells in {self.path} (review the diff)")
            return
        self.report(terminalreporter)
        changed = [c for c in self.checks if c.status == "changed"]
        new = [c for c in self.checks if c.status == "new"]
        write(f"{sum(c.status == 'matches' for c in self.checks)} of {len(self.checks)} cells "
              f"match {self.path}; {len(changed)} changed; {len(new)} new")
        for c in changed + new:
            write("  " + c.text())
        if changed:
            write(f"after reviewing the change: {M.UPDATE_COMMAND}")
        if is_random(config):
            write(f"random run: {self.reproduce()}")


    def report(self, terminalreporter) -> None:
        """The per-fix page (`model/outputs/report.py`) from every stored cell, and its short form."""
        from model.outputs import report
        out = getattr(self.config, "_handover_results", None)
        try:
            cells = report.cells_of(out)
        except (OSError, ValueError, TypeError, AttributeError):
            return
        rep = report.build(cells)
        path = report.write(rep, out)
        terminalreporter.section("handover: what each fix does (results/report.md)")
        for line in report.short(rep):
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"written: {path}")
        terminalreporter.section("handover manifest")


def expected_failure(manifest: dict, record: dict) -> str | None:
    """Why a cell test fails against the manifest (None: it passes)."""
    key = M.key(record["fix_set"], record["profile"], record["environment"])
    violated = [p for p, v in record["properties"].items() if v["status"] == "violated"]
    check = M.check(manifest, key, violated)
    if check.passes:
        return None
    lines = [check.text()]
    for prop in check.violated if check.status == "new" else check.newly_violated:
        v = record["properties"][prop]
        lines.append(f"    {prop} ({v.get('class', '')}, {v['steps']} steps): {v['detail']}\n"
                     f"      counterexample: {v['counterexample']}")
    return "\n  ".join(lines)
