"""The engines that check the transition system: the trace format and its runner, the Hypothesis
driver, shrinking and classification, the exhaustive explorer (with liveness), the timed engine and
its estimates, fuzz and triage."""
