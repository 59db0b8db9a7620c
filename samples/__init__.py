"""Deterministic sample ministry logs of the three families, with seeded attacks.

``endpoint``: Sysmon events as raw Windows event JSON. ``firewall``: FortiGate
``key=value``, iptables and pfSense ``filterlog`` lines in syslog framing. ``web``: nginx
combined and IIS W3C access logs. Every generator returns its lines (or events) and a map
from line index to the name of the seeded attack on that line.

Regenerate the bundled files in ``samples/data`` with::

    python -m samples --bundled
"""

from samples.cli import main
from samples.endpoint import (
    ATTACK_KINDS,
    SYSMON_CHANNEL,
    generate_endpoint_events,
    generate_endpoint_events_with_labels,
)
from samples.files import (
    BUNDLED,
    DATA_DIR,
    bundled_labels,
    write_bundled,
    write_lines,
    write_ndjson,
)
from samples.firewall import FIREWALL_ATTACK_KINDS, generate_firewall_lines_with_labels
from samples.process_frame import PROCESS_FRAME_SCHEMA, generate_process_frame
from samples.web import (
    WEB_ATTACK_KINDS,
    generate_iis_lines_with_labels,
    generate_nginx_lines_with_labels,
)

__all__ = [
    "ATTACK_KINDS",
    "BUNDLED",
    "DATA_DIR",
    "FIREWALL_ATTACK_KINDS",
    "PROCESS_FRAME_SCHEMA",
    "SYSMON_CHANNEL",
    "WEB_ATTACK_KINDS",
    "bundled_labels",
    "generate_endpoint_events",
    "generate_endpoint_events_with_labels",
    "generate_firewall_lines_with_labels",
    "generate_iis_lines_with_labels",
    "generate_nginx_lines_with_labels",
    "generate_process_frame",
    "main",
    "write_bundled",
    "write_lines",
    "write_ndjson",
]
