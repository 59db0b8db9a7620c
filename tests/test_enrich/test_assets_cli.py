"""``neakta assets lookup|check`` and the loaders the pipeline gets from the settings."""

import io
from pathlib import Path

import pytest

from neakta.cli import build_parser
from neakta.settings import EnrichSettings, Settings
from neakta.wiring import enrichment_from_settings

DATA = Path(__file__).resolve().parents[2] / "enrich" / "data"


def run(argv: list[str]) -> tuple[int, str]:
    settings = Settings()
    args = build_parser(settings).parse_args(argv)
    out = io.StringIO()
    code: int = args.handler(args, settings, out)
    return code, out.getvalue()


def test_lookup_prints_the_owner_of_each_address_and_host() -> None:
    code, text = run(["assets", "lookup", "10.10.101.5", "camdx.mef.gov.kh", "8.8.8.8"])
    assert code == 1
    assert text.splitlines() == [
        "10.10.101.5\tmef\tMinistry of Economy and Finance\t"
        "Financial Management Information System - FMIS\tcritical\tit-fmis@mef.gov.kh",
        "camdx.mef.gov.kh\tmef\tMinistry of Economy and Finance\t"
        "Cambodia Data eXchange Platform - CamDX\tcritical\tit-camdx@mef.gov.kh",
        "8.8.8.8\tnot in the inventory",
    ]


def test_check_reports_rejected_lines_and_fails(tmp_path: Path) -> None:
    path = tmp_path / "assets.csv"
    path.write_text(
        "network,host,ministry_id,ministry_name,system,criticality,contact\n"
        "10.1.0.0/16,,mef,Economy,,medium,\n"
        "10.2.0.0/16,,moh,Health,,severe,\n",
        encoding="utf-8",
    )
    code, text = run(["assets", "check", "--assets", str(path)])
    assert code == 1
    assert text.splitlines() == [
        f"{path}:line 3: criticality: 'severe' is not one of low|medium|high|critical: "
        "10.2.0.0/16,,moh,Health,,severe,",
        "1 address ranges, 0 host names, 1 lines rejected",
    ]


def test_the_settings_load_every_configured_lookup() -> None:
    loaded = enrichment_from_settings(
        EnrichSettings(
            assets=DATA / "assets.csv",
            indicators=(DATA / "indicators.csv", DATA / "indicators.stix.json"),
        )
    )
    assert loaded.inventory is not None
    assert loaded.inventory.hosts.height == 212
    assert loaded.indicators is not None
    assert loaded.indicators.indicators.height == 11
    assert loaded.geoip is None
    assert loaded.asn is None
    assert loaded.attack.entries.height > 300


def test_nothing_configured_means_no_lookups_but_attack_names() -> None:
    loaded = enrichment_from_settings(EnrichSettings())
    assert (loaded.inventory, loaded.indicators, loaded.geoip) == (None, None, None)


def test_help_names_the_environment_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run(["assets", "lookup", "--help"])
    assert "env NEAKTA_ENRICH__ASSETS" in capsys.readouterr().out
