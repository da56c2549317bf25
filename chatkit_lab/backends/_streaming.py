"""Serving a ChatKit stream so that a stop (the client going away) reaches the SDK as a cancel.

The documented route, ``StreamingResponse(result, media_type="text/event-stream")``, iterates
the SDK's stream inside Starlette's response task group. When the client disconnects, Starlette
cancels that group through an anyio cancel scope, and anyio cancellation is *level-triggered*:
every ``await`` inside the scope is cancelled again, including the store writes of
``ChatKitServer.handle_stream_cancelled``. So the partial reply the SDK means to save on a stop
is lost (seen with SQLite and in-memory stores alike, in process and under uvicorn).

:func:`cancellable_stream` runs the SDK's stream in a task of its own, outside that scope, and
cancels it once (asyncio's edge-triggered cancel) when the response ends early: the SDK's
handler then runs its awaits to the end. :class:`ChatKitStreamingResponse` closes the stream
when the response stops for any reason, so the hand-off happens at once rather than whenever
the generator is garbage-collected.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from starlette.requests import ClientDisconnect
from starlette.responses import StreamingResponse

__all__ = [
    "CANCEL_GRACE_S",
    "ChatKitStreamingResponse",
    "cancellable_stream",
    "quiet_sdk_leftovers",
]

CANCEL_GRACE_S = 5.0
"""How long a cancelled stream may take to save what it had (then it is left to itself)."""

_END = object()

_LEFTOVER = ("Task was destroyed but it is pending", "Task exception was never retrieved")
_QUIETED: set[int] = set()


def quiet_sdk_leftovers() -> None:
    """Keep the agents SDK's leftovers after a cancelled turn off this loop's error output.

    When a stop cancels a turn, ``chatkit.agents``' generator merge leaves its helper tasks
    behind (a pending queue reader, a finished ``__anext__`` whose ``StopAsyncIteration`` is
    never read), and asyncio reports them when they are collected. They are the SDK's internals,
    not the backend's behaviour; every other loop error is reported as before. Once per loop.
    """
    loop = asyncio.get_running_loop()
    if id(loop) in _QUIETED:
        return
    _QUIETED.add(id(loop))
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        task = context.get("task") or context.get("future")
        coro = getattr(task, "get_coro", lambda: None)()
        code = getattr(coro, "cr_code", None)
        where = f"{coro!r} {getattr(code, 'co_filename', '')}"
        ours = any(name in where for name in ("agents", "chatkit", "asend", "anext"))
        if str(context.get("message", "")).startswith(_LEFTOVER) and ours:
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


async def cancellable_stream(source: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """Yield ``source``'s chunks, produced in a separate task that is cancelled (once) if the
    consumer stops early, and awaited for at most :data:`CANCEL_GRACE_S`."""
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def produce() -> None:
        try:
            async for chunk in source:
                queue.put_nowait(chunk)
        finally:
            queue.put_nowait(_END)

    task = asyncio.create_task(produce())
    try:
        while (chunk := await queue.get()) is not _END:
            yield chunk
        await task  # the stream's own error, if it raised
    finally:
        if not task.done():
            task.cancel()
            # shielded: the consumer may itself be inside a cancelled scope
            await asyncio.shield(asyncio.wait({task}, timeout=CANCEL_GRACE_S))
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: an error after the client left is not re-raised


class ChatKitStreamingResponse(StreamingResponse):
    """A ``text/event-stream`` response over :func:`cancellable_stream`, closed when it ends."""

    def __init__(self, content: AsyncIterable[bytes], **options: Any) -> None:
        options.setdefault("media_type", "text/event-stream")
        super().__init__(cancellable_stream(content), **options)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        except ClientDisconnect:
            pass  # ASGI 2.4 servers report the client leaving as a failed send
        finally:
            close = getattr(self.body_iterator, "aclose", None)
            if close is not None:
                await asyncio.shield(close())
