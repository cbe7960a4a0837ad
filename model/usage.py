"""Command-line usage shared by `handover` and its engines: one-line errors (exit 2) and `--assume`.

It sits below the engines and the command line, so an engine's option check does not import
`model.cli` (which imports the engines).
"""
from __future__ import annotations

import argparse

from model.system.config import ConfigError, parse_assumption


class UsageError(Exception):
    """Bad command-line input (exit 2)."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        raise UsageError(message)


def parse_assume(items: list[str]) -> dict:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--assume takes KEY=VALUE, not {item!r}")
        try:
            out[key] = parse_assumption(key, value)
        except ConfigError as e:
            raise UsageError(str(e)) from None
    return out
