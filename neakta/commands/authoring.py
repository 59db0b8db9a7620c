"""``neakta rules explain`` and ``neakta rules lint``: why a rule fires, and why it never will.

``explain`` evaluates one rule file's rules on one event of an events file and prints the
value of every selection and condition node (see :mod:`detect.explain`). ``lint`` prints
``path:line: warning: ...`` for what compiles but cannot work (see :mod:`detect.lint`),
and with ``--events`` how often each rule fires on sample data.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from sigma.exceptions import SigmaError

from detect import PIPELINES, CompiledRuleSet, load_rules
from detect.explain import explain
from detect.lint import Finding, lint_rule, noise_findings
from detect.pipelines import resolve_pipeline
from ingest.sources.events import UNREADABLE, DecodedEvents, read_events_file
from neakta.options import add_option
from neakta.settings import Settings

__all__ = ["cmd_rules_explain", "cmd_rules_lint", "register"]


def _read(path: Path, err: TextIO) -> DecodedEvents | None:
    try:
        return read_events_file(path)
    except UNREADABLE as error:
        print(f"neakta: cannot read events from {path}: {error}", file=err)
        return None


def _event_at(decoded: DecodedEvents, path: Path, line: int, err: TextIO) -> dict[str, Any] | None:
    rows = decoded.lines.to_list()
    if line in rows:
        event = decoded.events.row(rows.index(line), named=True)
        return {k: v for k, v in event.items() if v is not None}
    for raw, position, reason in decoded.dead.iter_rows():
        if position == line:
            print(f"{path}: line {line} is no event: {reason}: {raw[:120]}", file=err)
            return None
    print(f"{path}: no event at line {line} (lines count from 0)", file=err)
    return None


def cmd_rules_explain(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Print every selection and condition node of each rule of a file on one event."""
    loaded = load_rules([args.rule])
    for problem in loaded.problems:
        print(problem, file=sys.stderr)
    if not loaded.rules:
        print(f"neakta: no detection rule in {args.rule}", file=sys.stderr)
        return 2
    decoded = _read(args.events, sys.stderr)
    if decoded is None:
        return 2
    event = _event_at(decoded, args.events, args.line, sys.stderr)
    if event is None:
        return 2
    code = 0
    for index, source in enumerate(loaded.rules):
        if index:
            print("", file=out)
        try:
            explanation = explain(
                source, event, pipeline=args.pipeline, placeholders=settings.placeholders
            )
        except SigmaError as error:
            print(f"{source.path}:{source.line}: rejected: {error}", file=out)
            code = 1
            continue
        print("\n".join(explanation.lines), file=out)
    return code


def cmd_rules_lint(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Print each finding as ``path:line: severity: message``; 1 under --strict if any."""
    loaded = load_rules(args.paths)
    processing = resolve_pipeline(args.pipeline, settings.placeholders)
    findings = [
        Finding(p.path, p.line, f"{p.reason}: {p.detail}" if p.detail else p.reason)
        for p in loaded.problems
    ]
    for source in loaded.rules:
        findings += lint_rule(source, processing, args.pipeline)
    if args.events is not None:
        decoded = _read(args.events, sys.stderr)
        if decoded is None:
            return 2
        ruleset = CompiledRuleSet.compile(
            loaded.rules, pipeline=args.pipeline, placeholders=settings.placeholders
        )
        matches = ruleset.evaluate(decoded.events)
        findings += noise_findings(ruleset.rules, matches, decoded.events.height, args.max_share)
    findings.sort()
    for finding in findings:
        print(finding, file=out)
    warnings = [f for f in findings if f.severity == "warning"]
    rules = len(loaded.rules) + len(loaded.correlations)
    print(f"{len(warnings)} warning(s) in {rules} rule(s)", file=out)
    return 1 if args.strict and warnings else 0


def register(rule_commands: Any, settings: Settings) -> None:
    """Add ``explain`` and ``lint`` to the ``rules`` subcommands."""
    pipelines = sorted(PIPELINES)
    explain_cmd = rule_commands.add_parser(
        "explain", help="show each selection and condition node of a rule on one event"
    )
    explain_cmd.add_argument("rule", type=Path, help="a rule file")
    explain_cmd.add_argument("--events", type=Path, required=True, help="NDJSON (.gz) or Parquet")
    explain_cmd.add_argument(
        "--line", type=int, required=True, help="the event's line, from 0 as `rules test` prints"
    )
    add_option(
        explain_cmd,
        "--pipeline",
        env="NEAKTA_PIPELINE",
        help="field mapping and logsource routing",
        default=settings.pipeline,
        choices=pipelines,
    )
    explain_cmd.set_defaults(handler=cmd_rules_explain)

    lint = rule_commands.add_parser(
        "lint", help="warn about rules that compile but cannot work as written"
    )
    lint.add_argument("paths", nargs="+", type=Path, help="rule files or folders")
    lint.add_argument(
        "--pipeline",
        default="ecs",
        choices=pipelines,
        help="the pipeline to check against (default %(default)s, as `neakta run` uses)",
    )
    lint.add_argument(
        "--events", type=Path, help="sample events (NDJSON or Parquet): how often each rule fires"
    )
    lint.add_argument(
        "--max-share",
        type=float,
        default=0.01,
        help="with --events, warn about a rule firing on more than this share (default 0.01)",
    )
    lint.add_argument("--strict", action="store_true", help="exit 1 when there is any warning")
    lint.set_defaults(handler=cmd_rules_lint)
