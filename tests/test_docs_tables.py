"""docs/model.md's transition tables are generated from the parties' TABLE and IGNORED: they must
be what `docs/gen_tables.py` writes today (the table in the code is the truth)."""
import importlib.util
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_model_md_tables_match_the_code():
    spec = importlib.util.spec_from_file_location("gen_tables", DOCS / "gen_tables.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert gen.block() in (DOCS / "model.md").read_text(), \
        "docs/model.md is stale: run .venv/bin/python docs/gen_tables.py"
