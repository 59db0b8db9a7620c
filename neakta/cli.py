"""The ``neakta`` command line: a thin layer over the stages.

Every option's help names the environment variable that sets its default.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypeAlias

import orjson
import polars as pl
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsError

from detect.cache import compile_rules
from detect.engine import CompiledRuleSet
from detect.pipeline_names import PIPELINE_NAMES
from ingest.sources.events import CHUNK_BYTES, UNREADABLE, DecodedEvents, iter_events_file
from neakta.options import add_option, add_rules_option
from neakta.preflight import OPERATOR_EXIT, describe, describe_settings_error, redact
from neakta.settings import Settings, load_settings, rules_cache_dir

__all__ = ["main"]


def _compile(paths: Sequence[Path], pipeline: str, settings: Settings) -> CompiledRuleSet:
    return compile_rules(
        paths,
        pipeline=pipeline,
        placeholders=settings.placeholders,
        cache_dir=rules_cache_dir(settings),
    )


def _print_problems(ruleset: CompiledRuleSet, out: TextIO) -> None:
    for problem in ruleset.rejected:
        print(problem, file=out)


def cmd_rules_check(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from detect.correlation import CorrelationSet
    from detect.loader import load_rules

    loaded = load_rules(args.paths)
    ruleset = CompiledRuleSet.compile(
        loaded.rules, pipeline=args.pipeline, placeholders=settings.placeholders
    )
    correlations = CorrelationSet.compile(
        [*loaded.rules, *loaded.correlations], ruleset, pipeline=args.pipeline
    )
    rejected = loaded.problems + ruleset.rejected + correlations.rejected
    if not args.summary_only:
        for problem in rejected:
            print(problem, file=out)
    compiled = len(ruleset.rules) + len(correlations.rules)
    total = compiled + len(rejected)
    share = 100 * compiled / total if total else 100.0
    print(
        f"{compiled} of {total} rules compiled ({share:.2f}%), "
        f"{len(rejected)} rejected; "
        f"{100 * ruleset.fast_pattern_coverage:.1f}% of compiled rules have a fast pattern",
        file=out,
    )
    if loaded.correlations:
        print(
            f"  correlation rules: {len(correlations.rules)} compiled, "
            f"{len(correlations.rejected)} rejected",
            file=out,
        )
    for reason, count in Counter(p.reason for p in rejected).most_common():
        print(f"  {count:5d}  {reason}", file=out)
    return 1 if rejected else 0


def cmd_rules_convert(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    ruleset = _compile(args.paths, args.pipeline, settings)
    _print_problems(ruleset, sys.stderr)
    for rule, expr in zip(ruleset.rules, ruleset.expressions().values(), strict=True):
        print(f"# {rule.title} ({rule.id}) {rule.path}:{rule.line}", file=out)
        print(expr, file=out)
    return 1 if ruleset.rejected else 0


# Calibrating a rule set on the first events (about 0.3 s at SigmaHQ's 1,183
# process_creation rules) pays for itself from about 100,000 events; a shorter input is
# evaluated with each rule's static fast pattern (same matches; docs/benchmarks.md).
CALIBRATE_MIN_EVENTS = 100_000


def _expected_events(path: Path, first: int) -> float:
    """How many events the input holds, judged by its first chunk of ``first`` events.

    A plain file is read ``CHUNK_BYTES`` at a time: its size tells how many chunks it
    holds. A compressed file's is unknown: taken as large. Parquet is read whole.
    """
    if path.suffix == ".parquet":
        return first
    if path.suffix == ".gz":
        return float("inf")
    try:
        size = path.stat().st_size
    except OSError:
        return float("inf")
    return first * max(1.0, size / CHUNK_BYTES)


def _matches(
    args: argparse.Namespace, settings: Settings, err: TextIO
) -> Iterator[tuple[pl.DataFrame, int]]:
    """Each chunk's matches (with their ``line``) and its number of events, in file order.

    Raises one of :data:`ingest.sources.events.UNREADABLE` where the events file cannot
    be read.
    """
    # The rules are compiled while the first block of the file is read; output names
    # rules and lines only, so just the fields the rules read are decoded.
    with ThreadPoolExecutor(1, thread_name_prefix="rules") as pool:
        compiling = pool.submit(_compile, args.rules, args.pipeline, settings)
        chunks = iter_events_file(args.events, columns=lambda: compiling.result().columns_read)
        with closing(chunks):
            yield from _chunk_matches(args, compiling, chunks, err)


def _chunk_matches(
    args: argparse.Namespace,
    compiling: Future[CompiledRuleSet],
    chunks: Iterator[DecodedEvents],
    err: TextIO,
) -> Iterator[tuple[pl.DataFrame, int]]:
    try:
        first = next(chunks, None)
    finally:
        # The rule problems come first, also where the events cannot be read.
        ruleset = compiling.result()
        _print_problems(ruleset, err)
    if first is None:
        return
    for decoded in chain([first], chunks):
        for raw, position, reason in decoded.dead.iter_rows():
            print(f"{args.events}:{position + 1}: skipped: {reason}: {raw[:120]}", file=err)
        if not ruleset.calibrated and decoded.events.height:
            if _expected_events(args.events, decoded.events.height) >= CALIBRATE_MIN_EVENTS:
                ruleset = ruleset.calibrate(decoded.events)
            else:
                ruleset = ruleset.with_static_patterns()
        matches = ruleset.evaluate(decoded.events)
        yield matches.with_columns(line=decoded.lines.gather(matches["row"])), decoded.events.height


def _unreadable(path: Path, error: Exception) -> int:
    print(f"neakta: cannot read events from {path}: {error}", file=sys.stderr)
    return 2


def cmd_detect(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    try:
        for matches, _ in _matches(args, settings, sys.stderr):
            columns = matches.select("rule_id", "rule_title", "level", "line")
            for row in columns.iter_rows(named=True):
                out.write(orjson.dumps(row).decode() + "\n")
    except UNREADABLE as error:
        return _unreadable(args.events, error)
    return 0


def cmd_rules_test(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    args.rules = [args.rule]
    found = count = 0
    try:
        for matches, events in _matches(args, settings, sys.stderr):
            for rule_title, level, line in matches.select(
                "rule_title", "level", "line"
            ).iter_rows():
                print(f"line {line}: {rule_title} [{level}]", file=out)
            found += matches.height
            count += events
    except UNREADABLE as error:
        return _unreadable(args.events, error)
    print(f"{found} match(es) in {count} event(s)", file=out)
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from neakta.demo import run_demo

    return run_demo(out, folder=args.dir)


def _pipeline_option(parser: argparse.ArgumentParser, default: str) -> None:
    add_option(
        parser,
        "--pipeline",
        env="NEAKTA_PIPELINE",
        help="field mapping and logsource routing",
        default=default,
        choices=PIPELINE_NAMES,
    )


if TYPE_CHECKING:
    Commands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


def _add_detect(commands: Commands, settings: Settings) -> None:
    detect = commands.add_parser("detect", help="evaluate rules on an events file")
    add_rules_option(detect, settings)
    detect.add_argument("--events", type=Path, required=True, help="NDJSON (.gz) or Parquet")
    _pipeline_option(detect, settings.pipeline)
    detect.set_defaults(handler=cmd_detect)


def _add_rules(commands: Commands, settings: Settings) -> None:
    from neakta.commands import authoring
    from neakta.commands import backtest as backtest_command

    rules = commands.add_parser("rules", help="check, test and convert Sigma rules")
    rule_commands = rules.add_subparsers(dest="rules_command", required=True)
    check = rule_commands.add_parser("check", help="load and compile rules, report failures")
    check.add_argument("paths", nargs="+", type=Path, help="rule files or folders")
    check.add_argument("--summary-only", action="store_true", help="print only the summary")
    _pipeline_option(check, settings.pipeline)
    check.set_defaults(handler=cmd_rules_check)

    test = rule_commands.add_parser("test", help="run one rule file on an events file")
    test.add_argument("rule", type=Path, help="a rule file")
    test.add_argument("--events", type=Path, required=True, help="NDJSON (.gz) or Parquet")
    _pipeline_option(test, settings.pipeline)
    test.set_defaults(handler=cmd_rules_test)

    convert = rule_commands.add_parser("convert", help="print each rule's Polars expression")
    convert.add_argument("paths", nargs="+", type=Path, help="rule files or folders")
    _pipeline_option(convert, settings.pipeline)
    convert.set_defaults(handler=cmd_rules_convert)
    authoring.register(rule_commands, settings)
    backtest_command.register(rule_commands, settings)


def _add_demo(commands: Commands, settings: Settings) -> None:
    demo = commands.add_parser(
        "demo", help="replay the bundled ministry logs into a fresh local store"
    )
    demo.add_argument(
        "--dir",
        type=Path,
        default=Path(".neakta") / "demo",
        help="folder of the demo's store and exports, emptied first (default %(default)s)",
    )
    demo.set_defaults(handler=cmd_demo)


_HERE: dict[str, Callable[[Commands, Settings], None]] = {
    "detect": _add_detect,
    "rules": _add_rules,
    "demo": _add_demo,
}
# The modules whose ``register`` adds the other commands (``run`` adds ``replay`` too).
_MODULES = {
    "setup": "neakta.commands.setup",
    "incidents": "neakta.commands.incidents",
    "run": "neakta.commands.run",
    "replay": "neakta.commands.run",
    "assets": "neakta.commands.assets",
    "ministries": "neakta.commands.ministries",
    "report": "neakta.commands.report",
}
COMMANDS = (*_HERE, *_MODULES)
"""Every command, in the order the help lists them."""


def build_parser(settings: Settings, command: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser: every command, or only ``command`` when it names one.

    Parsing a command's arguments needs only that command: ``main`` passes the first
    argument, so ``neakta detect`` imports none of the other commands' modules (the
    incident store, the report, the pipeline's). Any other first argument (``--help``, a
    typo) gets every command, for the help and the error.
    """
    parser = argparse.ArgumentParser(
        prog="neakta", description="SOC event processing: Sigma rules over ministry logs."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    registered: list[Callable[[Commands, Settings], None]] = []
    for name in (command,) if command in COMMANDS else COMMANDS:
        register = _HERE.get(name) or importlib.import_module(_MODULES[name]).register
        if register not in registered:
            registered.append(register)
            register(commands, settings)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the exit status.

    An operator error (a setting that cannot be read, a missing or unreadable file) is one
    line on stderr and exit status 2, never a traceback.
    """
    try:
        settings = load_settings()
    except (ValidationError, SettingsError) as error:
        print(f"neakta: {describe_settings_error(error)}", file=sys.stderr)
        return OPERATOR_EXIT
    arguments = sys.argv[1:] if argv is None else list(argv)
    first = arguments[0] if arguments else None
    args = build_parser(settings, first).parse_args(arguments)
    try:
        code: int = args.handler(args, settings, sys.stdout)
    except Exception as error:
        line = describe(error)
        if line is None:
            raise
        print(f"neakta: {redact(line, _secrets(settings))}", file=sys.stderr)
        return OPERATOR_EXIT
    return code


def _secrets(settings: Settings) -> list[SecretStr | None]:
    return [
        settings.kafka.password,
        settings.elastic.password,
        settings.elastic.api_key,
        settings.respond.notify_url,
    ]


if __name__ == "__main__":
    raise SystemExit(main())
