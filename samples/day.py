"""A day of raw ministry logs: every seeded attack once an hour, among benign traffic.

The four files of the bundled samples (FortiGate firewall lines, IIS W3C and nginx access
logs, Sysmon JSON), hour after hour, for tests and benchmarks at scale
(``benchmarks.restarts``, the incident-routing test).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from samples.common import START
from samples.endpoint import generate_endpoint_events
from samples.files import write_lines, write_ndjson
from samples.firewall import generate_firewall_lines_with_labels
from samples.web import generate_iis_lines_with_labels, generate_nginx_lines_with_labels

__all__ = ["write_day"]

_ENDPOINT_PER_HOUR = 2800  # 20 ms to 2.5 s apart: 2,800 events stay inside their hour


def write_day(folder: Path, *, seed: int, lines: int, hours: int = 24) -> int:
    """The four sample files of ``hours`` hours from :data:`samples.common.START`; lines.

    Each hour is generated on its own (its own seed, its attacks at the same minutes), so
    the day holds ``hours`` rounds of every seeded attack among benign traffic.
    """
    per_hour = lines // hours
    endpoint = min(_ENDPOINT_PER_HOUR, per_hour * 34 // 100)
    rest = per_hour - endpoint
    counts = {"firewall": rest * 45 // 100, "iis": rest * 25 // 100}
    counts["nginx"] = rest - counts["firewall"] - counts["iis"]
    firewall: list[str] = []
    iis: list[str] = []
    nginx: list[str] = []
    events: list[dict[str, object]] = []
    for hour in range(hours):
        start = START + timedelta(hours=hour)
        hour_seed = seed * 1000 + hour
        firewall += generate_firewall_lines_with_labels(
            counts["firewall"], seed=hour_seed, start=start
        )[0]
        iis += generate_iis_lines_with_labels(counts["iis"], seed=hour_seed, start=start)[0]
        nginx += generate_nginx_lines_with_labels(counts["nginx"], seed=hour_seed, start=start)[0]
        events += generate_endpoint_events(endpoint, seed=hour_seed, start=start)
    folder.mkdir(parents=True, exist_ok=True)
    return (
        write_lines(firewall, folder / "sample_firewall.log")
        + write_lines(iis, folder / "sample_web_iis.log")
        + write_lines(nginx, folder / "sample_web_nginx.log")
        + write_ndjson(events, folder / "sample_endpoint.ndjson")
    )
