"""``neakta setup elastic``: ILM policy, index templates, incidents alias, Kibana objects.

Running it again is harmless: policies and templates are replaced, the incidents index is
created only when its alias is missing, and saved objects are imported with overwrite.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TextIO

from neakta.options import add_option
from neakta.settings import ElasticSettings, Settings

__all__ = ["register"]


async def _setup(args: argparse.Namespace, elastic: ElasticSettings, out: TextIO) -> None:
    # The Elasticsearch and HTTP clients load only for this command, not for every start.
    from respond.elastic import build_client, install_templates, render_templates
    from respond.kibana import import_saved_objects, load_ndjson

    templates = render_templates(
        incidents_alias=args.incidents_alias,
        retention_days=args.retention_days,
        rollover_max_age=elastic.rollover_max_age,
        rollover_max_primary_shard_size=elastic.rollover_max_primary_shard_size,
        replicas=args.replicas,
    )
    client = build_client(
        hosts=args.hosts,
        **elastic.credentials(),
    )
    try:
        for line in await install_templates(
            client, templates, incidents_alias=args.incidents_alias
        ):
            print(line, file=out)
    finally:
        await client.close()
    if args.kibana_url:
        result = await import_saved_objects(
            args.kibana_url,
            load_ndjson(),
            space=args.kibana_space,
            **elastic.credentials(),
        )
        where = f"space {args.kibana_space}" if args.kibana_space else "the default space"
        print(f"imported {result.success_count} Kibana saved objects into {where}", file=out)
    else:
        print("no Kibana URL: saved objects not imported", file=out)


def cmd_setup_elastic(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    if not args.hosts:
        print("neakta setup elastic: no hosts (--hosts or NEAKTA_ELASTIC__HOSTS)", file=sys.stderr)
        return 2
    from respond.elastic import ElasticSetupError

    try:
        asyncio.run(_setup(args, settings.elastic, out))
    except (ElasticSetupError, ValueError) as error:
        print(f"neakta setup elastic: {error}", file=sys.stderr)
        return 1
    return 0


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], settings: Settings
) -> None:
    """Add ``neakta setup elastic``."""
    elastic = settings.elastic
    setup = commands.add_parser("setup", help="install what neakta writes into")
    targets = setup.add_subparsers(dest="setup_command", required=True)
    parser = targets.add_parser(
        "elastic",
        help="install the ILM policy, index templates, incidents alias and Kibana objects",
        description="Credentials and TLS come from NEAKTA_ELASTIC__API_KEY, "
        "NEAKTA_ELASTIC__USERNAME, NEAKTA_ELASTIC__PASSWORD, NEAKTA_ELASTIC__CA_FILE and "
        "NEAKTA_ELASTIC__VERIFY_CERTS (also used for Kibana).",
    )
    parser.add_argument(
        "--hosts",
        nargs="+",
        default=list(elastic.hosts),
        help="Elasticsearch URLs (env NEAKTA_ELASTIC__HOSTS, JSON: '[\"https://es01:9200\"]')",
    )
    add_option(
        parser,
        "--incidents-alias",
        env="NEAKTA_ELASTIC__INCIDENTS_ALIAS",
        help="alias incidents are written through",
        default=elastic.incidents_alias,
    )
    add_option(
        parser,
        "--retention-days",
        env="NEAKTA_ELASTIC__RETENTION_DAYS",
        help="days alert indices are kept after rollover",
        type=int,
        default=elastic.retention_days,
    )
    add_option(
        parser,
        "--replicas",
        env="NEAKTA_ELASTIC__REPLICAS",
        help="replicas per shard, 0 on one node",
        type=int,
        default=elastic.replicas,
    )
    add_option(
        parser,
        "--kibana-url",
        env="NEAKTA_ELASTIC__KIBANA_URL",
        help="Kibana URL; without it no saved objects are imported",
        default_help=None,
        default=elastic.kibana_url,
    )
    parser.add_argument(
        "--kibana-space",
        default=elastic.kibana_space,
        help="Kibana space to import into (env NEAKTA_ELASTIC__KIBANA_SPACE; default: the "
        "default space)",
    )
    parser.set_defaults(handler=cmd_setup_elastic)
