"""Transports: send one request, record the exchange byte for byte as a :class:`Capture`.

Every transport has the same ``send`` coroutine and never raises for a network fault: a refused
connection, a timeout, a reset or a crashing app ends up in ``capture.ending`` (``status`` stays
``None`` when no response head arrived). Chunk offsets are monotonic nanoseconds from the moment
the request was sent.

* :class:`InProcessTransport` calls an ASGI app directly with its own small driver, recording
  each ``http.response.body`` message as it is sent (``httpx.ASGITransport`` collects the whole
  body first, so every chunk would appear to arrive at once).
* :class:`HTTPTransport` speaks real HTTP with ``httpx`` and reads raw bytes as they arrive (no
  decompression, TLS verification on, redirects recorded rather than followed by default).
* :class:`LoopbackServer` serves any ASGI app under uvicorn on 127.0.0.1 in a background thread,
  so an app can be captured over a real socket.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

import httpx

from chatkit_lab.capture._model import Capture, Ending, RequestRecord
from chatkit_lab.client._transform import ClientRequest
from chatkit_lab.errors import TargetError

HeadersLike = Mapping[str, str] | Sequence[tuple[str, str]] | None
BodyLike = bytes | bytearray | str | None

_MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Bounds on one exchange. Hitting one ends the capture; what arrived so far is kept."""

    connect_s: float = 5.0
    """Time allowed to open the connection (HTTP only)."""
    read_s: float = 15.0
    """Longest silence allowed while waiting for the response head or the next chunk."""
    total_s: float = 30.0
    """Longest the whole exchange may take, from sending the request to the last byte."""
    max_bytes: int = 32 * _MiB
    """Most body bytes kept; the capture ends with state ``limit`` past this."""


DEFAULT_LIMITS = Limits()

_CREDENTIAL_HEADERS = {
    "authorization",
    "proxy-authorization",
    "cookie",
    "api-key",
    "x-api-key",
    "openai-api-key",
}
_CREDENTIAL_PARTS = ("api-key", "apikey", "token", "secret", "password", "session", "auth")


def is_credential_header(name: str) -> bool:
    """Whether a request header carries a credential (never forwarded to another host)."""
    lowered = name.lower()
    return lowered in _CREDENTIAL_HEADERS or any(part in lowered for part in _CREDENTIAL_PARTS)


def _header_list(headers: HeadersLike) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return [(str(k), str(v)) for k, v in headers.items()]
    return [(str(k), str(v)) for k, v in headers]


def _body_bytes(body: BodyLike) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    return bytes(body)


def _merge_headers(
    base: list[tuple[str, str]], extra: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """``extra`` replaces same-named (case-insensitive) headers of ``base``."""
    names = {name.lower() for name, _ in extra}
    return [(k, v) for k, v in base if k.lower() not in names] + extra


def _has_header(headers: list[tuple[str, str]], name: str) -> bool:
    return any(key.lower() == name for key, _ in headers)


def _join(base_url: str | None, url: str) -> str:
    """``url`` if absolute, else appended to ``base_url`` (its path prefix kept, like httpx)."""
    if not base_url or urlsplit(url).scheme:
        return url
    if not url:
        return base_url
    if url.startswith(("?", "#")):
        return base_url + url
    return base_url + "/" + url.lstrip("/")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme else url


def _seconds(value: float) -> str:
    return f"{value:g} s"


@runtime_checkable
class Transport(Protocol):
    """Something that sends one request and returns the recorded exchange."""

    name: str

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: HeadersLike = None,
        body: BodyLike = None,
        label: str = "",
        limits: Limits | None = None,
    ) -> Capture: ...

    async def send_request(
        self, request: ClientRequest, *, label: str = "", limits: Limits | None = None
    ) -> Capture: ...


class _SendRequestMixin:
    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: HeadersLike = None,
        body: BodyLike = None,
        label: str = "",
        limits: Limits | None = None,
    ) -> Capture:
        raise NotImplementedError

    async def send_request(
        self, request: ClientRequest, *, label: str = "", limits: Limits | None = None
    ) -> Capture:
        """Send a :class:`ClientRequest` (for example the output of a client transform)."""
        return await self.send(
            request.method,
            request.url,
            headers=request.headers,
            body=request.body,
            label=label,
            limits=limits,
        )


# -- in-process ASGI -------------------------------------------------------------------------


class _AsgiExchange:
    """State shared between the driver and the app's ``receive``/``send`` callables."""

    def __init__(self, capture: Capture, started: int, limits: Limits, body: bytes) -> None:
        self.capture = capture
        self.started = started
        self.limits = limits
        self.body = body
        self.body_sent = False
        self.response_started = False
        self.finished = False
        self.over_limit = False
        self.last_activity = started
        self.activity = asyncio.Event()
        self.disconnected = asyncio.Event()

    def now_ns(self) -> int:
        return time.monotonic_ns() - self.started

    async def receive(self) -> dict[str, Any]:
        if not self.body_sent:
            self.body_sent = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        await self.disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Mapping[str, Any]) -> None:
        if self.disconnected.is_set():
            raise OSError(errno.EPIPE, "client disconnected")
        kind = message.get("type")
        now = time.monotonic_ns()
        if kind == "http.response.start":
            if self.response_started:
                raise RuntimeError("http.response.start sent twice")
            self.response_started = True
            self.capture.status = int(message["status"])
            self.capture.response_headers = [
                (_latin1(k), _latin1(v)) for k, v in message.get("headers", [])
            ]
            self.capture.headers_ns = now - self.started
        elif kind == "http.response.body":
            if not self.response_started:
                raise RuntimeError("http.response.body sent before http.response.start")
            if self.finished:
                raise RuntimeError("http.response.body sent after the response ended")
            data = bytes(message.get("body", b""))
            if data and not self.over_limit:
                room = self.limits.max_bytes - self.capture.size
                if len(data) > room:
                    data = data[: max(room, 0)]
                    self.over_limit = True
                if data:
                    self.capture.add_chunk(data, now - self.started)
            if not message.get("more_body", False):
                self.finished = True
        else:
            return
        self.last_activity = now
        self.activity.set()
        # Let the driver see this message (and cancel the app) even if the app never blocks.
        await asyncio.sleep(0)


def _latin1(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("latin-1")
    return str(value)


class InProcessTransport(_SendRequestMixin):
    """Drive an ASGI app in this event loop, recording each body message as it is sent."""

    name = "in-process"

    def __init__(
        self,
        app: Any,
        base_url: str = "http://chatkit-lab.test",
        *,
        target: str | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.app = app
        self.base_url = base_url.rstrip("/")
        self.target = target if target is not None else self.base_url
        self.limits = limits or DEFAULT_LIMITS

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: HeadersLike = None,
        body: BodyLike = None,
        label: str = "",
        limits: Limits | None = None,
    ) -> Capture:
        """Call the app once; the returned capture's ``ending`` says how it went."""
        limits = limits or self.limits
        full_url = _join(self.base_url, url)
        parts = urlsplit(full_url)
        data = _body_bytes(body)
        sent_headers = _header_list(headers)
        if not _has_header(sent_headers, "host"):
            sent_headers.insert(0, ("host", parts.netloc))
        if data and not _has_header(sent_headers, "content-length"):
            sent_headers.append(("content-length", str(len(data))))
        capture = Capture(
            request=RequestRecord(method.upper(), full_url, sent_headers, data),
            label=label,
            target=self.target,
            transport=self.name,
        )
        scheme = parts.scheme or "http"
        try:
            port = parts.port or (443 if scheme == "https" else 80)
            raw_headers = [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in sent_headers
            ]
        except (UnicodeEncodeError, ValueError) as exc:
            capture.ending = Ending("error", _unsendable(exc, full_url), 0)
            return capture
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method.upper(),
            "scheme": scheme,
            "path": unquote(parts.path or "/"),
            "raw_path": (parts.path or "/").encode("ascii", "replace"),
            "query_string": parts.query.encode("ascii", "replace"),
            "root_path": "",
            "headers": raw_headers,
            "client": ("127.0.0.1", 50000),
            "server": (parts.hostname or "localhost", port),
            "state": {},
            "extensions": {},
        }
        started = time.monotonic_ns()
        exchange = _AsgiExchange(capture, started, limits, data)
        task = asyncio.create_task(self.app(scope, exchange.receive, exchange.send))
        try:
            ending = await self._watch(exchange, task, limits)
        except BaseException:
            await _stop_app(exchange, task)
            raise
        capture.ending = ending
        if ending.state == "complete":
            await self._finish_app(exchange, task, limits)
        else:
            await _stop_app(exchange, task)
        return capture

    async def _watch(
        self, exchange: _AsgiExchange, task: asyncio.Task[Any], limits: Limits
    ) -> Ending:
        started = exchange.started
        total_deadline = started + int(limits.total_s * 1e9)
        while True:
            if exchange.over_limit:
                return Ending(
                    "limit",
                    f"stopped after {limits.max_bytes} bytes (max_bytes limit)",
                    exchange.now_ns(),
                )
            if exchange.finished:
                return Ending("complete", "", exchange.now_ns())
            if task.done():
                return _app_ending(exchange, task)
            now = time.monotonic_ns()
            read_deadline = exchange.last_activity + int(limits.read_s * 1e9)
            if now >= total_deadline:
                return Ending(
                    "timeout",
                    f"exchange still running after {_seconds(limits.total_s)} (total limit); "
                    f"kept {len(exchange.capture.chunks)} chunks",
                    now - started,
                )
            if now >= read_deadline:
                waiting = "the next chunk" if exchange.response_started else "the response head"
                return Ending(
                    "timeout",
                    f"no {waiting} for {_seconds(limits.read_s)} (read limit); "
                    f"kept {len(exchange.capture.chunks)} chunks",
                    now - started,
                )
            exchange.activity.clear()
            waiter = asyncio.ensure_future(exchange.activity.wait())
            timeout = (min(total_deadline, read_deadline) - now) / 1e9
            try:
                await asyncio.wait(
                    {task, waiter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                waiter.cancel()

    async def _finish_app(
        self, exchange: _AsgiExchange, task: asyncio.Task[Any], limits: Limits
    ) -> None:
        """After a complete response, give the app a moment to return, then note any crash."""
        left = limits.total_s - exchange.now_ns() / 1e9
        if not task.done():
            await asyncio.wait({task}, timeout=max(0.0, min(left, 1.0)))
        if not task.done():
            exchange.capture.notes.append("the app was still running after the response ended")
            await _stop_app(exchange, task)
            return
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            exchange.capture.notes.append(
                f"the app raised after the response ended: {type(exc).__name__}: {exc}"
            )


def _unsendable(exc: Exception, url: str) -> str:
    """Why a request could not be put on the wire (a header value the encoding cannot carry)."""
    if isinstance(exc, UnicodeEncodeError):
        bad = exc.object[exc.start : exc.end]
        if exc.encoding.replace("-", "") == "latin1":
            why = "not a single-byte (ISO-8859-1) character; a browser's fetch refuses it too"
        else:
            why = f"not {exc.encoding} text, which header values must be on this transport"
        return f"cannot send to {url!r}: a request header holds {bad!r}, {why}"
    return f"cannot send to {url!r}: {exc}"


def _app_ending(exchange: _AsgiExchange, task: asyncio.Task[Any]) -> Ending:
    at = exchange.now_ns()
    if task.cancelled():
        return Ending("error", "the app task was cancelled before the response ended", at)
    exc = task.exception()
    if exc is not None:
        where = "during the response" if exchange.response_started else "before responding"
        return Ending("error", f"the app raised {where}: {type(exc).__name__}: {exc}", at)
    if not exchange.response_started:
        return Ending("error", "the app returned without sending a response", at)
    return Ending("error", "the app returned before the response body ended", at)


async def _stop_app(exchange: _AsgiExchange, task: asyncio.Task[Any]) -> None:
    """Disconnect the client side and cancel the app, waiting briefly for it to unwind."""
    exchange.disconnected.set()
    if task.done():
        if not task.cancelled():
            task.exception()  # mark as retrieved
        return
    task.cancel()
    await asyncio.wait({task}, timeout=2.0)
    if task.done() and not task.cancelled():
        task.exception()


# -- real HTTP -------------------------------------------------------------------------------


class HTTPTransport(_SendRequestMixin):
    """Real HTTP through httpx, reading raw body bytes as they arrive."""

    name = "http"

    def __init__(
        self,
        base_url: str | None = None,
        headers: HeadersLike = None,
        limits: Limits | None = None,
        verify: bool | str | ssl.SSLContext = True,
        follow_redirects: bool = False,
        *,
        target: str | None = None,
        max_redirects: int = 10,
        trust_env: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/") if base_url else None
        self.headers = _header_list(headers)
        self.limits = limits or DEFAULT_LIMITS
        self.verify = verify
        self.follow_redirects = follow_redirects
        self.target = target
        self.max_redirects = max_redirects
        self.trust_env = trust_env

    def _resolve(self, url: str) -> str:
        return _join(self.base_url, url)

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: HeadersLike = None,
        body: BodyLike = None,
        label: str = "",
        limits: Limits | None = None,
    ) -> Capture:
        """Send one request; the returned capture's ``ending`` says how it went."""
        limits = limits or self.limits
        method = method.upper()
        full_url = self._resolve(url)
        data = _body_bytes(body)
        sent_headers = _merge_headers(list(self.headers), _header_list(headers))
        capture = Capture(
            request=RequestRecord(method.upper(), full_url, sent_headers, data),
            label=label,
            target=self.target if self.target is not None else _origin(full_url),
            transport=self.name,
        )
        started = time.monotonic_ns()
        timeout = httpx.Timeout(
            connect=limits.connect_s, read=limits.read_s, write=limits.read_s, pool=limits.connect_s
        )
        try:
            async with httpx.AsyncClient(
                timeout=timeout,
                verify=self.verify,
                follow_redirects=False,
                trust_env=self.trust_env,
            ) as client:
                # Building the client (TLS context, certificate store) takes tens of ms: the
                # clock starts when the request is about to go out, not before.
                started = time.monotonic_ns()
                async with asyncio.timeout(limits.total_s):
                    await self._exchange(client, capture, method, full_url, data, limits, started)
        except TimeoutError:
            capture.ending = Ending(
                "timeout",
                f"exchange still running after {_seconds(limits.total_s)} (total limit); "
                f"kept {len(capture.chunks)} chunks",
                time.monotonic_ns() - started,
            )
        except httpx.InvalidURL as exc:
            capture.ending = Ending("error", f"invalid URL {full_url!r}: {exc}", 0)
        except (httpx.HTTPError, OSError, ValueError) as exc:
            capture.ending = _http_ending(exc, capture, limits, time.monotonic_ns() - started)
        return capture

    async def _exchange(
        self,
        client: httpx.AsyncClient,
        capture: Capture,
        method: str,
        url: str,
        data: bytes,
        limits: Limits,
        started: int,
    ) -> None:
        headers = list(capture.request.headers)
        redirects: list[dict[str, Any]] = []
        while True:
            client.cookies.clear()
            request = client.build_request(method, url, headers=headers, content=data)
            capture.request = RequestRecord(
                request.method,
                str(request.url),
                [(k, v) for k, v in request.headers.multi_items()],
                data,
            )
            response = await client.send(request, stream=True)
            try:
                capture.status = response.status_code
                capture.response_headers = list(response.headers.multi_items())
                capture.headers_ns = time.monotonic_ns() - started
                location = response.headers.get("location")
                if self.follow_redirects and response.is_redirect and location:
                    if len(redirects) >= self.max_redirects:
                        capture.meta["redirects"] = redirects
                        await self._read_body(response, capture, limits, started)
                        capture.notes.append(
                            f"stopped following redirects after {self.max_redirects}"
                        )
                        return
                    next_url = str(response.url.join(location))
                    hop = {"status": response.status_code, "url": url, "location": next_url}
                    method, data, headers = _redirected(
                        response.status_code, method, data, headers, url, next_url, capture
                    )
                    redirects.append(hop)
                    url = next_url
                    continue
                if redirects:
                    capture.meta["redirects"] = redirects
                await self._read_body(response, capture, limits, started)
                return
            finally:
                await response.aclose()

    async def _read_body(
        self, response: httpx.Response, capture: Capture, limits: Limits, started: int
    ) -> None:
        async for piece in response.aiter_raw():
            now = time.monotonic_ns() - started
            room = limits.max_bytes - capture.size
            if len(piece) > room:
                if room > 0:
                    capture.add_chunk(piece[:room], now)
                capture.ending = Ending(
                    "limit", f"stopped after {limits.max_bytes} bytes (max_bytes limit)", now
                )
                return
            if piece:
                capture.add_chunk(piece, now)
        capture.ending = Ending("complete", "", time.monotonic_ns() - started)


def _redirected(
    status: int,
    method: str,
    data: bytes,
    headers: list[tuple[str, str]],
    url: str,
    next_url: str,
    capture: Capture,
) -> tuple[str, bytes, list[tuple[str, str]]]:
    """The next hop's method, body and headers, as a browser's fetch would send them."""
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method, data = "GET", b""
        headers = [
            (k, v)
            for k, v in headers
            if k.lower() not in ("content-type", "content-length", "transfer-encoding")
        ]
    if _origin(next_url).lower() != _origin(url).lower():
        dropped = sorted({k for k, _ in headers if is_credential_header(k)})
        headers = [(k, v) for k, v in headers if not is_credential_header(k)]
        if dropped:
            capture.notes.append(
                f"redirect to another origin ({_origin(next_url)}): credentials not forwarded "
                f"({', '.join(dropped)})"
            )
    return method, data, headers


def _underlying(exc: BaseException) -> str:
    """The first informative message down an exception's cause chain.

    httpx reports a reset as an empty ``ReadError`` whose root cause is the OS error.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        if current is not exc and str(current):
            return f"{type(current).__name__}: {current}"
        current = current.__cause__ or current.__context__
    return ""


def _http_ending(exc: BaseException, capture: Capture, limits: Limits, at: int) -> Ending:
    url = capture.request.url
    where = _origin(url)
    text = str(exc) or _underlying(exc) or type(exc).__name__
    lowered = text.lower()
    if isinstance(exc, httpx.ConnectTimeout):
        return Ending(
            "timeout",
            f"cannot connect to {where}: no connection within {_seconds(limits.connect_s)} "
            "(connect limit)",
            at,
        )
    if isinstance(exc, httpx.ConnectError):
        if "refused" in lowered or "all connection attempts failed" in lowered:
            reason = "connection refused"
        elif "certificate" in lowered or "ssl" in lowered or "tls" in lowered:
            reason = f"TLS handshake failed ({text})"
        elif "name" in lowered and ("resolution" in lowered or "known" in lowered):
            reason = f"host name does not resolve ({text})"
        else:
            reason = text
        return Ending("error", f"cannot connect to {where}: {reason}", at)
    if isinstance(exc, httpx.ReadTimeout | httpx.PoolTimeout | httpx.WriteTimeout):
        waiting = "the next chunk" if capture.status is not None else "the response head"
        return Ending(
            "timeout",
            f"no {waiting} for {_seconds(limits.read_s)} (read limit); "
            f"kept {len(capture.chunks)} chunks",
            at,
        )
    if isinstance(exc, httpx.RemoteProtocolError):
        if capture.status is None and ("disconnect" in lowered or "closed" in lowered):
            return Ending("reset", f"{where} closed the connection without a response: {text}", at)
        if capture.status is None:
            return Ending("error", f"{where} did not answer with HTTP: {text}", at)
        if "incomplete" in lowered or "peer closed" in lowered or "closed" in lowered:
            return Ending("reset", f"connection closed before the response ended: {text}", at)
        return Ending("error", f"HTTP protocol error: {text}", at)
    if isinstance(exc, httpx.ReadError | httpx.WriteError | ConnectionError):
        return Ending("reset", f"connection to {where} broken: {text}", at)
    if isinstance(exc, httpx.UnsupportedProtocol):
        return Ending("error", f"cannot send to {url!r}: {text}", at)
    if isinstance(exc, UnicodeEncodeError) and capture.status is None:
        return Ending("error", _unsendable(exc, url), at)
    return Ending("error", f"{type(exc).__name__}: {text}", at)


# -- loopback server -------------------------------------------------------------------------


class LoopbackServer:
    """Serve an ASGI app with uvicorn on 127.0.0.1 in a background thread.

    ``with LoopbackServer(app) as server:`` (or ``async with``) starts it, waits until it
    accepts connections, and exposes ``server.url``; leaving the block stops it and joins the
    thread. Nothing is added to the app (no compression); uvicorn writes each body message to
    the socket as it is sent.
    """

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        start_timeout_s: float = 10.0,
        stop_timeout_s: float = 5.0,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.exit_code: Any = None
        """What uvicorn exited with when it stopped on its own (``None`` otherwise)."""

    @property
    def url(self) -> str:
        if self._thread is None:
            raise RuntimeError("LoopbackServer is not running")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> LoopbackServer:
        """Bind, start uvicorn in a thread, and wait until the port accepts connections."""
        import uvicorn

        if self._thread is not None:
            raise RuntimeError("LoopbackServer already started")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise TargetError(
                f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            ) from None
        self.port = sock.getsockname()[1]
        self._socket = sock
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan="auto",
            access_log=False,
            ws="none",
            timeout_graceful_shutdown=max(1, int(self.stop_timeout_s / 2)),
        )
        server = uvicorn.Server(config)
        self._server = server
        thread = threading.Thread(
            target=self._run,
            args=(server, sock),
            name=f"chatkit-lab-loopback-{self.port}",
            daemon=True,
        )
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            if server.started and _port_open(self.host, self.port):
                return self
            if not thread.is_alive():
                self._cleanup()
                raise TargetError(
                    f"the loopback server on {self.host}:{self.port} stopped while starting "
                    "(app import or lifespan startup failed; see the log above)"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise TargetError(
                    f"the loopback server on {self.host}:{self.port} did not start within "
                    f"{_seconds(self.start_timeout_s)}"
                )
            time.sleep(0.01)

    def _run(self, server: Any, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])
        except SystemExit as exc:  # uvicorn exits this way when lifespan startup fails
            self.exit_code = exc.code

    def stop(self) -> None:
        """Ask uvicorn to exit, join the thread, and release the port."""
        server, thread = self._server, self._thread
        if server is not None:
            server.should_exit = True
        if thread is not None and thread.is_alive():
            thread.join(self.stop_timeout_s)
            if thread.is_alive() and server is not None:
                server.force_exit = True
                thread.join(self.stop_timeout_s)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._socket is not None:
            self._socket.close()
        self._socket = None
        self._server = None
        self._thread = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> LoopbackServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False
