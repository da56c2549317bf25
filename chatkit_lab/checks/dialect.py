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
"""

from __future__ import annotations

from collections import Counter

from chatkit_lab.checks._dialects import (
    ASSISTANTS_OBJECTS,
    DIALECTS,
    FOREIGN_DIALECTS,
    NOTHING,
    TEXT_DELTA,
    DialectVerdict,
    assistants,
    chatkit_invalid,
    invented,
    looks_invented,
    responses,
)
from chatkit_lab.client.protocol import CHATKIT_EVENT_TYPES, SchemaResult, validate_event
from chatkit_lab.sse import Event

__all__ = [
    "DIALECTS",
    "FOREIGN_DIALECTS",
    "DialectVerdict",
    "classify_event",
    "classify_events",
    "dialect_counts",
]


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
