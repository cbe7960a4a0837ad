"""The named properties: passive observers of a World, checked by the engines."""
