"""The command line loads only what a command needs: rule authors' commands start fast.

``neakta detect`` and ``neakta rules ...`` never talk to Elasticsearch, a webhook or Kafka,
so building the command line must not import their clients (together about half a second
of every start on a small machine). ``neakta detect`` on a warm rule cache does not import
pySigma either (a quarter of a second): only compiling rules needs it; nor do ``neakta run``
and ``neakta replay`` when the rule set and its correlation rules come from the cache.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


RULE = """
title: Whoami
id: 1c9f0f3e-52a3-4c6e-9a55-0f5a1d8b7a10
logsource: {category: process_creation, product: windows}
detection:
  sel:
    CommandLine|contains: 'whoami'
  condition: sel
level: high
"""
BROKEN = "title: Broken\ndetection:\n  sel:\n    CommandLine|nosuchmodifier: x\n"
# The detect command in a fresh process; its last line on stderr: was pySigma imported.
DETECT = (
    "import sys\n"
    "from neakta.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print('sigma' in sys.modules, code, file=sys.stderr)\n"
)


def _detect(tmp_path: Path) -> tuple[str, list[str]]:
    """stdout, and stderr's lines, of ``neakta detect`` with the cache under ``tmp_path``."""
    command = [sys.executable, "-c", DETECT, "detect", "--rules", str(tmp_path / "rules")]
    command += ["--pipeline", "raw", "--events", str(tmp_path / "events.ndjson")]
    env = os.environ | {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return done.stdout, done.stderr.splitlines()


def test_detect_on_a_warm_rule_cache_does_not_import_pysigma(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "whoami.yml").write_text(RULE)
    (tmp_path / "rules" / "broken.yml").write_text(BROKEN)
    (tmp_path / "events.ndjson").write_text(
        '{"EventID": 1, "CommandLine": "hostname"}\n{"EventID": 1, "CommandLine": "whoami /all"}\n'
    )
    cold_out, cold_err = _detect(tmp_path)
    warm_out, warm_err = _detect(tmp_path)
    assert cold_err[-1] == "True 0"
    assert warm_err[-1] == "False 0"
    assert (
        warm_out
        == cold_out
        == (
            '{"rule_id":"1c9f0f3e-52a3-4c6e-9a55-0f5a1d8b7a10","rule_title":"Whoami",'
            '"level":"high","line":1}\n'
        )
    )
    # The broken file's problem comes back from the cache, word for word.
    assert warm_err[:-1] == cold_err[:-1]
    assert warm_err[:-1] != []
    assert all("rules/broken.yml:1: Sigma" in line for line in warm_err[:-1])


def test_a_command_is_parsed_alone_as_among_all() -> None:
    from neakta.cli import build_parser
    from neakta.settings import load_settings

    settings = load_settings()
    argv = ["detect", "--rules", "r", "--events", "e.ndjson", "--pipeline", "none"]
    alone = build_parser(settings, "detect").parse_args(argv)
    among_all = build_parser(settings).parse_args(argv)
    assert vars(alone) == vars(among_all)
    replay = ["replay", "logs"]
    assert vars(build_parser(settings, "replay").parse_args(replay)) == vars(
        build_parser(settings).parse_args(replay)
    )


def test_detect_imports_no_other_command() -> None:
    probe = (
        "import sys\n"
        "from neakta.cli import build_parser\n"
        "from neakta.settings import load_settings\n"
        "build_parser(load_settings(), 'detect')\n"
        "print(sorted(m for m in sys.modules if m.startswith(('neakta.commands.', 'respond'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_replay_with_correlation_rules_on_a_warm_cache_does_not_import_pysigma(
    tmp_path: Path,
) -> None:
    """``neakta replay`` and ``neakta run`` share their wiring: the bundled rules hold
    correlations, which a warm start reads from the cache as it does the rule set."""
    events = tmp_path / "events.ndjson"
    events.write_text(
        '{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "ws1", '
        '"UtcTime": "2024-01-02 03:04:05.678", "Image": "C:\\\\Windows\\\\whoami.exe"}\n'
    )
    rules = Path(__file__).resolve().parents[2] / "rules"
    assert any(rules.glob("correlation/*.yml"))
    command = [sys.executable, "-c", DETECT, "replay", str(events), "--family", "endpoint"]
    command += ["--rules", str(rules), "--alerts", str(tmp_path / "alerts.ndjson")]
    command += ["--db", str(tmp_path / "store.db"), "--no-status"]
    env = os.environ | {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    runs = [subprocess.run(command, capture_output=True, text=True, check=True, env=env)]
    runs.append(subprocess.run(command, capture_output=True, text=True, check=True, env=env))
    assert [run.stderr.splitlines()[-1] for run in runs] == ["True 0", "False 0"]
