"""The transition system: the World, its actions, the network, the clock, messages, effects,
tokens, the configuration and the fix seams. Pure data and functions; imports nothing above it."""
