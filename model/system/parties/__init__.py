"""The parties of the transition system: the phone app, the region pods and their gRPC clients,
the Go bridges and the LiveKit servers, each a state plus a transition table (`party.dispatch`)."""
