"""handover coverage: which transition-table rows the explorer and the driver reach."""
from __future__ import annotations

import json

from model.engines import coverage as C
from model.system.parties import party
from model.cli import main
from fixes import make_config

CFG = make_config(["baseline"])


def test_rows_cover_every_table_with_citations():
    rows = C.rows()
    tables = sum(len(m.TABLE) + len(m.IGNORED) for m in C.PARTIES.values())
    assert len(rows) == tables
    assert all(cite for *_, cite in rows)
    ack = [r for r in rows if r[0] == "mobile" and r[3].__name__ == "ConnectionAck"
           and r[1] == "TABLE"]
    assert ack and "SocketComms.ts" in ack[0][4]


def test_explorer_coverage_on_a_small_configuration():
    hit, ex = C.by_explorer(CFG, "switching", 1)
    assert party.lookup.__name__ == "lookup"         # the recording is undone
    assert hit == set()          # one step: user actions and ticks; no party handled a message
    hit, _ = C.by_explorer(CFG, "switching", 2)      # connect, then deliver one message or settle
    assert any(r.startswith("region.TABLE[") and "GlassesConnect" in r for r in hit)
    assert any(r.startswith("livekit.TABLE[") for r in hit)       # inside the settle
    deeper, _ = C.by_explorer(CFG, "switching", 4)
    assert hit <= deeper and len(deeper) > len(hit)
    r = C.report(deeper, set(), 4, 0)
    total = sum(p[t][0] for p in r["parties"].values() for t in ("TABLE", "IGNORED"))
    reached = sum(p[t][1] for p in r["parties"].values() for t in ("TABLE", "IGNORED"))
    unreached = sum(len(p["unreached"]) for p in r["parties"].values())
    assert reached == len(deeper) and reached + unreached == total


def test_cli_coverage(capsys):
    assert main(["coverage", "--depth", "2", "--budget", "3", "--format", "json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["explorer_depth"] == 2 and set(r["parties"]) == set(C.PARTIES)
    assert main(["coverage", "--depth", "zero"]) == 2
    assert "--depth" in capsys.readouterr().err
    assert main(["coverage", "--fix", "nope"]) == 2
