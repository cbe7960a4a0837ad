"""fix3-region-room-names: region-specific LiveKit room names, as the report writes it.

Targets report hypotheses H2/H4 (regions' bridges meet in one room). From the seed report,
"Fix 3: Use Region-Specific Room Names", in `LiveKitManager.getRoomName()` only:

    const region = process.env.REGION || "unknown"
    return `${this.session.userId}-${region}`   // e.g. "user@email.com-centralus"

Only the bridge token uses `getRoomName()`. The phone's token comes from the REST endpoint, which
names the room by the email (`livekit.api.ts:82`; fidelity-audit.md, "Fix 3 as the report writes
it"), so the phone stays in room `<email>` while every bridge joins `<email>-<REGION>`: no bridge
receives the phone's audio. `fix3-region-room-names-with-rest` is the completed variant.

`REGION` is set nowhere in the repository (`pino-logger.ts:11` only reads it): its value per region
is the assumption `region_env` (per-location: both centralus regions share "centralus";
per-deployment; unset: every region falls back to "unknown").
"""


def room_name(user: str, region: str, cfg) -> str:
    return f"{user}-{cfg.region_env(region) or 'unknown'}"


REPLACES = {"room_name": room_name}

INTRODUCES = {"AudioReachesActiveRegion":
              "as the report writes it, the phone's REST token keeps room = email "
              "(livekit.api.ts:82) while every bridge joins <email>-<REGION>: no bridge hears the "
              "phone (fidelity-audit.md, \"Fix 3 as the report writes it\")"}
"""Violations this fix brings where the baseline has none, by design; the corpus test
(`model/test_corpus.py`) accepts these and only these."""
