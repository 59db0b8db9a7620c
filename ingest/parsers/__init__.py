"""Vectorized parsers: a batch of raw lines in, a normalized ECS frame out.

Every parser is a pure function of its lines (and of the year, for syslog stamps that
carry none): no I/O, no clock. Lines that cannot be parsed are returned as dead letters
with their position in the batch and the reason, never raised.
"""

from ingest.parsers.auditd import parse_auditd
from ingest.parsers.endpoint import parse_endpoint
from ingest.parsers.firewall import parse_firewall
from ingest.parsers.result import ParseResult
from ingest.parsers.syslog import split_syslog
from ingest.parsers.web import parse_web

__all__ = [
    "ParseResult",
    "parse_auditd",
    "parse_endpoint",
    "parse_firewall",
    "parse_web",
    "split_syslog",
]
