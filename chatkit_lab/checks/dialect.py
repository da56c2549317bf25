"""Dialect: which protocol does each event speak, and what should it have been in ChatKit?

Backends that render nothing in ChatKit usually stream a neighbouring OpenAI protocol (the
Assistants API's ``thread.message.*``, the Responses API's ``response.*`` and
``conversation.item.*``) or plausible names ChatKit lacks (``thread.item.user_message``). Each
event gets one dialect:

``chatkit``          a valid ChatKit ``ThreadStreamEvent``
``chatkit-invalid``  a ChatKit event name with fields the SDK rejects
``assistants``       an Assistants API stream event
``responses``        a Responses API (or Realtime ``conversation.*``) event
``invented``         a ChatKit-looking name that ChatKit does not have
``unknown``          anything else (including undecodable data)

and, when it is not valid ChatKit, the ChatKit event it should have been. The schema layer's
``schema.foreign_protocol`` check (:mod:`chatkit_lab.checks.schema`) reports what this finds.
The vocabulary and the per-dialect advice come first, the classifier after them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from chatkit_lab.client.protocol import (
    CHATKIT_EVENT_TYPES,
    CHATKIT_ITEM_TYPES,
    SchemaResult,
    validate_event,
    validate_item,
)
from chatkit_lab.sse import Event

__all__ = [
    "DIALECTS",
    "FOREIGN_DIALECTS",
    "DialectVerdict",
    "classify_event",
    "classify_events",
    "dialect_counts",
]

DIALECTS: tuple[str, ...] = (
    "chatkit",
    "chatkit-invalid",
    "assistants",
    "responses",
    "invented",
    "unknown",
)
FOREIGN_DIALECTS: tuple[str, ...] = ("assistants", "responses", "invented", "unknown")

_LABELS = {
    "chatkit": "ChatKit event",
    "chatkit-invalid": "ChatKit event name with invalid fields",
    "assistants": "Assistants API event",
    "responses": "Responses API event",
    "invented": "invented name ChatKit does not have",
    "unknown": "not a ChatKit event",
}

ASSISTANTS_OBJECTS = frozenset(
    {
        "thread",
        "thread.message",
        "thread.message.delta",
        "thread.run",
        "thread.run.step",
        "thread.run.step.delta",
        "assistant",
    }
)

TEXT_DELTA = "thread.item.updated with an assistant_message.content_part.text_delta update"
USER_DONE = "thread.item.done with a user_message item"
ASSISTANT_ADDED = "thread.item.added with an assistant_message item (empty content)"
ASSISTANT_DONE = "thread.item.done with the complete assistant_message item (output_text parts)"
FULL_THREAD = (
    'thread.created with a full Thread: id, created_at (ISO 8601), status ({"type": "active"}), '
    'items ({"data": [], "has_more": false})'
)
ERROR_EVENT = (
    'an error event ({"type": "error", "code": "custom", "message": ..., "allow_retry": false})'
)
NOTHING = "nothing"


@dataclass(slots=True)
class DialectVerdict:
    """One event's dialect and, when it is not valid ChatKit, its ChatKit equivalent."""

    index: int
    name: str | None
    """The event's name: JSON ``type``, else the payload's ``object``, else the SSE event name."""
    dialect: str
    should_be: str | None = None
    """The ChatKit event it should have been (``None`` when it is valid ChatKit)."""
    advice: str = ""
    """Further plain-words advice (what the payload also needs)."""

    @property
    def label(self) -> str:
        return _LABELS[self.dialect]

    @property
    def foreign(self) -> bool:
        return self.dialect in FOREIGN_DIALECTS

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "dialect": self.dialect,
            "should_be": self.should_be,
            "advice": self.advice,
        }


def _role(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return None
    for holder in (payload, payload.get("item"), payload.get("delta")):
        if isinstance(holder, dict) and isinstance(holder.get("role"), str):
            return holder["role"]
    return None


def _item_type(payload: Any) -> str | None:
    if isinstance(payload, dict) and isinstance(payload.get("item"), dict):
        value = payload["item"].get("type")
        return value if isinstance(value, str) else None
    return None


# -- per-dialect advice -------------------------------------------------------------------


def chatkit_invalid(index: int, json_type: str, result: SchemaResult) -> DialectVerdict:
    problems = "; ".join(result.messages)
    if json_type in ("thread.created", "thread.updated"):
        should_be = (
            FULL_THREAD
            if json_type == "thread.created"
            else (FULL_THREAD.replace("thread.created", "thread.updated", 1))
        )
        return DialectVerdict(
            index,
            json_type,
            "chatkit-invalid",
            should_be,
            f"The name is ChatKit's but the thread is incomplete: {problems}.",
        )
    return DialectVerdict(
        index,
        json_type,
        "chatkit-invalid",
        f"a valid {json_type} event",
        f"The name is ChatKit's but the fields are not: {problems}.",
    )


def _item_note(payload: dict[str, Any], role: str | None) -> str:
    """What an embedded item still needs to be a ChatKit ThreadItem."""
    item = payload.get("item")
    if not isinstance(item, dict):
        return ""
    item_type = item.get("type")
    created_at = item.get("created_at")
    timestamp = ""
    if isinstance(created_at, (int, float)) and not isinstance(created_at, bool):
        timestamp = (
            " Its created_at is a number; the SDK always sends an ISO 8601 string "
            '(e.g. "2026-02-11T10:00:00Z").'
        )
    if item_type in CHATKIT_ITEM_TYPES:
        problems = validate_item(item)
        if not problems:
            return timestamp
        return (
            " Its item would also need fixing: "
            + "; ".join(p.message for p in problems)
            + "."
            + timestamp
        )
    target = "user_message" if role == "user" else "assistant_message"
    part = "input_text" if role == "user" else "output_text"
    extra = ', "inference_options": {}' if role == "user" else ""
    return (
        f" Its item must become a ChatKit {target}: "
        f'{{"type": "{target}", "id": ..., "thread_id": ..., "created_at": <ISO 8601>, '
        f'"content": [{{"type": "{part}", "text": ...}}]{extra}}}.'
    )


def assistants(
    index: int, name: str | None, obj: str | None, payload: dict[str, Any]
) -> DialectVerdict:
    event_name = name or ""
    if event_name == obj and obj == "thread.message":
        status = payload.get("status")
        event_name = (
            "thread.message.completed" if status == "completed" else ("thread.message.created")
        )
    elif event_name == obj and obj == "thread.message.delta":
        event_name = "thread.message.delta"
    role = _role(payload)
    note = ""
    if event_name == "thread.created" or obj == "thread":
        should_be = FULL_THREAD
    elif event_name == "thread.message.delta":
        should_be = TEXT_DELTA
        note = (
            ' Send {"type": "thread.item.updated", "item_id": <assistant item id>, '
            '"update": {"type": "assistant_message.content_part.text_delta", '
            '"content_index": 0, "delta": <text>}}.'
        )
    elif event_name == "thread.message.created":
        should_be = USER_DONE if role == "user" else ASSISTANT_ADDED
    elif event_name == "thread.message.in_progress":
        should_be = NOTHING
        note = " ChatKit has no in-progress event: thread.item.added already shows it streaming."
    elif event_name == "thread.message.completed":
        should_be = USER_DONE if role == "user" else ASSISTANT_DONE
    elif event_name == "thread.message.incomplete":
        should_be = "thread.item.done with the partial assistant_message, then " + ERROR_EVENT
    elif event_name in ("thread.run.failed", "thread.run.expired", "thread.run.cancelled"):
        should_be = ERROR_EVENT
    elif event_name.startswith("thread.run"):
        should_be = NOTHING
        note = (
            " ChatKit has no run events; use progress_update or a workflow item to show progress."
        )
    else:
        should_be = NOTHING
    return DialectVerdict(
        index,
        name,
        "assistants",
        should_be,
        "This is the Assistants API stream format, which ChatKit does not read." + note,
    )


def responses(index: int, name: str | None, payload: dict[str, Any]) -> DialectVerdict:
    event_name = name or ""
    role = _role(payload)
    item_type = _item_type(payload)
    note = ""
    if event_name.startswith("conversation.item."):
        if event_name.endswith((".deleted", ".truncated")):
            should_be = "thread.item.removed" if event_name.endswith(".deleted") else NOTHING
        else:
            should_be = USER_DONE if role == "user" else ASSISTANT_DONE
        note = _item_note(payload, role)
    elif event_name in ("response.created", "response.in_progress", "response.queued"):
        should_be = NOTHING
        note = " Optionally stream_options; the reply itself starts with thread.item.added."
    elif event_name == "response.output_item.added":
        if item_type in (None, "message"):
            should_be = ASSISTANT_ADDED
            note = _item_note(payload, role or "assistant")
        else:
            should_be = NOTHING
            note = f" A {item_type} output item is not shown by ChatKit (or use a workflow item)."
    elif event_name == "response.output_item.done":
        if item_type in (None, "message"):
            should_be = ASSISTANT_DONE
            note = _item_note(payload, role or "assistant")
        else:
            should_be = NOTHING
    elif event_name == "response.content_part.added":
        should_be = (
            "thread.item.updated with an assistant_message.content_part.added update (optional)"
        )
    elif event_name in ("response.output_text.delta", "response.text.delta"):
        should_be = TEXT_DELTA
    elif event_name in ("response.output_text.done", "response.text.done"):
        should_be = NOTHING
        note = " The finished text goes into the assistant item's thread.item.done."
    elif event_name == "response.content_part.done":
        should_be = (
            "thread.item.updated with an assistant_message.content_part.done update (optional)"
        )
    elif event_name == "response.output_text.annotation.added":
        should_be = (
            "thread.item.updated with an assistant_message.content_part.annotation_added update"
        )
    elif event_name in ("response.done", "response.completed"):
        should_be = "thread.item.done for the assistant message (then end the response)"
    elif event_name in ("response.failed", "response.incomplete", "error"):
        should_be = ERROR_EVENT
    elif event_name.startswith("response.reasoning"):
        should_be = "a workflow item of type reasoning, or nothing"
    else:
        should_be = NOTHING
    return DialectVerdict(
        index,
        name,
        "responses",
        should_be,
        "This is the Responses API stream format, which ChatKit does not read." + note,
    )


_UPDATE_PREFIXES = (
    "assistant_message.content_part.",
    "widget.",
    "workflow.task.",
    "generated_image.",
)


def looks_invented(lowered: str) -> bool:
    if not lowered:
        return False
    if lowered.startswith(("thread.", "chatkit.", "item.", "message", "assistant", "user")):
        return True
    return lowered in CHATKIT_ITEM_TYPES or lowered.startswith(_UPDATE_PREFIXES)


def invented(index: int, name: str, payload: dict[str, Any]) -> DialectVerdict:
    lowered = name.lower()
    role = _role(payload)
    item_type = _item_type(payload)
    note = ""
    if lowered.startswith(_UPDATE_PREFIXES):
        should_be = f"thread.item.updated carrying {name} as its update"
        note = ' Wrap it: {"type": "thread.item.updated", "item_id": ..., "update": {...}}.'
    elif "user_message" in lowered or (role == "user" and "delta" not in lowered):
        should_be = USER_DONE
        note = _item_note(payload, "user")
    elif "delta" in lowered:
        should_be = TEXT_DELTA
    elif lowered.endswith(("created", "started", "start", "added")):
        should_be = "thread.item.added (or thread.item.done for a finished item)"
        note = _item_note(payload, role)
    elif lowered.endswith(("completed", "finished", "complete", "end")):
        should_be = "thread.item.done"
        note = _item_note(payload, role)
    elif lowered.endswith(("deleted", "removed")):
        should_be = "thread.item.removed"
    elif (
        "assistant_message" in lowered or item_type == "assistant_message" or (role == "assistant")
    ):
        should_be = (
            "thread.item.done with an assistant_message item (or thread.item.added → "
            "thread.item.updated → thread.item.done to stream it)"
        )
        note = _item_note(payload, "assistant")
    else:
        should_be = "one of ChatKit's events: " + ", ".join(sorted(CHATKIT_EVENT_TYPES))
    return DialectVerdict(
        index,
        name,
        "invented",
        should_be,
        f"ChatKit has no {name!r} event; it ignores it." + note,
    )


def _event_name(event: Event) -> str | None:
    payload = event.payload
    if isinstance(payload, dict):
        for key in ("type", "object"):
            value = payload.get(key)
            if isinstance(value, str) and value:
                if key == "object" and event.sse_event != "message":
                    return event.sse_event
                return value
    if event.sse_event != "message":
        return event.sse_event
    return None


def classify_event(event: Event, result: SchemaResult | None = None) -> DialectVerdict:
    """Classify one event (``result`` is its :func:`validate_event` result, if already known)."""
    name = _event_name(event)
    payload = event.payload if isinstance(event.payload, dict) else None
    if event.decode_error is not None or payload is None:
        data = event.data.strip()
        if data == "[DONE]":
            dialect = "assistants" if event.sse_event == "done" else "unknown"
            return DialectVerdict(
                event.index,
                name or "[DONE]",
                dialect,
                NOTHING,
                "ChatKit has no end-of-stream sentinel: the stream ends when the response ends.",
            )
        return DialectVerdict(event.index, name, "unknown", None, "The data is not a JSON object.")
    result = result if result is not None else validate_event(event)
    json_type = payload.get("type") if isinstance(payload.get("type"), str) else None
    if result.ok:
        return DialectVerdict(event.index, name, "chatkit")
    if json_type in CHATKIT_EVENT_TYPES:
        return chatkit_invalid(event.index, json_type, result)
    obj = payload.get("object") if isinstance(payload.get("object"), str) else None
    lowered = (name or "").lower()
    if obj in ASSISTANTS_OBJECTS or lowered.startswith(("thread.message", "thread.run")):
        return assistants(event.index, name, obj, payload)
    if obj == "response" or lowered.startswith(("response.", "conversation.")):
        return responses(event.index, name, payload)
    if obj == "chat.completion.chunk":
        return DialectVerdict(
            event.index,
            name,
            "unknown",
            TEXT_DELTA,
            "This is a Chat Completions chunk; ChatKit needs items, not choices/deltas.",
        )
    if looks_invented(lowered):
        return invented(event.index, name or "", payload)
    return DialectVerdict(
        event.index,
        name,
        "unknown",
        None,
        "Not a ChatKit event; ChatKit ignores it. ChatKit's events are: "
        + ", ".join(sorted(CHATKIT_EVENT_TYPES))
        + ".",
    )


def classify_events(
    events: list[Event], results: list[SchemaResult] | None = None
) -> list[DialectVerdict]:
    """Classify every event (pass the schema results to avoid validating twice)."""
    if results is None:
        return [classify_event(event) for event in events]
    return [classify_event(event, result) for event, result in zip(events, results, strict=True)]


def dialect_counts(verdicts: list[DialectVerdict]) -> dict[str, int]:
    """How many events of each dialect (only dialects present), in :data:`DIALECTS` order."""
    counts = Counter(verdict.dialect for verdict in verdicts)
    return {dialect: counts[dialect] for dialect in DIALECTS if counts[dialect]}
