"""Real logs checked against the model: `handover logs check`, `handover logs generate`.

    handover logs check FILE... [--fix NAME]... [--assume KEY=VALUE]... [--format text|json]
                                [--budget N] [--choices N] [--tolerance SECONDS]
                                [--trace-out FILE [--force]]
    handover logs generate TRACE [--fix NAME]... [--assume KEY=VALUE]... [--out FILE [--force]]

`check` exit status: 0 the model explains the log and every property holds; 1 it explains it and
a property is violated; 3 the model cannot explain it (the first such line is named); 2 bad input.
`generate` writes to stdout, or to --out (an existing file only with --force). docs/logs.md has the
mapping table, the validation rules and their bound.
"""
from __future__ import annotations

import sys
from pathlib import Path

from model.usage import Parser, UsageError, parse_assume


def add_parser(sub) -> None:
    p = sub.add_parser("logs", help="check real logs against the model, or generate them")
    cmds = p.add_subparsers(dest="logs_command", required=True, parser_class=Parser)

    c = cmds.add_parser("check", help="is the log a behaviour of the model? which properties "
                                      "does it violate?",
                        epilog="exit status: 0 the model explains the log and every property "
                               "holds; 1 it explains it and a property is violated; 3 it cannot "
                               "explain it (the first such line is named); 2 bad input. "
                               "See docs/logs.md.")
    c.add_argument("files", nargs="+", metavar="FILE",
                   help="JSON-lines log files (one stream each)")
    _config_options(c)
    c.add_argument("--format", choices=("text", "json"), default="text")
    c.add_argument("--budget", type=int, default=None, metavar="N",
                   help="states the search may expand (default 5000)")
    c.add_argument("--choices", type=int, default=None, metavar="N",
                   help="choices (a user action or fault that writes no line, a delivery out of "
                        "the normal order) allowed between two lines (default 2)")
    c.add_argument("--tolerance", type=float, default=None, metavar="SECONDS",
                   help="how far a line's time may be from the model clock (default 2)")
    c.add_argument("--trace-out", metavar="FILE", help="write the reconstructed run as a trace")
    c.add_argument("--force", action="store_true", help="overwrite an existing --trace-out file")
    c.set_defaults(func=cmd_check)

    g = cmds.add_parser("generate", help="the log lines the real system would write for a trace")
    g.add_argument("trace", help="a handover.trace/1 JSON file")
    _config_options(g)
    g.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    g.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    g.set_defaults(func=cmd_generate)


def _config_options(p) -> None:
    p.add_argument("--fix", action="append", default=[], metavar="NAME",
                   help="fix set to apply (repeatable)")
    p.add_argument("--assume", action="append", default=[], metavar="KEY=VALUE",
                   help="assumption (repeatable)")


def _writable(path: str | None, force: bool, option: str) -> Path | None:
    if path is None:
        return None
    p = Path(path)
    if p.exists() and not force:
        raise UsageError(f"{option} {p} exists; add --force to overwrite it")
    if p.is_dir():
        raise UsageError(f"{option} {p} is a directory")
    return p


def cmd_check(args) -> int:
    from fixes import make_config
    from model.logs import check, reader, search
    from model.engines.trace import _compact_steps

    out = _writable(args.trace_out, args.force, "--trace-out")
    defaults = search.Bound()
    for name in ("budget", "choices"):
        if getattr(args, name) is not None and getattr(args, name) < 0:
            raise UsageError(f"--{name} must not be negative")
    if args.tolerance is not None and not 0 <= args.tolerance <= 3600:
        raise UsageError("--tolerance takes seconds between 0 and 3600")
    bound = search.Bound(
        budget=defaults.budget if args.budget is None else args.budget,
        choices=defaults.choices if args.choices is None else args.choices,
        tolerance=defaults.tolerance if args.tolerance is None else int(args.tolerance * 1000))
    cfg = make_config(args.fix or ["baseline"], **parse_assume(args.assume))
    try:
        obs = reader.read(args.files)
    except reader.LogError as e:
        raise UsageError(str(e)) from None
    if not len(obs):
        raise UsageError(f"no known log line in {', '.join(args.files)} "
                         f"({obs.unknown} unknown lines skipped)")
    report = check.check(obs, cfg, bound)
    sys.stdout.write(check.as_json(report) if args.format == "json" else check.text(report))
    if out is not None and report.trace is not None:
        out.write_text(_compact_steps(report.trace) + "\n")
    elif out is not None:
        print("handover: no trace written: the log is not explained", file=sys.stderr)
    return report.status


def cmd_generate(args) -> int:
    from model.engines import runner
    from model.logs import generate
    from model.engines.trace import load

    out = _writable(args.out, args.force, "--out")
    trace = load(args.trace)
    cfg = runner.config_for(trace, args.fix or None, parse_assume(args.assume))
    text = generate.text(trace, cfg)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text)
    return 0
