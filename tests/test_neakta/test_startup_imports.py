"""The command line loads only what a command needs: rule authors' commands start fast.

``neakta detect`` and ``neakta rules ...`` never talk to Elasticsearch, a webhook or Kafka,
so building the command line must not import their clients (together about half a second
of every start on a small machine).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY_CLIENTS = ("elasticsearch", "elastic_transport", "aiohttp", "aiokafka")


@pytest.mark.parametrize("module", HEAVY_CLIENTS)
def test_building_the_command_line_does_not_import(module: str) -> None:
    probe = (
        "import sys\n"
        "from neakta.cli import build_parser\n"
        "from neakta.settings import load_settings\n"
        "build_parser(load_settings())\n"
        f"print({module!r} in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
