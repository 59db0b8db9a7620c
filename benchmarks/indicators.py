"""Threat-intelligence matching per batch: milliseconds by feed size and batch size.

``python benchmarks/indicators.py`` times :func:`enrich.match_indicators` as the alert
stage runs it on every batch: feeds of 1,000, 10,000 and 100,000 indicators (the mix of
``benchmarks/test_enrich_bench.py``: half addresses, CIDRs, a quarter domains, URLs and
hashes), on batches of 1,000 and 50,000 parsed Sysmon process creations (no domain or URL
in them) and of generated web and firewall events (addresses, DNS names, URLs). Each
figure is the median of ``--repeats`` calls on one batch, after a first call.

Side by side: ``--baseline DIR`` (a checkout of another commit) runs the same measurement
with that tree's code in a subprocess, alternating with this tree's, ``--rounds`` times;
the summary gives each side's range and the ratio of the medians. It is run as a script
(not ``-m``) so that the baseline's packages are imported. The hits are compared: the
two trees must find the same ones.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path

FEEDS = (1_000, 10_000, 100_000)
BATCHES = (1_000, 50_000)


def measure(repeats: int) -> dict[str, tuple[float, str]]:
    """Milliseconds per call and a digest of the hits, per case."""
    import polars as pl

    from benchmarks.sysmon import parsed_sysmon_frame
    from benchmarks.test_enrich_bench import events, indicators
    from enrich import match_indicators

    frames = {"sysmon": parsed_sysmon_frame(max(BATCHES)), "web+firewall": events()}
    found: dict[str, tuple[float, str]] = {}
    for feed in FEEDS:
        table = indicators(feed).indicators
        for name, frame in frames.items():
            for size in BATCHES:
                batch = frame.head(size)
                hits = match_indicators(batch, table)
                spent = []
                for _ in range(repeats):
                    started = time.perf_counter()
                    match_indicators(batch, table)
                    spent.append((time.perf_counter() - started) * 1000)
                text = hits.select(pl.all().cast(pl.String)).write_csv()
                digest = hashlib.sha256(text.encode()).hexdigest()[:12]
                found[f"{feed:>7,} indicators, {name:<12} {size:>6,} events"] = (
                    statistics.median(spent),
                    f"{hits.height} {digest}",
                )
    return found


def _child(tree: Path, repeats: int) -> dict[str, tuple[float, str]]:
    from benchmarks.trees import child_figures

    figures: dict[str, tuple[float, str]] = child_figures(
        __file__, tree, ["--repeats", str(repeats)]
    )
    return figures


def main() -> None:
    """Print each side's milliseconds per round, then their ranges and ratios."""
    here = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", type=Path)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.repeats)))
        return
    sides = {"this tree": here}
    if args.baseline is not None:
        sides = {"baseline": args.baseline, **sides}
    results: dict[str, list[dict[str, tuple[float, str]]]] = defaultdict(list)
    for round_ in range(args.rounds):
        for name, tree in sides.items():
            results[name].append(_child(tree, args.repeats))
            print(f"round {round_ + 1} {name}: done", flush=True)
    cases = list(results["this tree"][0])
    header = f"{'case':<46}" + "".join(f" {name + ' ms':>18}" for name in sides)
    print(f"\nms per call (median of {args.repeats}), {args.rounds} rounds (min-max)")
    print(header + (f" {'ratio':>7} {'hits':>6}" if len(sides) > 1 else f" {'hits':>6}"))
    for case in cases:
        line = f"{case:<46}"
        medians = {}
        for name in sides:
            values = [figures[case][0] for figures in results[name]]
            medians[name] = statistics.median(values)
            line += f" {min(values):>8.1f}-{max(values):<9.1f}"
        hits = {figures[case][1] for name in sides for figures in results[name]}
        if len(hits) != 1:
            raise SystemExit(f"{case}: the trees found different hits: {sorted(hits)}")
        if len(sides) > 1:
            line += f" {medians['this tree'] / medians['baseline']:>6.2f}x"
        print(line + f" {next(iter(hits)).split()[0]:>6}")


if __name__ == "__main__":
    main()
