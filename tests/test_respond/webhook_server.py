"""A real webhook receiver on 127.0.0.1 for the notifier tests."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = ["Receiver", "webhook_receiver"]


@dataclass
class Receiver:
    """What the server received, and the statuses it will answer with next."""

    url: str = ""
    received: list[tuple[str, Any]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((request.path, await request.json()))
        status = self.answers.pop(0) if self.answers else 200
        return web.json_response({"ok": status == 200}, status=status)


@asynccontextmanager
async def webhook_receiver(path: str = "/hook") -> AsyncIterator[Receiver]:
    """Serve ``POST path`` on a free loopback port until the block ends."""
    receiver = Receiver()
    app = web.Application()
    app.router.add_post(path, receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    site = web.SockSite(runner, sock)
    await site.start()
    receiver.url = f"http://127.0.0.1:{port}{path}"
    try:
        yield receiver
    finally:
        await runner.cleanup()
        sock.close()
