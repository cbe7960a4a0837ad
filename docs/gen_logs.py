"""Regenerate the generated parts of docs/logs.md: the mapping table and the silent events (between
markers), and the output of every example command in the page's code blocks.

    .venv/bin/python docs/gen_logs.py

Each `$ command` line in a code block is run from the repository root (with .venv/bin first on
PATH) and the lines below it, up to the next `$ ` line, are replaced by what it printed;
`$ echo $?` prints the previous command's exit status. tests/test_logs.py checks that the page is
current.
"""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from model.logs.statements import SILENT, STATEMENTS, markdown_table  # noqa: E402

PAGE = ROOT / "docs" / "logs.md"
MARKS = {"mapping": lambda: markdown_table(),
         "silent": lambda: "Silent model events (no statement): "
                           + ", ".join(f"`{k}`" for k in SILENT) + ".",
         "count": lambda: f"{len(STATEMENTS)} statements "
                          f"({sum(1 for s in STATEMENTS if s.quoted)} with their text quoted in "
                          "the facts pages or the seed report, the others assumed)."}


def fill_marks(text: str) -> str:
    for name, make in MARKS.items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{start}\n{make()}\n{end}{tail}"
    return text


def run_block(block: str) -> str:
    """Run every `$ ` line of a code block; keep what comes before the first one."""
    env = dict(os.environ, PATH=f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}")
    out, status, started = [], 0, False
    for line in block.split("\n"):
        if not line.startswith("$ "):
            if not started:
                out.append(line)
            continue
        started = True
        out.append(line)
        if line == "$ echo $?":
            out.append(str(status))
            continue
        p = subprocess.run(line[2:], shell=True, cwd=ROOT, env=env, capture_output=True, text=True)
        status = p.returncode
        if (p.stdout + p.stderr).strip():
            out.append((p.stdout + p.stderr).rstrip("\n"))
    return "\n".join(out) + "\n"


def refresh_examples(text: str) -> str:
    parts = text.split("```")
    for i in range(1, len(parts), 2):
        if "\n$ " in parts[i]:
            lang, _, body = parts[i].partition("\n")
            parts[i] = lang + "\n" + run_block(body.rstrip("\n"))
    return "```".join(parts)


def main() -> None:
    PAGE.write_text(refresh_examples(fill_marks(PAGE.read_text())))


if __name__ == "__main__":
    main()
