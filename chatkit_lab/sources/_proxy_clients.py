"""The recording proxy's upstream clients: one per exchange at a time, kept for the next one.

A client made for every exchange costs each request a new client and a new connection (a
millisecond or more each under load: with fifty streams at once the proxy fell behind). One
client shared by every exchange costs more still: its connection pool scans every connection
for every request, so its work grows with the square of the streams in flight. So each
exchange takes an idle client (with its kept-alive connection) or makes one, uses it alone, and
hands it back; the cookies it was given are cleared first, so one browser session's cookies
never reach another's request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx

__all__ = ["UpstreamClients"]


class UpstreamClients:
    """Idle upstream clients of one event loop, reused one exchange at a time."""

    def __init__(self, make: Callable[[], httpx.AsyncClient], keep: int = 32) -> None:
        self._make = make
        self._keep = keep
        self._idle: list[httpx.AsyncClient] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    @asynccontextmanager
    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        """A client for one exchange; kept for the next when the exchange ended normally."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # served again in another loop: those clients belong to it
            self._idle, self._loop = [], loop
        client = self._idle.pop() if self._idle else self._make()
        client.cookies.clear()
        reusable = False
        try:
            yield client
            reusable = True
        finally:
            if reusable and not client.is_closed and len(self._idle) < self._keep:
                self._idle.append(client)
            else:
                await client.aclose()

    async def aclose(self) -> None:
        """Close every idle client (when the server shuts down)."""
        idle, self._idle = self._idle, []
        if self._loop is not asyncio.get_running_loop():
            return
        for client in idle:
            await client.aclose()
