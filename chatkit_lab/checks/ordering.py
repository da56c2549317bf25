"""Ordering: does the stream follow the item lifecycle the ChatKit server SDK follows?

A state machine over the stream's ChatKit events:

* on ``threads.create`` the thread comes first (``thread.created`` before any item event);
* the user message is delivered as a finished item (``thread.item.done`` with a
  ``user_message``) for ``threads.create`` and ``threads.add_user_message``;
* per item: ``added`` → ``updated``* → ``done``; nothing but ``replaced``/``removed`` after
  ``done``; no update for an item that was never added; ids are unique;
* assistant content-part updates name a ``content_index`` that exists, or the next one (the SDK
  creates a part on first use, so ``content_part.added`` is optional);
* every item that was added is done by the end of the stream;
* an ``error`` event is reported.

Optional events are not faults: no ``stream_options``, no ``content_part.added`` or
``content_part.done``, and ``thread.item.done`` without a prior ``added`` are all fine.

Only valid ChatKit events raise ordering findings: foreign and invalid events are reported by the
schema layer. Events that carry a ChatKit name but invalid fields still move the state machine
(their item id and type are read leniently), so one bad field is reported once, by schema, and
not again as a missing ``done`` or a missing user message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chatkit_lab.capture._model import Capture
from chatkit_lab.checks._model import Evidence, Finding, finding, register_check
from chatkit_lab.checks.schema import SchemaResult, excerpt, validate_event
from chatkit_lab.sse._events import Event

__all__ = ["ItemTrack", "OrderingMachine", "check_ordering"]

_ITEM_EVENTS = frozenset(
    {
        "thread.item.added",
        "thread.item.updated",
        "thread.item.done",
        "thread.item.removed",
        "thread.item.replaced",
    }
)
_USER_MESSAGE_REQUESTS = frozenset({"threads.create", "threads.add_user_message"})

_LIFECYCLE_FIX = (
    "Give every item one lifecycle: thread.item.added (optional) → thread.item.updated* → "
    "thread.item.done, with a fresh id per item; ChatKitServer from openai-chatkit does this for "
    "you when respond() yields the SDK's events (e.g. via chatkit.agents.stream_agent_response)."
)

register_check(
    "ordering.thread_not_first",
    "ordering",
    "On threads.create the thread is announced before any item.",
    "thread.created is the first thread or item event of a threads.create stream.",
    "Yield ThreadCreatedEvent(thread=...) first, before the user message's thread.item.done "
    "(ChatKitServer does this itself for threads.create).",
)
register_check(
    "ordering.thread_missing",
    "ordering",
    "A threads.create stream announces the new thread.",
    "threads.create streams contain a thread.created event with the new Thread.",
    'Start the stream with {"type": "thread.created", "thread": {id, created_at, status, '
    "items}}; ChatKitServer does this itself for threads.create.",
)
register_check(
    "ordering.user_message_not_done",
    "ordering",
    "The user's message comes back as a finished item.",
    "threads.create / threads.add_user_message streams contain thread.item.done with a "
    "user_message item (with the server's id), before the reply.",
    "Yield ThreadItemDoneEvent(item=UserMessageItem(...)) for the input before responding; "
    "ChatKitServer does this itself.",
)
register_check(
    "ordering.update_before_added",
    "ordering",
    "Updates only target items the client already has.",
    "thread.item.updated names an item that an earlier thread.item.added introduced.",
    "Send thread.item.added with the item before its first thread.item.updated. " + _LIFECYCLE_FIX,
)
register_check(
    "ordering.event_after_done",
    "ordering",
    "Nothing but replaced/removed follows an item's thread.item.done.",
    "No thread.item.updated for an item after its thread.item.done (or after it was removed).",
    "Send every update before thread.item.done; to change a finished item use "
    "thread.item.replaced. " + _LIFECYCLE_FIX,
)
register_check(
    "ordering.duplicate_item_id",
    "ordering",
    "Every item id is used for one item only.",
    "No second thread.item.added/done for an id that is already added or done; the client keys "
    "items by id, so a repeated id overwrites the earlier item.",
    'Generate a fresh id per item (e.g. store.generate_item_id("message", thread, context)); '
    "never reuse the user message's id for the reply. " + _LIFECYCLE_FIX,
)
register_check(
    "ordering.content_index",
    "ordering",
    "Assistant content-part updates refer to a part that exists (or the next one).",
    "content_index of text_delta / content_part.added / content_part.done / annotation_added is "
    "between 0 and the number of parts so far (counting from 0).",
    "Count content parts from 0 per assistant message and keep using the same index for a "
    "part's deltas (content_index is the part's position in item.content, not an output index).",
)
register_check(
    "ordering.update_wrong_item",
    "ordering",
    "Updates match the item they target.",
    "assistant_message.* updates target assistant_message items; widget.* target widgets; "
    "workflow.* target workflows.",
    "Send each update kind to an item of the matching type.",
)
register_check(
    "ordering.unfinished_item",
    "ordering",
    "Every item the stream started is finished before the stream ends.",
    "Each thread.item.added is followed by a thread.item.done (or removed/replaced) for the "
    "same id; otherwise the client keeps showing it as in progress and the store never saves it.",
    "Always finish a streamed item with thread.item.done carrying the full item, also on error "
    "paths (try/finally). " + _LIFECYCLE_FIX,
)
register_check(
    "ordering.error_event",
    "ordering",
    "The stream carries no error event.",
    'No {"type": "error"} event: the server finished the turn without failing.',
    "Read the server log for the exception behind the error event (ChatKitServer turns "
    "exceptions in respond() into an error event with code stream.error).",
    severity="warning",
)


@dataclass
class ItemTrack:
    """One item's lifecycle as seen so far."""

    id: str
    type: str | None
    phase: str
    """``added``, ``done`` or ``removed``."""
    first_event: int
    last_event: int
    parts: int = 0
    """Assistant content parts known so far."""


def _lenient(payload: Any) -> tuple[str | None, str | None, dict[str, Any] | None]:
    """(item id, item type, update) read from a payload without validating it."""
    if not isinstance(payload, dict):
        return None, None, None
    item = payload.get("item")
    update = payload.get("update") if isinstance(payload.get("update"), dict) else None
    if isinstance(item, dict):
        item_id = item.get("id")
        item_type = item.get("type")
        return (
            item_id if isinstance(item_id, str) else None,
            item_type if isinstance(item_type, str) else None,
            update,
        )
    item_id = payload.get("item_id")
    return (item_id if isinstance(item_id, str) else None), None, update


@dataclass
class OrderingMachine:
    """The per-stream state machine; feed events with :meth:`step`, then call :meth:`finish`."""

    request_type: str | None = None
    capture: str | None = None
    items: dict[str, ItemTrack] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    thread_created_at: int | None = None
    first_item_event: int | None = None
    user_message_seen: bool = False
    valid_events: int = 0
    _events: dict[int, Event] = field(default_factory=dict)

    def _evidence(self, event: Event, /, **detail: Any) -> Evidence:
        return Evidence(
            capture=self.capture,
            event_index=event.index,
            frame_index=event.frame_index,
            byte_range=event.byte_range,
            excerpt=excerpt(event),
            detail=detail,
        )

    def _report(self, check: str, summary: str, event: Event, /, **detail: Any) -> None:
        self.findings.append(finding(check, summary, self._evidence(event, **detail)))

    def step(self, event: Event, result: SchemaResult) -> None:
        """Advance over one event (foreign events are skipped)."""
        parsed = result.model
        if parsed is None and result.ok:  # a verdict kept without its model: validate again
            parsed = validate_event(event).model
        self._step(event, result, parsed)

    def _step(self, event: Event, result: SchemaResult, parsed: Any) -> None:
        """:meth:`step`, with the event's validated SDK model (``None`` unless valid) apart."""
        if event.decode_error is not None or not result.known_type:
            return
        valid = result.ok
        if valid:
            self.valid_events += 1
        self._events[event.index] = event
        kind = result.type
        if kind == "thread.created":
            if self.thread_created_at is None:
                self.thread_created_at = event.index
            if valid and self.first_item_event is not None:
                first = self.first_item_event
                self._report(
                    "ordering.thread_not_first",
                    f"thread.created arrives at event #{event.index}, after item event "
                    f"#{first}: the client has no thread to put that item in yet",
                    event,
                    first_item_event=first,
                )
            return
        if kind == "error":
            if valid:
                model: Any = parsed
                code = getattr(model.code, "value", model.code)
                message = model.message or ""
                self._report(
                    "ordering.error_event",
                    f"the server sent an error event at #{event.index} (code {code!r}"
                    + (f", message {message!r}" if message else "")
                    + f", allow_retry={model.allow_retry})",
                    event,
                    code=str(code),
                    message=message,
                    allow_retry=model.allow_retry,
                )
            return
        if kind not in _ITEM_EVENTS:
            return
        if self.first_item_event is None:
            self.first_item_event = event.index
        if valid:
            model = parsed
            if kind == "thread.item.updated":
                item_id, item_type, update = model.item_id, None, _update_fields(model.update)
            elif kind == "thread.item.removed":
                item_id, item_type, update = model.item_id, None, None
            else:
                item_id, item_type, update = model.item.id, model.item.type, None
        else:
            item_id, item_type, update = _lenient(event.payload)
        if item_id is None:
            return
        if item_type == "user_message" and kind in ("thread.item.done", "thread.item.added"):
            self.user_message_seen = True
        handler = _HANDLERS[kind]
        handler(self, event, valid, item_id, item_type, update, parsed)

    # -- per event kind --------------------------------------------------------------------

    def _added(
        self,
        event: Event,
        valid: bool,
        item_id: str,
        item_type: str | None,
        update: Any,
        parsed: Any,
    ) -> None:
        track = self.items.get(item_id)
        if track is not None and valid and track.phase != "updated-unknown":
            self._duplicate(event, track, "thread.item.added", item_type)
        parts = 0
        if valid and item_type == "assistant_message":
            parts = len(parsed.item.content)
        self.items[item_id] = ItemTrack(
            item_id, item_type, "added", event.index, event.index, parts=parts
        )

    def _done(
        self,
        event: Event,
        valid: bool,
        item_id: str,
        item_type: str | None,
        update: Any,
        parsed: Any,
    ) -> None:
        track = self.items.get(item_id)
        if track is not None and track.phase in ("done", "removed") and valid:
            self._duplicate(event, track, "thread.item.done", item_type)
        if track is None or track.phase != "added":
            self.items[item_id] = ItemTrack(item_id, item_type, "done", event.index, event.index)
            return
        track.phase = "done"
        track.last_event = event.index
        if item_type:
            track.type = item_type

    def _duplicate(self, event: Event, track: ItemTrack, kind: str, item_type: str | None) -> None:
        was = f"{track.type or 'item'}"
        now = f"{item_type or 'item'}"
        what = (
            f"an {now} reuses the id of the {was} from event #{track.first_event}"
            if now != was
            else f"a second {kind} for {was} {track.id!r} (first seen at event "
            f"#{track.first_event}, already {track.phase})"
        )
        self._report(
            "ordering.duplicate_item_id",
            f"event #{event.index}: duplicate item id {track.id!r}: {what}; the client keys "
            "items by id, so the later one overwrites the earlier",
            event,
            item_id=track.id,
            first_event=track.first_event,
            earlier_type=track.type,
            later_type=item_type,
        )

    def _updated(
        self,
        event: Event,
        valid: bool,
        item_id: str,
        item_type: str | None,
        update: Any,
        parsed: Any,
    ) -> None:
        track = self.items.get(item_id)
        if not valid:
            if track is not None:
                track.last_event = event.index
            return
        update_type = update.get("type") if isinstance(update, dict) else None
        if track is None:
            self._report(
                "ordering.update_before_added",
                f"event #{event.index} updates item {item_id!r} ({update_type}) before any "
                "thread.item.added for it: the client has no such item to update",
                event,
                item_id=item_id,
                update=update_type,
            )
            # Track it from here so its later events are judged against this start.
            self.items[item_id] = ItemTrack(
                item_id, None, "updated-unknown", event.index, event.index
            )
            return
        if track.phase in ("done", "removed"):
            self._report(
                "ordering.event_after_done",
                f"event #{event.index} updates item {item_id!r} ({update_type}) after its "
                f"thread.item.{track.phase} at event #{track.last_event}",
                event,
                item_id=item_id,
                update=update_type,
                finished_at=track.last_event,
            )
            return
        track.last_event = event.index
        if track.phase == "updated-unknown" or not isinstance(update_type, str):
            return
        expected_item = _update_target(update_type)
        if expected_item and track.type and track.type != expected_item:
            self._report(
                "ordering.update_wrong_item",
                f"event #{event.index} sends a {update_type} update to {track.type} "
                f"{item_id!r}; it applies to {expected_item} items",
                event,
                item_id=item_id,
                update=update_type,
                item_type=track.type,
            )
            return
        if not update_type.startswith("assistant_message.content_part."):
            return
        content_index = update.get("content_index")
        if not isinstance(content_index, int):
            return
        if content_index < 0 or content_index > track.parts:
            existing = "no parts yet" if track.parts == 0 else f"parts 0..{track.parts - 1} so far"
            self._report(
                "ordering.content_index",
                f"event #{event.index}: {update_type} for content_index {content_index} of "
                f"{item_id!r}, which has {existing} (expected 0..{track.parts})",
                event,
                item_id=item_id,
                content_index=content_index,
                parts=track.parts,
            )
            return
        if content_index == track.parts:
            track.parts += 1

    def _removed(
        self,
        event: Event,
        valid: bool,
        item_id: str,
        item_type: str | None,
        update: Any,
        parsed: Any,
    ) -> None:
        track = self.items.get(item_id)
        if track is None:
            # Removing an item streamed earlier (or loaded from the store) is fine.
            self.items[item_id] = ItemTrack(item_id, None, "removed", event.index, event.index)
            return
        track.phase = "removed"
        track.last_event = event.index

    def _replaced(
        self,
        event: Event,
        valid: bool,
        item_id: str,
        item_type: str | None,
        update: Any,
        parsed: Any,
    ) -> None:
        self.items[item_id] = ItemTrack(
            item_id,
            item_type,
            "done",
            event.index,
            event.index,
        )

    # -- end of stream ---------------------------------------------------------------------

    def finish(self, events: list[Event]) -> list[Finding]:
        """Stream-level checks at the end of the stream; return every finding."""
        last = events[-1] if events else None
        for track in self.items.values():
            if track.phase != "added":
                # "updated-unknown" items were already reported as updated before added.
                continue
            started = self._events.get(track.first_event)
            if started is None:
                continue
            where = f"event #{last.index}" if last is not None else "the end"
            self._report(
                "ordering.unfinished_item",
                f"the stream ended ({where}) while {track.type or 'item'} {track.id!r} "
                f"(started at event #{track.first_event}, last touched at "
                f"#{track.last_event}) was still streaming: no thread.item.done",
                started,
                item_id=track.id,
                item_type=track.type,
                last_event=track.last_event,
                events=len(events),
            )
        if self.valid_events and events:
            first = events[0]
            if self.request_type == "threads.create" and self.thread_created_at is None:
                self.findings.append(
                    finding(
                        "ordering.thread_missing",
                        "this threads.create stream never sends thread.created: the client "
                        "never learns the new thread's id",
                        Evidence(
                            capture=self.capture,
                            event_index=first.index,
                            detail={"events": len(events)},
                        ),
                    )
                )
            if self.request_type in _USER_MESSAGE_REQUESTS and not self.user_message_seen:
                self.findings.append(
                    finding(
                        "ordering.user_message_not_done",
                        f"this {self.request_type} stream never sends the user's message back "
                        "as thread.item.done with a user_message item: the modelled client has "
                        "no user message to show and the store never saves it",
                        Evidence(
                            capture=self.capture,
                            event_index=first.index,
                            detail={"events": len(events)},
                        ),
                    )
                )
        return self.findings


_HANDLERS = {
    "thread.item.added": OrderingMachine._added,
    "thread.item.updated": OrderingMachine._updated,
    "thread.item.done": OrderingMachine._done,
    "thread.item.removed": OrderingMachine._removed,
    "thread.item.replaced": OrderingMachine._replaced,
}


def _update_fields(update: Any) -> dict[str, Any]:
    """The parts of a validated update the machine reads (``type``, ``content_index``).

    The same values ``update.model_dump()`` gives for them, without dumping the whole update.
    """
    fields: dict[str, Any] = {"type": update.type}
    if "content_index" in type(update).model_fields:
        fields["content_index"] = update.content_index
    return fields


def _update_target(update_type: str) -> str | None:
    if update_type.startswith("assistant_message."):
        return "assistant_message"
    if update_type.startswith("widget."):
        return "widget"
    if update_type.startswith("workflow."):
        return "workflow"
    if update_type.startswith("generated_image."):
        return "generated_image"
    return None


def check_ordering(
    events: list[Event],
    results: list[SchemaResult] | None = None,
    request_type: str | None = None,
    capture: Capture | str | None = None,
) -> list[Finding]:
    """Ordering findings for one stream (``results`` from :func:`validate_event`, optional)."""
    if results is None:
        results = [validate_event(event) for event in events]
    name = capture.name if isinstance(capture, Capture) else capture
    machine = OrderingMachine(request_type=request_type, capture=name)
    for event, result in zip(events, results, strict=True):
        machine.step(event, result)
    return machine.finish(events)
