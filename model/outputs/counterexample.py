"""Counterexamples: a shrunk trace written as a `handover.trace/1` file plus a Markdown page.

A counterexample is only written after `runner.run` has replayed it and found the same property
violated, so the file `handover replay` reads is the evidence, not a claim. The trace carries
`expect: {"violates": [prop]}`; the page opens with the violated property and the values that
disagree, then the narrative, the verdict per property and the Mermaid diagram (`render.markdown`).
"""
from __future__ import annotations

import re
from pathlib import Path

import attrs

from model.outputs import render
from model.engines import runner
from model.system.config import Config
from model.engines.trace import Trace, dump

RESULTS = Path("results")
COUNTEREXAMPLES = RESULTS / "counterexamples"


class CounterexampleError(RuntimeError):
    """The trace does not replay to the violation it is supposed to show."""


def stem(fix_set: str, profile: str, prop: str) -> str:
    return "__".join(re.sub(r"[^A-Za-z0-9+._-]+", "_", part) for part in (fix_set, profile, prop))


def replay_check(trace: Trace, cfg: Config, prop: str) -> runner.Result:
    result = runner.run(trace, cfg)
    if prop not in result.violations:
        raise CounterexampleError(f"{trace.name or 'trace'} does not replay to a violation of {prop}"
                                  f" (violated: {', '.join(result.violated) or 'nothing'})")
    return result


def page(result: runner.Result, prop: str, title: str, replay_cmd: str, notes: str = "") -> str:
    i, detail = result.violations[prop]
    head = [f"# {title}", "",
            f"**{prop} is violated** at step {i + 1} of {len(result.trace.steps)}:", "",
            f"> {detail}", "",
            f"Replay: `{replay_cmd}`", ""]
    if notes:
        head += [notes, ""]
    body = render.markdown(result, title="x").split("\n", 1)[1]   # drop render's own title
    return "\n".join(head) + body


def write(trace: Trace, cfg: Config, prop: str, name: str, out_dir: str | Path = COUNTEREXAMPLES,
          description: str = "", notes: str = "", race_window: bool = True) -> tuple[Path, Path]:
    """Replay, then write `<out_dir>/<name>.json` and `<name>.md`; returns both paths.
    `race_window`: measure the timing window (`model.engines.race`, quick) into the description and page."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    trace = attrs.evolve(trace, expect=(("violates", (prop,)),), name=name)
    result = replay_check(trace, cfg, prop)
    if race_window:
        from model.engines import race
        line = race.window(trace, cfg, prop, quick=True).text
        description = (description + " " if description else "") + f"Race window: {line}"
        notes = f"**Race window:** {line}" + (f"\n\n{notes}" if notes else "")
    json_path, md_path = out / f"{name}.json", out / f"{name}.md"
    dump(trace, json_path, description)
    title = f"{prop} violated: {', '.join(cfg.fixes)}"
    md_path.write_text(page(result, prop, title, f"handover replay {json_path}", notes))
    return json_path, md_path
