"""What benign Windows activity in the ministries looks like: the endpoint sample's catalogue.

Process creations (:data:`PROCS`), network connections, DNS queries, file creations and
registry writes are templates; ``{placeholders}`` are filled per event by
:mod:`samples.endpoint`. Paths and command lines are those of Windows 10/11
workstations and Windows Server hosts with Office, Chrome, Edge, Teams and IIS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "ACCOUNTS",
    "CMD",
    "DNS",
    "DOCX",
    "FILES",
    "NETWORK",
    "OFFICE",
    "ORIGINAL_NAMES",
    "PARENTS",
    "PDF",
    "PROCS",
    "PWSH",
    "REGISTRY",
    "RUN",
    "SVCHOST_ARGS",
    "SYS32",
    "URLS",
    "W3WP",
    "W3WP_ARGS",
    "WIN",
    "XLSX",
]

ACCOUNTS: Final = {  # account kind -> (User template, IntegrityLevel)
    "user": ("{nb}\\{user}", "Medium"),
    "admin": ("{nb}\\adm.{user}", "High"),
    "system": ("NT AUTHORITY\\SYSTEM", "System"),
    "local": ("NT AUTHORITY\\LOCAL SERVICE", "System"),
    "network": ("NT AUTHORITY\\NETWORK SERVICE", "System"),
    "iis": ("IIS APPPOOL\\eServices", "High"),
}

XLSX: Final = (
    "Budget_Execution_2026_Q4.xlsx",
    "Payroll_November_2026.xlsx",
    "Revenue_Collection_Kampong_Cham.xlsx",
    "Procurement_Plan_2027.xlsx",
    "Vaccination_Coverage_Siem_Reap.xlsx",
    "Grade12_Exam_Results_2026.xlsx",
)
DOCX: Final = (
    "Prakas_Draft_v3.docx",
    "Meeting_Minutes_2026-11-18.docx",
    "Circular_Digital_Government.docx",
    "Letter_Provincial_Department.docx",
)
PDF: Final = ("Sub-Decree_No_215.pdf", "Royal_Gazette_2026_45.pdf", "Health_Bulletin_W46.pdf")
URLS: Final = (
    "https://www.mef.gov.kh/",
    "https://www.gdt.gov.kh/",
    "https://www.moh.gov.kh/",
    "https://outlook.office.com/mail/",
    "https://www.nbc.gov.kh/",
    "https://www.camdx.gov.kh/",
    "https://www.google.com/search?q=khmer+unicode+keyboard",
)
SVCHOST_ARGS: Final = (
    "netsvcs -p -s Schedule",
    "netsvcs -p -s BITS",
    "netsvcs -p -s gpsvc",
    "netsvcs -p -s Winmgmt",
    "netsvcs -p -s UsoSvc",
    "LocalSystemNetworkRestricted -p -s SysMain",
    "wsappx -p -s AppXSvc",
)

WIN = "C:\\Windows\\"
SYS32 = WIN + "System32\\"
_HOME = "C:\\Users\\{user}\\"
_CHROME = r"C:\Program Files\Google\Chrome\Application\chrome.exe"
_EDGE = r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe"
OFFICE = "C:\\Program Files\\Microsoft Office\\root\\Office16\\"
PWSH = SYS32 + r"WindowsPowerShell\v1.0\powershell.exe"
_TEAMS = r"C:\Program Files\WindowsApps\MSTeams_24295.605.3225.8804_x64__8wekyb3d8bbwe\ms-teams.exe"
_WEBVIEW = (
    r"C:\Program Files (x86)\Microsoft\EdgeWebView\Application\131.0.2903.70\msedgewebview2.exe"
)
_ONEDRIVE = _HOME + r"AppData\Local\Microsoft\OneDrive\OneDrive.exe"
_DEFENDER = r"C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.24090.11-0" + "\\"
CMD = SYS32 + "cmd.exe"
_SVCHOST = SYS32 + "svchost.exe"
W3WP = SYS32 + r"inetsrv\w3wp.exe"
W3WP_ARGS = W3WP + ' -ap "eServices" -v "v4.0" -a \\\\.\\pipe\\iisipm{guid}'
_CONHOST = r"\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1"
_CHILD = (
    " --lang=km --field-trial-handle=1992,i,{big},{big2},262144 --mojo-platform-channel-handle={h}"
)

PARENTS: Final = {  # key -> (ParentImage, ParentCommandLine template)
    "userinit": (SYS32 + "userinit.exe", r"C:\Windows\system32\userinit.exe"),
    "explorer": (WIN + "explorer.exe", r"C:\Windows\Explorer.EXE"),
    "services": (SYS32 + "services.exe", r"C:\Windows\system32\services.exe"),
    "schedule": (_SVCHOST, r"C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule"),
    "dcom": (_SVCHOST, r"C:\Windows\system32\svchost.exe -k DcomLaunch -p"),
    "wuauserv": (_SVCHOST, r"C:\Windows\system32\svchost.exe -k netsvcs -p -s wuauserv"),
    "iissvcs": (_SVCHOST, r"C:\Windows\system32\svchost.exe -k iissvcs"),
    "chrome": (_CHROME, f'"{_CHROME}" '),
    "msedge": (_EDGE, f'"{_EDGE}" --profile-directory=Default'),
    "teams": (_TEAMS, f'"{_TEAMS}" msteams:system-initiated'),
    "cmd": (CMD, f'"{CMD}" '),
    "powershell": (PWSH, f'"{PWSH}" '),
    "gpo": (CMD, r'C:\Windows\system32\cmd.exe /c ""\\{dom}\SysVol\{dom}\scripts\tasks.cmd" "'),
    "w3wp": (W3WP, W3WP_ARGS),
}


@dataclass(frozen=True, slots=True)
class _Proc:
    weight: float
    role: str  # "ws", "srv", "web" or "any"
    account: str  # key of ACCOUNTS
    parent: str  # key of PARENTS
    image: str
    command: str  # str.format template, see _context
    cwd: str = ""  # "" means the image's folder, or system32 for services


# fmt: off
PROCS: Final = (
    _Proc(2, "ws", "user", "userinit", WIN + "explorer.exe", r"C:\Windows\Explorer.EXE"),
    _Proc(4, "ws", "user", "explorer", _CHROME, '"{image}" {url}'),
    _Proc(10, "ws", "user", "chrome", _CHROME, '"{image}" --type=renderer' + _CHILD),
    _Proc(3, "ws", "user", "chrome", _CHROME, '"{image}" --type=gpu-process' + _CHILD),
    _Proc(2, "ws", "user", "explorer", _EDGE, '"{image}" --single-argument {url}'),
    _Proc(5, "ws", "user", "msedge", _EDGE, '"{image}" --type=renderer' + _CHILD),
    _Proc(2, "ws", "user", "explorer", OFFICE + "OUTLOOK.EXE", '"{image}" '),
    _Proc(3, "ws", "user", "explorer", OFFICE + "EXCEL.EXE",
          '"{image}" "' + _HOME + 'Documents\\{xlsx}"'),
    _Proc(3, "ws", "user", "explorer", OFFICE + "WINWORD.EXE",
          r'"{image}" /n "\\{fs}\Shared\{docx}"'),
    _Proc(2, "ws", "user", "explorer", _TEAMS, '"{image}" msteams:system-initiated'),
    _Proc(4, "ws", "user", "teams", _WEBVIEW,
          '"{image}" --embedded-browser-webview=1 --webview-exe-name=ms-teams.exe' + _CHILD),
    _Proc(1, "ws", "user", "explorer", _ONEDRIVE, '"{image}" /background'),
    _Proc(1, "ws", "user", "explorer", SYS32 + "notepad.exe",
          '"{image}" ' + _HOME + "Desktop\\notes.txt"),
    _Proc(2, "ws", "user", "explorer", r"C:\Program Files\Adobe\Acrobat DC\Acrobat\Acrobat.exe",
          '"{image}" "' + _HOME + 'Downloads\\{pdf}"'),
    _Proc(1, "ws", "user", "explorer", CMD, '"{image}" ', _HOME),
    _Proc(1, "ws", "user", "cmd", SYS32 + "PING.EXE", "ping  -n 4 {fs}", _HOME),
    _Proc(1, "ws", "user", "cmd", SYS32 + "net.exe",
          r"net  use Z: \\{fs}\Shared /persistent:yes", _HOME),
    _Proc(0.5, "ws", "user", "cmd", SYS32 + "net.exe", "net  user {user} /domain", _HOME),
    _Proc(1, "ws", "user", "cmd", SYS32 + "ipconfig.exe", "ipconfig  /all", _HOME),
    _Proc(1, "ws", "user", "cmd", SYS32 + "gpupdate.exe", "gpupdate  /force", _HOME),
    _Proc(0.3, "ws", "user", "cmd", SYS32 + "whoami.exe", "whoami", _HOME),
    _Proc(0.3, "ws", "user", "cmd", SYS32 + "certutil.exe",
          'certutil  -hashfile "' + _HOME + 'Downloads\\{pdf}" SHA256', _HOME),
    _Proc(0.3, "ws", "user", "cmd", SYS32 + "schtasks.exe", "schtasks  /query /fo LIST /v", _HOME),
    _Proc(2, "ws", "user", "cmd", SYS32 + "conhost.exe", _CONHOST),
    _Proc(1, "ws", "user", "explorer", PWSH, '"{image}" ', _HOME),
    _Proc(1, "ws", "user", "explorer", PWSH, r'"{image}" -NoProfile -Command "Get-ChildItem'
          r' \\{fs}\Shared -Filter *.xlsx | Sort-Object Name"'),
    _Proc(1, "ws", "user", "explorer", SYS32 + "rundll32.exe",
          r'"{image}" C:\Windows\system32\shell32.dll,Control_RunDLL desk.cpl'),
    _Proc(0.5, "ws", "user", "explorer", SYS32 + "rundll32.exe",
          r"rundll32  printui.dll,PrintUIEntry /in /n \\{fs}\HP-LaserJet-{nb}"),
    _Proc(1, "ws", "user", "userinit", CMD,
          r'C:\Windows\system32\cmd.exe /c ""\\{dom}\NETLOGON\logon.bat" "'),
    _Proc(1, "ws", "user", "schedule", SYS32 + "taskhostw.exe", "taskhostw.exe Install $(Arg0)"),
    _Proc(2, "ws", "user", "dcom", SYS32 + "RuntimeBroker.exe", "{image} -Embedding"),
    _Proc(1, "ws", "user", "dcom", SYS32 + "dllhost.exe",
          r"C:\Windows\system32\DllHost.exe /Processid:{{{guid}}}"),
    _Proc(1, "ws", "user", "dcom", SYS32 + "backgroundTaskHost.exe",
          '"{image}" -ServerName:BackgroundTaskHost.WebAccountProvider'),
    _Proc(0.5, "ws", "user", "dcom", SYS32 + "smartscreen.exe", "{image} -Embedding"),
    _Proc(0.3, "ws", "system", "gpo", SYS32 + "schtasks.exe", r'schtasks.exe /create /tn'
          r' "{nb}\MapDrives" /tr "wscript.exe \\{dom}\NETLOGON\map.vbs" /sc onlogon /f'),
    _Proc(6, "any", "system", "services", _SVCHOST, r"C:\Windows\system32\svchost.exe -k {svc}"),
    _Proc(2, "any", "network", "services", _SVCHOST,
          r"C:\Windows\system32\svchost.exe -k NetworkService -p"),
    _Proc(2, "any", "local", "services", _SVCHOST,
          r"C:\Windows\system32\svchost.exe -k LocalService -p"),
    _Proc(1, "any", "system", "wuauserv", SYS32 + "wuauclt.exe",
          '"{image}" /UpdateDeploymentProvider UpdateDeploymentProvider.dll /ClassId {guid}'
          " /RunHandlerComServer"),
    _Proc(1, "any", "system", "dcom", SYS32 + "MoUsoCoreWorker.exe",
          r"C:\Windows\System32\mousocoreworker.exe -Embedding"),
    _Proc(1, "any", "system", "dcom", WIN + r"WinSxS\amd64_microsoft-windows-servicingstack_"
          r"31bf3856ad364e35_10.0.19041.5126_none_7e3a0c1a3b6d1f4c\TiWorker.exe",
          "{image} -Embedding"),
    _Proc(1, "any", "system", "schedule", _DEFENDER + "MpCmdRun.exe",
          '"{image}" SignaturesUpdateService -ScheduleJob -UnmanagedUpdate'),
    _Proc(1, "ws", "system", "schedule",
          r"C:\Program Files\Common Files\microsoft shared\ClickToRun\OfficeC2RClient.exe",
          '"{image}" /frequentupdate SCHEDULEDTASK displaylevel=False'),
    _Proc(1, "ws", "system", "schedule", r"C:\Program Files (x86)\Google\Update\GoogleUpdate.exe",
          '"{image}" /ua /installsource scheduler'),
    _Proc(1, "any", "network", "dcom", SYS32 + r"wbem\WmiPrvSE.exe",
          r"C:\Windows\system32\wbem\wmiprvse.exe -secured -Embedding"),
    _Proc(0.5, "any", "system", "schedule", PWSH, r'"{image}" -NoLogo -NonInteractive -NoProfile'
          r" -File C:\ProgramData\{nb}\Scripts\Get-DiskReport.ps1"),
    _Proc(0.4, "srv", "admin", "cmd", SYS32 + "vssadmin.exe", "vssadmin  list shadows"),
    _Proc(0.4, "srv", "admin", "cmd", SYS32 + "net.exe", "net  localgroup administrators"),
    _Proc(0.5, "srv", "admin", "explorer", PWSH,
          r'"{image}" -NoProfile -Command "Get-SmbSession | Where-Object NumOpens -gt 50"'),
    _Proc(0.5, "srv", "system", "schedule", PWSH,
          r'"{image}" -NoProfile -ExecutionPolicy RemoteSigned -File D:\Scripts\Backup-Shares.ps1'),
    _Proc(0.4, "srv", "system", "powershell", SYS32 + "Robocopy.exe",
          r'"{image}" D:\Shares \\{fs}\Backup /MIR /R:2 /W:5 /LOG:D:\Logs\robocopy.log'),
    _Proc(0.3, "web", "iis", "iissvcs", W3WP, W3WP_ARGS),
    _Proc(0.3, "web", "iis", "w3wp", WIN + r"Microsoft.NET\Framework64\v4.0.30319\csc.exe",
          r'"{image}" /noconfig /fullpaths @"C:\Windows\Microsoft.NET\Framework64\v4.0.30319'
          r'\Temporary ASP.NET Files\root\{hex}\{hex}.cmdline"'),
    _Proc(0.2, "web", "iis", "w3wp", SYS32 + "conhost.exe", _CONHOST),
)
ORIGINAL_NAMES: Final = {  # lower-case file name -> OriginalFileName of the PE version info
    "explorer.exe": "EXPLORER.EXE", "outlook.exe": "Outlook.exe", "excel.exe": "Excel.exe",
    "winword.exe": "WinWord.exe", "cmd.exe": "Cmd.Exe", "powershell.exe": "PowerShell.EXE",
    "gpupdate.exe": "GPUpdate.exe", "conhost.exe": "CONHOST.EXE", "rundll32.exe": "RUNDLL32.EXE",
    "certutil.exe": "CertUtil.exe", "vssadmin.exe": "VSSADMIN.EXE", "wmiprvse.exe": "Wmiprvse.exe",
    "notepad.exe": "NOTEPAD.EXE", "robocopy.exe": "robocopy.exe", "svchost.exe": "svchost.exe",
}
NETWORK: Final = (  # (account, Image, DestinationHostname, DestinationIp, DestinationPort)
    ("user", _CHROME, "www.google.com", "142.250.199.68", 443),
    ("user", _EDGE, "www.bing.com", "13.107.21.200", 443),
    ("user", OFFICE + "OUTLOOK.EXE", "outlook.office365.com", "52.98.151.66", 443),
    ("user", _TEAMS, "teams.microsoft.com", "52.113.194.132", 443),
    ("system", _SVCHOST, "download.windowsupdate.com", "13.107.4.50", 80),
    ("system", SYS32 + "lsass.exe", "{prefix}-dc-01.{dom}", "10.{octet}.0.10", 389),
    ("system", "System", "{fs}", "10.{octet}.0.20", 445),
)
DNS: Final = (  # (account, Image, QueryName, answer)
    ("user", _CHROME, "www.google.com", "142.250.199.68"),
    ("user", _CHROME, "clients2.google.com", "142.250.66.238"),
    ("user", _EDGE, "edge.microsoft.com", "13.107.21.239"),
    ("user", OFFICE + "OUTLOOK.EXE", "outlook.office365.com", "52.98.151.66"),
    ("user", _TEAMS, "teams.microsoft.com", "52.113.194.132"),
    ("user", _CHROME, "www.{dom}", "10.{octet}.0.80"),
    ("network", _SVCHOST, "settings-win.data.microsoft.com", "20.42.73.29"),
    ("system", _SVCHOST, "ctldl.windowsupdate.com", "13.107.4.50"),
)
FILES: Final = (  # (account, Image, TargetFilename)
    ("user", _CHROME, _HOME + "Downloads\\{pdf}"),
    ("user", OFFICE + "EXCEL.EXE", _HOME + "Documents\\~${xlsx}"),
    ("user", OFFICE + "OUTLOOK.EXE",
     _HOME + r"AppData\Local\Microsoft\Windows\INetCache\Content.Outlook\{hex}\{docx}"),
    ("system", _SVCHOST, r"C:\Windows\Prefetch\CHROME.EXE-{hex}.pf"),
    ("system", SYS32 + "wuauclt.exe", WIN + r"SoftwareDistribution\Download\{hex}\update.mum"),
)
RUN = r"\Software\Microsoft\Windows\CurrentVersion\Run" + "\\"
REGISTRY: Final = (  # (account, Image, TargetObject, Details)
    ("user", _ONEDRIVE, r"HKU\{sid}" + RUN + "OneDrive", f'"{_ONEDRIVE}" /background'),
    ("system", SYS32 + "SecurityHealthService.exe",
     r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run\SecurityHealth",
     r"%windir%\system32\SecurityHealthSystray.exe"),
    ("user", WIN + "explorer.exe",
     r"HKU\{sid}\Software\Microsoft\Windows\CurrentVersion\Explorer\RecentDocs\.xlsx\{n}",
     "Binary Data"),
    ("user", OFFICE + "EXCEL.EXE",
     r"HKU\{sid}\Software\Microsoft\Office\16.0\Excel\Resiliency\DocumentRecovery\{hex}",
     "Binary Data"),
    ("system", _DEFENDER + "MsMpEng.exe",
     r"HKLM\SOFTWARE\Microsoft\Windows Defender\Signature Updates\SignaturesLastUpdated",
     "QWORD (0x01db3b1d-0x9a2c4e00)"),
)
# fmt: on
