"""handover: an executable model of the MentraOS region-switching system.

Its folders are its layers; imports only run downward (docs/layout.md, tests/test_layout.py):

- `model.system`: one pure transition system (`world`: `initial`, `enabled`, `step`) over parties
  that are sans-IO state machines (`model.system.parties`: `mobile`, `region`, `grpc_client`,
  `bridge`, `livekit`), a network of ordered connections (`network`) and a millisecond clock.
- `model.properties`: the named properties, passive observers of worlds.
- `model.engines`: what checks the system: the trace format and runner, the Hypothesis driver,
  shrinking, the explorer, the timed engine and its estimates, fuzz and triage.
- `model.outputs`: narratives, counterexample pages, ITF, the verdict matrix and the report.
- `model.cli` (`handover`), `model.live` (live replay), `model.logs` (log checks) on top.
"""
