"""Faulty built-ins: the reference backend with one real bug each.

* ``faulty:<scenario>``, one per conformance scenario, built from the :class:`~chatkit_lab.
  scenarios.Fault` the scenario declares (:func:`faulty_app`): a store that skips or changes
  one kind of write (:class:`FaultyStore`), a stream rewriter that changes the events the way a
  hand-written backend gets them wrong (:func:`rewrite_stream_events`), or the route the SDK's
  docs show. Each breaks its own scenario only; the plain message lifecycle and every other
  scenario still pass.
* more planted faults (:data:`MORE_FAULTS`), one cross-request rule each (a stream and a later
  reload, a stop and the next message, a tool answer and the next continuation), so that the
  kit's scenario checks can be tested against a backend that really has them. Where the SDK
  would otherwise save what a rewritten stream no longer says, the store saves what the stream
  says (``Fault.saved_as_streamed``), so that the stream and the store tell one story, as in a
  backend written that way; ``crash-on-deleted`` is a process that stops answering.
* ``faulty:create-500`` and ``faulty:create-json`` (:data:`FAILURES`): sends that fail after the
  store has saved the user message (:func:`failing_reference_app`).

Store faults wrap the reference's own store *under* its recorder, so
``app.state.store.rows()`` still shows every call the server made, including the ones the
faulty store then ignored. Stream faults wrap the app in a small ASGI layer that rewrites the
``data:`` events of ``text/event-stream`` replies (JSON replies pass through untouched).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

from chatkit.store import NotFoundError, Store
from chatkit.types import Page, ThreadItem, ThreadMetadata
from fastapi.responses import StreamingResponse
from pydantic import TypeAdapter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatkit_lab.scenarios import Fault, scenarios
from chatkit_lab.scenarios.client_tool import RESULT

from .reference import reference_app
from .tools import CLIENT_TOOL_NAME
from .wrappers import Call, StoreWrapper

__all__ = [
    "FAILURES",
    "MORE_FAULTS",
    "AsyncDriverStore",
    "CrashOnDeletedStore",
    "FaultyStore",
    "crash_on_deleted_app",
    "fail_sends",
    "failing_reference_app",
    "faults",
    "faulty_app",
    "rewrite_stream_events",
]

T = TypeVar("T")
EventRewrite = Callable[[dict[str, Any]], Any]
"""A JSON object in; a JSON object (or a list of them) out."""

MAX_PENDING_FRAME = 1 << 20
"""Bytes of an unfinished SSE frame the rewriter holds; past this they pass through as they are."""
MAX_BODY = 1 << 20
"""Bytes of a request body :func:`fail_sends` reads before giving up on it."""

_ITEM = TypeAdapter[ThreadItem](ThreadItem)
STREAMED_AS = {"add_thread_item": "thread.item.done", "save_item": "thread.item.replaced"}
"""The stream event that carries what each store write saves (see ``Fault.saved_as_streamed``)."""


# -- the store -------------------------------------------------------------------------------


class FaultyStore(StoreWrapper):
    """The store half of a declared :class:`~chatkit_lab.scenarios.Fault`: the calls it
    ``skips`` do nothing, and each ``add_thread_item``/``save_item`` writes what its ``writes``
    rule says (the item, a changed item, several, or none)."""

    def __init__(self, inner: Store[Any], fault: Fault) -> None:
        super().__init__(inner)
        self.fault = fault

    async def _forward(self, call: Call, run: Callable[[], Awaitable[T]]) -> T:
        if call.method in self.fault.skips:
            return None  # type: ignore[return-value]
        return await run()

    def _written(self, method: str, item: ThreadItem) -> list[ThreadItem]:
        fault = self.fault
        given = item.model_dump(mode="json")
        out = [given]
        if fault.writes is not None:
            out = fault.writes(method, given)
        if fault.events is not None and fault.saved_as_streamed:
            event = {"type": STREAMED_AS[method], "item": given}
            streamed = fault.events(event)
            out = [e.get("item") for e in (streamed if isinstance(streamed, list) else [streamed])]
            out = [found for found in out if isinstance(found, dict)]
        return [item if written is given else _ITEM.validate_python(written) for written in out]

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: Any) -> None:
        for written in self._written("add_thread_item", item):
            await super().add_thread_item(thread_id, written, context)

    async def save_item(self, thread_id: str, item: ThreadItem, context: Any) -> None:
        for written in self._written("save_item", item):
            await super().save_item(thread_id, written, context)


class _DanglingCallNote(logging.Filter):
    """Drops the SDK's one log line the client-tool fault makes on purpose ("Client tool call
    ... was not completed, ignoring"), so it does not reach the terminal of a kit run; the
    scenario reports what it means. Every other ``chatkit`` log record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "was not completed, ignoring" not in record.getMessage()


logging.getLogger("chatkit").addFilter(_DanglingCallNote())


class AsyncDriverStore(StoreWrapper):
    """A correct store whose calls wait on the event loop before they reach the database, as
    an async driver's do (asyncpg, SQLAlchemy's asyncio engine, motor, redis.asyncio): a call
    cancelled while it waits never lands.

    Not a fault: it is the store the ``documented`` route runs on, so that its fault shows on
    every stop. The reference's SQLite store runs each call in a worker thread; a cancelled call
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


def _with_store_fault(app: Any, fault: Callable[[Store[Any]], StoreWrapper]) -> Any:
    """Put ``fault`` between the reference's recorder and its store."""
    recording = app.state.store
    recording.inner = fault(recording.inner)
    return app


# -- the stream ------------------------------------------------------------------------------


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


# -- a declared fault ------------------------------------------------------------------------


def build_fault(
    fault: Fault, wrap: Callable[[Store[Any]], StoreWrapper] | None = None, **options: Any
) -> Any:
    """The reference backend (``options`` go to :func:`reference_app`) with ``fault``, and the
    store wrapper ``wrap`` under its recorder when given."""
    if fault.route == "documented":
        options["stream_response"] = StreamingResponse
        wrap = wrap or AsyncDriverStore
    app = reference_app(**options)
    if fault.skips or fault.writes is not None or fault.saved_as_streamed:
        _with_store_fault(app, lambda inner: FaultyStore(inner, fault))
    if wrap is not None:
        _with_store_fault(app, wrap)
    return rewrite_stream_events(app, fault.events) if fault.events is not None else app


def faulty_app(name: str, **options: Any) -> Any:
    """The faulty built-in ``faulty:<name>``: the variant scenario ``name`` declares, or one of
    :data:`MORE_FAULTS`, built with :func:`reference_app`'s ``options``."""
    if name in MORE_FAULTS:
        return MORE_FAULTS[name][1](**options)
    declared = scenarios().get(name)
    if declared is None or declared.faulty is None:
        known = [*(n for n, s in scenarios().items() if s.faulty), *MORE_FAULTS]
        raise ValueError(f"no faulty variant for {name!r}: use one of {', '.join(known)}")
    return build_fault(declared.faulty, **options)


def faults() -> dict[str, Callable[..., Any]]:
    """Scenario name: a function building its faulty app from :func:`reference_app`'s options
    (every registered scenario that declares one)."""
    return {
        name: partial(faulty_app, name)
        for name, scenario in scenarios().items()
        if scenario.faulty is not None
    }


# -- more planted faults, one cross-request rule each ----------------------------------------

TOOL_RESULT_WORDS = RESULT["text"]
"""What the kit's stand-in for onClientTool answers; the reference's continuation quotes it."""
COPY = "_refreshed"


def _typed(payload: dict[str, Any], event: str, item_type: str) -> dict[str, Any] | None:
    """The item of ``payload`` when it is an ``event`` of an item of ``item_type``."""
    item = payload.get("item")
    if payload.get("type") == event and isinstance(item, dict) and item.get("type") == item_type:
        return item
    return None


def widget_update_in_place(payload: dict[str, Any]) -> dict[str, Any]:
    """``faulty:widget-unsaved``: ``thread.item.replaced`` of a widget becomes a
    ``widget.root.updated`` of the same item.

    The bug: the action handler sends the refreshed card as ``thread.item.updated`` with
    ``widget.root.updated``, which the SDK streams and does not save, and never saves the new
    card itself. What the user sees: the card changes, and a reload brings back the card as it
    was before the button was pressed.
    """
    item = _typed(payload, "thread.item.replaced", "widget")
    if item is None:
        return payload
    update = {"type": "widget.root.updated", "widget": item.get("widget")}
    return {"type": "thread.item.updated", "item_id": item.get("id"), "update": update}


def widget_replaced_with_new_id(payload: dict[str, Any]) -> dict[str, Any]:
    """``faulty:widget-new-id``: the replaced widget carries a new id.

    The bug: the action handler builds the refreshed card as a new ``WidgetItem`` with a fresh
    id and yields ``ThreadItemReplacedEvent`` with it; the store upserts by id, so the old card
    stays and the new one is added. What the user sees: the card changes in place (the client
    adds the unknown id), and after a reload there are two cards.
    """
    item = _typed(payload, "thread.item.replaced", "widget")
    if item is None:
        return payload
    return {**payload, "item": {**item, "id": f"{item.get('id')}{COPY}"}}


def _asked_again(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "client_tool_call",
        "id": f"{item.get('id')}_call",
        "thread_id": item.get("thread_id"),
        "created_at": item.get("created_at"),
        "status": "pending",
        "call_id": f"{item.get('id')}_call",
        "name": CLIENT_TOOL_NAME,
        "arguments": {},
    }


def _quotes_the_tool(item: dict[str, Any] | None) -> bool:
    return item is not None and TOOL_RESULT_WORDS in json.dumps(item.get("content"))


def tool_asked_again(payload: dict[str, Any]) -> Any:
    """``faulty:client-tool-loop``: the continuation quoting the tool's output
    ends with the same client tool call again.

    The bug: the model never sees the tool's output (the backend leaves the completed call out
    of the model's input), so it asks for the same tool again, for ever. What the user sees: the
    page runs the tool again and again and no answer ever comes.
    """
    item = _typed(payload, "thread.item.done", "assistant_message")
    if item is None or not _quotes_the_tool(item):
        return payload
    return [payload, {**payload, "item": _asked_again(item)}]


def _no_tasks(item: dict[str, Any]) -> dict[str, Any]:
    workflow = item.get("workflow")
    if isinstance(workflow, dict):
        return {**item, "workflow": {**workflow, "tasks": []}}
    return item


def workflow_done_without_tasks(payload: dict[str, Any]) -> dict[str, Any]:
    """``faulty:workflow-drops-tasks``: the workflow is finished with a fresh
    ``Workflow`` and no tasks.

    The bug: the handler builds the done item from a new ``Workflow(...)`` instead of the one it
    streamed. What the user sees: the tasks they watched appear vanish when it finishes.
    """
    item = _typed(payload, "thread.item.done", "workflow")
    return payload if item is None else {**payload, "item": _no_tasks(item)}


def workflow_never_done(payload: dict[str, Any]) -> dict[str, Any]:
    """``faulty:workflow-unfinished``: the workflow's ``thread.item.done`` is never sent (a
    progress line goes out in its place).

    The bug: the handler forgets ``end_workflow`` when the last task finishes. What the user
    sees: the workflow spins for ever while the reply below it is done.
    """
    if _typed(payload, "thread.item.done", "workflow") is None:
        return payload
    return {"type": "progress_update", "text": "All steps done."}


class EndlessHistoryStore(StoreWrapper):
    """``faulty:history-endless``: every ``threads.list`` page says ``has_more: true``.

    The bug: ``load_threads`` sets ``has_more=True`` whenever it returned anything, or always (a
    cursor API copied without its end test). What the user sees: the history's infinite scroll
    asks for the next page forever, a spinner at the bottom of the list.
    """

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: Any
    ) -> Page[ThreadMetadata]:
        page = await super().load_threads(limit, after, order, context)
        last = page.data[-1].id if page.data else after
        return Page(data=page.data, has_more=True, after=last)


class LockingStore(StoreWrapper):
    """``faulty:cancel-locks``: a stop leaves the thread locked.

    The bug: the backend marks a thread busy while it answers and clears the mark only when a
    reply ends normally; a stop cancels the reply before that. What the user sees: after pressing
    stop, every message in that thread fails ("a reply is already in progress").
    """

    def __init__(self, inner: Store[Any]) -> None:
        super().__init__(inner)
        self.locked: set[str] = set()

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: Any) -> None:
        kind = getattr(item, "type", None)
        if kind == "user_message" and thread_id in self.locked:
            raise RuntimeError("a reply is already in progress in this thread")
        await super().add_thread_item(thread_id, item, context)
        if kind == "sdk_hidden_context":  # the SDK's note that the user stopped the reply
            self.locked.add(thread_id)


class TwiceSavedPartialStore(StoreWrapper):
    """``faulty:cancel-twice``: a stopped reply is saved twice.

    The bug: a custom ``handle_stream_cancelled`` saves the partial reply itself under a new id
    and then calls ``super()``, which saves it again. What the user sees: after a stop and a
    reload, the partial reply is there twice.
    """

    def __init__(self, inner: Store[Any]) -> None:
        super().__init__(inner)
        self.last_reply: dict[str, Any] = {}

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: Any) -> None:
        if getattr(item, "type", None) == "sdk_hidden_context" and thread_id in self.last_reply:
            partial = self.last_reply.pop(thread_id)
            copy = partial.model_copy(update={"id": f"{partial.id}_saved"})
            await super().add_thread_item(thread_id, copy, context)
        elif getattr(item, "type", None) == "assistant_message":
            self.last_reply[thread_id] = item
        await super().add_thread_item(thread_id, item, context)


# -- a process that stops answering ----------------------------------------------------------


class Crashed:
    """Whether the process has ended (shared by the store and the ASGI boundary)."""

    def __init__(self) -> None:
        self.reason: str | None = None


class CrashOnDeletedStore(StoreWrapper):
    """Remembers the threads it deleted; a later load of one of them ends the process."""

    def __init__(self, inner: Store[Any], crashed: Crashed) -> None:
        super().__init__(inner)
        self.crashed = crashed
        self.deleted: set[str] = set()

    async def delete_thread(self, thread_id: str, context: Any) -> None:
        await super().delete_thread(thread_id, context)
        self.deleted.add(thread_id)

    async def load_thread(self, thread_id: str, context: Any) -> ThreadMetadata:
        try:
            return await super().load_thread(thread_id, context)
        except NotFoundError as exc:
            if thread_id in self.deleted:
                self.crashed.reason = f"unhandled NotFoundError: {exc}"
                raise ConnectionResetError(
                    f"the backend process exited ({self.crashed.reason})"
                ) from exc
            raise


def crash_on_deleted_app(**options: Any) -> Any:
    """``faulty:crash-on-deleted``: the reference backend whose process ends on the first load
    of a thread it deleted.

    The bug, as it is written in real backends: the route awaits ``server.process`` with
    nothing around it, the store raises ``NotFoundError`` for a thread that is gone, and the
    process runs under a server that exits on an unhandled error (a worker with no supervisor,
    an ``os._exit`` in an error hook, a Node-style ``process.on("unhandledRejection")``). The
    first load of a deleted thread ends the process: that request gets its connection closed
    without a response, and every later request is refused.

    In process there is no socket to close, so the crash is played at the ASGI boundary: the
    request that crashed it raises :class:`ConnectionResetError` before a response head (the
    in-process transport records the connection closed without a response, as a client sees it
    over TCP), and every later request raises :class:`ConnectionRefusedError` (recorded as a
    refused connection). Nothing before the crash differs from the reference backend, so every
    scenario up to it passes.
    """
    crashed = Crashed()
    app = _with_store_fault(
        reference_app(**options), lambda inner: CrashOnDeletedStore(inner, crashed)
    )

    async def process(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and crashed.reason is not None:
            raise ConnectionRefusedError("connection refused: the backend process is gone")

        async def guarded(message: Message) -> None:
            if crashed.reason is not None:  # the process died mid-request: nothing is sent
                raise ConnectionResetError(f"the backend process exited ({crashed.reason})")
            await send(message)

        await app(scope, receive, guarded)

    process.state = app.state  # type: ignore[attr-defined]  # the target reads its store here
    return process


def _planted(
    events: EventRewrite | None = None,
    wrap: Callable[[Store[Any]], StoreWrapper] | None = None,
    *,
    saved: bool = False,
) -> Callable[..., Any]:
    fault = Fault("", events=events, saved_as_streamed=saved)
    return lambda **options: build_fault(fault, wrap, **options)


MORE_FAULTS: dict[str, tuple[str, Callable[..., Any]]] = {
    "widget-unsaved": ("widget", _planted(widget_update_in_place, saved=True)),
    "widget-new-id": ("widget", _planted(widget_replaced_with_new_id, saved=True)),
    "history-endless": ("history", _planted(wrap=EndlessHistoryStore)),
    "client-tool-loop": ("client-tool", _planted(tool_asked_again, saved=True)),
    "workflow-drops-tasks": ("workflow", _planted(workflow_done_without_tasks, saved=True)),
    "workflow-unfinished": ("workflow", _planted(workflow_never_done)),
    "cancel-locks": ("cancel", _planted(wrap=LockingStore)),
    "cancel-twice": ("cancel", _planted(wrap=TwiceSavedPartialStore)),
    "crash-on-deleted": ("history", crash_on_deleted_app),
}
"""More planted faults, ``faulty:<name>``: name -> (the scenario it breaks, its app builder)."""


# -- sends that fail after saving ------------------------------------------------------------

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
    """Wrap ``app``: requests of ``request_types`` are processed, then answered with ``body``.

    ChatKit's host script re-sends a streaming request whose open check fails with anything but
    a 4xx (protocol notes): a backend that saves the user's message and then answers
    ``threads.create`` with a 500, or with JSON and status 200, gets the same message up to six
    times, each in a new thread. The real request runs through ``app`` (so the store does what
    it always does), its reply is drained, and ``body`` is sent instead.
    """

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
            if size > MAX_BODY:
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
    if failure not in FAILURES:
        raise ValueError(f"unknown failure {failure!r}: use one of {', '.join(FAILURES)}")
    status, content_type, body = FAILURES[failure]
    inner = reference_app(**options)
    outer = fail_sends(inner, status=status, content_type=content_type, body=body)
    outer.state = inner.state  # type: ignore[attr-defined]  # the store stays reachable
    return outer
