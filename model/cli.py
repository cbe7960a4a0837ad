"""`handover`: the command line.

    handover replay TRACE.json [--fix NAME]... [--assume KEY=VALUE]... [--format text|json|markdown]
                               [--check]

Exit status: 0 every property held (with --check: the trace's `expect` was met), 1 a property was
violated (with --check: the expectation was not met), 2 bad input, with one line on stderr and no
traceback. Nothing the user wrote is overwritten.
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable

from model.config import ConfigError, parse_assumption
from model.trace import TraceError

SUBCOMMANDS: dict[str, Callable] = {}

SUBCOMMAND_MODULES = ("model.triage", "model.explore", "model.coverage", "model.estimate",
                      "model.fuzz", "model.logs")
"""Engines that live in their own modules; each has `add_parser(sub)`. A module that does not
exist (yet) is skipped."""


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


def add_replay(sub) -> None:
    p = sub.add_parser("replay", help="replay a trace in the model and report every property")
    p.add_argument("trace", help="a handover.trace/1 JSON file")
    p.add_argument("--fix", action="append", default=[], metavar="NAME",
                   help="fix set to apply (repeatable; replaces the trace's fixes)")
    p.add_argument("--assume", action="append", default=[], metavar="KEY=VALUE",
                   help="assumption override (repeatable)")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.add_argument("--check", action="store_true",
                   help="exit status says whether the trace's expect was met")
    p.add_argument("--livekit-dev", action="store_true",
                   help="replay against local LiveKit servers started for the run")
    p.add_argument("--livekit", action="append", default=[], metavar="NAME=URL,KEY,SECRET",
                   help="replay against an existing deployment (one per topology name)")
    p.set_defaults(func=cmd_replay)


def cmd_replay(args) -> int:
    from model import render, runner
    from model.trace import load
    assume = parse_assume(args.assume)
    trace = load(args.trace)
    if args.livekit_dev or args.livekit:
        from model.live import replay as live_replay  # the live engine (issue 4)
        return live_replay.main(args, trace, assume)
    cfg = runner.config_for(trace, args.fix or None, assume)
    result = runner.run(trace, cfg)
    out = {"text": render.text, "json": render.as_json, "markdown": render.markdown}[args.format]
    sys.stdout.write(out(result))
    if args.check:
        return 0 if result.expectation_met() else 1
    return 1 if result.violated else 0


def build_parser() -> Parser:
    parser = Parser(prog="handover", description="Does a fix for the region-switching bug "
                                                 "really fix it?")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    add_replay(sub)
    for add in SUBCOMMANDS.values():
        add(sub)
    return parser


def _register_optional() -> None:
    """Subcommands that live in their own modules register themselves here."""
    import importlib
    for mod in SUBCOMMAND_MODULES:
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:
                raise
            continue
        SUBCOMMANDS[mod] = m.add_parser


def main(argv: list[str] | None = None) -> int:
    _register_optional()
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except (UsageError, TraceError, ConfigError) as e:
        print(f"handover: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("handover: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
