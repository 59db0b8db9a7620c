"""A/B of the parse: this tree's and another tree's parsed frames must be equal.

``python benchmarks/parse_ab.py --baseline DIR`` runs :func:`ingest.sources.parsing.parse_records`
with this tree's code and with the code of ``DIR`` (a checkout of another commit, e.g. from
``git archive``), each in a subprocess, over the same batches: the bundled samples (all
four logs), generated Sysmon process creations (:mod:`benchmarks.sysmon`), and generated
lines gone wrong (``EventID`` an object, ``Image`` a list, text fields holding JSON text,
broken and cut lines, newlines inside a line, Winlogbeat and nested shapes, auditd records,
``\\u`` escapes, empty lines, other ministries and forwarders). It compares every frame
(events per family, dead letters, conflicts) with :meth:`polars.DataFrame.equals` and
their schemas, prints one line per frame, and exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import polars as pl

_SAMPLES = {
    "sample_endpoint.ndjson": "endpoint",
    "sample_firewall.log": "firewall",
    "sample_web_iis.log": "web",
    "sample_web_nginx.log": "web",
}


def _records(
    lines: list[str | None], family: str, source: str, rng: random.Random | None = None
) -> pl.DataFrame:
    count = len(lines)
    header: list[str | None] = [None] * count
    topic: list[str | None] = [None] * count
    if rng is not None:
        header = [rng.choice([None, None, "mef", "moh"]) for _ in range(count)]
        topic = [rng.choice([None, None, None, "mef"]) for _ in range(count)]
    return pl.DataFrame(
        {
            "family": [family] * count,
            "source": [source] * count,
            "origin": [f"{source}/{n % 3}/{n}" for n in range(count)],
            "line": lines,
            "header_organization": header,
            "source_organization": topic,
        },
        schema=dict.fromkeys(
            ("family", "source", "origin", "line", "header_organization", "source_organization"),
            pl.String(),
        ),
    )


_WINLOGBEAT = (
    '{"winlog": {"event_id": "1", "channel": "Microsoft-Windows-Sysmon/Operational",'
    ' "event_data": {"Hashes": "MD5=AB,SHA1=CD"}}, "process": {"pid": 4,'
    ' "executable": "C:\\\\a\\\\b.exe"}, "@timestamp": "2026-11-20T08:00:00Z",'
    ' "host": {"name": "h3"}}'
)
_AUDITD = 'type=EXECVE msg=audit(1700000000.123:42): argc=2 a0="ls" a1="-la"'
# Ways a line goes wrong: each takes the line and a random source.
_WRONG: tuple[Callable[[str, random.Random], str | None], ...] = (
    lambda line, _: line.replace('"EventID":1', '"EventID":{"a":1}', 1),
    lambda line, _: line.replace('"Image":"', '"Image":["x","', 1).replace('","Orig', '"],"Orig'),
    lambda line, rng: line[: rng.randrange(1, len(line))],
    lambda line, _: line.replace(',"Computer"', ',\n"Computer"', 1),
    lambda line, _: line.replace('"CommandLine":"', '"CommandLine":"[', 1),
    lambda line, _: line.replace('"User":"', '"User":"{\\"a\\": 1}', 1),
    lambda line, _: "",
    lambda line, _: "   ",
    lambda line, _: "[1, 2]",
    lambda line, _: line.replace('"Image"', '"\\u0049mage"', 1),
    lambda line, _: '{"Event": {"EventData": {' + line[1:-1] + '}, "System": {"EventID": 3}}}',
    lambda line, _: _WINLOGBEAT,
    lambda line, _: _AUDITD,
    lambda line, _: line.replace('"UtcTime":"2', '"UtcTime":"x2', 1),
    lambda line, _: line.replace('"ProcessId":', '"ProcessId":"abc', 1).replace(
        ',"Image"', '","Image"', 1
    ),
    lambda line, _: line.replace('"Hashes":"', '"Hashes":"{}', 1),
    lambda line, _: '{"winlog": "x", "EventID": 1, "Image": "C:\\\\w\\\\winlog.exe"}',
    lambda line, _: line.replace('"EventID":1', '"EventID":null', 1),
    lambda line, _: line.replace("\\r\\n", "\\u000d\\u000a"),
    lambda line, _: line.replace('"Image":"', '"Image":"\\u017f\u017f ', 1),
)


def _broken(lines: list[str], rng: random.Random) -> list[str | None]:
    """Sysmon lines with about one in two gone wrong in one of many ways."""
    out: list[str | None] = []
    for line in lines:
        kind = rng.randrange(2 * len(_WRONG))
        out.append(_WRONG[kind](line, rng) if kind < len(_WRONG) else line)
    return out


def cases() -> dict[str, list[pl.DataFrame]]:
    """Named lists of record batches, the same for both trees."""
    from benchmarks.sysmon import generate_sysmon_frame, sysmon_lines

    here = Path(__file__).resolve().parent.parent / "samples" / "data"
    out: dict[str, list[pl.DataFrame]] = {}
    mixed: list[pl.DataFrame] = []
    for name, family in _SAMPLES.items():
        lines: list[str | None] = list((here / name).read_text().splitlines())
        batches = [_records(lines[s : s + 500], family, name) for s in range(0, len(lines), 500)]
        out[f"sample {name}"] = batches
        mixed.append(_records(lines, family, name, random.Random(3)))
    out["samples mixed, ministries"] = [pl.concat(mixed)]
    generated = [line.decode() for line in sysmon_lines(generate_sysmon_frame(20_000, seed=5))]
    out["sysmon 20k, batches of 5000"] = [
        _records(list(generated[s : s + 5000]), "endpoint", "logs.endpoint")
        for s in range(0, 20_000, 5000)
    ]
    out["sysmon 20k, one batch, ministries"] = [
        _records(list(generated), "endpoint", "logs.endpoint", random.Random(4))
    ]
    rng = random.Random(11)
    broken = _broken(generated[:6000], rng)
    out["sysmon broken, batches of 1500"] = [
        _records(broken[s : s + 1500], "endpoint", "logs.endpoint", random.Random(s))
        for s in range(0, len(broken), 1500)
    ]
    for kind in range(20):
        few = _broken(generated[:400], random.Random(kind))
        out[f"sysmon broken seed {kind}"] = [_records(few, "endpoint", "logs.endpoint")]
    out["sysmon with a null line"] = [_records([generated[0], None, generated[1]], "endpoint", "e")]
    return out


def _child(target: Path) -> None:
    from ingest.sources.parsing import ParserState, parse_records

    forwarders = {"ws037022": "moh", "h3": "mef"}
    for name, batches in cases().items():
        state = ParserState()
        for index, records in enumerate(batches):
            parsed = parse_records(records, year=2026, forwarders=forwarders, state=state)
            stem = f"{name.replace(' ', '_')}.{index}"
            for family, frame in parsed.events.items():
                frame.write_ipc(target / f"{stem}.events.{family}.arrow")
            parsed.dead.write_ipc(target / f"{stem}.dead.arrow")
            parsed.conflicts.write_ipc(target / f"{stem}.conflicts.arrow")
        (target / f"{name.replace(' ', '_')}.state.json").write_text(
            json.dumps(state.iis_fields, sort_keys=True)
        )


def main() -> None:
    """Run both trees, compare every frame, exit 1 on a difference."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args.child)
        return
    if args.baseline is None:
        parser.error("--baseline DIR is needed")
    here = Path(__file__).resolve().parent.parent
    work = Path(tempfile.mkdtemp(prefix="neakta-parse-ab-"))
    dirs = {}
    for side, tree in (("baseline", args.baseline), ("this tree", here)):
        dirs[side] = work / side.replace(" ", "_")
        dirs[side].mkdir()
        env = os.environ | {"PYTHONPATH": str(tree)}
        command = [sys.executable, __file__, "--child", str(dirs[side])]
        subprocess.run(command, env=env, check=True)
    before = sorted(p.name for p in dirs["baseline"].iterdir())
    after = sorted(p.name for p in dirs["this tree"].iterdir())
    failures = 0 if before == after else 1
    if failures:
        print("different frames:", set(before) ^ set(after))
    rows = events = dead = 0
    for name in sorted(set(before) & set(after)):
        a, b = dirs["baseline"] / name, dirs["this tree"] / name
        if name.endswith(".json"):
            same = a.read_text() == b.read_text()
        else:
            left, right = pl.read_ipc(a), pl.read_ipc(b)
            same = left.schema == right.schema and left.equals(right)
            rows += left.height
            events += left.height if ".events." in name else 0
            dead += left.height if ".dead." in name else 0
        failures += not same
        print(f"{'same' if same else 'DIFFERENT'}  {name}")
    counts = f"{rows} rows ({events} events, {dead} dead letters)"
    print(f"{len(after)} files, {counts}, {failures} differing")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
