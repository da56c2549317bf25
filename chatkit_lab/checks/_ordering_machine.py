"""The ordering state machine: the item lifecycle the ChatKit server SDK follows, event by event.

It tracks every item (``added`` → ``updated``* → ``done``; ``replaced``/``removed``), whether
the thread was announced and when, and whether the user's message came back, and notes each
event that breaks a rule as a :class:`Violation` named after the check that reports it. The
checks in :mod:`chatkit_lab.checks.ordering` turn those (and the state at the end) into findings.

Only valid ChatKit events raise violations: foreign and invalid events are the schema layer's.
Events that carry a ChatKit name but invalid fields still move the machine (their item id and
type are read leniently), so one bad field is reported once, by schema, and not again as a
missing ``done`` or a missing user message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chatkit_lab.client.protocol import SchemaResult, validate_event
from chatkit_lab.sse import Event

__all__ = ["ItemTrack", "OrderingMachine", "Violation"]

_ITEM_EVENTS = frozenset(
    {
        "thread.item.added",
        "thread.item.updated",
        "thread.item.done",
        "thread.item.removed",
        "thread.item.replaced",
    }
)


@dataclass
class ItemTrack:
    """One item's lifecycle as seen so far."""

    id: str
    type: str | None
    phase: str
    """``added``, ``done``, ``removed`` or ``updated-unknown`` (updated before any added)."""
    first_event: int
    last_event: int
    parts: int = 0
    """Assistant content parts known so far."""


@dataclass(frozen=True)
class Violation:
    """One event that broke an ordering rule: which rule (the check's name) and the facts."""

    rule: str
    event: Event
    facts: dict[str, Any]


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
    """The per-stream state machine; feed it every event in order, then read its state."""

    request_type: str | None = None
    items: dict[str, ItemTrack] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)
    thread_created_at: int | None = None
    first_item_event: int | None = None
    user_message_seen: bool = False
    valid_events: int = 0
    events: dict[int, Event] = field(default_factory=dict)
    """The ChatKit-named events seen, by index (to point at where an item started)."""
    earlier: frozenset[str] = frozenset()
    """Item ids the thread already held before this stream (streamed or loaded earlier in the
    same session): an update to one of them is fine, and a replace of an id outside them and
    this stream targets nothing."""

    def _note(self, rule: str, event: Event, /, **facts: Any) -> None:
        self.violations.append(Violation(rule, event, facts))

    def broke(self, rule: str) -> list[Violation]:
        """The violations of one rule, in stream order."""
        return [violation for violation in self.violations if violation.rule == rule]

    def step(self, event: Event, result: SchemaResult) -> None:
        """Advance over one event (foreign events are skipped)."""
        parsed = result.model
        if parsed is None and result.ok:  # a verdict kept without its model: validate again
            parsed = validate_event(event).model
        self.feed(event, result, parsed)

    def feed(self, event: Event, result: SchemaResult, parsed: Any) -> None:
        """:meth:`step`, with the event's validated SDK model (``None`` unless valid) apart."""
        if event.decode_error is not None or not result.known_type:
            return
        valid = result.ok
        if valid:
            self.valid_events += 1
        self.events[event.index] = event
        kind = result.type
        if kind == "thread.created":
            if self.thread_created_at is None:
                self.thread_created_at = event.index
            if valid and self.first_item_event is not None:
                self._note("thread_not_first", event, first_item_event=self.first_item_event)
            return
        if kind == "error":
            if valid:
                model: Any = parsed
                self._note(
                    "error_event",
                    event,
                    code=str(getattr(model.code, "value", model.code)),
                    message=model.message or "",
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
        self._note(
            "duplicate_item_id",
            event,
            item_id=track.id,
            first_event=track.first_event,
            earlier_type=track.type,
            later_type=item_type,
            kind=kind,
            phase=track.phase,
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
        if track is None and item_id in self.earlier:
            # an item an earlier stream of the thread finished: the client holds it
            self.items[item_id] = ItemTrack(
                item_id, None, "updated-unknown", event.index, event.index
            )
            return
        if track is None:
            self._note("update_before_added", event, item_id=item_id, update=update_type)
            # Track it from here so its later events are judged against this start.
            self.items[item_id] = ItemTrack(
                item_id, None, "updated-unknown", event.index, event.index
            )
            return
        if track.phase in ("done", "removed"):
            self._note(
                "event_after_done",
                event,
                item_id=item_id,
                update=update_type,
                finished_at=track.last_event,
                phase=track.phase,
            )
            return
        track.last_event = event.index
        if track.phase == "updated-unknown" or not isinstance(update_type, str):
            return
        expected_item = _update_target(update_type)
        if expected_item and track.type and track.type != expected_item:
            self._note(
                "update_wrong_item",
                event,
                item_id=item_id,
                update=update_type,
                item_type=track.type,
                expected=expected_item,
            )
            return
        if not update_type.startswith("assistant_message.content_part."):
            return
        content_index = update.get("content_index")
        if not isinstance(content_index, int):
            return
        if content_index < 0 or content_index > track.parts:
            self._note(
                "content_index",
                event,
                item_id=item_id,
                content_index=content_index,
                parts=track.parts,
                update=update_type,
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
        if self.earlier and item_id not in self.earlier and item_id not in self.items:
            self._note("replaced_unknown_item", event, item_id=item_id, item_type=item_type)
        self.items[item_id] = ItemTrack(item_id, item_type, "done", event.index, event.index)

    # -- the state at the end --------------------------------------------------------------

    def unfinished(self) -> list[tuple[ItemTrack, Event]]:
        """Items still streaming (added, never done) and the event each started at."""
        out: list[tuple[ItemTrack, Event]] = []
        for track in self.items.values():
            if track.phase != "added":
                # "updated-unknown" items were already reported as updated before added.
                continue
            started = self.events.get(track.first_event)
            if started is not None:
                out.append((track, started))
        return out


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
