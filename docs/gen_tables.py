"""Regenerate the transition tables in docs/model.md from each party's TABLE and IGNORED.

    .venv/bin/python docs/gen_tables.py          # rewrite the block between the markers
"""
from pathlib import Path

from model.system.parties import bridge, grpc_client, livekit, mobile, region

START, END = "<!-- tables:start -->", "<!-- tables:end -->"


def table(mod) -> str:
    rows = ["| state | message | outcome |", "|---|---|---|"]
    for state in mod.STATES:
        for msg in mod.MESSAGES:
            key = (state, msg)
            if key in mod.TABLE:
                out = f"`{mod.TABLE[key].__name__}`"
            elif key in mod.IGNORED:
                out = f"ignored: {mod.IGNORED[key]}"
            else:
                continue
            rows.append(f"| `{type(state).__name__}.{state.name}` | `{msg.__name__}` | {out} |")
    n = len(mod.STATES) * len(mod.MESSAGES) - len(mod.TABLE) - len(mod.IGNORED)
    rows.append(f"\n{len(mod.TABLE)} handled, {len(mod.IGNORED)} ignored; the other {n} pairs of "
                "STATES x MESSAGES are a `ProtocolError` (most cannot arise: see Totality).")
    return "\n".join(rows)


def block() -> str:
    parts = [START]
    for mod in (mobile, region, grpc_client, bridge, livekit):
        parts += [f"\n#### `{mod.__name__}`\n", table(mod)]
    return "\n".join(parts + ["", END])


if __name__ == "__main__":
    path = Path(__file__).with_name("model.md")
    text = path.read_text()
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    path.write_text(head + block() + tail)
