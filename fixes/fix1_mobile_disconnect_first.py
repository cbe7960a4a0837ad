"""fix1-mobile-disconnect-first: the mobile disconnects the old room before reconnecting.

Targets report hypothesis H1 (mobile does not disconnect from the old LiveKit session). From the
seed report, "Fix 1: Ensure Mobile Disconnects Before Reconnecting":

    if (this.room && this.room.state === ConnectionState.Connected) {
      await this.room.disconnect()
    }

The patch: step 1 of `LivekitManager.connect()` disconnects the current room when it is connected,
whatever the `mobile_disconnects_first` assumption says the shipped code does. It still runs only
on CONNECTION_ACK, so mic data keeps going into the old room between the switch and the new ACK.
"""
from model.system.parties.mobile import MobileState, RoomPhase


def disconnect_old_room(m: MobileState, cfg) -> bool:
    room = m.rooms.get(m.room) if m.room is not None else None
    return room is not None and room.phase is RoomPhase.CONNECTED


REPLACES = {"mobile.disconnect_old_room": disconnect_old_room}
