"""handover: an executable model of the MentraOS region-switching system.

One pure transition system (`model.world`: `initial`, `enabled`, `step`) over parties that are
sans-IO state machines (`mobile`, `region`, `grpc_client`, `bridge`, `livekit`), a network of
ordered connections (`network`) and a millisecond clock (`clock`). Properties (`properties`)
observe worlds; engines (`runner`, `driver`) choose actions.
"""
