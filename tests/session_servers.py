"""Reference backends with one session-level fault each, for the one-story tests.

Each wrapper keeps the reference backend correct except for one thing a user of the kit met on
a backend nobody here wrote:

* :func:`title_case_stream`: every event stream is served as ``Text/Event-Stream``, which
  ChatKit's open check (case-sensitive) refuses;
* :func:`loads_as_stream_options`: every ``threads.get_by_id`` is answered with an event stream
  holding one ``stream_options`` event (no turn, no fetch);
* :func:`progress_and_notice_only`: every send's stream keeps its thread and user message but
  drops the assistant reply, ending with a progress update and an info notice instead;
* :func:`store_crash_on_load`: every ``threads.get_by_id`` is answered 500 with the last line of
  a Python store traceback, while every other request works.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SENDS = ("threads.create", "threads.add_user_message")


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a ``receive`` that hands it to the wrapped app again."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(bytes(message.get("body", b"")))
        if not message.get("more_body"):
            break
    body = b"".join(chunks)
    given = False

    async def again() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, again


def _request_type(body: bytes) -> str | None:
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    kind = payload.get("type") if isinstance(payload, dict) else None
    return kind if isinstance(kind, str) else None


async def _answer(
    send: Send,
    status: int,
    content_type: bytes,
    body: bytes,
    extra: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                *extra,
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _answering_loads(
    app: ASGIApp,
    status: int,
    content_type: bytes,
    body: bytes,
    extra: tuple[tuple[bytes, bytes], ...] = (),
) -> ASGIApp:
    """``app``, except that every ``threads.get_by_id`` gets this fixed reply."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        request, again = await _read_body(receive)
        if _request_type(request) == "threads.get_by_id":
            await _answer(send, status, content_type, body, extra)
            return
        await app(scope, again, send)

    return wrapped


def title_case_stream(app: ASGIApp) -> ASGIApp:
    """Event streams go out as ``Text/Event-Stream``; everything else is untouched."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def relabel(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, b"Text/Event-Stream")
                    if name.lower() == b"content-type" and value.startswith(b"text/event-stream")
                    else (name, value)
                    for name, value in message.get("headers", [])
                ]
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, relabel)

    return wrapped


def loads_as_stream_options(app: ASGIApp) -> ASGIApp:
    """``threads.get_by_id`` gets ``data: {"type":"stream_options",...}`` as an event stream."""
    event = {"type": "stream_options", "stream_options": {"allow_cancel": True}}
    frame = b"data: " + json.dumps(event).encode() + b"\n\n"
    return _answering_loads(app, 200, b"text/event-stream", frame)


def _is_assistant(payload: Any) -> bool:
    if not isinstance(payload, dict):
        return False
    item = payload.get("item")
    if isinstance(item, dict) and item.get("type") == "assistant_message":
        return True
    return payload.get("type") == "thread.item.updated" and str(
        payload.get("item_id", "")
    ).startswith(("msg", "asst"))


def progress_and_notice_only(app: ASGIApp) -> ASGIApp:
    """Sends stream their thread and user message, then a progress update and an info notice."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        body, again = await _read_body(receive)
        if _request_type(body) not in SENDS:
            await app(scope, again, send)
            return
        head: Message = {}
        chunks: list[bytes] = []

        async def collect(message: Message) -> None:
            nonlocal head
            if message["type"] == "http.response.start":
                head = message
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))

        await app(scope, again, collect)
        kept: list[bytes] = []
        for frame in b"".join(chunks).split(b"\n\n"):
            if not frame.strip():
                continue
            data = frame.partition(b"data: ")[2]
            try:
                payload = json.loads(data)
            except ValueError:
                payload = None
            if not _is_assistant(payload):
                kept.append(frame + b"\n\n")
        for extra in (
            {"type": "progress_update", "icon": None, "text": "Thinking"},
            {"type": "notice", "level": "info", "message": "Working on it", "title": None},
        ):
            kept.append(b"data: " + json.dumps(extra).encode() + b"\n\n")
        await _answer(send, int(head.get("status", 200)), b"text/event-stream", b"".join(kept))

    return wrapped


TRACEBACK = (
    b"Traceback (most recent call last):\n"
    b'  File "app/store.py", line 41, in load_thread\n'
    b"    row = self.db.execute(QUERY, (thread_id,)).fetchone()\n"
    b"sqlite3.OperationalError: no such table: threads\n"
)


def store_crash_on_load(app: ASGIApp) -> ASGIApp:
    """``threads.get_by_id`` answers 500 with a Python store traceback; the rest works."""
    return _answering_loads(app, 500, b"text/plain; charset=utf-8", TRACEBACK)


NODE_PAGE = (
    b"TypeError: Cannot read properties of undefined (reading 'items')\n"
    b"    at loadThread (/srv/app/store.js:41:18)\n"
    b"    at Layer.handle [as handle_request] (/srv/node_modules/express/lib/router/"
    b"layer.js:95:5)\n"
)


def node_crash_on_load(app: ASGIApp) -> ASGIApp:
    """``threads.get_by_id`` answers 500 with a Node (Express) error page; the rest works."""
    express = ((b"x-powered-by", b"Express"),)
    return _answering_loads(app, 500, b"text/html; charset=utf-8", NODE_PAGE, express)


def crash_on_load_after_delete(app: ASGIApp) -> ASGIApp:
    """Once a thread was deleted, a load answers 500 with a traceback (the SDK's NotFoundError
    left unhandled) instead of a clean 404."""
    deleted = False

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal deleted
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        body, again = await _read_body(receive)
        kind = _request_type(body)
        if kind == "threads.delete":
            deleted = True
        elif kind == "threads.get_by_id" and deleted:
            crash = b"Traceback (most recent call last):\nchatkit.store.NotFoundError: thread\n"
            await _answer(send, 500, b"text/plain", crash)
            return
        await app(scope, again, send)

    return wrapped
