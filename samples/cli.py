"""``python -m samples``: write one sample file, or regenerate every bundled one."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from samples.endpoint import generate_endpoint_events
from samples.files import DATA_DIR, write_bundled, write_lines, write_ndjson
from samples.firewall import generate_firewall_lines_with_labels
from samples.web import generate_iis_lines_with_labels, generate_nginx_lines_with_labels

__all__ = ["main"]

_LINES = {
    "firewall": generate_firewall_lines_with_labels,
    "nginx": generate_nginx_lines_with_labels,
    "iis": generate_iis_lines_with_labels,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Write sample files; ``python -m samples --help`` lists the options."""
    parser = argparse.ArgumentParser(
        prog="python -m samples",
        description="Write deterministic sample ministry logs with seeded attacks.",
    )
    parser.add_argument(
        "--bundled",
        action="store_true",
        help=f"regenerate every bundled sample in --data-dir ({DATA_DIR})",
    )
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="folder of --bundled")
    parser.add_argument("--out", type=Path, help="file to write (one sample)")
    parser.add_argument(
        "--family",
        choices=("endpoint", *_LINES),
        default="endpoint",
        help="log family of --out: endpoint (Sysmon NDJSON), firewall, nginx or iis (endpoint)",
    )
    parser.add_argument("--count", type=int, default=3000, help="number of lines (3000)")
    parser.add_argument("--seed", type=int, default=7, help="seed of benign activity (7)")
    parser.add_argument("--no-attacks", action="store_true", help="leave out the attacks")
    args = parser.parse_args(argv)
    if args.bundled:
        for name, written in write_bundled(args.data_dir).items():
            print(f"wrote {written} lines to {args.data_dir / name}")
        return 0
    if args.out is None:
        parser.error("give --out FILE or --bundled")
    attacks = not args.no_attacks
    if args.family == "endpoint":
        events = generate_endpoint_events(args.count, seed=args.seed, attacks=attacks)
        written = write_ndjson(events, args.out)
        print(f"wrote {written} events to {args.out}")
        return 0
    lines, _ = _LINES[args.family](args.count, seed=args.seed, attacks=attacks)
    written = write_lines(lines, args.out)
    print(f"wrote {written} lines to {args.out}")
    return 0
