"""Misbehaving servers for the hostile corpus: scripted ASGI apps and raw sockets on 127.0.0.1.

Every server here stops by itself: loops are bounded by a deadline, raw connection handlers are
cancelled when their server closes, and nothing listens anywhere but the loopback interface.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK = "127.0.0.1"
SAFETY_S = 5.0
"""No server here keeps a connection open longer than this, whatever the client does."""


# -- ChatKit-looking payloads ----------------------------------------------------------------


def sse(payload: Any) -> bytes:
    """One event framed the way the ChatKit server SDK writes it."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return b"data: " + text.encode("utf-8") + b"\n\n"


def user_item(text: str = "Hello") -> dict[str, Any]:
    return {
        "id": "msg_user_1",
        "thread_id": "thr_1",
        "created_at": "2026-02-11T10:00:00.100000",
        "type": "user_message",
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


def assistant_item(text: str) -> dict[str, Any]:
    return {
        "id": "msg_asst_1",
        "thread_id": "thr_1",
        "created_at": "2026-02-11T10:00:00.200000",
        "type": "assistant_message",
        "content": [{"type": "output_text", "text": text, "annotations": []}] if text else [],
    }


def thread(title: str | None = None) -> dict[str, Any]:
    return {
        "id": "thr_1",
        "created_at": "2026-02-11T10:00:00",
        "status": {"type": "active"},
        "title": title,
        "metadata": {},
        "items": {"data": [], "has_more": False, "after": None},
    }


def valid_events(reply: str = "Hi there") -> list[dict[str, Any]]:
    """The events of a correct ``threads.create`` turn, in the reference server's order."""
    half = len(reply) // 2
    return [
        {"type": "thread.created", "thread": thread()},
        {"type": "thread.item.done", "item": user_item()},
        {"type": "thread.item.added", "item": assistant_item("")},
        *(
            {
                "type": "thread.item.updated",
                "item_id": "msg_asst_1",
                "update": {
                    "type": "assistant_message.content_part.text_delta",
                    "content_index": 0,
                    "delta": delta,
                },
            }
            for delta in (reply[:half], reply[half:])
            if delta
        ),
        {"type": "thread.item.done", "item": assistant_item(reply)},
    ]


def valid_stream(reply: str = "Hi there") -> bytes:
    """A correct ``threads.create`` event stream, framed like the SDK does."""
    return b"".join(sse(event) for event in valid_events(reply))


def thread_json() -> bytes:
    """A correct ``threads.get_by_id`` reply body."""
    return json.dumps(thread(), separators=(",", ":")).encode()


# -- scripted ASGI apps ----------------------------------------------------------------------


@dataclass(frozen=True)
class Pause:
    """A pause between body messages of a scripted reply."""

    seconds: float


@dataclass(frozen=True)
class Raise:
    """The app raises at this point of its reply."""

    message: str = "backend exploded"


@dataclass(frozen=True)
class Forever:
    """Repeat ``data`` every ``every_s`` until the client goes away (or ``SAFETY_S`` passes)."""

    data: bytes
    every_s: float = 0.01


Step = bytes | Pause | Raise | Forever


def scripted_app(
    status: int = 200,
    headers: Sequence[tuple[str, str | bytes]] = (("content-type", "text/event-stream"),),
    body: Sequence[Step] = (),
    *,
    finish: bool = True,
) -> AsgiApp:
    """A bare ASGI app that answers every request with exactly this head and these messages.

    Each ``bytes`` step is sent as one ``http.response.body`` message (an empty one included);
    ``finish=False`` returns without sending the final (``more_body=False``) message.
    """
    raw_headers = [
        (name.encode("latin-1"), value if isinstance(value, bytes) else value.encode("latin-1"))
        for name, value in headers
    ]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        await _drain(receive)
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        for step in body:
            if isinstance(step, Pause):
                await asyncio.sleep(step.seconds)
            elif isinstance(step, Raise):
                raise RuntimeError(step.message)
            elif isinstance(step, Forever):
                deadline = time.monotonic() + SAFETY_S
                while time.monotonic() < deadline:
                    await send({"type": "http.response.body", "body": step.data, "more_body": True})
                    await asyncio.sleep(step.every_s)
                return
            else:
                await send({"type": "http.response.body", "body": step, "more_body": True})
        if finish:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


async def _drain(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def failing_startup_app() -> AsgiApp:
    """An app whose lifespan startup fails (its database is down, say)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            await send({"type": "lifespan.startup.failed", "message": "no database"})

    return app


@dataclass
class HeaderRecorder:
    """An ASGI app that records each request's method, headers and body, then answers."""

    reply: AsgiApp
    seen: list[dict[str, Any]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        self.seen.append(
            {
                "method": scope["method"],
                "headers": {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
                "body": body,
            }
        )
        replayed = False

        async def again() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.reply(scope, again, send)


def redirect_app(status: int, location: str) -> AsgiApp:
    """Answers every request with a redirect to ``location``."""
    return scripted_app(
        status,
        [("location", location), ("content-type", "text/plain"), ("content-length", "0")],
    )


# -- raw sockets -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Write:
    data: bytes


@dataclass(frozen=True)
class Wait:
    seconds: float


@dataclass(frozen=True)
class Reset:
    """Abort the connection with a TCP RST (SO_LINGER on, timeout 0)."""


@dataclass(frozen=True)
class Close:
    """Close the connection cleanly (FIN)."""


RawStep = Write | Wait | Reset | Close


def http_head(
    status: int = 200,
    headers: Sequence[tuple[str, str]] = (("content-type", "text/event-stream"),),
    reason: str = "OK",
) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunked(*pieces: bytes) -> bytes:
    """``pieces`` in HTTP/1.1 chunked transfer coding (no terminating zero chunk)."""
    return b"".join(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" for piece in pieces)


@asynccontextmanager
async def raw_server(script: Sequence[RawStep]) -> AsyncIterator[str]:
    """A 127.0.0.1 server that reads a request head, then plays ``script`` on the socket.

    Yields its base URL. A script without a final ``Reset``/``Close`` holds the connection open
    until the client leaves or ``SAFETY_S`` passes; leaving the block cancels every handler.
    """
    handlers: set[asyncio.Task[Any]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            handlers.add(task)
        try:
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), SAFETY_S)
            for step in script:
                if isinstance(step, Write):
                    writer.write(step.data)
                    await writer.drain()
                elif isinstance(step, Wait):
                    await asyncio.sleep(step.seconds)
                elif isinstance(step, Reset):
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                elif isinstance(step, Close):
                    writer.close()
                    return
            await asyncio.sleep(SAFETY_S)
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            writer.transport.abort()

    server = await asyncio.start_server(handle, LOOPBACK, 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://{LOOPBACK}:{port}"
    finally:
        server.close()
        for task in list(handlers):
            task.cancel()
        if handlers:
            await asyncio.wait(handlers, timeout=2.0)
        await server.wait_closed()
