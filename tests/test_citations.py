"""Every `file:line` citation in model/ and fixes/ names a file the facts pages know.

The facts pages (`shared/design/{system-facts,livekit-facts,fidelity-audit}.md`, beside the
clone in CI as here, or beside the local repository a fresh clone came from; `facts_dirs`) are
the only sources a modelled behaviour may cite (project standards,
"Fidelity"). This cannot check the line numbers, but it catches invented paths. The pages missing
is a failure, not a skip: without them nothing is checked.
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FACTS = ("system-facts.md", "livekit-facts.md", "fidelity-audit.md")


def facts_dirs() -> list[Path]:
    """Where the facts pages may be: `$HANDOVER_FACTS_DIR`; `shared/design` beside this clone (CI,
    the working checkout); beside the repository this one was cloned from, when that is a local
    path (`git clone . /tmp/fresh`)."""
    import os
    import subprocess
    out = [Path(os.environ["HANDOVER_FACTS_DIR"])] if os.environ.get("HANDOVER_FACTS_DIR") else []
    out.append(ROOT.parent / "shared" / "design")
    origin = subprocess.run(["git", "config", "--get", "remote.origin.url"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    if origin and "://" not in origin and ":" not in origin.split("/", 1)[0]:
        out.append((ROOT / origin).resolve().parent / "shared" / "design")
    return out

CITATION = re.compile(r"([A-Za-z0-9_./-]+\.(?:ts|tsx|go|js|py|yml|yaml|sh|md)):(?:\d+|l\.\d+)")
"""`LiveKitManager.ts:319-323`, `service.go:226-230`, `README.md:13`, `f.ts:l.13`."""
FILE = re.compile(r"[A-Za-z0-9_.-]+\.(?:ts|tsx|go|js|py|yml|yaml|sh|md)\b")
BRACES = re.compile(r"/\{([A-Za-z0-9_.,-]+)\}")


def known_names(text: str) -> set[str]:
    """File names the facts mention: `a/b/File.ts` -> `File.ts`, and every member of a brace
    group `dir/{A,B}` (written without extension) -> `A`, `B`."""
    names = {m.group(0) for m in FILE.finditer(text)}
    for group in BRACES.finditer(text):
        names.update(group.group(1).split(","))
    return names


def unknown_citations(source: str, names: set[str]) -> list[str]:
    """Cited paths whose file name (or, for a brace-group member, its stem) the facts lack."""
    out = []
    for m in CITATION.finditer(source):
        base = m.group(1).rsplit("/", 1)[-1]
        if base not in names and base.rsplit(".", 1)[0] not in names:
            out.append(m.group(0))
    return out


def facts_text() -> str:
    dirs = facts_dirs()
    found = next((d for d in dirs if all((d / n).is_file() for n in FACTS)), None)
    assert found is not None, (f"facts pages ({', '.join(FACTS)}) in none of "
                               f"{', '.join(map(str, dirs))}: put shared/ beside the clone or set "
                               "HANDOVER_FACTS_DIR")
    return "\n".join((found / n).read_text() for n in FACTS)


def test_every_citation_in_model_and_fixes_names_a_file_of_the_facts_pages():
    names = known_names(facts_text())
    bad = {}
    for path in sorted([*(ROOT / "model").rglob("*.py"), *(ROOT / "fixes").rglob("*.py")]):
        found = unknown_citations(path.read_text(), names)
        if found:
            bad[str(path.relative_to(ROOT))] = found
    assert not bad, f"citations of files the facts pages do not name: {bad}"


def test_the_check_catches_an_invented_path_and_accepts_real_forms():
    names = known_names("`LiveKitManager.ts:319-323`; `mobile/src/managers/{SocketComms,RestComms}`")
    assert unknown_citations("see `LiveKitManager.ts:12` and `RestComms.tsx:291-295`", names) == []
    assert unknown_citations("see `InventedManager.ts:12-14`", names) == ["InventedManager.ts:12"]


MODEL_SYMBOL = re.compile(
    r"`((?:mobile|region|bridge|grpc_client|livekit|config|world|properties|party|network|clock"
    r"|tokens|monitors|actions|messages|effects|seams)(?:\.(?!py`)[A-Za-z_][A-Za-z0-9_]*)+)`")
"""`mobile.select_region`, `config.Timing.switch_gap`: docs/model.md names code by symbol, not by
line number (line numbers of the model drift with every edit)."""

SYMBOL_PACKAGES = ("model.system", "model.system.parties", "model.properties")
"""Where the modules that `MODEL_SYMBOL` names live (the transition system and its properties)."""


def test_docs_model_names_only_symbols_the_model_has():
    import importlib
    import importlib.util
    text = (ROOT / "docs" / "model.md").read_text()
    assert not re.search(r"`(?:model/)?[a-z_/]+\.py:\d", text), \
        "docs/model.md cites a model file by line number: name the symbol instead"
    missing = []
    for ref in sorted(set(MODEL_SYMBOL.findall(text))):
        module, *names = ref.split(".")
        obj = next(importlib.import_module(f"{pkg}.{module}") for pkg in SYMBOL_PACKAGES
                   if importlib.util.find_spec(f"{pkg}.{module}"))
        for name in names:
            obj = getattr(obj, name, None)
        if obj is None:
            missing.append(ref)
    assert not missing, f"docs/model.md names symbols the model lacks: {missing}"


def test_docs_model_names_only_tests_that_exist():
    """`tests/test_x.py::test_y` (and a following `::test_z` of the same file) in docs/model.md."""
    text = (ROOT / "docs" / "model.md").read_text()
    missing, named = [], 0
    for line in text.splitlines():
        path = None
        for m in re.finditer(r"`(tests/[a-z_]+\.py)?::(test_[A-Za-z0-9_]+)`", line):
            path = m.group(1) or path
            named += 1
            source = (ROOT / path).read_text() if path and (ROOT / path).is_file() else ""
            if f"def {m.group(2)}(" not in source:
                missing.append(f"{path}::{m.group(2)}")
    assert named and not missing, f"docs/model.md names tests that do not exist: {missing}"
