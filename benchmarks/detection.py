"""Detection on events that do not repeat: neakta beside Tenzir and pySigma's SQLite, one run.

``python -m benchmarks.detection`` prints one table per measurement:

1. detection proper (a frame in memory, calibrated rule set) on Sysmon process creations
   where no two events are alike (:mod:`benchmarks.sysmon`), at 10, 100 and all rules,
   beside pySigma's SQLite backend (one query per rule, on a smaller sample); the
   repeating generator of :mod:`benchmarks.workloads` as a second row;
2. the whole ``neakta detect`` on an NDJSON file (start-up and reading included) beside
   Tenzir's ``sigma`` operator on the same file and rule files (skipped with the reason
   where the ``tenzir`` wheel is absent);
3. start-up to a ready rule set, cold and warm cache, in a fresh process;
4. the fixed cost of a batch: batches of 1,000 and 5,000 events, wall-clock and CPU time
   (all threads; on a shared machine the steadier of the two);
5. peak memory of ``neakta detect`` over a large file;
6. detection proper as ``neakta run`` does it (the ``ecs`` pipeline on the events parsed
   from Sysmon lines): the process_creation rules, and all of SigmaHQ's ``rules/`` (every
   rule its log source routes, keyword rules included: the rule set a SOC deploys); needs
   ``NEAKTA_SIGMAHQ``.

Rules: SigmaHQ's ``rules/windows/process_creation`` from ``NEAKTA_SIGMAHQ`` (a checkout),
else generated SigmaHQ-shaped rules. Environment: ``NEAKTA_BENCH_EVENTS`` (events of 1
and 2, default 200,000), ``NEAKTA_BENCH_ROUNDS`` (repeats, default 3; ranges are printed),
``NEAKTA_BENCH_RSS_EVENTS`` (events of 5, default 1,000,000; 0 skips it),
``NEAKTA_BENCH_PEER_EVENTS`` (events of the run beside Tenzir, default 20,000: Tenzir
takes minutes to load SigmaHQ's rule set), ``NEAKTA_BENCH_TABLES`` (which tables, in
which order; default ``1,2,3,4,5,6``), ``NEAKTA_BENCH_BASELINE`` (a checkout of another
commit whose ``neakta detect`` tables 2 and 3 run beside this one, round by round).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import polars as pl

from benchmarks.baselines import SqliteMatcher
from benchmarks.rulegen import generate_rules
from benchmarks.sysmon import generate_sysmon_frame, parsed_sysmon_frame, write_sysmon_ndjson
from benchmarks.workloads import GENERATED_RULES, SIGMAHQ, events, rule_sources
from detect import CompiledRuleSet, load_rules
from detect.cache import compile_rules
from detect.loader import find_rule_files

EVENTS = int(os.environ.get("NEAKTA_BENCH_EVENTS", "200000"))
ROUNDS = int(os.environ.get("NEAKTA_BENCH_ROUNDS", "3"))
RSS_EVENTS = int(os.environ.get("NEAKTA_BENCH_RSS_EVENTS", "1000000"))
PEER_EVENTS = int(os.environ.get("NEAKTA_BENCH_PEER_EVENTS", "20000"))
TABLES = os.environ.get("NEAKTA_BENCH_TABLES", "1,2,3,4,5,6")
BASELINE = os.environ.get("NEAKTA_BENCH_BASELINE", "")
SQLITE_EVENTS = 2000
NEAKTA = str(Path(sys.executable).parent / "neakta")


def timed(run: Callable[[], object], rounds: int = ROUNDS) -> list[float]:
    """Seconds of each of ``rounds`` calls."""
    spent = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        spent.append(time.perf_counter() - started)
    return spent


def span(rates: list[float]) -> str:
    """``low-high`` of a list of rates."""
    return f"{min(rates):>11,.0f}-{max(rates):<11,.0f}"


def rule_folders(work: Path) -> dict[int, Path]:
    """Folders holding the first 10, the first 100 and all rule files."""
    if SIGMAHQ:
        files = find_rule_files([Path(SIGMAHQ) / "rules" / "windows" / "process_creation"])
    else:
        generated = work / "generated"
        generated.mkdir()
        for number, text in enumerate(generate_rules(GENERATED_RULES)):
            (generated / f"rule_{number:04d}.yml").write_text(text)
        files = find_rule_files([generated])
    folders = {}
    for count in (10, 100, len(files)):
        folder = work / f"rules-{count}"
        folder.mkdir()
        for file in files[:count]:
            shutil.copy(file, folder / file.name)
        folders[count] = folder
    return folders


def detection_table(folders: dict[int, Path], cache: Path) -> None:
    """Table 1: detection proper at each rule count, beside SQLite."""
    frame = generate_sysmon_frame(EVENTS)
    repeating = events(EVENTS)
    small = generate_sysmon_frame(SQLITE_EVENTS, seed=99)
    print(f"\n1. Detection proper, {EVENTS:,} events in memory ({ROUNDS} rounds)")
    print(
        f"{'rules':>6} {'workload':<22} {'neakta events/s':>23} {'SQLite events/s':>16} "
        f"{'ratio':>7} {'matches':>8}"
    )
    for folder in folders.values():
        ruleset = compile_rules([folder], pipeline="raw", cache_dir=cache)
        sqlite = SqliteMatcher(load_rules([folder]).rules)
        started = time.perf_counter()
        sqlite.count(small)
        sqlite_rate = small.height / (time.perf_counter() - started)
        for name, data in (("distinct (Sysmon)", frame), ("repeating generator", repeating)):
            calibrated = ruleset.calibrate(data)
            found = calibrated.evaluate(data).height
            rates = [data.height / s for s in timed(partial(calibrated.evaluate, data))]
            ratio = statistics.median(rates) / sqlite_rate
            print(
                f"{len(ruleset.rules):>6} {name:<22} {span(rates)} {sqlite_rate:>16,.0f} "
                f"{ratio:>6.0f}x {found:>8,}"
            )


def whole_table(folders: dict[int, Path], work: Path, env: dict[str, str]) -> None:
    """Table 2: ``neakta detect`` on a file, and beside Tenzir's ``sigma`` on a smaller one.

    With ``NEAKTA_BENCH_BASELINE`` (a checkout of another commit), that commit's
    ``neakta detect`` runs too, on its own warm cache; every round runs each engine once,
    in turn, so that load on the machine falls on all of them alike.
    """
    tenzir = shutil.which("tenzir", path=str(Path(sys.executable).parent))
    sizes = [("neakta alone", EVENTS, False), ("beside Tenzir", PEER_EVENTS, True)]
    baseline_env = env | {"PYTHONPATH": BASELINE} if BASELINE else None
    for title, count, peer in sizes:
        path = write_sysmon_ndjson(count, work / f"events-{count}.ndjson")
        print(
            f"\n2. Whole run, {title}: NDJSON file of {count:,} events "
            f"({path.stat().st_size / 1e6:,.0f} MB), start-up included, warm rule cache"
        )
        print(
            f"{'rules':>6} {'neakta detect ev/s':>23} {'Tenzir sigma ev/s':>23} {'ratio':>7} "
            f"{'neakta':>7} {'Tenzir':>7}"
            + (f" {'baseline ev/s':>23} {'x base':>7}" if BASELINE else "")
        )
        for rules, folder in folders.items():
            neakta = [NEAKTA, "detect", "--rules", str(folder), "--pipeline", "raw", "--events"]
            neakta.append(str(path))
            runs = {"ours": partial(_lines, neakta, env)}
            if baseline_env is not None:
                runs["baseline"] = partial(_lines, neakta, baseline_env)
            query = f'from_file "{path}" {{ read_ndjson }} | sigma path="{folder}" '
            query += "| summarize n=count()"
            if peer and tenzir is not None:
                runs["tenzir"] = partial(_tenzir_count, [tenzir, query])
            found = {name: run() for name, run in runs.items()}  # and warms the rule caches
            rates: dict[str, list[float]] = {name: [] for name in runs}
            for _ in range(ROUNDS):
                for name, run in runs.items():
                    rates[name].append(count / timed(run, 1)[0])
            ours = rates["ours"]
            if "tenzir" in rates:
                theirs = rates["tenzir"]
                ratio = statistics.median(ours) / statistics.median(theirs)
                line = f"{rules:>6} {span(ours)} {span(theirs)} {ratio:>6.1f}x "
                line += f"{found['ours']:>7,} {found['tenzir']:>7,}"
            else:
                absent = (
                    "(tenzir absent: pip install -e .[peers])" if peer and tenzir is None else ""
                )
                line = f"{rules:>6} {span(ours)} {absent:>23} {'':>7} {found['ours']:>7,} {'':>7}"
            if "baseline" in rates:
                base = rates["baseline"]
                line += f" {span(base)} {statistics.median(ours) / statistics.median(base):>6.2f}x"
                assert found["baseline"] == found["ours"], "baseline found other matches"
            print(line)


def _lines(command: list[str], env: dict[str, str]) -> int:
    done = subprocess.run(command, env=env, capture_output=True, check=True)
    return done.stdout.count(b"\n")


def _tenzir_count(command: list[str]) -> int:
    done = subprocess.run(command, capture_output=True, check=True, text=True)
    digits = "".join(c for c in done.stdout if c.isdigit())
    return int(digits or 0)


def startup_table(folder: Path, work: Path) -> None:
    """Table 3: seconds to a ready rule set in a fresh process, cold and warm cache.

    With ``NEAKTA_BENCH_BASELINE``, that commit's too, round by round.
    """
    script = (
        "import time, sys; t = time.perf_counter(); from pathlib import Path; "
        "from detect.cache import compile_rules; "
        f"r = compile_rules([Path({str(folder)!r})], pipeline='raw', cache_dir=Path(sys.argv[1])); "
        "print(time.perf_counter() - t, len(r.rules))"
    )
    print(f"\n3. Start-up to a ready rule set, fresh process ({ROUNDS} rounds)")
    variants = {"ours": dict(os.environ)}
    if BASELINE:
        variants["baseline"] = os.environ | {"PYTHONPATH": BASELINE}
    cold: dict[str, list[float]] = {name: [] for name in variants}
    warm: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(ROUNDS):
        for name, env in variants.items():
            cache = work / f"startup-{name}-{round_}"
            for spent in (cold[name], warm[name]):
                # Run from the work folder: the checkout's own folder would come first.
                out = subprocess.run(
                    [sys.executable, "-c", script, str(cache)],
                    capture_output=True,
                    text=True,
                    check=True,
                    env=env,
                    cwd=work,
                ).stdout.split()
                spent.append(float(out[0]))
    print(f"{'':>9} {'rules':>6} {'cold cache s':>14} {'warm cache s':>14}")
    for name in variants:
        low, high = min(cold[name]), max(cold[name])
        print(
            f"{name:>9} {out[1]:>6} {low:>6.2f}-{high:<7.2f} "
            f"{min(warm[name]):>6.2f}-{max(warm[name]):<7.2f}"
        )


def batch_table(folder: Path, cache: Path) -> None:
    """Table 4: the cost of batches of 1,000 and 5,000 events.

    Beside it, in the same run and interleaved: the same rule set verifying every rule in
    Polars (``rowwise_pairs=0``), as before rules were verified row by row in Python.
    """
    ruleset = compile_rules([folder], pipeline="raw", cache_dir=cache)
    frame = generate_sysmon_frame(50_000, seed=3)
    calibrated: CompiledRuleSet = ruleset.calibrate(frame)
    variants = {
        "row by row": calibrated,
        "all in Polars": calibrated.with_thresholds(rowwise_pairs=0),
    }
    print(
        f"\n4. Fixed cost per batch, {len(ruleset.rules)} rules "
        f"(median of 10 batches, {ROUNDS} rounds)"
    )
    print(f"{'batch':>6} {'verification':<14} {'ms per batch':>13} {'CPU ms':>13} {'events/s':>17}")
    for size in (1000, 5000):
        batches = [frame.slice(i * size, size) for i in range(10)]
        spent: dict[str, list[float]] = {name: [] for name in variants}
        cpu: dict[str, list[float]] = {name: [] for name in variants}
        for variant in variants.values():
            for batch in batches:
                variant.evaluate(batch)  # programs and expressions built once
        for _ in range(ROUNDS):
            for name, variant in variants.items():
                walls, cpus = [], []
                for batch in batches:
                    started = time.process_time()
                    walls.append(timed(partial(variant.evaluate, batch), 1)[0])
                    cpus.append(time.process_time() - started)
                spent[name].append(statistics.median(walls))
                cpu[name].append(statistics.median(cpus))
        for name in variants:
            wall = f"{min(spent[name]) * 1000:.1f}-{max(spent[name]) * 1000:.1f}"
            used = f"{min(cpu[name]) * 1000:.1f}-{max(cpu[name]) * 1000:.1f}"
            rates = f"{size / max(spent[name]):,.0f}-{size / min(spent[name]):,.0f}"
            print(f"{size:>6} {name:<14} {wall:>13} {used:>13} {rates:>17}")


def rss_table(folder: Path, work: Path, env: dict[str, str]) -> None:
    """Table 5: peak memory of ``neakta detect`` over a large file."""
    if RSS_EVENTS <= 0:
        return
    path = write_sysmon_ndjson(RSS_EVENTS, work / "rss.ndjson")
    command = [NEAKTA, "detect", "--rules", str(folder), "--pipeline", "raw", "--events", str(path)]
    with Path(os.devnull).open("wb") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=sink)
        _, status, usage = os.wait4(process.pid, 0)
        spent = time.perf_counter() - started
    print(f"\n5. neakta detect over {RSS_EVENTS:,} events ({path.stat().st_size / 1e9:.1f} GB)")
    print(
        f"peak RSS {usage.ru_maxrss / 1024:,.0f} MB, {spent:.1f} s, "
        f"{RSS_EVENTS / spent:,.0f} events/s, exit {os.waitstatus_to_exitcode(status)}"
    )
    path.unlink()


def routed_table(process_creation: Path, cache: Path) -> None:
    """Table 6: detection proper under the ``ecs`` pipeline, on parsed Sysmon events."""
    print(f"\n6. Detection proper as `neakta run` does it: {EVENTS:,} parsed Sysmon events, ecs")
    if not SIGMAHQ:
        print("   skipped: it needs SigmaHQ's rules (NEAKTA_SIGMAHQ=/path/to/a/checkout)")
        return
    frame = parsed_sysmon_frame(EVENTS)
    print(f"{'rules':<34} {'compiled':>8} {'events/s':>23} {'matches':>8}")
    sets = (
        ("process_creation", process_creation),
        ("all of rules/, as routed", Path(SIGMAHQ) / "rules"),
    )
    for name, folder in sets:
        ruleset = compile_rules([folder], pipeline="ecs", cache_dir=cache)
        calibrated = ruleset.calibrate(frame)
        found = calibrated.evaluate(frame).height
        rates = [frame.height / s for s in timed(partial(calibrated.evaluate, frame))]
        print(f"{name:<34} {len(ruleset.rules):>8,} {span(rates)} {found:>8,}")


def main() -> None:
    """Print every table, on rules and events set up in a temporary folder."""
    description, _ = rule_sources()
    print(f"rules: {description}; {os.cpu_count()} cores; polars {pl.__version__}")
    with tempfile.TemporaryDirectory(prefix="neakta-bench-") as raw:
        work = Path(raw)
        cache = work / "cache"
        env = os.environ | {"XDG_CACHE_HOME": str(cache)}
        folders = rule_folders(work)
        everything = folders[max(folders)]
        tables = {
            "1": partial(detection_table, folders, cache / "neakta"),
            "2": partial(whole_table, folders, work, env),
            "3": partial(startup_table, everything, work),
            "4": partial(batch_table, everything, cache / "neakta"),
            "5": partial(rss_table, everything, work, env),
            "6": partial(routed_table, everything, cache / "neakta"),
        }
        for number in TABLES.split(","):
            tables[number.strip()]()


if __name__ == "__main__":
    main()
