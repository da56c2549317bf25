"""A recording reverse proxy: put it between the ChatKit frontend and the backend.

Point ChatKit's ``api.url`` at the proxy instead of the backend. Every request is forwarded to
the upstream unchanged (hop-by-hop headers and ``Host`` aside) and every reply is streamed back
piece by piece as it arrives: nothing is buffered, decoded or compressed on the way (raw bytes,
the upstream ``Content-Encoding`` kept as it is). Each exchange is recorded as a
:class:`~chatkit_lab.capture._model.Capture` with transport ``proxy``:

* ``chunks`` hold the body pieces as they arrived from the upstream, with their arrival offsets;
* ``meta["client_send_ns"]`` holds, for each chunk, when it was handed to the client (same clock,
  same origin: nanoseconds from the moment the request was sent upstream), so a gap between the
  two columns is time the proxy itself added;
* ``ending`` says how it went. A client that goes away mid-stream ends the capture with state
  ``reset`` ("client disconnected after N bytes"); the upstream is then no longer read.

An unreachable upstream gets the client a ``502`` (a ``504`` when the upstream is too slow to
answer) with a one-line plain-text reason, and is recorded with ``status`` ``None``. When the
upstream breaks off after the reply has started, the client's connection is closed without a
clean end, so the browser sees the same failure the proxy saw.

With ``out_dir`` set, each finished capture is also saved there, redacted, as
``<timestamp>_<n>_<label>.jsonl``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from chatkit_lab.capture._model import Capture, Ending, RequestRecord
from chatkit_lab.sources._transports import Limits, _http_ending

__all__ = [
    "PROXY_LIMITS",
    "RecordingProxy",
    "capture_file_name",
    "parse_listen",
    "parse_upstream",
    "serve_proxy",
]

logger = logging.getLogger(__name__)

Scope = Mapping[str, Any]
Message = Mapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PROXY_LIMITS = Limits(connect_s=10.0, read_s=300.0, total_s=3600.0)
"""Default bounds: a live conversation may think for minutes, so only a stuck one is cut.

``max_bytes`` bounds what is *recorded*; past it the reply is still forwarded in full and the
capture ends with state ``limit``.
"""

_HOP_BY_HOP = frozenset(
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
_NOT_FORWARDED_UP = _HOP_BY_HOP | {"host", "content-length"}
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


# -- command-line argument checks ------------------------------------------------------------


def parse_upstream(url: str) -> str:
    """``url`` without a trailing slash, or :class:`ValueError` if it is not an http(s) URL."""
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"upstream {url!r} is not an http:// or https:// URL")
    try:
        hostname, _ = parts.hostname, parts.port
    except ValueError:
        raise ValueError(f"upstream {url!r} has a bad port") from None
    if not hostname:
        raise ValueError(f"upstream {url!r} has no host")
    if parts.query or parts.fragment:
        raise ValueError(f"upstream {url!r} must not carry a query or fragment")
    return text.rstrip("/")


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:port`` for IPv6) as a pair, or :class:`ValueError`."""
    text = value.strip()
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise ValueError(f"listen address {value!r}: expected [ipv6]:port")
        port_text = rest[1:]
    else:
        host, colon, port_text = text.rpartition(":")
        if not colon or ":" in host:
            raise ValueError(f"listen address {value!r}: expected host:port")
    if not host:
        raise ValueError(f"listen address {value!r} has no host")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"listen address {value!r}: port must be a number from 0 to 65535")
    return host, int(port_text)


# -- the proxy -------------------------------------------------------------------------------


class _ClientGone(Exception):
    """Handing a piece to the client failed: it went away."""


@dataclass
class _Exchange:
    """One request going through the proxy."""

    capture: Capture
    send: Send
    started: int = 0
    head_sent: bool = False
    delivered: bool = False
    client_bytes: int = 0
    recording: bool = True
    client_status: int | None = None
    client_send_ns: list[int] = field(default_factory=list)

    def now_ns(self) -> int:
        return time.monotonic_ns() - self.started


CaptureCallback = Callable[[Capture, Path | None], None]


class RecordingProxy:
    """A reverse proxy (an ASGI app) that records every exchange with the upstream.

    ``proxy.app`` (or the proxy itself) is the ASGI callable; serve it with uvicorn or
    :class:`~chatkit_lab.sources._transports.LoopbackServer`. Finished captures are appended to
    ``proxy.captures`` and, with ``out_dir``, saved there redacted (paths in ``proxy.saved``).
    ``on_capture(capture, path)`` is called for each finished exchange (``path`` is ``None``
    when nothing was saved).
    """

    transport_name = "proxy"

    def __init__(
        self,
        upstream: str,
        out_dir: Path | None = None,
        limits: Limits | None = None,
        verify: bool | ssl.SSLContext = True,
        *,
        trust_env: bool = True,
        on_capture: CaptureCallback | None = None,
    ) -> None:
        self.upstream = parse_upstream(upstream)
        parts = urlsplit(self.upstream)
        self.target = f"{parts.scheme}://{parts.netloc}"
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.limits = limits or PROXY_LIMITS
        self.verify = verify
        self.trust_env = trust_env
        self.on_capture = on_capture
        self.captures: list[Capture] = []
        self.saved: list[Path] = []
        self._numbers = itertools.count(1)
        self._ssl: ssl.SSLContext | None = None

    @property
    def app(self) -> RecordingProxy:
        """The ASGI application (the proxy object is itself callable as one)."""
        return self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind == "http":
            await self._handle(scope, receive, send)
        elif kind == "lifespan":
            await _lifespan(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1000})

    # -- one exchange ----------------------------------------------------------------------

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_request_body(receive)
        if body is None:
            return  # the client left before sending its whole request: nothing to forward
        method = str(scope.get("method", "GET")).upper()
        path = _raw_path(scope)
        query = bytes(scope.get("query_string") or b"").decode("latin-1")
        url = self.upstream + path + (f"?{query}" if query else "")
        skip = _request_skip(scope)
        headers = [
            (_latin1(k), _latin1(v))
            for k, v in scope.get("headers", [])
            if _latin1(k).lower() not in skip
        ]
        capture = Capture(
            request=RequestRecord(method, url, headers, body),
            target=self.target,
            transport=self.transport_name,
        )
        capture.label = capture.request_type or f"{method} {path}"
        capture.meta["client_url"] = _client_url(scope, path, query)
        exchange = _Exchange(capture=capture, send=send)
        watcher = asyncio.ensure_future(_wait_for_disconnect(receive))
        try:
            await self._forward(exchange, watcher)
        finally:
            watcher.cancel()
            capture.meta["client_send_ns"] = exchange.client_send_ns
            if exchange.client_status is not None:
                capture.meta["client_status"] = exchange.client_status
            capture.meta["client_bytes"] = exchange.client_bytes
            await self._finish(capture)

    async def _forward(self, exchange: _Exchange, watcher: asyncio.Future[Any]) -> None:
        capture, limits = exchange.capture, self.limits
        try:
            request = httpx.Request(
                capture.request.method,
                capture.request.url,
                headers=capture.request.headers,
                content=capture.request.body,
            )
        except (httpx.HTTPError, ValueError) as exc:
            capture.ending = Ending("error", f"cannot build the upstream request: {exc}", 0)
            await self._refuse(exchange, 502, capture.ending.message)
            return
        capture.request = RequestRecord(
            request.method,
            str(request.url),
            list(request.headers.multi_items()),
            capture.request.body,
        )
        timeout = httpx.Timeout(
            connect=limits.connect_s, read=limits.read_s, write=limits.read_s, pool=limits.connect_s
        )
        async with httpx.AsyncClient(
            timeout=timeout,
            verify=self._ssl_context(),
            follow_redirects=False,
            trust_env=self.trust_env,
        ) as client:
            exchange.started = time.monotonic_ns()
            pump = asyncio.ensure_future(self._pump(client, request, exchange))
            try:
                done, _ = await asyncio.wait(
                    {pump, watcher}, timeout=limits.total_s, return_when=asyncio.FIRST_COMPLETED
                )
            except asyncio.CancelledError:  # the server is shutting down: stop relaying
                pump.cancel()
                capture.ending = Ending("reset", "the proxy was stopped", exchange.now_ns())
                raise
            if pump not in done and exchange.delivered:
                # The reply was delivered whole; the server then reports the exchange as over,
                # which the watcher sees before the pump has finished closing the upstream.
                await asyncio.wait({pump}, timeout=5.0)
                done = {pump} if pump.done() else done
            if pump in done:
                capture.ending = pump.result()
            else:
                pump.cancel()
                await asyncio.wait({pump})
                if not pump.cancelled() and pump.exception() is None:
                    capture.ending = pump.result()  # it finished while being cancelled
                elif watcher in done:
                    capture.ending = _client_left(exchange)
                else:
                    capture.ending = Ending(
                        "timeout",
                        f"exchange still running after {limits.total_s:g} s (total limit); "
                        f"kept {len(capture.chunks)} chunks",
                        exchange.now_ns(),
                    )
        if capture.ending.state == "complete" or watcher.done():
            return
        if not exchange.head_sent:
            status = 504 if capture.ending.state == "timeout" else 502
            await self._refuse(exchange, status, capture.ending.message)
        # Otherwise the reply is cut short: return without ending it, so the server closes the
        # client's connection and the browser sees the break instead of a clean end.

    async def _pump(
        self, client: httpx.AsyncClient, request: httpx.Request, exchange: _Exchange
    ) -> Ending:
        capture, limits = exchange.capture, self.limits
        try:
            response = await client.send(request, stream=True)
        except (httpx.HTTPError, OSError, ValueError) as exc:
            return _http_ending(exc, capture, limits, exchange.now_ns())
        except Exception as exc:
            return Ending("error", f"proxy failure: {type(exc).__name__}: {exc}", exchange.now_ns())
        try:
            capture.status = response.status_code
            capture.response_headers = list(response.headers.multi_items())
            capture.headers_ns = exchange.now_ns()
            headers = [
                (k.encode("latin-1"), v.encode("latin-1"))
                for k, v in response.headers.multi_items()
                if k.lower() not in _response_skip(response.headers)
            ]
            await self._to_client(
                exchange,
                {"type": "http.response.start", "status": response.status_code, "headers": headers},
            )
            exchange.head_sent = True
            exchange.client_status = response.status_code
            capture.meta["client_headers_ns"] = exchange.now_ns()
            async for piece in response.aiter_raw():
                if not piece:
                    continue
                arrived = exchange.now_ns()
                recorded = self._record(exchange, piece, arrived)
                await self._to_client(
                    exchange, {"type": "http.response.body", "body": piece, "more_body": True}
                )
                exchange.client_bytes += len(piece)
                if recorded:
                    exchange.client_send_ns.append(exchange.now_ns())
            await self._to_client(
                exchange, {"type": "http.response.body", "body": b"", "more_body": False}
            )
            exchange.delivered = True
        except _ClientGone:
            return _client_left(exchange)
        except (httpx.HTTPError, OSError, ValueError) as exc:
            return _http_ending(exc, capture, limits, exchange.now_ns())
        except Exception as exc:
            logger.exception("proxy failure while relaying %s", capture.request.url)
            return Ending("error", f"proxy failure: {type(exc).__name__}: {exc}", exchange.now_ns())
        finally:
            await response.aclose()
        if not exchange.recording:
            return Ending(
                "limit",
                f"recorded the first {limits.max_bytes} bytes (max_bytes limit); "
                f"forwarded all {exchange.client_bytes}",
                exchange.now_ns(),
            )
        return Ending("complete", "", exchange.now_ns())

    def _record(self, exchange: _Exchange, piece: bytes, arrived: int) -> bool:
        if not exchange.recording:
            return False
        capture = exchange.capture
        room = self.limits.max_bytes - capture.size
        if len(piece) > room:
            exchange.recording = False
            if room <= 0:
                return False
            piece = piece[:room]
        capture.add_chunk(piece, arrived)
        return True

    @staticmethod
    async def _to_client(exchange: _Exchange, message: Message) -> None:
        try:
            await exchange.send(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # servers differ in what they raise for a closed socket
            raise _ClientGone(str(exc)) from exc

    async def _refuse(self, exchange: _Exchange, status: int, reason: str) -> None:
        text = f"chatkit-lab proxy: upstream {self.target}: {reason}\n".encode()
        try:
            await exchange.send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(text)).encode()),
                    ],
                }
            )
            await exchange.send({"type": "http.response.body", "body": text, "more_body": False})
            exchange.client_status = status
        except Exception:  # the client is gone too; the capture already says why
            logger.debug("could not send the %s reply to the client", status)

    # -- after an exchange -----------------------------------------------------------------

    async def _finish(self, capture: Capture) -> None:
        number = next(self._numbers)
        path: Path | None = None
        if self.out_dir is not None:
            path = self.out_dir / capture_file_name(capture, number)
            try:
                await asyncio.to_thread(capture.save, path)
            except OSError as exc:
                logger.warning("could not save capture %s to %s: %s", capture.id, path, exc)
                path = None
            else:
                self.saved.append(path)
        self.captures.append(capture)  # after saving: a listed capture's file already exists
        if self.on_capture is not None:
            try:
                self.on_capture(capture, path)
            except Exception:
                logger.exception("on_capture callback failed")

    def _ssl_context(self) -> ssl.SSLContext:
        if isinstance(self.verify, ssl.SSLContext):
            return self.verify
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context(verify=self.verify)
        return self._ssl


def capture_file_name(capture: Capture, number: int) -> str:
    """``<timestamp>_<n>_<label>.jsonl``; the label redacted and made safe for a file name."""
    from chatkit_lab.redact._engine import redact_text

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")[:-3] + "Z"
    label = _UNSAFE_NAME.sub("-", redact_text(capture.name)).strip("-.")[:60] or "exchange"
    return f"{stamp}_{number:04d}_{label}.jsonl"


# -- helpers ---------------------------------------------------------------------------------


def _latin1(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("latin-1")
    return str(value)


def _connection_tokens(values: list[str]) -> set[str]:
    return {token.strip().lower() for value in values for token in value.split(",")}


def _request_skip(scope: Scope) -> set[str]:
    named = [_latin1(v) for k, v in scope.get("headers", []) if _latin1(k).lower() == "connection"]
    return set(_NOT_FORWARDED_UP) | _connection_tokens(named)


def _response_skip(headers: httpx.Headers) -> set[str]:
    return set(_HOP_BY_HOP) | _connection_tokens(headers.get_list("connection"))


def _raw_path(scope: Scope) -> str:
    raw = scope.get("raw_path")
    if raw:
        return bytes(raw).decode("latin-1").split("?", 1)[0] or "/"
    return quote(str(scope.get("path") or "/"), safe="/:@!$&'()*+,;=-._~%")


def _client_url(scope: Scope, path: str, query: str) -> str:
    host = next(
        (_latin1(v) for k, v in scope.get("headers", []) if _latin1(k).lower() == "host"), ""
    )
    if not host and scope.get("server"):
        server_host, server_port = scope["server"][0], scope["server"][1]
        host = f"{server_host}:{server_port}" if server_port else str(server_host)
    scheme = scope.get("scheme") or "http"
    return f"{scheme}://{host}{path}" + (f"?{query}" if query else "")


def _client_left(exchange: _Exchange) -> Ending:
    return Ending(
        "reset", f"client disconnected after {exchange.client_bytes} bytes", exchange.now_ns()
    )


async def _read_request_body(receive: Receive) -> bytes | None:
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message.get("type") == "http.disconnect":
            return None
        if message.get("type") == "http.request":
            parts.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                return b"".join(parts)


async def _wait_for_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message.get("type") == "http.disconnect":
            return


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message.get("type") == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message.get("type") == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


# -- serving ---------------------------------------------------------------------------------


def serve_proxy(
    proxy: RecordingProxy,
    host: str = "127.0.0.1",
    port: int = 8787,
    *,
    on_listening: Callable[[str], None] | None = None,
) -> None:
    """Serve ``proxy`` with uvicorn on ``host:port`` until interrupted (blocking).

    The port is bound first (port ``0`` picks a free one), so ``on_listening`` gets the real URL;
    a port that cannot be bound raises :class:`~chatkit_lab.errors.TargetError`. uvicorn adds
    no ``server``/``date`` headers of its own: the upstream's pass through alone.
    """
    import socket

    import uvicorn

    from chatkit_lab.errors import TargetError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise TargetError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(128)  # connections made before uvicorn takes over wait in the backlog
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    config = uvicorn.Config(
        proxy.app,
        log_level="warning",
        lifespan="on",
        access_log=False,
        ws="none",
        server_header=False,
        date_header=False,
        timeout_graceful_shutdown=3,
    )
    server = uvicorn.Server(config)
    if on_listening is not None:
        on_listening(f"http://{shown}:{bound}")
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
