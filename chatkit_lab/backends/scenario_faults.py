"""More planted faults, one cross-request rule each: the reference backend with one bug.

Each ``faulty:<name>`` here breaks one rule that only shows across requests (a stream and a later
reload, a stop and the next message, a tool answer and the next continuation), so the kit's
scenario checks can be tested against a backend that really has it; like the faults of
:mod:`.faulty_scenarios`, each breaks its own scenario only. Stream rewrites and store faults are
paired where the SDK would otherwise save what the rewritten stream no longer says, so that the
stream and the store tell one story, as in a backend written that way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chatkit.store import Store
from chatkit.types import ClientToolCallItem, Page, ThreadItem, ThreadMetadata

from .faulty_scenarios import (
    EventRewrite,
    _store_variant,
    _stream_variant,
    _with_store_fault,
    rewrite_stream_events,
)
from .reference import reference_app
from .wrappers import StoreWrapper

__all__ = ["MORE_FAULTS"]

TOOL_RESULT_WORDS = "hello from the editor"
"""What the kit's stand-in for onClientTool answers; the reference's continuation quotes it."""


def _widget(item: Any) -> bool:
    return getattr(item, "type", None) == "widget"


class UnsavedWidgetStore(StoreWrapper):
    """``faulty:widget-unsaved`` (store half): a changed widget is never saved.

    The bug: the action handler sends the refreshed card as ``thread.item.updated`` with
    ``widget.root.updated``, which the SDK streams and does not save, and never saves the new
    card itself (see :func:`widget_update_in_place`). What the user sees: the card changes, and a
    reload brings back the card as it was before the button was pressed.
    """

    async def save_item(self, thread_id: str, item: ThreadItem, context: Any) -> None:
        if _widget(item):
            return None
        await super().save_item(thread_id, item, context)


def widget_update_in_place(payload: dict[str, Any]) -> dict[str, Any]:
    """``faulty:widget-unsaved`` (stream half): ``thread.item.replaced`` of a widget becomes a
    ``widget.root.updated`` of the same item."""
    item = payload.get("item")
    if payload.get("type") == "thread.item.replaced" and isinstance(item, dict):
        if item.get("type") == "widget":
            update = {"type": "widget.root.updated", "widget": item.get("widget")}
            return {"type": "thread.item.updated", "item_id": item.get("id"), "update": update}
    return payload


COPY = "_refreshed"


class NewIdWidgetStore(StoreWrapper):
    """``faulty:widget-new-id`` (store half): a refreshed card is saved as a new item.

    The bug: the action handler builds the refreshed card as a new ``WidgetItem`` with a fresh id
    and yields ``ThreadItemReplacedEvent`` with it; the store's ``save_item`` upserts by id, so
    the old card stays and the new one is added. What the user sees: the card changes in place
    (the client adds the unknown id), and after a reload there are two cards.
    """

    async def save_item(self, thread_id: str, item: ThreadItem, context: Any) -> None:
        if _widget(item):
            await super().add_thread_item(
                thread_id, item.model_copy(update={"id": f"{item.id}{COPY}"}), context
            )
            return
        await super().save_item(thread_id, item, context)


def widget_replaced_with_new_id(payload: dict[str, Any]) -> dict[str, Any]:
    """``faulty:widget-new-id`` (stream half): the replaced widget carries a new id."""
    item = payload.get("item")
    if payload.get("type") == "thread.item.replaced" and isinstance(item, dict):
        if item.get("type") == "widget":
            return {**payload, "item": {**item, "id": f"{item.get('id')}{COPY}"}}
    return payload


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


class LoopingToolStore(StoreWrapper):
    """``faulty:client-tool-loop`` (store half): the reply to a tool's output is saved as the
    same client tool call again.

    The bug: the model never sees the tool's output (the backend leaves the completed call out
    of the model's input), so it asks for the same tool again, for ever. What the user sees: the
    page runs the tool again and again and no answer ever comes.
    """

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: Any) -> None:
        await super().add_thread_item(thread_id, item, context)
        if getattr(item, "type", None) == "assistant_message" and TOOL_RESULT_WORDS in str(
            getattr(item, "content", "")
        ):
            await super().add_thread_item(thread_id, _again(item), context)


def _again(item: Any) -> ClientToolCallItem:
    from .scenario_steps import CLIENT_TOOL_NAME

    return ClientToolCallItem(
        id=f"{item.id}_call",
        thread_id=item.thread_id,
        created_at=item.created_at,
        status="pending",
        call_id=f"{item.id}_call",
        name=CLIENT_TOOL_NAME,
        arguments={},
    )


def tool_asked_again(payload: dict[str, Any]) -> Any:
    """``faulty:client-tool-loop`` (stream half): the continuation quoting the tool's output
    ends with the same client tool call again."""
    item = payload.get("item")
    if (
        payload.get("type") == "thread.item.done"
        and isinstance(item, dict)
        and item.get("type") == "assistant_message"
        and TOOL_RESULT_WORDS in json.dumps(item.get("content"))
    ):
        from .scenario_steps import CLIENT_TOOL_NAME

        call = {
            "type": "client_tool_call",
            "id": f"{item.get('id')}_call",
            "thread_id": item.get("thread_id"),
            "created_at": item.get("created_at"),
            "status": "pending",
            "call_id": f"{item.get('id')}_call",
            "name": CLIENT_TOOL_NAME,
            "arguments": {},
        }
        return [payload, {**payload, "item": call}]
    return payload


def _no_tasks(item: dict[str, Any]) -> dict[str, Any]:
    workflow = item.get("workflow")
    if isinstance(workflow, dict):
        return {**item, "workflow": {**workflow, "tasks": []}}
    return item


class TasklessWorkflowStore(StoreWrapper):
    """``faulty:workflow-drops-tasks`` (store half): the finished workflow is saved without its
    tasks (see :func:`workflow_done_without_tasks`)."""

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: Any) -> None:
        if getattr(item, "type", None) == "workflow":
            workflow = item.workflow.model_copy(update={"tasks": []})  # type: ignore[attr-defined]
            item = item.model_copy(update={"workflow": workflow})
        await super().add_thread_item(thread_id, item, context)


def workflow_done_without_tasks(payload: dict[str, Any]) -> dict[str, Any]:
    """``faulty:workflow-drops-tasks`` (stream half): the workflow is finished with a fresh
    ``Workflow`` and no tasks.

    The bug: the handler builds the done item from a new ``Workflow(...)`` instead of the one it
    streamed. What the user sees: the tasks they watched appear vanish when it finishes.
    """
    item = payload.get("item")
    if payload.get("type") == "thread.item.done" and isinstance(item, dict):
        if item.get("type") == "workflow":
            return {**payload, "item": _no_tasks(item)}
    return payload


def workflow_never_done(payload: dict[str, Any]) -> dict[str, Any]:
    """``faulty:workflow-unfinished``: the workflow's ``thread.item.done`` is never sent (a
    progress line goes out in its place).

    The bug: the handler forgets ``end_workflow`` when the last task finishes. What the user
    sees: the workflow spins for ever while the reply below it is done.
    """
    item = payload.get("item")
    if payload.get("type") == "thread.item.done" and isinstance(item, dict):
        if item.get("type") == "workflow":
            return {"type": "progress_update", "text": "All steps done."}
    return payload


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


def _crash_on_deleted(**options: Any) -> Any:
    from .crashing import crash_on_deleted_app

    return crash_on_deleted_app(**options)


def _both(fault: Callable[[Store[Any]], StoreWrapper], rewrite: EventRewrite) -> Callable[..., Any]:
    return lambda **options: rewrite_stream_events(
        _with_store_fault(reference_app(**options), fault), rewrite
    )


MORE_FAULTS: dict[str, tuple[str, Callable[..., Any]]] = {
    "widget-unsaved": (
        "widget",
        _both(UnsavedWidgetStore, widget_update_in_place),
    ),
    "widget-new-id": ("widget", _both(NewIdWidgetStore, widget_replaced_with_new_id)),
    "history-endless": ("history", _store_variant(EndlessHistoryStore)),
    "client-tool-loop": ("client-tool", _both(LoopingToolStore, tool_asked_again)),
    "workflow-drops-tasks": (
        "workflow",
        _both(TasklessWorkflowStore, workflow_done_without_tasks),
    ),
    "workflow-unfinished": ("workflow", _stream_variant(workflow_never_done)),
    "cancel-locks": ("cancel", _store_variant(LockingStore)),
    "cancel-twice": ("cancel", _store_variant(TwiceSavedPartialStore)),
    "crash-on-deleted": ("history", lambda **options: _crash_on_deleted(**options)),
}
"""More planted faults, ``faulty:<name>``: name -> (the scenario it breaks, its app builder)."""
