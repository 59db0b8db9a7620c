"""A real rsyslogd with omkafka for tests: found, or installed from Debian when root, or None.

Debian 12's librdkafka (2.0.2) cannot read the ApiVersions reply of the Tansu test broker:
Tansu sends tagged fields with their default values, and librdkafka before 2.1 skips one
byte too few per tagged field ("Protocol read buffer underflow for ApiVersion v3"). No
librdkafka setting avoids the ApiVersions request without falling back to message formats
Tansu does not accept (``api.version.request=false`` with ``broker.version.fallback``
0.9.0 or 0.10.0 fails too). Apache Kafka brokers omit default-valued tagged fields, so
production forwarders are not affected. Against Tansu, rsyslogd runs with a newer
librdkafka (the one bundled in the ``confluent-kafka`` wheel, a development dependency)
found first on ``LD_LIBRARY_PATH``; librdkafka keeps its C ABI, so Debian's omkafka loads it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["OMKAFKA", "librdkafka_dir", "rsyslogd", "rsyslogd_running", "why_no_rsyslog"]


def _omkafka() -> Path:
    """Where Debian puts omkafka.so for this machine's architecture (first found)."""
    found = sorted(Path("/usr/lib").glob("*/rsyslog/omkafka.so"))
    return found[0] if found else Path("/usr/lib/rsyslog/omkafka.so")


OMKAFKA = _omkafka()
_PACKAGES = ("rsyslog", "rsyslog-kafka")


def _install() -> str | None:
    """Install rsyslog and omkafka with apt-get; the reason it could not, else None."""
    if os.geteuid() != 0:
        return "rsyslog/rsyslog-kafka missing and not root to apt-get install them"
    if shutil.which("apt-get") is None:
        return "rsyslog/rsyslog-kafka missing and no apt-get"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *_PACKAGES]
    for command in (["apt-get", "update", "-q"], install):
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            return f"{' '.join(command[:2])} failed: {done.stderr.strip()[-300:]}"
    return None


def why_no_rsyslog() -> str | None:
    """None when rsyslogd with omkafka is here (installing it if needed), else why not."""
    if rsyslogd() is None or not _omkafka().is_file():
        reason = _install()
        if reason is not None:
            return reason
    if rsyslogd() is None or not _omkafka().is_file():
        return "rsyslogd or omkafka.so still missing after installing rsyslog-kafka"
    return None


def rsyslogd() -> str | None:
    """The rsyslogd binary, if installed."""
    return shutil.which("rsyslogd") or (
        "/usr/sbin/rsyslogd" if Path("/usr/sbin/rsyslogd").is_file() else None
    )


def librdkafka_dir(work: Path) -> Path | None:
    """A folder holding a librdkafka.so.1 newer than 2.0 (confluent-kafka's), or None."""
    spec = importlib.util.find_spec("confluent_kafka")
    if spec is None or spec.origin is None:
        return None
    libs = Path(spec.origin).parent.parent / "confluent_kafka.libs"
    found = sorted(libs.glob("librdkafka*.so*"))
    if not found:
        return None
    folder = work / "librdkafka"
    folder.mkdir(exist_ok=True)
    link = folder / "librdkafka.so.1"
    if not link.exists():
        link.symlink_to(found[0])
    return folder


@contextlib.contextmanager
def rsyslogd_running(config: Path, work: Path, *, library: Path | None) -> Iterator[Path]:
    """rsyslogd in the foreground on ``config`` (own pid file), stopped at the end.

    Yields the file its stdout and stderr go to.
    """
    binary = rsyslogd()
    assert binary is not None
    log = work / "rsyslogd.out"
    env = dict(os.environ)
    if library is not None:
        env["LD_LIBRARY_PATH"] = str(library)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, "-n", "-f", str(config), "-i", str(work / "rsyslogd.pid")],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        time.sleep(0.5)
        if process.poll() is not None:
            raise RuntimeError(f"rsyslogd exited: {log.read_text()}")
        yield log
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
