"""A line stamped 9999-11-20 among the bundled logs: correlation alerts do not change."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import orjson
import pytest

from neakta.cli import main
from neakta.settings import DEFAULT_RULES

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "data"


def correlation_alerts(folder: Path, tmp_path: Path, name: str) -> set[str]:
    alerts = tmp_path / f"{name}.ndjson"
    args = ["replay", str(folder), "--rules", str(DEFAULT_RULES), "--alerts", str(alerts)]
    args += ["--db", str(tmp_path / f"{name}.db"), "--no-status"]
    args += ["--dead-letters", str(tmp_path / f"{name}-dead.ndjson")]
    assert main(args) == 0
    documents = [orjson.loads(line) for line in alerts.read_bytes().splitlines()]
    # Correlation alerts carry no event of their own.
    return {d["_id"] for d in documents if "original" not in d.get("event", {})}


def test_a_far_future_fortigate_line_leaves_correlation_alerts_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    forged = tmp_path / "forged"
    shutil.copytree(SAMPLES, forged)
    firewall = forged / "sample_firewall.log"
    lines = firewall.read_text().splitlines()
    # A FortiGate line early in the day, before the scans and brute forces.
    at = next(n for n, line in enumerate(lines) if "date=2026-11-20" in line and n > 20)
    line = lines[at].replace("2026-11-20", "9999-11-20")
    lines[at] = re.sub(r"eventtime=\d+", "eventtime=253379750400000000000", line)
    firewall.write_text("\n".join(lines) + "\n")

    clean = correlation_alerts(SAMPLES, tmp_path, "clean")
    capsys.readouterr()
    dirty = correlation_alerts(forged, tmp_path, "forged")
    err = capsys.readouterr().err

    assert len(clean) == 5
    assert dirty == clean
    assert f"moved no watermark): {firewall} 1" in err
