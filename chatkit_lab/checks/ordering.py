"""Ordering: does the stream follow the item lifecycle the ChatKit server SDK follows?

Read from the ordering state machine (:mod:`chatkit_lab.checks._ordering_machine`), run once
per stream in the shared pass:

* on ``threads.create`` the thread comes first (``thread.created`` before any item event);
* the user message is delivered as a finished item (``thread.item.done`` with a
  ``user_message``) for ``threads.create`` and ``threads.add_user_message``;
* per item: ``added`` → ``updated``* → ``done``; nothing but ``replaced``/``removed`` after
  ``done``; no update for an item that was never added; ids are unique;
* assistant content-part updates name a ``content_index`` that exists, or the next one (the SDK
  creates a part on first use, so ``content_part.added`` is optional);
* workflow task updates name a ``task_index`` the workflow has (a new task: the next one);
* every item that was added is done by the end of the stream;
* an ``error`` event is reported.

Optional events are not faults: no ``stream_options``, no ``content_part.added`` or
``content_part.done``, and ``thread.item.done`` without a prior ``added`` are all fine. Only
valid ChatKit events raise ordering findings: foreign and invalid events are the schema layer's.
"""

from __future__ import annotations

from collections.abc import Iterator

from chatkit_lab.capture import Capture
from chatkit_lab.checks._contexts import StreamContext
from chatkit_lab.checks._model import (
    STOPPED,
    Evidence,
    Finding,
    Found,
    Skip,
    check,
    checks_of,
    run_checks,
)
from chatkit_lab.checks._ordering_machine import ItemTrack, OrderingMachine, Violation
from chatkit_lab.client.protocol import SchemaResult
from chatkit_lab.sse import Event

__all__ = ["ItemTrack", "OrderingMachine", "check_ordering"]

_USER_MESSAGE_REQUESTS = frozenset({"threads.create", "threads.add_user_message"})

_LIFECYCLE_FIX = (
    "Give every item one lifecycle: thread.item.added (optional) → thread.item.updated* → "
    "thread.item.done, with a fresh id per item; ChatKitServer from openai-chatkit does this for "
    "you when respond() yields the SDK's events (e.g. via chatkit.agents.stream_agent_response)."
)


def _at_end(stream: StreamContext) -> tuple[int, ...]:
    return (len(stream.events),)


def _found(stream: StreamContext, seen: Violation, message: str, facts: tuple[str, ...]) -> Found:
    """The finding at the event that broke a rule, with the named facts as its evidence."""
    detail = {name: seen.facts[name] for name in facts}
    return Found(message, stream.evidence(seen.event, **detail), at=(seen.event.index,))


@check(
    code="ordering.thread_not_first",
    layer="ordering",
    severity="error",
    description="On threads.create the thread is announced before any item.",
    expectation="thread.created is the first thread or item event of a threads.create stream.",
    fix="Yield ThreadCreatedEvent(thread=...) first, before the user message's thread.item.done "
    "(ChatKitServer does this itself for threads.create).",
)
def thread_not_first(stream: StreamContext) -> Iterator[Found]:
    for seen in stream.ordering.broke("thread_not_first"):
        event, first = seen.event, seen.facts["first_item_event"]
        yield _found(
            stream,
            seen,
            f"thread.created arrives at event #{event.index}, after item event #{first}: the "
            "client has no thread to put that item in yet",
            ("first_item_event",),
        )


@check(
    code="ordering.thread_missing",
    layer="ordering",
    severity="error",
    description="A threads.create stream announces the new thread.",
    expectation="threads.create streams contain a thread.created event with the new Thread.",
    fix='Start the stream with {"type": "thread.created", "thread": {id, created_at, status, '
    "items}}; ChatKitServer does this itself for threads.create.",
)
def thread_missing(stream: StreamContext) -> Iterator[Found]:
    machine = stream.ordering
    if not (machine.valid_events and stream.events) or stream.request_type != "threads.create":
        return
    if machine.thread_created_at is None:
        yield Found(
            "this threads.create stream never sends thread.created: the client never learns the "
            "new thread's id",
            _stream_evidence(stream),
            at=_at_end(stream),
        )


@check(
    code="ordering.user_message_not_done",
    layer="ordering",
    severity="error",
    description="The user's message comes back as a finished item.",
    expectation="threads.create / threads.add_user_message streams contain thread.item.done "
    "with a user_message item (with the server's id), before the reply.",
    fix="Yield ThreadItemDoneEvent(item=UserMessageItem(...)) for the input before responding; "
    "ChatKitServer does this itself.",
)
def user_message_not_done(stream: StreamContext) -> Iterator[Found]:
    machine = stream.ordering
    if not (machine.valid_events and stream.events):
        return
    if stream.request_type in _USER_MESSAGE_REQUESTS and not machine.user_message_seen:
        yield Found(
            f"this {stream.request_type} stream never sends the user's message back as "
            "thread.item.done with a user_message item: the modelled client has no user "
            "message to show and the store never saves it",
            _stream_evidence(stream),
            at=_at_end(stream),
        )


@check(
    code="ordering.update_before_added",
    layer="ordering",
    severity="error",
    description="Updates only target items the client already has.",
    expectation="thread.item.updated names an item that an earlier thread.item.added introduced.",
    fix="Send thread.item.added with the item before its first thread.item.updated. "
    + _LIFECYCLE_FIX,
)
def update_before_added(stream: StreamContext) -> Iterator[Found]:
    for seen in stream.ordering.broke("update_before_added"):
        event, facts = seen.event, seen.facts
        yield _found(
            stream,
            seen,
            f"event #{event.index} updates item {facts['item_id']!r} ({facts['update']}) before "
            "any thread.item.added for it: the client has no such item to update",
            ("item_id", "update"),
        )


@check(
    code="ordering.event_after_done",
    layer="ordering",
    severity="error",
    description="Nothing but replaced/removed follows an item's thread.item.done.",
    expectation="No thread.item.updated for an item after its thread.item.done (or after it "
    "was removed).",
    fix="Send every update before thread.item.done; to change a finished item use "
    "thread.item.replaced. " + _LIFECYCLE_FIX,
)
def event_after_done(stream: StreamContext) -> Iterator[Found]:
    for seen in stream.ordering.broke("event_after_done"):
        event, facts = seen.event, seen.facts
        yield _found(
            stream,
            seen,
            f"event #{event.index} updates item {facts['item_id']!r} ({facts['update']}) after "
            f"its thread.item.{facts['phase']} at event #{facts['finished_at']}",
            ("item_id", "update", "finished_at"),
        )


@check(
    code="ordering.replaced_unknown_item",
    layer="ordering",
    severity="error",
    description="thread.item.replaced targets an item the thread already has.",
    expectation="The item of a thread.item.replaced has the id of an item the thread holds (one "
    "streamed or loaded earlier in the session, or added earlier in this stream). Judged only "
    "where the kit knows the thread's earlier items (the scenarios).",
    fix="Replace the item the action targets: yield ThreadItemReplacedEvent(item=...) with that "
    "item's id (the action's item_id, sender.id), and save it under the same id, so the store "
    "holds one item, not the old and a new one. " + _LIFECYCLE_FIX,
)
def replaced_unknown_item(stream: StreamContext) -> Iterator[Found]:
    for seen in stream.ordering.broke("replaced_unknown_item"):
        event, facts = seen.event, seen.facts
        yield _found(
            stream,
            seen,
            f"event #{event.index} replaces {facts['item_type'] or 'item'} {facts['item_id']!r}, "
            "an id the thread never had: the client gets a new item instead of the changed one "
            "(after a reload the store may show the old and the new side by side)",
            ("item_id",),
        )


@check(
    code="ordering.duplicate_item_id",
    layer="ordering",
    severity="error",
    description="Every item id is used for one item only.",
    expectation="No second thread.item.added/done for an id that is already added or done; the "
    "client keys items by id, so a repeated id overwrites the earlier item.",
    fix='Generate a fresh id per item (e.g. store.generate_item_id("message", thread, context)); '
    "never reuse the user message's id for the reply. " + _LIFECYCLE_FIX,
)
def duplicate_item_id(stream: StreamContext) -> Iterator[Found]:
    for seen in stream.ordering.broke("duplicate_item_id"):
        event, facts = seen.event, seen.facts
        was = facts["earlier_type"] or "item"
        now = facts["later_type"] or "item"
        what = (
            f"an {now} reuses the id of the {was} from event #{facts['first_event']}"
            if now != was
            else f"a second {facts['kind']} for {was} {facts['item_id']!r} (first seen at event "
            f"#{facts['first_event']}, already {facts['phase']})"
        )
        yield _found(
            stream,
            seen,
            f"event #{event.index}: duplicate item id {facts['item_id']!r}: {what}; the client "
            "keys items by id, so the later one overwrites the earlier",
            ("item_id", "first_event", "earlier_type", "later_type"),
        )


@check(
    code="ordering.content_index",
    layer="ordering",
    severity="error",
    description="Assistant content-part updates refer to a part that exists (or the next one).",
    expectation="content_index of text_delta / content_part.added / content_part.done / "
    "annotation_added is between 0 and the number of parts so far (counting from 0).",
    fix="Count content parts from 0 per assistant message and keep using the same index for a "
    "part's deltas (content_index is the part's position in item.content, not an output index).",
)
def content_index(stream: StreamContext) -> Iterator[Found]:
    for seen in stream.ordering.broke("content_index"):
        event, facts = seen.event, seen.facts
        parts = facts["parts"]
        existing = "no parts yet" if parts == 0 else f"parts 0..{parts - 1} so far"
        yield _found(
            stream,
            seen,
            f"event #{event.index}: {facts['update']} for content_index "
            f"{facts['content_index']} of {facts['item_id']!r}, which has {existing} "
            f"(expected 0..{parts})",
            ("item_id", "content_index", "parts"),
        )


@check(
    code="ordering.task_index",
    layer="ordering",
    severity="error",
    description="Workflow task updates name a task the workflow has (a new task: the next one).",
    expectation="task_index of workflow.task.updated is a task the workflow has so far (0 to "
    "tasks - 1); of workflow.task.added, at most the number of tasks so far (counting from 0, "
    "the task's position in workflow.tasks).",
    fix="Count a workflow's tasks from 0, not from 1 as the user reads them: pass "
    "AgentContext.update_workflow_task the task's position in workflow.tasks.",
)
def task_index(stream: StreamContext) -> Iterator[Found]:
    if not any(track.type == "workflow" for track in stream.ordering.items.values()):
        return
    tasks: dict[str, int] = {}  # tasks so far per workflow streamed here (not one loaded)
    for event, result in zip(stream.events, stream.results, strict=True):
        payload = event.payload
        if not result.ok or not isinstance(payload, dict):
            continue
        item = payload.get("item")
        if isinstance(item, dict) and item.get("type") == "workflow":
            tasks[str(item.get("id"))] = len(item.get("workflow", {}).get("tasks", []))
            continue
        update = payload.get("update")
        kind = update.get("type") if isinstance(update, dict) else None
        count = tasks.get(str(payload.get("item_id")))
        if kind not in ("workflow.task.added", "workflow.task.updated") or count is None:
            continue
        index = update.get("task_index")
        added = kind == "workflow.task.added"
        tasks[str(payload.get("item_id"))] = count + added
        if isinstance(index, int) and 0 <= index < count + added:
            continue
        has = "no tasks yet" if count == 0 else f"{count} task{'s' if count > 1 else ''}"
        valid = f"0..{count - 1 + added}" if count + added else "none before a task is added"
        yield Found(
            f"event #{event.index}: {kind} for task_index {index} of workflow "
            f"{payload.get('item_id')!r}, which has {has} (valid task_index: {valid}): the "
            "client has no such task, so the update is lost",
            stream.evidence(event, item_id=payload.get("item_id"), task_index=index, tasks=count),
            at=(event.index,),
        )


@check(
    code="ordering.update_wrong_item",
    layer="ordering",
    severity="error",
    description="Updates match the item they target.",
    expectation="assistant_message.* updates target assistant_message items; widget.* target "
    "widgets; workflow.* target workflows.",
    fix="Send each update kind to an item of the matching type.",
)
def update_wrong_item(stream: StreamContext) -> Iterator[Found]:
    for seen in stream.ordering.broke("update_wrong_item"):
        event, facts = seen.event, seen.facts
        yield _found(
            stream,
            seen,
            f"event #{event.index} sends a {facts['update']} update to {facts['item_type']} "
            f"{facts['item_id']!r}; it applies to {facts['expected']} items",
            ("item_id", "update", "item_type"),
        )


@check(
    code="ordering.unfinished_item",
    layer="ordering",
    severity="error",
    description="Every item the stream started is finished before the stream ends.",
    expectation="Each thread.item.added is followed by a thread.item.done (or removed/replaced) "
    "for the same id; otherwise the client keeps showing it as in progress and the store never "
    "saves it.",
    fix="Always finish a streamed item with thread.item.done carrying the full item, also on "
    "error paths (try/finally). " + _LIFECYCLE_FIX,
)
def unfinished_item(stream: StreamContext) -> Iterator[Found | Skip]:
    if stream.stopped:
        yield Skip(STOPPED)
        return
    events = stream.events
    where = f"event #{events[-1].index}" if events else "the end"
    for track, started in stream.ordering.unfinished():
        yield Found(
            f"the stream ended ({where}) while {track.type or 'item'} {track.id!r} (started at "
            f"event #{track.first_event}, last touched at #{track.last_event}) was still "
            "streaming: no thread.item.done",
            stream.evidence(
                started,
                item_id=track.id,
                item_type=track.type,
                last_event=track.last_event,
                events=len(events),
            ),
            at=_at_end(stream),
        )


@check(
    code="ordering.error_event",
    layer="ordering",
    severity="warning",
    description="The stream carries no error event.",
    expectation='No {"type": "error"} event: the server finished the turn without failing.',
    fix="Read the server log for the exception behind the error event (ChatKitServer turns "
    "exceptions in respond() into an error event with code stream.error).",
)
def error_event(stream: StreamContext) -> Iterator[Found]:
    for seen in stream.ordering.broke("error_event"):
        event, facts = seen.event, seen.facts
        message = facts["message"]
        yield _found(
            stream,
            seen,
            f"the server sent an error event at #{event.index} (code {facts['code']!r}"
            + (f", message {message!r}" if message else "")
            + f", allow_retry={facts['allow_retry']})",
            ("code", "message", "allow_retry"),
        )


def _stream_evidence(stream: StreamContext) -> Evidence:
    return Evidence(
        capture=stream.name,
        event_index=stream.events[0].index,
        detail={"events": len(stream.events)},
    )


def check_ordering(
    events: list[Event],
    results: list[SchemaResult] | None = None,
    request_type: str | None = None,
    capture: Capture | str | None = None,
) -> list[Finding]:
    """Ordering findings for one stream (``results`` is accepted for compatibility: the stream's
    shared pass validates every event itself)."""
    return run_checks(checks_of(__name__), StreamContext(events, request_type, capture)).findings
