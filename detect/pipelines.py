"""Processing pipelines: Sigma taxonomy -> the columns of our frames, and logsource routing.

Three pipelines ship with neakta (also registered for sigma-cli as ``neakta_<name>``):

``raw`` (default)
    Events carry Sigma's own field names (Sysmon EventData: ``Image``, ``CommandLine``,
    ``ParentImage``, ``Hashes``...). Windows rules are routed by logsource: a Sysmon category
    only sees events whose ``EventID`` is that category's Sysmon event id and whose ``Channel``
    is the Sysmon channel (or absent); a ``service`` only sees its channel.
``ecs``
    Events normalised by ``ingest`` to ECS columns (``process.executable``,
    ``url.query``, ``source.ip``...). Routing uses ``event.code`` / ``winlog.channel`` for
    Windows, ``event.dataset`` for firewall (``firewall.*``) and web (``web.*``) logs, and
    ``event.module: auditd`` for Linux ``process_creation`` (auditd executions); other
    Linux categories are rejected as not routed.
``none``
    No mapping and no routing: every rule sees every event.

Pipelines are pySigma ``ProcessingPipeline`` objects built from plain tables, so rule
authors can read exactly what a field becomes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import (
    AddConditionTransformation,
    FieldMappingTransformation,
    RuleFailureTransformation,
    ValueListPlaceholderTransformation,
)

# Registers utf16 and utf16le as the specification defines them, before any rule is read.
import detect.modifiers  # noqa: F401
from detect.pipeline_names import DEFAULT_PIPELINE
from ingest.schema import ENDPOINT_SCHEMA

__all__ = [
    "DEFAULT_PIPELINE",
    "ECS_FIREWALL_FIELDS",
    "ECS_LINUX_FIELDS",
    "ECS_WEB_FIELDS",
    "ECS_WINDOWS_FIELDS",
    "PIPELINES",
    "SYSMON_CHANNEL",
    "SYSMON_EVENT_IDS",
    "UNROUTED",
    "resolve_pipeline",
]

SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational"
UNROUTED = "logsource not routed: no parser produces events of this log source"
"""Why the ``ecs`` pipeline rejects a rule for a log source none of our parsers produce."""

# Sysmon event ids per Sigma logsource category (as the windows/sysmon pipelines define them).
SYSMON_EVENT_IDS: dict[str, list[int]] = {
    "process_creation": [1],
    "file_change": [2],
    "network_connection": [3],
    "sysmon_status": [4, 16],
    "process_termination": [5],
    "driver_load": [6],
    "image_load": [7],
    "create_remote_thread": [8],
    "raw_access_thread": [9],
    "process_access": [10],
    "file_event": [11],
    "registry_add": [12],
    "registry_delete": [12],
    "registry_set": [13],
    "registry_rename": [14],
    "registry_event": [12, 13, 14],
    "create_stream_hash": [15],
    "pipe_created": [17, 18],
    "wmi_event": [19, 20, 21],
    "dns_query": [22],
    "file_delete": [23, 26],
    "clipboard_capture": [24],
    "process_tampering": [25],
    "file_delete_detected": [26],
    "file_block_executable": [27],
    "file_block_shredding": [28],
    "file_executable_detected": [29],
}

# Windows services -> event log channel.
WINDOWS_CHANNELS: dict[str, str] = {
    "security": "Security",
    "system": "System",
    "application": "Application",
    "sysmon": SYSMON_CHANNEL,
    "powershell": "Microsoft-Windows-PowerShell/Operational",
    "powershell-classic": "Windows PowerShell",
    "taskscheduler": "Microsoft-Windows-TaskScheduler/Operational",
    "wmi": "Microsoft-Windows-WMI-Activity/Operational",
    "windefend": "Microsoft-Windows-Windows Defender/Operational",
    "bits-client": "Microsoft-Windows-Bits-Client/Operational",
    "dns-server": "DNS Server",
    "firewall-as": "Microsoft-Windows-Windows Firewall With Advanced Security/Firewall",
    "applocker": "Microsoft-Windows-AppLocker/EXE and DLL",
    "codeintegrity-operational": "Microsoft-Windows-CodeIntegrity/Operational",
    "diagnosis-scripted": "Microsoft-Windows-Diagnosis-Scripted/Operational",
    "driver-framework": "Microsoft-Windows-DriverFrameworks-UserMode/Operational",
    "ntlm": "Microsoft-Windows-NTLM/Operational",
    "openssh": "OpenSSH/Operational",
    "printservice-admin": "Microsoft-Windows-PrintService/Admin",
    "printservice-operational": "Microsoft-Windows-PrintService/Operational",
    "smbclient-security": "Microsoft-Windows-SmbClient/Security",
    "terminalservices-localsessionmanager": (
        "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational"
    ),
}
# PowerShell categories: event ids in the PowerShell operational channel.
POWERSHELL_EVENT_IDS: dict[str, list[int]] = {"ps_module": [4103], "ps_script": [4104]}

_EVENT_DATA = "winlog.event_data."
# Sigma Windows (Sysmon) field -> ECS column, as ingest's endpoint parser writes them. Event
# data without an ECS home stays under winlog.event_data (Hashes, IntegrityLevel, Details...).
# ECS splits Sysmon's "DOMAIN\name" User in two, so User is looked for in both halves: a
# `contains` (SigmaHQ's "AUTHORI" filters) still works, an exact "NT AUTHORITY\SYSTEM" cannot.
ECS_WINDOWS_FIELDS: dict[str | None, str | list[str]] = {
    **{
        name.removeprefix(_EVENT_DATA): name
        for name in ENDPOINT_SCHEMA
        if name.startswith(_EVENT_DATA)
    },
    "EventID": "event.code",
    "Channel": "winlog.channel",
    "Computer": "host.name",
    "Image": "process.executable",
    "OriginalFileName": "process.pe.original_file_name",
    "CommandLine": "process.command_line",
    "CurrentDirectory": "process.working_directory",
    "User": ["user.name", "user.domain"],
    "ParentImage": "process.parent.executable",
    "ParentCommandLine": "process.parent.command_line",
    "ProcessId": "process.pid",
    "ParentProcessId": "process.parent.pid",
    "ProcessGuid": "process.entity_id",
    "ParentProcessGuid": "process.parent.entity_id",
    "SourceImage": "process.executable",
    "FileVersion": "process.pe.file_version",
    "Product": "process.pe.product",
    "Company": "process.pe.company",
    "Description": "process.pe.description",
    "TargetFilename": "file.path",
    "TargetObject": "registry.path",
    "QueryName": "dns.question.name",
    "DestinationIp": "destination.ip",
    "DestinationPort": "destination.port",
    "DestinationHostname": "destination.domain",
    "SourceIp": "source.ip",
    "SourcePort": "source.port",
    "SourceHostname": "source.domain",
    "Protocol": "network.transport",
    "ImageLoaded": "dll.path",
    "Provider_Name": "winlog.provider_name",
}
# Sigma Linux process_creation fields -> ECS, as ingest's auditd parser writes them.
ECS_LINUX_FIELDS: dict[str | None, str | list[str]] = {
    "Image": "process.executable",
    "CommandLine": "process.command_line",
    "ParentImage": "process.parent.executable",
    "User": "user.name",
    "CurrentDirectory": "process.working_directory",
    "ProcessId": "process.pid",
    "ParentProcessId": "process.parent.pid",
}
# Sigma webserver (W3C names) and proxy fields -> ECS.
ECS_WEB_FIELDS: dict[str | None, str | list[str]] = {
    "c-ip": "source.ip",
    "cs-method": "http.request.method",
    "cs-uri-stem": "url.path",
    "cs-uri-query": "url.query",
    "cs-uri": "url.original",
    "c-uri": "url.original",
    "c-uri-stem": "url.path",
    "c-uri-query": "url.query",
    "sc-status": "http.response.status_code",
    "cs-user-agent": "user_agent.original",
    "c-useragent": "user_agent.original",
    "cs-referer": "http.request.referrer",
    "cs-referrer": "http.request.referrer",
    "cs-host": "url.domain",
    "r-dns": "url.domain",
    "cs-username": "user.name",
    "s-ip": "destination.ip",
    "s-port": "destination.port",
}
# Sigma's firewall category defines no fields; these are the names its rules use. `action`
# is the vendor's verdict word (accept, close, deny, pass, block...); `outcome` is the
# normalised verdict of every parser: success (let through), failure (blocked) or unknown.
ECS_FIREWALL_FIELDS: dict[str | None, str | list[str]] = {
    "src_ip": "source.ip",
    "dst_ip": "destination.ip",
    "src_port": "source.port",
    "dst_port": "destination.port",
    "action": "event.action",
    "outcome": "event.outcome",
    "protocol": "network.transport",
    "direction": "network.direction",
    "rule_name": "rule.name",
}


def _route(
    ident: str,
    conditions: Mapping[str, object],
    *,
    category: str | None = None,
    product: str | None = None,
    service: str | None = None,
) -> ProcessingItem:
    return ProcessingItem(
        identifier=ident,
        transformation=AddConditionTransformation(dict(conditions)),  # type: ignore[arg-type]
        rule_conditions=[LogsourceCondition(category=category, product=product, service=service)],
    )


def _windows_routes(event_id: str, channel: str, *, numeric_ids: bool) -> list[ProcessingItem]:
    def ids(values: list[int]) -> list[int] | list[str]:
        return values if numeric_ids else [str(v) for v in values]

    items = [
        _route(
            f"route_sysmon_{category}",
            {event_id: ids(event_ids), channel: [SYSMON_CHANNEL, None]},
            category=category,
            product="windows",
        )
        for category, event_ids in SYSMON_EVENT_IDS.items()
    ]
    items += [
        _route(
            f"route_{category}",
            {event_id: ids(event_ids), channel: [WINDOWS_CHANNELS["powershell"], None]},
            category=category,
            product="windows",
        )
        for category, event_ids in POWERSHELL_EVENT_IDS.items()
    ]
    items += [
        _route(f"route_service_{svc}", {channel: name}, product="windows", service=svc)
        for svc, name in WINDOWS_CHANNELS.items()
    ]
    return items


def _placeholders(values: Mapping[str, list[str]]) -> list[ProcessingItem]:
    if not values:
        return []
    return [
        ProcessingItem(
            identifier="expand_placeholders",
            transformation=ValueListPlaceholderTransformation(include=list(values)),
        )
    ]


def raw_pipeline(placeholders: Mapping[str, list[str]] | None = None) -> ProcessingPipeline:
    """Sigma field names as they are, with Windows logsource routing."""
    return ProcessingPipeline(
        name="neakta raw: Sigma field names, Windows logsource routing",
        priority=20,
        items=_placeholders(placeholders or {})
        + _windows_routes("EventID", "Channel", numeric_ids=True),
        vars=dict(placeholders or {}),
    )


def ecs_pipeline(placeholders: Mapping[str, list[str]] | None = None) -> ProcessingPipeline:
    """Sigma taxonomy -> ECS columns of ingest's normalised frames, with routing."""
    items = _placeholders(placeholders or {})
    # A rule for a log source no parser produces (Linux other than process creation, cloud,
    # Zeek, a vendor's own category, outbound proxies: web server access logs are not proxy
    # logs) would see every event with its fields missing, and a negation would then match
    # everything: such a rule is rejected by name instead.
    items.append(
        ProcessingItem(
            identifier="ecs_unrouted_logsource",
            transformation=RuleFailureTransformation(UNROUTED),
            rule_conditions=[
                LogsourceCondition(product="windows"),
                LogsourceCondition(category="webserver"),
                LogsourceCondition(category="firewall"),
                LogsourceCondition(product="linux", category="process_creation"),
            ],
            rule_condition_linking=any,
            rule_condition_negation=True,
        )
    )
    items += _windows_routes("EventID", "Channel", numeric_ids=False)
    items += [
        _route("route_webserver", {"event.dataset": "web.*"}, category="webserver"),
        _route("route_firewall", {"event.dataset": "firewall.*"}, category="firewall"),
        _route(
            "route_linux_process_creation",
            {"event.module": "auditd", "event.category": "process"},
            category="process_creation",
            product="linux",
        ),
        ProcessingItem(
            identifier="ecs_windows_fields",
            transformation=FieldMappingTransformation(ECS_WINDOWS_FIELDS),
            rule_conditions=[LogsourceCondition(product="windows")],
        ),
        ProcessingItem(
            identifier="ecs_linux_fields",
            transformation=FieldMappingTransformation(ECS_LINUX_FIELDS),
            rule_conditions=[LogsourceCondition(product="linux", category="process_creation")],
        ),
        ProcessingItem(
            identifier="ecs_webserver_fields",
            transformation=FieldMappingTransformation(ECS_WEB_FIELDS),
            rule_conditions=[
                LogsourceCondition(category="webserver"),
                LogsourceCondition(category="proxy"),
            ],
            rule_condition_linking=any,
        ),
        ProcessingItem(
            identifier="ecs_firewall_fields",
            transformation=FieldMappingTransformation(ECS_FIREWALL_FIELDS),
            rule_conditions=[LogsourceCondition(category="firewall")],
        ),
    ]
    return ProcessingPipeline(
        name="neakta ecs: Sigma taxonomy to ECS columns, with logsource routing",
        priority=20,
        items=items,
        vars=dict(placeholders or {}),
    )


def none_pipeline(placeholders: Mapping[str, list[str]] | None = None) -> ProcessingPipeline:
    """No mapping, no routing (placeholders still expand when given)."""
    return ProcessingPipeline(
        name="neakta none: no mapping, no routing",
        priority=20,
        items=_placeholders(placeholders or {}),
        vars=dict(placeholders or {}),
    )


PIPELINES: dict[str, Callable[..., ProcessingPipeline]] = {
    "raw": raw_pipeline,
    "ecs": ecs_pipeline,
    "none": none_pipeline,
}


def resolve_pipeline(
    name: str, placeholders: Mapping[str, list[str]] | None = None
) -> ProcessingPipeline:
    """The pipeline called ``name`` (``raw``, ``ecs`` or ``none``).

    >>> resolve_pipeline("ecs").name
    'neakta ecs: Sigma taxonomy to ECS columns, with logsource routing'
    """
    try:
        factory = PIPELINES[name]
    except KeyError:
        known = ", ".join(sorted(PIPELINES))
        raise ValueError(f"unknown pipeline {name!r}; known: {known}") from None
    return factory(placeholders)
