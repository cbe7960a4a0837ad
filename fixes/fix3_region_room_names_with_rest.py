"""fix3-region-room-names-with-rest: Fix 3 completed, the REST phone token renamed too.

Not in the report. The report's Fix 3 (`fix3-region-room-names`) changes `getRoomName()` only and
so separates the phone (room = email, `livekit.api.ts:82`) from every bridge. This variant also
changes the REST endpoint (`livekit.api.ts:79-114`) to name the phone's room with the same
`<email>-<REGION>` rule, which is what Fix 3 needs to keep the phone and its region's bridge in one
room. `REGION` per region is the assumption `region_env` (see `fix3-region-room-names`).
"""
from fixes import fix3_region_room_names as fix3

REPLACES = {"room_name": fix3.room_name, "region.rest_room_name": fix3.room_name}
