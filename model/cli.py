"""`handover`: the command line.

    handover replay TRACE.json [--fix NAME]... [--assume KEY=VALUE]... [--format text|json|markdown|itf]
                               [--check]

Exit status: 0 every property held (with --check: the trace's `expect` was met), 1 a property was
violated (with --check: the expectation was not met), 2 bad input or a tool failure, with one line
on stderr and no traceback, 3 model and real server disagree (live replay), 130 interrupted.
Nothing the user wrote is overwritten.
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable

from model.system.config import ConfigError
from model.usage import Parser, UsageError, parse_assume
from model.engines.trace import TraceError

SUBCOMMANDS: dict[str, Callable] = {}

SUBCOMMAND_MODULES = ("model.engines.triage", "model.engines.explore", "model.engines.coverage",
                      "model.engines.estimate", "model.engines.fuzz", "model.logs")
"""Engines that live in their own modules; each has `add_parser(sub)`. A module that does not
exist (yet) is skipped."""


EXIT_CODES = ("exit status: 0 every property held (with --check: the trace's expect was met); "
              "1 a property was violated (with --check: expect not met); 2 bad input or tool "
              "failure (one line on stderr); 3 model and real server disagree (live replay); "
              "130 interrupted")


def _replay_epilog() -> str:
    import textwrap

    import fixes
    from model.system.config import ASSUMPTIONS

    def block(title: str, body: str) -> str:
        return title + "\n" + textwrap.fill(body, 78, initial_indent="  ", subsequent_indent="  ",
                                            break_on_hyphens=False)
    keys = "; ".join(f"{k}={'|'.join(str(v).lower() for v in (ref, *(v for v in vals if v != ref)))}"
                     for k, (vals, ref, _) in ASSUMPTIONS.items())
    return "\n\n".join([
        block("fix names (--fix):", ", ".join(fixes.known())),
        block("assumption keys (--assume KEY=VALUE; the first value is the reference):", keys),
        block("exit status:", EXIT_CODES.split(": ", 1)[1]),
        "the trace format: docs/traces.md"])


def add_replay(sub) -> None:
    p = sub.add_parser("replay", help="replay a trace in the model and report every property",
                       description="Replay a handover.trace/1 file in the model: what each party "
                                   "did, then a verdict per property.",
                       epilog=_replay_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("trace", help="a handover.trace/1 JSON file")
    p.add_argument("--fix", action="append", default=[], metavar="NAME",
                   help="fix set to apply (repeatable; replaces the trace's fixes)")
    p.add_argument("--assume", action="append", default=[], metavar="KEY=VALUE",
                   help="assumption override (repeatable)")
    p.add_argument("--format", choices=("text", "json", "markdown", "itf"), default="text",
                   help="itf: the Informal Trace Format of Apalache/Quint (model/outputs/itf.py)")
    p.add_argument("--check", action="store_true",
                   help="exit status says whether the trace's expect was met")
    p.add_argument("--livekit-dev", action="store_true",
                   help="replay against local LiveKit servers started for the run")
    p.add_argument("--livekit", action="append", default=[], metavar="NAME=URL,KEY,SECRET",
                   help="replay against an existing deployment (one per topology name)")
    p.set_defaults(func=cmd_replay)


def cmd_replay(args) -> int:
    from model.outputs import render
    from model.engines import runner
    from model.engines.trace import check_pods, load
    assume = parse_assume(args.assume)
    trace = load(args.trace)
    if args.livekit_dev or args.livekit:
        require_live_extra()
        from model.live import replay as live_replay  # the live engine (issue 4)
        return live_replay.main(args, trace, assume)
    cfg = runner.config_for(trace, args.fix or None, assume)
    check_pods(trace, cfg.a("pods_per_region"))
    result = runner.run(trace, cfg)
    if args.format == "itf":
        from model.outputs import itf
        out = itf.render
    else:
        out = {"text": render.text, "json": render.as_json, "markdown": render.markdown}[args.format]
    sys.stdout.write(out(result))
    if args.check:
        return 0 if result.expectation_met() else 1
    return 1 if result.violated else 0


def require_live_extra() -> None:
    """The live replay needs the `livekit` rtc SDK (the `live` extra), which a plain install lacks."""
    import importlib
    try:
        importlib.import_module("livekit.rtc")
    except ImportError:
        raise UsageError("--livekit and --livekit-dev need the 'live' extra (the livekit package): "
                         "pip install -e '.[live]'") from None


def version() -> str:
    from importlib import metadata
    try:
        return metadata.version("handover")
    except metadata.PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown (not installed)"


def build_parser() -> Parser:
    parser = Parser(prog="handover", description="Does a fix for the region-switching bug "
                                                 "really fix it?", epilog=EXIT_CODES)
    parser.add_argument("--version", action="version", version=f"handover {version()}")
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
        if hasattr(m, "add_parser"):       # a package without a subcommand (yet) adds none
            SUBCOMMANDS[mod] = m.add_parser


def main(argv: list[str] | None = None) -> int:
    try:
        _register_optional()
        args = build_parser().parse_args(argv)
        return args.func(args)
    except (UsageError, TraceError, ConfigError) as e:
        print(f"handover: error: {one_line(str(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("handover: interrupted", file=sys.stderr)
        return 130
    except OSError as e:      # an output that cannot be written, a full disk, ...
        where = f"{e.filename}: " if e.filename else ""
        print(f"handover: error: {where}{one_line(e.strerror or str(e))}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - a crash is a tool failure (2), never 1
        print(f"handover: internal error: {type(e).__name__}: {one_line(str(e))} (a bug: please "
              f"report it with the command line)", file=sys.stderr)
        return 2


def one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[:limit - 3] + "..."


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
