"""Our rules, run on the parsed bundled samples, fire on the seeded attacks and nothing else.

Each bundled file is parsed with the real parser of its family and evaluated with every
rule under ``rules/`` through the ``ecs`` pipeline (base rules of correlations that raise
no alert of their own left out). The labels of the sample generators
say which line holds which attack; :data:`EXPECTED` says which rules each attack kind
fires. Brute forces and scans are many unremarkable lines that only correlation rules
see, so no single-event rule may fire on them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

import polars as pl
import pytest

from detect import CompiledRuleSet, load_rules
from detect.correlation import CorrelationSet
from ingest.parsers import ParseResult, parse_endpoint, parse_firewall, parse_web
from neakta.cli import main
from samples import DATA_DIR, bundled_labels

RULES = Path(__file__).resolve().parents[2] / "rules"

# Attack kind -> the rule files (stems) that must fire on each of its lines.
EXPECTED: dict[str, set[str]] = {
    "web_shell_recon": {"proc_creation_win_webshell_recon_child"},
    "encoded_powershell": {
        "proc_creation_win_powershell_encoded_cmd",
        "proc_creation_win_powershell_encoded_download_cradle",
    },
    "office_macro_powershell": {
        "proc_creation_win_powershell_encoded_cmd",
        "proc_creation_win_powershell_encoded_download_cradle",
        "proc_creation_win_office_spawns_shell",
    },
    "dns_dynamic_domain": {"dns_query_win_dynamic_dns_tunnel_domain"},
    "certutil_download": {"proc_creation_win_certutil_download"},
    "registry_run_key": {"registry_set_win_run_key_user_writable_path"},
    "psexec_service": {"proc_creation_win_psexec_service_execution"},
    "mimikatz": {"proc_creation_win_mimikatz_cmdline"},
    "lsass_minidump": {"proc_creation_win_rundll32_comsvcs_minidump"},
    "local_admin_account": {"proc_creation_win_net_user_add_local_admin"},
    "schtasks_onlogon": {"proc_creation_win_schtasks_create_onlogon"},
    "shadow_copy_delete": {"proc_creation_win_vssadmin_delete_shadows"},
    "port_scan": set(),
    "ssh_brute_force": set(),
    "ssh_brute_force_success": {"net_firewall_inbound_remote_admin_allowed"},
    "c2_download": {"net_firewall_blocklisted_address"},
    "tor_relay": {"net_firewall_blocklisted_address", "net_firewall_outbound_backdoor_port"},
    "reverse_shell": {"net_firewall_outbound_backdoor_port"},
    "nikto_scan": {"web_scanner_user_agent"},
    "nikto_trace": {"web_scanner_user_agent", "web_suspicious_http_method"},
    "sql_injection": {"web_sql_injection_patterns"},
    "sqlmap_injection": {"web_sql_injection_patterns", "web_scanner_user_agent"},
    "path_traversal": {"web_path_traversal"},
    "login_brute_force": set(),
    "login_brute_force_success": set(),
    "webshell_upload": {"web_webshell_access", "web_suspicious_http_method"},
    "webshell_access": {"web_webshell_access"},
    "sql_injection_numeric": {"web_sql_injection_numeric_tautology"},
    "log4shell": {"web_log4shell_jndi_lookup"},
}
PARSERS: dict[str, Callable[[pl.Series], ParseResult]] = {
    "sample_endpoint.ndjson": parse_endpoint,
    "sample_firewall.log": lambda lines: parse_firewall(lines, year=2026),
    "sample_web_nginx.log": lambda lines: parse_web(lines, year=2026),
    "sample_web_iis.log": lambda lines: parse_web(lines, year=2026),
}


@cache
def ruleset() -> CompiledRuleSet:
    return CompiledRuleSet.compile(load_rules([RULES]).rules, pipeline="ecs")


@cache
def correlations() -> CorrelationSet:
    loaded = load_rules([RULES])
    return CorrelationSet.compile([*loaded.rules, *loaded.correlations], ruleset(), pipeline="ecs")


@cache
def detections(name: str) -> frozenset[tuple[str, int]]:
    """(rule file stem, 0-based line of the file) of every match in a bundled sample."""
    lines = (DATA_DIR / name).read_text(encoding="utf-8").splitlines()
    result = PARSERS[name](pl.Series(lines, dtype=pl.String))
    assert result.dead.height == 0, result.dead.to_dicts()
    # IIS directives are neither events nor dead letters: event rows skip them.
    event_lines = [index for index, line in enumerate(lines) if not line.startswith("#")]
    assert len(event_lines) == result.events.height
    rules = ruleset().rules
    # Base rules of correlations that raise no alert of their own are not detections.
    matches = correlations().visible(ruleset().evaluate(result.events))
    return frozenset(
        (Path(rules[rule].path).stem, event_lines[row])
        for row, rule in matches.select("row", "rule_index").iter_rows()
    )


@pytest.mark.parametrize("name", PARSERS)
def test_rules_fire_on_exactly_the_seeded_attack_lines(name: str) -> None:
    expected = {
        (rule, line) for line, kind in bundled_labels(name).items() for rule in EXPECTED[kind]
    }

    assert detections(name) == expected


def test_every_single_event_attack_is_detected_somewhere() -> None:
    fired = {rule for name in PARSERS for rule, _ in detections(name)}

    assert fired == {rule for rules in EXPECTED.values() for rule in rules}


def test_our_firewall_and_web_rules_route_by_log_family() -> None:
    endpoint = {rule for rule, _ in detections("sample_endpoint.ndjson")}
    web = {rule for name in ("sample_web_nginx.log", "sample_web_iis.log")
           for rule, _ in detections(name)}  # fmt: skip

    assert not {rule for rule in endpoint if rule.startswith(("net_", "web_"))}
    assert all(rule.startswith("web_") for rule in web)
    assert all(rule.startswith("net_") for rule, _ in detections("sample_firewall.log"))


@pytest.mark.parametrize("pipeline", ["raw", "ecs"])
def test_rules_check_rejects_none_of_our_rules(
    pipeline: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folders = [str(RULES / "network"), str(RULES / "web"), str(RULES / "windows")]

    assert main(["rules", "check", "--pipeline", pipeline, *folders]) == 0
    assert ", 0 rejected" in capsys.readouterr().out
