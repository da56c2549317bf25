"""Faulty backends whose sends fail after the store has saved the user message.

ChatKit's host script re-sends a streaming request whose open check fails with anything but a
4xx (protocol notes): a backend that saves the user's message and then answers
``threads.create`` with a 500, or with JSON and status 200, gets the same message up to six
times, each in a new thread. These wrappers run the real request through the wrapped app (so
the store does what it always does), drain its reply, and answer with something else.
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

_MAX_BODY = 1 << 20

FAILURES: dict[str, tuple[int, str, bytes]] = {
    "create-500": (500, "application/json", b'{"message": "internal error"}'),
    "create-json": (200, "application/json", b'{"ok": true}'),
}
"""Name: (status, content type, body) that replaces the ``threads.create`` reply."""


def fail_sends(
    app: ASGIApp,
    *,
    status: int = 500,
    content_type: str = "application/json",
    body: bytes = b'{"message": "internal error"}',
    request_types: frozenset[str] = frozenset({"threads.create"}),
) -> ASGIApp:
    """Wrap ``app``: requests of ``request_types`` are processed, then answered with ``body``."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            piece = message.get("body", b"")
            size += len(piece)
            if size > _MAX_BODY:
                break
            chunks.append(piece)
            more = message.get("more_body", False)
        request_body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": request_body, "more_body": False}
            return await receive()

        if _request_type(request_body) not in request_types:
            await app(scope, replay, send)
            return

        async def drain(message: Message) -> None:
            return None

        await app(scope, replay, drain)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type.encode("latin-1")),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return wrapped


def _request_type(body: bytes) -> str | None:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    kind = payload.get("type") if isinstance(payload, dict) else None
    return kind if isinstance(kind, str) else None


def failing_reference_app(failure: str, **options: Any) -> Any:
    """The reference backend whose ``threads.create`` fails as ``failure`` names, after saving."""
    from chatkit_lab.backends.reference import reference_app

    if failure not in FAILURES:
        raise ValueError(f"unknown failure {failure!r}: use one of {', '.join(FAILURES)}")
    status, content_type, body = FAILURES[failure]
    inner = reference_app(**options)
    outer = fail_sends(inner, status=status, content_type=content_type, body=body)
    outer.state = inner.state  # type: ignore[attr-defined]  # the store stays reachable
    return outer


__all__ = ["FAILURES", "fail_sends", "failing_reference_app"]
