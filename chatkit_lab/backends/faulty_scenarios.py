"""Faulty built-ins, one per conformance scenario: the reference backend with one real bug.

Each ``faulty:<scenario>`` target is :func:`~chatkit_lab.backends.reference.reference_app`
with ONE bug that custom ChatKit backends really have, small enough to read here: a store that
skips one write, a stream rewriter that changes one field the way a hand-written backend gets it
wrong, or the route the SDK's docs show. Each breaks its own scenario only; the plain message
lifecycle and every other scenario still pass. :data:`FAULTS` lists them; :func:`faulty_app`
builds one.

Store faults wrap the reference's own store *under* its recorder, so
``app.state.store.table()`` still shows every call the server made, including the ones the
faulty store then ignored. Stream faults wrap the app in a small ASGI layer that rewrites the
``data:`` events of ``text/event-stream`` replies (JSON replies pass through untouched).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, TypeVar

from chatkit.store import Store
from chatkit.types import ClientToolCallItem, ThreadItem, UserMessageItem
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from .reference import reference_app
from .wrappers import Call, StoreWrapper

__all__ = [
    "FAULTS",
    "AsyncDriverStore",
    "AttachmentDroppingStore",
    "NoItemDeleteStore",
    "NoThreadDeleteStore",
    "UnsavedToolOutputStore",
    "documented_stream_route",
    "faulty_app",
    "rewrite_stream_events",
]

T = TypeVar("T")
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
EventRewrite = Callable[[dict[str, Any]], Any]
"""A JSON object in; a JSON object (or a list of them) out."""

MAX_PENDING_FRAME = 1 << 20
"""Bytes of an unfinished SSE frame the rewriter holds; past this they pass through as they are."""


# -- store faults ----------------------------------------------------------------------------


class NoItemDeleteStore(StoreWrapper):
    """``faulty:retry``: ``delete_thread_item`` does nothing.

    The bug: a custom store written for the calls the first demo made (save and load) and
    never given a delete, or given ``async def delete_thread_item(...): pass`` to satisfy the
    abstract base class. ChatKitServer calls it for ``threads.retry_after_item``, for each item
    after the retried message, and answers as if it worked. What the user sees: Retry streams a
    new answer, and after a reload the old answer is back, next to the new one.
    """

    async def delete_thread_item(self, thread_id: str, item_id: str, context: Any) -> None:
        return None


class NoThreadDeleteStore(StoreWrapper):
    """``faulty:history``: ``delete_thread`` does nothing.

    The bug: the same stub as :class:`NoItemDeleteStore`, for threads (or a delete that marks a
    row nobody reads). ChatKitServer answers ``threads.delete`` with ``{}`` whatever the store
    did. What the user sees: the thread disappears from the history list, then comes back on
    the next refresh, and still opens.
    """

    async def delete_thread(self, thread_id: str, context: Any) -> None:
        return None


class UnsavedToolOutputStore(StoreWrapper):
    """``faulty:client-tool``: ``save_item`` ignores ``client_tool_call`` items.

    The bug: a store whose ``save_item`` writes only the item types it has tables for
    (messages, widgets) and drops the rest, while ``add_thread_item`` keeps everything. The
    pending call is stored when it streams; ``threads.add_client_tool_output`` marks it
    completed and saves it, which is dropped. The SDK then finds the stored call still pending
    and deletes it as dangling (``ChatKitServer._cleanup_pending_client_tool_call``), and runs
    the continuation on a thread without the call or its output: the reply still streams, but
    the model never sees what the tool returned. What the user sees: an answer that ignores the
    tool, and after a reload the tool call is gone.
    """

    async def save_item(self, thread_id: str, item: ThreadItem, context: Any) -> None:
        if isinstance(item, ClientToolCallItem):
            return None
        await self.inner.save_item(thread_id, item, context)


class _DanglingCallNote(logging.Filter):
    """Drops the SDK's one log line the client-tool fault makes on purpose ("Client tool call
    ... was not completed, ignoring"), so it does not reach the terminal of a kit run; the
    scenario reports what it means. Every other ``chatkit`` log record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "was not completed, ignoring" not in record.getMessage()


logging.getLogger("chatkit").addFilter(_DanglingCallNote())


class AttachmentDroppingStore(StoreWrapper):
    """``faulty:attachments``: user messages are saved without their attachments.

    The bug: a messages table with columns for the text (id, thread, role, text, time) and
    none for attachments, so a user message is written as its text alone. The upload works,
    the reply to the message sees the file (the server has the message in memory), and the
    attachment itself stays in the attachment store. What the user sees: after a reload their
    message shows no file.
    """

    @staticmethod
    def _stripped(item: ThreadItem) -> ThreadItem:
        if isinstance(item, UserMessageItem) and item.attachments:
            return item.model_copy(update={"attachments": []})
        return item

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: Any) -> None:
        await self.inner.add_thread_item(thread_id, self._stripped(item), context)

    async def save_item(self, thread_id: str, item: ThreadItem, context: Any) -> None:
        await self.inner.save_item(thread_id, self._stripped(item), context)


class AsyncDriverStore(StoreWrapper):
    """A correct store whose calls wait on the event loop before they reach the database, as
    an async driver's do (asyncpg, SQLAlchemy's asyncio engine, motor, redis.asyncio): a call
    cancelled while it waits never lands.

    Not a fault: it is the store ``faulty:cancel`` runs on, so that its fault shows on every
    stop. The reference's SQLite store runs each call in a worker thread; a cancelled call
    there is dropped only when no worker has started it yet (``run_in_executor``'s future is
    cancelled with it), so under the documented route the partial reply is lost on some stops
    and kept on others, by timing.
    """

    def __init__(self, inner: Store[Any], round_trip_s: float = 0.002) -> None:
        super().__init__(inner)
        self.round_trip_s = round_trip_s

    async def _forward(self, call: Call, run: Callable[[], Awaitable[T]]) -> T:
        await asyncio.sleep(self.round_trip_s)  # the request on its way to the database
        return await run()


def _with_store_fault(app: FastAPI, fault: Callable[[Store[Any]], StoreWrapper]) -> FastAPI:
    """Put ``fault`` between the reference's recorder and its store."""
    recording = app.state.store
    recording.inner = fault(recording.inner)
    return app


# -- the documented route --------------------------------------------------------------------


def documented_stream_route(**options: Any) -> FastAPI:
    """``faulty:cancel``: the reference with its streams served as the SDK's docs show,
    ``StreamingResponse(result, media_type="text/event-stream")``, on a store whose calls
    await the event loop (:class:`AsyncDriverStore`).

    The bug: that route iterates the SDK's stream inside Starlette's response task group. When
    the client goes away (ChatKit's stop button aborts the request) Starlette cancels the group
    through an anyio cancel scope, and anyio cancellation is level-triggered: the SDK's
    ``handle_stream_cancelled`` does run, but every ``await`` in it is cancelled again, so its
    first store write (the partial reply) is cancelled as it starts and the second (the hidden
    "the user cancelled" note) is never made. Backends copy the route from the docs, and it
    works for every request but a stop. What the user sees: they stop a reply, reload, and the
    text they had read is gone. The reference serves streams with ``ChatKitStreamingResponse``
    (``_streaming``), which runs the stream in a task of its own and cancels it once: on the
    same store it keeps the partial reply.
    """
    app = reference_app(stream_response=StreamingResponse, **options)
    return _with_store_fault(app, AsyncDriverStore)


# -- stream faults ---------------------------------------------------------------------------


def rewrite_stream_events(app: Any, rewrite: EventRewrite) -> ASGIApp:
    """Wrap ``app``: every ``data:`` event of its ``text/event-stream`` replies goes through
    ``rewrite`` (a JSON object in, a JSON object out). Other replies, and frames that are not
    one JSON object, pass through unchanged."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        streaming = False
        pending = b""

        async def rewriting_send(message: Message) -> None:
            nonlocal streaming, pending
            kind = message.get("type")
            if kind == "http.response.start":
                streaming = _is_event_stream(message.get("headers", []))
            elif kind == "http.response.body" and streaming:
                *frames, pending = (pending + message.get("body", b"")).split(b"\n\n")
                body = b"".join(_rewrite_frame(frame, rewrite) for frame in frames)
                if not message.get("more_body", False) or len(pending) > MAX_PENDING_FRAME:
                    body, pending = body + pending, b""
                message = {**message, "body": body}
            await send(message)

        await app(scope, receive, rewriting_send)

    wrapped.state = getattr(app, "state", None)  # type: ignore[attr-defined]  # .store etc.
    return wrapped


def _is_event_stream(headers: Any) -> bool:
    return any(
        bytes(key).lower() == b"content-type" and bytes(value).startswith(b"text/event-stream")
        for key, value in headers
    )


def _rewrite_frame(frame: bytes, rewrite: EventRewrite) -> bytes:
    """One complete frame (its separator cut off), rewritten if it is one ``data:`` line
    holding a JSON object; with its separator."""
    prefix = b"data: "
    if frame.startswith(prefix) and b"\n" not in frame:
        try:
            payload = json.loads(frame[len(prefix) :])
        except (ValueError, RecursionError):
            payload = None
        if isinstance(payload, dict):
            out = rewrite(payload)
            if isinstance(out, list):  # one event becomes several
                return b"".join(
                    prefix + json.dumps(p, ensure_ascii=False).encode() + b"\n\n" for p in out
                )
            frame = prefix + json.dumps(out, ensure_ascii=False).encode()
    return frame + b"\n\n"


def off_by_one_task_index(payload: dict[str, Any]) -> dict[str, Any]:
    """``faulty:workflow``: ``workflow.task.updated`` names the task one past the right one.

    The bug: the backend numbers the workflow's steps as it shows them to the user (step 1,
    step 2, ...) and sends that number as ``task_index``, which counts from 0. What the user
    sees: an update lands on the task after the one it is for, or, when that task is the newest
    (a step finishing before the next starts, as here), past the end of the list, so the step
    never shows as done while the workflow runs. The finished workflow item, sent whole at the
    end, is right, and so is the reload: only the live progress is wrong.
    """
    update = payload.get("update")
    if (
        payload.get("type") == "thread.item.updated"
        and isinstance(update, dict)
        and update.get("type") == "workflow.task.updated"
        and isinstance(update.get("task_index"), int)
    ):
        return {**payload, "update": {**update, "task_index": update["task_index"] + 1}}
    return payload


def never_retryable(payload: dict[str, Any]) -> dict[str, Any]:
    """``faulty:errors``: every ``error`` event says ``allow_retry: false``.

    The bug: the backend builds its error events by hand in one ``except`` block,
    ``{"type": "error", "code": "custom", "message": str(exc), "allow_retry": False}``, for
    every failure, instead of raising ``CustomStreamError(message, allow_retry=...)`` with the
    flag the failure needs. What the user sees: a failure that a second try would fix (a
    timeout, a rate limit) shows an error with no Retry button; they have to type the message
    again.
    """
    if payload.get("type") == "error" and payload.get("allow_retry") is not False:
        return {**payload, "allow_retry": False}
    return payload


def hand_written_widget(payload: dict[str, Any]) -> dict[str, Any]:
    """``faulty:widget``: the widget's components are named in lower case (``card``,
    ``text``, ``button``).

    The bug: the widget JSON is written by hand (or by a model) instead of built from
    ``chatkit.widgets``, with HTML-like type names; the SDK's widget types are case-sensitive
    (``Card``, ``Text``, ``Button``), so the root is no widget at all. What the user sees: no
    card, and no refresh button (no ChatKit widget type is named ``card``). Only the stream is
    rewritten: the store (and the sync action's reply) still hold the SDK's widget, so the
    fault shows where it is made.
    """
    item = payload.get("item")
    if isinstance(item, dict) and item.get("type") == "widget" and "widget" in item:
        return {**payload, "item": {**item, "widget": _lower_types(item["widget"])}}
    update = payload.get("update")
    if isinstance(update, dict) and update.get("type") == "widget.root.updated":
        return {**payload, "update": {**update, "widget": _lower_types(update.get("widget"))}}
    return payload


def _lower_types(node: Any, depth: int = 0) -> Any:
    if depth > 64:
        return node
    if isinstance(node, list):
        return [_lower_types(child, depth + 1) for child in node]
    if not isinstance(node, dict):
        return node
    out = {key: _lower_types(value, depth + 1) for key, value in node.items()}
    if isinstance(out.get("type"), str):
        out["type"] = out["type"].lower()
    return out


# -- the variants ----------------------------------------------------------------------------


def _store_variant(fault: Callable[[Store[Any]], StoreWrapper]) -> Callable[..., Any]:
    return lambda **options: _with_store_fault(reference_app(**options), fault)


def _stream_variant(rewrite: EventRewrite) -> Callable[..., Any]:
    return lambda **options: rewrite_stream_events(reference_app(**options), rewrite)


FAULTS: dict[str, Callable[..., Any]] = {
    "cancel": documented_stream_route,
    "retry": _store_variant(NoItemDeleteStore),
    "client-tool": _store_variant(UnsavedToolOutputStore),
    "widget": _stream_variant(hand_written_widget),
    "workflow": _stream_variant(off_by_one_task_index),
    "attachments": _store_variant(AttachmentDroppingStore),
    "history": _store_variant(NoThreadDeleteStore),
    "errors": _stream_variant(never_retryable),
}
"""Scenario name: a function building its faulty app from :func:`reference_app`'s options."""


def faulty_app(scenario: str, **options: Any) -> Any:
    """The reference backend with the bug that breaks ``scenario`` (a key of :data:`FAULTS`, or
    of :data:`MORE_FAULTS`)."""
    from .scenario_faults import MORE_FAULTS

    if scenario in MORE_FAULTS:
        return MORE_FAULTS[scenario][1](**options)
    make = FAULTS.get(scenario)
    if make is None:
        raise ValueError(f"no faulty variant for {scenario!r}: use one of {', '.join(FAULTS)}")
    return make(**options)
