"""Live side of the handover model: real livekit-server deployments on 127.0.0.1.

- `server`: build/locate the livekit-server binary and run deployments (`LiveKitServer`).
- `real_side`: the real server behind the conformance side interface (`RealLiveKit`).
- `conformance`: side-neutral LiveKit scenarios (`SCENARIOS`) and what livekit-facts.md predicts
  (`EXPECTED`); a model-backed side (`model_side`) runs the same scenarios.

Importing this package does not import the optional `livekit` (rtc) SDK; `real_side` does.
"""
