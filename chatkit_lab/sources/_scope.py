"""ASGI plumbing for the recording proxy: the request's scope and messages, hop-by-hop headers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from chatkit_lab.sources._base import latin1

Scope = Mapping[str, Any]
Message = Mapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
"""Headers that describe one connection, not the message: never relayed."""

_NOT_FORWARDED_UP = HOP_BY_HOP | {"host", "content-length"}


def _connection_tokens(values: list[str]) -> set[str]:
    return {token.strip().lower() for value in values for token in value.split(",")}


def request_skip(scope: Scope) -> set[str]:
    """Request headers (lower-case) not forwarded upstream: hop-by-hop ones and those named in
    ``Connection``, ``Host`` and ``Content-Length`` (httpx sets both for the upstream)."""
    named = [latin1(v) for k, v in scope.get("headers", []) if latin1(k).lower() == "connection"]
    return set(_NOT_FORWARDED_UP) | _connection_tokens(named)


def response_skip(headers: httpx.Headers) -> set[str]:
    """Response headers (lower-case) not relayed to the client."""
    return set(HOP_BY_HOP) | _connection_tokens(headers.get_list("connection"))


def raw_path(scope: Scope) -> str:
    """The request path as the client sent it (percent-encoding kept), without the query."""
    raw = scope.get("raw_path")
    if raw:
        return bytes(raw).decode("latin-1").split("?", 1)[0] or "/"
    return quote(str(scope.get("path") or "/"), safe="/:@!$&'()*+,;=-._~%")


def client_url(scope: Scope, path: str, query: str) -> str:
    """The URL the client asked for (its ``Host``, or the server address)."""
    host = next((latin1(v) for k, v in scope.get("headers", []) if latin1(k).lower() == "host"), "")
    if not host and scope.get("server"):
        server_host, server_port = scope["server"][0], scope["server"][1]
        host = f"{server_host}:{server_port}" if server_port else str(server_host)
    scheme = scope.get("scheme") or "http"
    return f"{scheme}://{host}{path}" + (f"?{query}" if query else "")


async def read_request_body(receive: Receive) -> bytes | None:
    """The whole request body, or ``None`` when the client left before sending all of it."""
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message.get("type") == "http.disconnect":
            return None
        if message.get("type") == "http.request":
            parts.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                return b"".join(parts)


async def wait_for_disconnect(receive: Receive) -> None:
    """Return when the client goes away."""
    while True:
        message = await receive()
        if message.get("type") == "http.disconnect":
            return


async def lifespan(receive: Receive, send: Send) -> None:
    """Answer the server's lifespan messages (there is nothing to start or stop)."""
    while True:
        message = await receive()
        if message.get("type") == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message.get("type") == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def refusal(scope: Scope, path: str, url: str, target: str) -> str | None:
    """Why the proxy will not forward this request, or ``None``.

    Only an origin-form request target (``/path?query``, RFC 9112 section 3.2.1) is forwarded,
    and only to the configured upstream: ``*`` (``OPTIONS *``), an absolute-form target or
    anything glued onto the upstream URL as another host or userinfo is refused. A request whose
    framing is ambiguous (both ``Content-Length`` and ``Transfer-Encoding``, or several
    ``Content-Length`` values that differ) is refused too: the connection is closed after the
    answer, so nothing the client sent after it is read as another request (a smuggled one).
    """
    if not path.startswith("/"):
        shown = path if len(path) <= 80 else path[:80] + "..."
        return (
            f"request target {shown!r} is not origin-form (a path starting with '/'); "
            f"the proxy only forwards to {target}"
        )
    try:
        parts = urlsplit(url)
        forwarded = f"{parts.scheme}://{parts.netloc}"
    except ValueError:
        forwarded = ""
    if forwarded.lower() != target.lower():
        return f"request target {path[:80]!r} would leave {target}"
    names = [latin1(k).lower() for k, _ in scope.get("headers", [])]
    lengths = {
        latin1(v).strip()
        for k, v in scope.get("headers", [])
        if latin1(k).lower() == "content-length"
    }
    if "transfer-encoding" in names and "content-length" in names:
        return "both Content-Length and Transfer-Encoding (ambiguous framing, RFC 9112 6.3)"
    if len(lengths) > 1:
        return "several different Content-Length values (ambiguous framing, RFC 9112 6.3)"
    return None


async def answer_400(send: Send, text: str) -> bool:
    """Send a plain-text 400 that closes the connection; whether it was sent."""
    data = text.encode()
    try:
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(data)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data, "more_body": False})
    except Exception:  # the client is gone; the caller records what was refused
        return False
    return True
