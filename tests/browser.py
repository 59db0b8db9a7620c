"""A real headless browser for tests: Debian's ``chromium``, run as a process per page.

:func:`chromium` finds the binary; when it is missing and the tests run as root, it
installs ``chromium`` and Khmer fonts (``fonts-khmeros``) with ``apt-get`` once, and
otherwise the calling test is skipped with the reason. :func:`load` opens a local file
and returns the DOM after its scripts ran (``--dump-dom``) and the page's console
messages, which Chromium writes to stderr with ``--enable-logging=stderr --v=0`` as
``CONSOLE:<line>] "<message>", source: <url>`` (older versions ``CONSOLE(<line>)``), at
level INFO whatever the message's level; :func:`screenshot` saves a PNG.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import pytest

__all__ = ["Element", "Page", "chromium", "elements", "khmer_fonts", "load", "screenshot"]

PACKAGES = ("chromium", "fonts-khmeros")
_CONSOLE = re.compile(r':[A-Z0-9]+:CONSOLE[:(]\d+\)?\] "(.*)", source: ')
_TIMEOUT_S = 120


@cache
def _install() -> str | None:
    """Install the packages once; the reason when that is not possible."""
    if shutil.which("apt-get") is None:
        return "no apt-get to install chromium"
    if os.geteuid() != 0:
        return "chromium is not installed and installing it needs root"
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES],
    ):
        done = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return f"{' '.join(command)} failed: {done.stderr.strip()[-300:]}"
    return None


def chromium() -> str:
    """The path of ``chromium``, installing it if need be; skips the test if impossible."""
    found = shutil.which("chromium")
    if found is None or not khmer_fonts():
        reason = _install()
        found = shutil.which("chromium")
        if found is None:
            pytest.skip(reason or "chromium could not be installed")
    return found


def khmer_fonts() -> list[str]:
    """Font families installed for Khmer (``fc-list :lang=km``)."""
    if shutil.which("fc-list") is None:
        return []
    listed = subprocess.run(
        ["fc-list", ":lang=km", "family"], capture_output=True, text=True, check=False
    ).stdout
    return sorted({line.split(",")[0].strip() for line in listed.splitlines() if line.strip()})


@dataclass(frozen=True, slots=True)
class Page:
    """A page after loading: its serialized DOM and every console message (uncaught
    errors, Content-Security-Policy violations, ``console.*`` calls)."""

    dom: str
    console: list[str]


def _run(browser: str, arguments: list[str]) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="neakta-chromium-") as profile:
        command = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            f"--user-data-dir={profile}",
            *arguments,
        ]
        return subprocess.run(
            command, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False
        )


def load(path: Path) -> Page:
    """Open ``path`` and return the DOM after scripts ran, with the console messages."""
    done = _run(
        chromium(),
        ["--enable-logging=stderr", "--v=0", "--virtual-time-budget=2000", "--dump-dom",
         path.resolve().as_uri()],
    )  # fmt: skip
    if done.returncode != 0 or "<html" not in done.stdout:
        raise AssertionError(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")
    console = [m.group(1) for m in _CONSOLE.finditer(done.stderr)]
    return Page(dom=done.stdout, console=console)


def screenshot(path: Path, out: Path, *, width: int = 1280, height: int = 2000) -> Path:
    """Save a PNG of ``path`` as rendered in a ``width`` x ``height`` window."""
    done = _run(
        chromium(),
        ["--hide-scrollbars", f"--window-size={width},{height}", f"--screenshot={out}",
         path.resolve().as_uri()],
    )  # fmt: skip
    if done.returncode != 0 or not out.is_file():
        raise AssertionError(f"no screenshot ({done.returncode}): {done.stderr[-2000:]}")
    return out


@dataclass(frozen=True, slots=True)
class Element:
    """One element of a parsed DOM: tag, attributes and its own text."""

    tag: str
    attributes: dict[str, str | None]
    text: str


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[Element] = []
        self.open: list[tuple[str, dict[str, str | None], list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("meta", "br", "img", "input", "link"):
            self.found.append(Element(tag, dict(attrs), ""))
            return
        self.open.append((tag, dict(attrs), []))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append(Element(tag, dict(attrs), ""))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index][0] == tag:
                name, attributes, text = self.open.pop(index)
                self.found.append(Element(name, attributes, "".join(text)))
                if self.open:
                    self.open[-1][2].append("".join(text))
                return

    def handle_data(self, data: str) -> None:
        if self.open:
            self.open[-1][2].append(data)


def elements(dom: str) -> list[Element]:
    """Every element of ``dom`` (text includes the text of its children)."""
    collector = _Collector()
    collector.feed(dom)
    collector.close()
    return collector.found
