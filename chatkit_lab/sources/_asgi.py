"""The in-process source: drive an ASGI app in this event loop, recording each body message.

``httpx.ASGITransport`` collects the whole body before returning it, so every chunk would appear
to arrive at once. This small driver instead records each ``http.response.body`` message at the
moment the app sends it, and enforces the same :class:`Limits` as the network sources.
"""

from __future__ import annotations

import asyncio
import errno
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from chatkit_lab.capture import Capture, Ending
from chatkit_lab.sources._base import (
    DEFAULT_LIMITS,
    BaseTransport,
    BodyLike,
    HeadersLike,
    Limits,
    add_within,
    header_list,
    join_url,
    latin1,
    over_read,
    over_size,
    over_total,
    request_capture,
    stopped,
    unsendable,
)


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
        self.stop_watch = limits.stop.watch() if limits.stop is not None else None
        self.stopped = False

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
                (latin1(k), latin1(v)) for k, v in message.get("headers", [])
            ]
            self.capture.headers_ns = now - self.started
        elif kind == "http.response.body":
            if not self.response_started:
                raise RuntimeError("http.response.body sent before http.response.start")
            if self.finished:
                raise RuntimeError("http.response.body sent after the response ended")
            data = bytes(message.get("body", b""))
            if data and not self.over_limit:
                data, fits = add_within(
                    self.capture, data, now - self.started, self.limits.max_bytes
                )
                self.over_limit = not fits
                if data and self.stop_watch is not None and self.stop_watch.feed(data):
                    self.stopped = True
            if not message.get("more_body", False):
                self.finished = True
        else:
            return
        self.last_activity = now
        self.activity.set()
        # Let the driver see this message (and cancel the app) even if the app never blocks.
        await asyncio.sleep(0)


class InProcessTransport(BaseTransport):
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
        full_url = join_url(self.base_url, url)
        parts = urlsplit(full_url)
        capture = request_capture(
            method,
            full_url,
            header_list(headers),
            body,
            label=label,
            target=self.target,
            transport=self.name,
        )
        data, sent_headers = capture.request.body, capture.request.headers
        sent_headers.insert(0, ("host", parts.netloc))
        if data:
            sent_headers.append(("content-length", str(len(data))))
        scheme = parts.scheme or "http"
        try:
            port = parts.port or (443 if scheme == "https" else 80)
            raw_headers = [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in sent_headers
            ]
        except (UnicodeEncodeError, ValueError) as exc:
            capture.ending = Ending("error", unsendable(exc, full_url), 0)
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
        elif ending.state == "stopped":
            await _hang_up(exchange, task)
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
                return over_size(limits, exchange.now_ns())
            if exchange.stopped and not exchange.finished:
                return stopped(limits, exchange.now_ns())
            if exchange.finished:
                return Ending("complete", "", exchange.now_ns())
            if task.done():
                return _app_ending(exchange, task)
            now = time.monotonic_ns()
            read_deadline = exchange.last_activity + int(limits.read_s * 1e9)
            chunks = len(exchange.capture.chunks)
            if now >= total_deadline:
                return over_total(limits, chunks, now - started)
            if now >= read_deadline:
                return over_read(limits, exchange.response_started, chunks, now - started)
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


def _app_ending(exchange: _AsgiExchange, task: asyncio.Task[Any]) -> Ending:
    at = exchange.now_ns()
    if task.cancelled():
        return Ending("error", "the app task was cancelled before the response ended", at)
    exc = task.exception()
    if isinstance(exc, ConnectionRefusedError) and not exchange.response_started:
        return Ending("error", f"cannot connect to the app: connection refused ({exc})", at)
    if isinstance(exc, ConnectionError) and not exchange.response_started:
        # an app that models a dead connection: what a client sees over TCP
        return Ending("reset", f"the app closed the connection without a response: {exc}", at)
    if exc is not None:
        where = "during the response" if exchange.response_started else "before responding"
        return Ending("error", f"the app raised {where}: {type(exc).__name__}: {exc}", at)
    if not exchange.response_started:
        return Ending("error", "the app returned without sending a response", at)
    return Ending("error", "the app returned before the response body ended", at)


async def _hang_up(exchange: _AsgiExchange, task: asyncio.Task[Any]) -> None:
    """The client closed the connection on purpose: the app is told (``http.disconnect``, a
    refused ``send``) and given a moment to unwind as a server would (a ChatKit server saves
    what it had streamed), then cancelled if it is still running."""
    exchange.disconnected.set()
    if not task.done():
        await asyncio.wait({task}, timeout=2.0)
    await _stop_app(exchange, task)


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
