"""Command-line options declared together with the environment variable that sets them.

Every option's default comes from :class:`neakta.settings.Settings` (so from its
``NEAKTA_*`` variable), and its help names that variable: :func:`add_option` keeps the two
in one place, and :func:`add_rules_option` is the ``--rules`` every command shares.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from neakta.settings import Settings

__all__ = ["add_option", "add_rules_option"]


def add_option(
    parser: argparse.ArgumentParser,
    *flags: str,
    env: str,
    help: str,
    default_help: str | None = "%(default)s",
    **kwargs: Any,
) -> argparse.Action:
    """Add an option whose help ends with ``(env VAR; default ...)``.

    Parameters
    ----------
    parser
        Where the option goes.
    flags
        Its flags, as for :meth:`argparse.ArgumentParser.add_argument`.
    env
        The environment variable that sets its default.
    help
        What the option does.
    default_help
        How the help names the default (``%(default)s``: the value); None: not named.
    kwargs
        The rest of ``add_argument``'s arguments (``default``, ``type``, ...).

    Examples
    --------
    >>> parser = argparse.ArgumentParser()
    >>> action = add_option(parser, "--size", env="NEAKTA_SIZE", help="size", default=3)
    >>> action.help
    'size (env NEAKTA_SIZE; default %(default)s)'
    """
    note = f"env {env}" if default_help is None else f"env {env}; default {default_help}"
    return parser.add_argument(*flags, help=f"{help} ({note})", **kwargs)


def add_rules_option(parser: argparse.ArgumentParser, settings: Settings) -> argparse.Action:
    """``--rules``: rule files or folders, default the settings' (the bundled ``rules/``)."""
    return add_option(
        parser,
        "--rules",
        env="NEAKTA_RULES",
        help="rule files or folders",
        default_help="the bundled rules/",
        nargs="+",
        type=Path,
        default=list(settings.rules),
    )


def add_store_option(
    parser: argparse.ArgumentParser, settings: Settings, *, dest: str = "db"
) -> argparse.Action:
    """``--db``: the SQLite store of alerts, incidents and log sources."""
    return add_option(
        parser,
        "--db",
        env="NEAKTA_RESPOND__STORE_PATH",
        help="the SQLite store of alerts, incidents and log sources",
        dest=dest,
        type=Path,
        default=settings.respond.store_path,
    )
