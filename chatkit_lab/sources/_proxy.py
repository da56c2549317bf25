"""A recording reverse proxy: put it between the ChatKit frontend and the backend.

Point ChatKit's ``api.url`` at the proxy instead of the backend. Every request is forwarded to
the upstream unchanged (hop-by-hop headers and ``Host`` aside) and every reply is streamed back
piece by piece as it arrives: nothing is buffered, decoded or compressed on the way (raw bytes,
the upstream ``Content-Encoding`` kept as it is). Each exchange is recorded as a
:class:`~chatkit_lab.capture.Capture` with transport ``proxy``:

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
``<timestamp>_<n>_<label>.jsonl``. A compressed reply is recorded as relayed; reading the
recording decodes it as the browser did (:func:`~chatkit_lab.sources.decode_capture`).

In this module, in order: the command line's values (:func:`parse_upstream`,
:func:`parse_listen`), the ASGI plumbing (scope, messages, hop-by-hop headers, what is refused),
the upstream clients, :class:`RecordingProxy`, and :func:`serve_proxy`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from chatkit_lab.capture import Capture, Ending, RequestRecord
from chatkit_lab.redact import Redactor, current_redactor, header_secrets, request_secrets
from chatkit_lab.sources._base import (
    Limits,
    add_within,
    http_ending,
    httpx_timeout,
    latin1,
    over_total,
)
from chatkit_lab.sources._loopback import serve_app

__all__ = [
    "PROXY_LIMITS",
    "RecordingProxy",
    "capture_file_name",
    "parse_listen",
    "parse_upstream",
    "serve_proxy",
]

logger = logging.getLogger(__name__)

PROXY_LIMITS = Limits(connect_s=10.0, read_s=300.0, total_s=3600.0)
"""Default bounds: a live conversation may think for minutes, so only a stuck one is cut.

``max_bytes`` bounds what is *recorded*; past it the reply is still forwarded in full and the
capture ends with state ``limit``.
"""

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


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


# -- the command line's values ----------------------------------------------------------------


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


# -- ASGI plumbing: the request's scope and messages, hop-by-hop headers -----------------------

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


async def answer_plain(send: Send, status: int, text: str, *, close: bool = False) -> bool:
    """Send a plain-text reply (one that closes the connection with ``close``); whether it was
    sent."""
    data = text.encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(data)).encode()),
    ]
    try:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": headers + ([(b"connection", b"close")] if close else []),
            }
        )
        await send({"type": "http.response.body", "body": data, "more_body": False})
    except Exception:  # the client is gone; the caller records what was refused
        return False
    return True


# -- upstream clients -------------------------------------------------------------------------

# The recording proxy's upstream clients: one per exchange at a time, kept for the next one.
#
# A client made for every exchange costs each request a new client and a new connection (a
# millisecond or more each under load: with fifty streams at once the proxy fell behind). One
# client shared by every exchange costs more still: its connection pool scans every connection
# for every request, so its work grows with the square of the streams in flight. So each
# exchange takes an idle client (with its kept-alive connection) or makes one, uses it alone, and
# hands it back; the cookies it was given are cleared first, so one browser session's cookies
# never reach another's request.


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


# -- the proxy ---------------------------------------------------------------------------------


CaptureCallback = Callable[[Capture, Path | None], None]


class RecordingProxy:
    """A reverse proxy (an ASGI app) that records every exchange with the upstream.

    ``proxy.app`` (or the proxy itself) is the ASGI callable; serve it with :func:`serve_proxy`
    or :class:`~chatkit_lab.sources.LoopbackServer`. Finished captures are appended to
    ``proxy.captures`` and, with ``out_dir``, saved there redacted (paths in ``proxy.saved``) by
    ``redactor``: the run's :class:`~chatkit_lab.redact.Redactor`, which knows the secrets the
    user supplied (by default the one current where the proxy is made, so it holds even when the
    proxy is served from another thread).
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
        redactor: Redactor | None = None,
    ) -> None:
        self.upstream = parse_upstream(upstream)
        parts = urlsplit(self.upstream)
        self.target = f"{parts.scheme}://{parts.netloc}"
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.limits = limits or PROXY_LIMITS
        self.verify = verify
        self.trust_env = trust_env
        self.on_capture = on_capture
        self.redactor = redactor if redactor is not None else current_redactor()
        """Redacts what the proxy saves; by default the redactor current when it was made. It
        learns every credential the proxy forwards (and each cookie the upstream sets)."""
        self.captures: list[Capture] = []
        self.saved: list[Path] = []
        self._numbers = itertools.count(1)
        self._ssl: ssl.SSLContext | None = None
        self._clients = UpstreamClients(self._new_client)

    @property
    def app(self) -> RecordingProxy:
        """The ASGI application (the proxy object is itself callable as one)."""
        return self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind == "http":
            await self._handle(scope, receive, send)
        elif kind == "lifespan":
            await lifespan(receive, send)
            await self._clients.aclose()
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1000})

    # -- one exchange ----------------------------------------------------------------------

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_request_body(receive)
        if body is None:
            return  # the client left before sending its whole request: nothing to forward
        method = str(scope.get("method", "GET")).upper()
        path = raw_path(scope)
        query = bytes(scope.get("query_string") or b"").decode("latin-1")
        target = path + (f"?{query}" if query else "")
        url = self.upstream + target
        refused = refusal(scope, path, url, self.target)
        skip = request_skip(scope) if refused is None else set()
        headers = [
            (latin1(k), latin1(v))
            for k, v in scope.get("headers", [])
            if latin1(k).lower() not in skip
        ]
        # Every credential forwarded is a secret from now on: an upstream may echo it back.
        self.redactor = self.redactor.with_secrets(
            request_secrets(url if refused is None else "", headers)
        )
        capture = Capture(
            request=RequestRecord(method, url if refused is None else target, headers, body),
            target=self.target,
            transport=self.transport_name,
        )
        capture.meta["client_url"] = client_url(scope, path, query)
        if refused is not None:  # answered, recorded, not forwarded (see :func:`refusal`)
            capture.label = f"refused {method}"
            capture.ending = Ending("error", f"refused by the proxy, not forwarded: {refused}", 0)
            text = f"chatkit-lab proxy: request not forwarded: {refused}\n"
            if await answer_plain(send, 400, text, close=True):
                capture.meta["client_status"] = 400
            await self._finish(capture)
            return
        capture.label = capture.request_type or f"{method} {path}"
        exchange = _Exchange(capture=capture, send=send)
        watcher = asyncio.ensure_future(wait_for_disconnect(receive))
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
        async with self._clients.client() as client:
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
                    capture.ending = over_total(limits, len(capture.chunks), exchange.now_ns())
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
            return http_ending(exc, capture, limits, exchange.now_ns())
        except Exception as exc:
            return Ending("error", f"proxy failure: {type(exc).__name__}: {exc}", exchange.now_ns())
        try:
            capture.status = response.status_code
            capture.response_headers = list(response.headers.multi_items())
            capture.headers_ns = exchange.now_ns()
            headers = [
                (k.encode("latin-1"), v.encode("latin-1"))
                for k, v in response.headers.multi_items()
                if k.lower() not in response_skip(response.headers)
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
            return http_ending(exc, capture, limits, exchange.now_ns())
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
        kept, exchange.recording = add_within(
            exchange.capture, piece, arrived, self.limits.max_bytes
        )
        return bool(kept)

    @staticmethod
    async def _to_client(exchange: _Exchange, message: Message) -> None:
        try:
            await exchange.send(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # servers differ in what they raise for a closed socket
            raise _ClientGone(str(exc)) from exc

    async def _refuse(self, exchange: _Exchange, status: int, reason: str) -> None:
        text = f"chatkit-lab proxy: upstream {self.target}: {reason}\n"
        if await answer_plain(exchange.send, status, text):
            exchange.client_status = status
        else:  # the client is gone too; the capture already says why
            logger.debug("could not send the %s reply to the client", status)

    # -- after an exchange -----------------------------------------------------------------

    async def _finish(self, capture: Capture) -> None:
        number = next(self._numbers)
        self.redactor = self.redactor.with_secrets(header_secrets(capture.response_headers))
        path: Path | None = None
        if self.out_dir is not None:
            path = self.out_dir / capture_file_name(capture, number, self.redactor)
            try:
                await asyncio.to_thread(_save_redacted, capture, path, self.redactor)
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

    def _new_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=httpx_timeout(self.limits),
            verify=self._ssl_context(),
            follow_redirects=False,
            trust_env=self.trust_env,
        )

    def _ssl_context(self) -> ssl.SSLContext:
        if isinstance(self.verify, ssl.SSLContext):
            return self.verify
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context(verify=self.verify)
        return self._ssl


def capture_file_name(capture: Capture, number: int, redactor: Redactor | None = None) -> str:
    """``<timestamp>_<n>_<label>.jsonl``; the label redacted and made safe for a file name."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")[:-3] + "Z"
    shown = (redactor or current_redactor()).redact_text(capture.name)
    label = _UNSAFE_NAME.sub("-", shown).strip("-.")[:60] or "exchange"
    return f"{stamp}_{number:04d}_{label}.jsonl"


def _save_redacted(capture: Capture, path: Path, redactor: Redactor) -> None:
    """Write ``capture`` to ``path`` with its secrets (and the run's) redacted."""
    capture.save(path, redactor=redactor)


def _client_left(exchange: _Exchange) -> Ending:
    return Ending(
        "reset", f"client disconnected after {exchange.client_bytes} bytes", exchange.now_ns()
    )


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
    served = serve_app(proxy.app, host, port, lifespan="on", own_headers=False)
    if on_listening is not None:
        try:
            on_listening(served.url)
        except BaseException:
            served.sock.close()
            raise
    served.run()
