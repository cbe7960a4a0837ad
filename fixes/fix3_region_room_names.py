"""fix3-region-room-names: region-specific LiveKit room names.

Targets report hypotheses H2/H4 (regions' bridges meet in one room). From the seed report,
"Fix 3: Use Region-Specific Room Names", in `LiveKitManager.getRoomName()`:

    const region = process.env.REGION || "unknown"
    return `${this.session.userId}-${region}`   // e.g. "user@email.com-centralus"

`REGION` is the cloud location, so the two centralus regions (cloud-debug, cloud-livekit) get the
same name (`config.GEO`, system-facts.md "Region names used in the report"). Both the REST mobile
token and the bridge token use the function.
"""
from model.config import GEO


def room_name(user: str, region: str, cfg) -> str:
    return f"{user}-{GEO[region]}"


REPLACES = {"room_name": room_name}
