"""The layout of `model/`: imports only run downward (docs/layout.md).

    model/cli.py, model/session.py, model/live/, model/logs/   (entry points)
      -> model/outputs/      render, counterexample pages, verdicts, report
      -> model/engines/      trace format, runner, driver, shrink, explore, timed, estimate, fuzz ...
      -> model/properties/   observers of worlds
      -> model/system/       the transition system; model/system/parties/ the parties

`model/usage.py` (command-line errors) sits beside the engines, below the entry points. Every import
is read with `ast`, lazy ones inside functions included.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ABOVE_SYSTEM = ("model.properties", "model.engines", "model.outputs", "model.live", "model.logs",
                "model.cli", "model.session", "model.usage", "fixes")
FORBIDDEN = {
    "model/system": ABOVE_SYSTEM,
    # inside the system: the parties and the layer below them never import the world that
    # composes them (seams are registered by importing the parties, not by importing the world)
    "model/system/parties": ("model.system.world",),
    "model/system/seams.py": ("model.system.world",),
    "model/system/config.py": ("model.system.world", "model.system.parties"),
    "model/properties": ("model.engines", "model.outputs", "model.live", "model.logs", "model.cli",
                         "model.session", "model.usage", "fixes"),
    "model/engines": ("model.outputs", "model.live", "model.logs", "model.cli", "model.session"),
    "model/outputs": ("model.live", "model.logs", "model.cli", "model.session"),
}

EXCEPTIONS = {
    **{(f"model/engines/{engine}.py", "model.outputs.counterexample"):
       "an engine keeps a finding only as a counterexample page, replayed before it is written"
       for engine in ("explore", "fuzz", "triage", "estimate", "liveness")},
    ("model/engines/liveness.py", "model.outputs.render"):
        "a lasso is written as a counterexample page by hand (its loop is not a plain trace)",
    ("model/engines/explore.py", "model.outputs.manifest"):
        "explore --check holds an explored cell against the expected verdicts",
}
"""(file, module) pairs that run upward, each with its reason."""


def imports(path: Path) -> list[str]:
    """Every module `path` imports, top-level or inside a function, as dotted names; `from A
    import b` counts as `A.b` too, so `from model import world` names `model.world`."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.append(node.module)
            out += [f"{node.module}.{a.name}" for a in node.names]
    return out


def violations(root: Path = ROOT) -> list[str]:
    bad = []
    for folder, forbidden in FORBIDDEN.items():
        paths = [root / folder] if folder.endswith(".py") else sorted((root / folder).rglob("*.py"))
        for path in paths:
            if not path.exists():
                continue
            rel = str(path.relative_to(root))
            for mod in imports(path):
                for f in forbidden:
                    if (mod == f or mod.startswith(f + ".")) and not any(
                            rel == file and (mod == m or mod.startswith(m + ".") or m.startswith(mod + "."))
                            for file, m in EXCEPTIONS):
                        bad.append(f"{rel} imports {mod}")
    return sorted(set(bad))


def test_imports_only_run_downward():
    assert violations() == []


def test_every_exception_is_still_needed():
    """An exception the code no longer uses is removed, so the list stays the truth."""
    used = {(str(p.relative_to(ROOT)), m) for (f, m) in EXCEPTIONS for p in [ROOT / f]
            if any(i == m or i.startswith(m + ".") for i in imports(ROOT / f))}
    assert used == set(EXCEPTIONS)


def test_the_check_catches_an_upward_import(tmp_path):
    for folder in FORBIDDEN:
        (tmp_path / folder).parent.mkdir(parents=True, exist_ok=True)
        if not folder.endswith(".py"):
            (tmp_path / folder).mkdir(exist_ok=True)
    (tmp_path / "model/system/world.py").write_text("def f():\n    from model.engines import runner\n")
    (tmp_path / "model/system/seams.py").write_text("def f():\n    import model.system.world\n")
    (tmp_path / "model/properties/properties.py").write_text("from model import outputs\n")
    (tmp_path / "model/engines/runner.py").write_text("import model.cli\n")
    assert violations(tmp_path) == ["model/engines/runner.py imports model.cli",
                                    "model/properties/properties.py imports model.outputs",
                                    "model/system/seams.py imports model.system.world",
                                    "model/system/world.py imports model.engines",
                                    "model/system/world.py imports model.engines.runner"]
