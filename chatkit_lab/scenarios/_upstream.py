"""A failing model upstream for the ``errors`` scenario: an outage the backend really meets.

A ChatKit backend rarely sends an ``error`` event because a user asked for one; it sends one
when its model fails. To judge that, the kit serves, on an address the user gives
(``--errors-upstream http://127.0.0.1:8999``), an API that fails every request the way a model
provider's outage does: HTTP 500 with the OpenAI error body
(``{"error": {"message": ..., "type": "server_error"}}``). The user starts the backend with its
model's base URL there (``OPENAI_BASE_URL=http://127.0.0.1:8999/v1`` for the OpenAI SDKs, the
Agents SDK included), and the scenario sends a message: whatever the backend streams is its
answer to a real failure. The reply carries ``x-should-retry: false``, which the OpenAI SDKs
honour, so the backend's client gives up at once instead of retrying for seconds.

Every request the upstream gets is counted (method and path only: the body may hold the user's
prompt and the headers an API key), so the kit knows whether the backend called it at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from chatkit_lab.errors import TargetError
from chatkit_lab.sources import LoopbackServer

__all__ = ["FailingUpstream", "UPSTREAM_ERROR", "parse_upstream"]

UPSTREAM_ERROR = {
    "error": {
        "message": "The server had an error while processing your request.",
        "type": "server_error",
        "param": None,
        "code": None,
    }
}
"""What the failing upstream answers, as the OpenAI API words an outage."""
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_CALLS = 200
"""Requests recorded, at most (the count goes on)."""
MAX_BODY = 1 << 20
"""Bytes of a request body read before answering, at most."""


def parse_upstream(url: str) -> tuple[str, int]:
    """The host and port to serve the failing upstream on, from ``url`` (``http://`` on this
    machine, with a port); a :class:`TargetError` naming what is wrong otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetError(f"bad --errors-upstream {url!r}: {exc}") from None
    host = parts.hostname or ""
    if parts.scheme != "http" or host not in LOCAL_HOSTS or port is None or port == 0:
        raise TargetError(
            f"bad --errors-upstream {url!r}: give an http URL on this machine with a port, "
            "such as http://127.0.0.1:8999 (the kit serves the failing API there)"
        )
    return ("127.0.0.1" if host == "localhost" else host), port


@dataclass
class FailingUpstream:
    """Serve the failing API on ``url`` while the ``with`` block runs; count what it got."""

    url: str
    calls: int = 0
    seen: list[str] = field(default_factory=list)
    """``METHOD /path`` of the first :data:`MAX_CALLS` requests."""
    _server: LoopbackServer | None = None

    async def answer(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        read = 0
        while read <= MAX_BODY:  # drain the request, bounded
            message = await receive()
            read += len(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        self.calls += 1
        if len(self.seen) < MAX_CALLS:
            self.seen.append(f"{scope['method']} {scope['path']}")
        body = json.dumps(UPSTREAM_ERROR).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-should-retry", b"false"),
        ]
        await send({"type": "http.response.start", "status": 500, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def __enter__(self) -> FailingUpstream:
        host, port = parse_upstream(self.url)
        answer = self.answer

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await answer(scope, receive, send)  # a plain function: uvicorn's ASGI 3 check

        self._server = LoopbackServer(app, host, port).start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
