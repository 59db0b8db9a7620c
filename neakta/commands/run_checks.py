"""Check what an operator gives ``neakta run`` and ``replay`` before anything starts.

Every problem found is an :class:`neakta.preflight.OperatorError`: one line on stderr and
exit status 2, no traceback; secret settings are kept out of every message.
"""

from __future__ import annotations

import argparse

from pydantic import SecretStr

from neakta.preflight import (
    check_bootstrap,
    check_inputs,
    check_positive,
    check_readable_file,
    check_rule_paths,
    check_writable_file,
)
from neakta.settings import Settings

__all__ = ["preflight", "secrets"]


def secrets(settings: Settings) -> list[SecretStr | None]:
    """Every secret setting, to keep out of any message."""
    return [
        settings.kafka.password,
        settings.elastic.password,
        settings.elastic.api_key,
        settings.respond.notify_url,
    ]


def preflight(args: argparse.Namespace, settings: Settings) -> None:
    """Check what an operator gives before anything starts (raises :class:`OperatorError`)."""
    check_rule_paths(args.rules)
    check_positive(getattr(args, "processes", 1), option="--processes", env="NEAKTA_RUN__PROCESSES")
    if args.bootstrap_servers:
        check_bootstrap(args.bootstrap_servers)
        if settings.correlation.store == "sqlite" and args.checkpoints is not None:
            check_writable_file(args.checkpoints, what="checkpoints", option="--checkpoints")
    else:
        check_inputs(args.inputs)
        check_positive(args.batch_size, option="--batch-size", env="NEAKTA_BATCH_SIZE")
        check_writable_file(args.dead_letters, what="dead letters", option="--dead-letters")
    check_positive(
        args.max_record_bytes, option="--max-record-bytes", env="NEAKTA_RUN__MAX_RECORD_BYTES"
    )
    check_writable_file(args.alerts, what="alerts", option="--alerts")
    if args.store is not None:
        check_writable_file(args.store, what="alert store", option="--db")
    enrich = settings.enrich
    check_readable_file(enrich.assets, what="asset inventory", env="NEAKTA_ENRICH__ASSETS")
    for path in enrich.indicators:
        check_readable_file(path, what="indicators", env="NEAKTA_ENRICH__INDICATORS")
    check_readable_file(enrich.geoip_city, what="GeoIP city", env="NEAKTA_ENRICH__GEOIP_CITY")
    check_readable_file(enrich.geoip_asn, what="GeoIP ASN", env="NEAKTA_ENRICH__GEOIP_ASN")
    check_readable_file(enrich.attack, what="ATT&CK catalogue", env="NEAKTA_ENRICH__ATTACK")
