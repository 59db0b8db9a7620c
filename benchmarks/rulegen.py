"""Generated Sigma process-creation rules, shaped like SigmaHQ's, for when it is not present.

Each rule pairs an image (``Image|endswith`` or ``OriginalFileName``) with command-line
fragments (``CommandLine|contains``, sometimes ``|all``), and some carry a parent-process
selection, a ``not filter`` or a regex, in the proportions SigmaHQ's own rules show.
"""

from __future__ import annotations

import random

__all__ = ["generate_rules"]

IMAGES = [
    "certutil.exe",
    "rundll32.exe",
    "regsvr32.exe",
    "mshta.exe",
    "wmic.exe",
    "powershell.exe",
    "pwsh.exe",
    "cmd.exe",
    "schtasks.exe",
    "bitsadmin.exe",
    "msiexec.exe",
    "reg.exe",
    "sc.exe",
    "net.exe",
    "net1.exe",
    "vssadmin.exe",
    "wbadmin.exe",
    "bcdedit.exe",
    "cscript.exe",
    "wscript.exe",
    "installutil.exe",
    "msbuild.exe",
    "csc.exe",
    "forfiles.exe",
    "odbcconf.exe",
    "cmstp.exe",
    "hh.exe",
    "control.exe",
    "explorer.exe",
    "finger.exe",
    "curl.exe",
    "tar.exe",
    "expand.exe",
    "esentutl.exe",
    "ntdsutil.exe",
    "procdump.exe",
    "psexec.exe",
    "adfind.exe",
    "nltest.exe",
    "dsquery.exe",
    "whoami.exe",
    "tasklist.exe",
]
TOKENS = [
    "-urlcache",
    "-decode",
    "-encode",
    "-split",
    "-enc",
    "-encodedcommand",
    "downloadstring",
    "downloadfile",
    "invoke-expression",
    "iex",
    "frombase64string",
    "bypass",
    "hidden",
    "-noprofile",
    "-nop",
    "/transfer",
    "javascript:",
    "vbscript:",
    "scrobj.dll",
    "/i:http",
    "minidump",
    "comsvcs",
    "delete",
    "shadows",
    "resize",
    "shadowstorage",
    "recoveryenabled",
    "bootstatuspolicy",
    "ignoreallfailures",
    "/create",
    "/sc",
    "onlogon",
    "/ru",
    "system",
    "add-mppreference",
    "exclusionpath",
    "set-mppreference",
    "disablerealtimemonitoring",
    "sekurlsa::logonpasswords",
    "lsadump::sam",
    "privilege::debug",
    "ifm",
    "create",
    "full",
    "domain_trusts",
    "/dclist:",
    "trustdmp",
    "objectcategory=computer",
    "save",
    "hklm\\sam",
    "hklm\\system",
    "config",
    "binpath=",
    "start=",
    "auto",
    "/c",
    "echo",
    "/quiet",
    "/norestart",
    "/q",
    "/y",
    "/s",
    "ntds.dit",
    "\\appdata\\local\\temp\\",
    "\\users\\public\\",
    "\\programdata\\",
    "\\windows\\temp\\",
    ".hta",
    ".vbs",
    ".js",
    ".ps1",
    ".bat",
    ".dll,dllregisterserver",
    "#1",
    "http://",
    "https://",
    "ftp://",
    "-windowstyle",
    "hidden",
    "webclient",
    "net.webclient",
    "start-bitstransfer",
    "-computername",
    "wmiprvse",
    "process",
    "call",
    "create",
    "shadowcopy",
    "get-wmiobject",
    "win32_shadowcopy",
]
PARENTS = "winword.exe excel.exe outlook.exe w3wp.exe sqlservr.exe mshta.exe wmiprvse.exe"


def generate_rules(count: int, *, seed: int = 11) -> list[str]:
    """``count`` Sigma rules as YAML texts (deterministic for a seed)."""
    rng = random.Random(seed)
    parents = PARENTS.split()
    rules: list[str] = []
    for number in range(count):
        image = rng.choice(IMAGES)
        tokens = rng.sample(TOKENS, rng.randint(1, 4))
        modifier = "|contains|all" if len(tokens) > 1 and rng.random() < 0.5 else "|contains"
        lines = [
            "  selection_img:",
            f"    - Image|endswith: '\\{image}'",
            f"    - OriginalFileName: '{image.upper()}'",
            "  selection_cli:",
            f"    CommandLine{modifier}:",
            *[f"      - '{t}'" for t in tokens],
        ]
        condition = "all of selection_*"
        roll = rng.random()
        if roll < 0.15:
            lines += ["  selection_parent:", f"    ParentImage|endswith: '\\{rng.choice(parents)}'"]
        elif roll < 0.30:
            lines += ["  filter_main:", "    ParentImage|startswith: 'C:\\Program Files\\'"]
            condition += " and not filter_main"
        elif roll < 0.35:
            lines += ["  selection_re:", f"    CommandLine|re: '(?i){rng.choice(tokens)}\\s+\\S+'"]
        rules.append(
            "\n".join(
                [
                    f"title: Generated rule {number}",
                    f"id: 00000000-0000-4000-8000-{number:012d}",
                    "status: test",
                    "logsource: {category: process_creation, product: windows}",
                    "detection:",
                    *lines,
                    f"  condition: {condition}",
                    "level: " + rng.choice(("low", "medium", "high", "critical")),
                ]
            )
            + "\n"
        )
    return rules
