"""Small planted-fault servers for the diagnosis tests.

Each one is an otherwise correct reference backend with exactly one fault added by an ASGI
wrapper, so a test can check that the diagnosis names that fault at the right layer:

* :func:`buffering`: holds the whole response back and sends it in one piece at the end (what a
  buffering proxy or compression middleware does to an event stream);
* :func:`corrupting`: breaks the JSON of one event in every event stream;
* :func:`hanging`: sends the first few chunks of every event stream, then never ends it.

The wrappers only touch ``text/event-stream`` replies unless said otherwise; JSON replies pass
through unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _is_event_stream(start: Message) -> bool:
    for name, value in start.get("headers", []):
        if name.lower() == b"content-type" and value.split(b";")[0].strip() == b"text/event-stream":
            return True
    return False


def _without_length(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in headers if k.lower() != b"content-length"]


def buffering(app: ASGIApp) -> ASGIApp:
    """Every response body is held back until the app has finished it (the head goes at once),
    as a buffering hop such as nginx with ``proxy_buffering on`` does."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        start: Message | None = None
        body: list[bytes] = []

        async def collect(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                await send(message)
            elif message["type"] == "http.response.body":
                body.append(bytes(message.get("body", b"")))

        await app(scope, receive, collect)
        assert start is not None, "the wrapped app sent no response"
        await send({"type": "http.response.body", "body": b"".join(body), "more_body": False})

    return wrapped


def corrupting(
    app: ASGIApp, event_type: bytes = b'"type":"stream_options"', damage: bytes = b"{oops "
) -> ASGIApp:
    """In each event stream, the first frame whose data holds ``event_type`` gets broken JSON.

    ``damage`` is inserted right after ``data: `` so the frame still frames correctly but its
    data no longer parses as JSON.
    """

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        streaming = False
        done = False

        async def corrupt(message: Message) -> None:
            nonlocal streaming, done
            if message["type"] == "http.response.start":
                streaming = _is_event_stream(message)
                if streaming:
                    message = dict(message)
                    message["headers"] = _without_length(list(message.get("headers", [])))
            elif message["type"] == "http.response.body" and streaming and not done:
                chunk = bytes(message.get("body", b""))
                at = chunk.find(event_type)
                if at >= 0:
                    frame_start = chunk.rfind(b"data: ", 0, at)
                    assert frame_start >= 0, "the event's data line is not in this chunk"
                    cut = frame_start + len(b"data: ")
                    message = dict(message)
                    message["body"] = chunk[:cut] + damage + chunk[cut:]
                    done = True
            await send(message)

        await app(scope, receive, corrupt)

    return wrapped


def hanging(app: ASGIApp, chunks: int = 3) -> ASGIApp:
    """Each event stream sends its first ``chunks`` body messages, then hangs forever."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        streaming = False
        sent = 0

        async def stall(message: Message) -> None:
            nonlocal streaming, sent
            if message["type"] == "http.response.start":
                streaming = _is_event_stream(message)
            elif message["type"] == "http.response.body" and streaming:
                if sent >= chunks:
                    await asyncio.Event().wait()  # never set: the stream never ends
                sent += 1
            await send(message)

        await app(scope, receive, stall)

    return wrapped


def json_everywhere(reply: bytes = b'{"data": [], "has_more": false, "after": null}') -> ASGIApp:
    """A server that answers every request, streaming types included, with the same JSON."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = bool(message.get("more_body", False))
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(reply)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": reply, "more_body": False})

    return app
