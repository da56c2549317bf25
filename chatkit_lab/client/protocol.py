"""The ChatKit protocol's vocabulary, read from the installed openai-chatkit SDK.

Which request types stream and which answer JSON, which event and item types exist, and the
judge of every event: the SDK's own pydantic model (``chatkit.types.ThreadStreamEvent``),
validated the way the SDK's types would parse the payload, with its errors in plain words at JSON
paths of the payload. The client model ignores what does not validate; the schema checks report
it.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import chatkit.types as chatkit_types
from pydantic import BaseModel, TypeAdapter, ValidationError

from chatkit_lab.client._field_errors import FieldError, format_path, translate_errors
from chatkit_lab.sse import Event

__all__ = [
    "CHATKIT_EVENT_TYPES",
    "CHATKIT_ITEM_TYPES",
    "KNOWN_TYPES",
    "NON_STREAMING_TYPES",
    "STREAMING_TYPES",
    "FieldError",
    "SchemaResult",
    "format_path",
    "parse_event",
    "parse_payload",
    "translate_errors",
    "validate_event",
    "validate_item",
    "validate_payload",
]


def _request_types(union: Any) -> frozenset[str]:
    """The ``type`` literals of a union of the SDK's request models."""
    return frozenset(member.model_fields["type"].default for member in typing.get_args(union))


def _union_tags(annotated: Any) -> frozenset[str]:
    """The ``type`` literal of each model in an ``Annotated[A | B | ..., discriminator]``."""
    union = typing.get_args(annotated)[0]
    return frozenset(str(model.model_fields["type"].default) for model in typing.get_args(union))


STREAMING_TYPES: frozenset[str] = _request_types(chatkit_types.StreamingReq)
"""ChatKit request types whose reply is ``text/event-stream`` (from the SDK's ``StreamingReq``)."""

NON_STREAMING_TYPES: frozenset[str] = _request_types(chatkit_types.NonStreamingReq)
"""ChatKit request types whose reply is JSON (from the SDK's ``NonStreamingReq``)."""

KNOWN_TYPES: frozenset[str] = STREAMING_TYPES | NON_STREAMING_TYPES
"""Every ChatKit request type."""

CHATKIT_EVENT_TYPES: frozenset[str] = _union_tags(chatkit_types.ThreadStreamEvent)
"""Every ``type`` a ChatKit ``ThreadStreamEvent`` can have (read from the installed SDK)."""

CHATKIT_ITEM_TYPES: frozenset[str] = _union_tags(chatkit_types.ThreadItem)
"""Every ``type`` a ``ThreadItem`` can have (hidden context types included)."""


@lru_cache(maxsize=1)
def _event_adapter() -> TypeAdapter[Any]:
    return TypeAdapter(chatkit_types.ThreadStreamEvent)


@lru_cache(maxsize=1)
def _item_adapter() -> TypeAdapter[Any]:
    return TypeAdapter(chatkit_types.ThreadItem)


@dataclass(slots=True)
class SchemaResult:
    """The SDK's verdict on one payload."""

    ok: bool
    type: str | None
    known_type: bool
    """``True`` when ``type`` names a ChatKit event (whether or not the fields are right)."""
    model: BaseModel | None = None
    """The parsed SDK event model when ``ok`` (from :func:`validate_payload` and
    :func:`validate_event`; an event analysis keeps only the verdicts, not the models, so its
    results leave this ``None``)."""
    errors: list[FieldError] = field(default_factory=list)

    @property
    def messages(self) -> list[str]:
        return [error.message for error in self.errors]


def validate_payload(payload: Any) -> SchemaResult:
    """Validate one decoded payload against ``chatkit.types.ThreadStreamEvent``."""
    result, model = parse_payload(payload)
    result.model = model
    return result


def validate_event(event: Event) -> SchemaResult:
    """Validate a decoded :class:`Event` (an undecodable one is reported as such)."""
    result, model = parse_event(event)
    result.model = model
    return result


def parse_payload(payload: Any) -> tuple[SchemaResult, Any]:
    """The verdict on one payload without its model, and the model (``None`` unless valid).

    Keeping the two apart lets a long stream's analysis keep the small verdicts and drop the
    models, which are several times the size of their JSON.
    """
    event_type = payload.get("type") if isinstance(payload, dict) else None
    if not isinstance(event_type, str):
        event_type = None
    try:
        model = _event_adapter().validate_python(payload)
    except ValidationError as exc:
        return (
            SchemaResult(
                False,
                event_type,
                event_type in CHATKIT_EVENT_TYPES,
                None,
                translate_errors(exc, payload),
            ),
            None,
        )
    return SchemaResult(True, event_type, True, None, []), model


def parse_event(event: Event) -> tuple[SchemaResult, Any]:
    """:func:`validate_event` with the model handed back apart (``None`` unless valid)."""
    if event.decode_error is not None or not isinstance(event.payload, dict):
        return (
            SchemaResult(
                ok=False,
                type=None,
                known_type=False,
                errors=[
                    FieldError("", "invalid", event.decode_error or "not a JSON object", event.data)
                ],
            ),
            None,
        )
    return parse_payload(event.payload)


def validate_item(item: Any) -> list[FieldError]:
    """Field errors of a payload validated as a ``ThreadItem`` (empty when it is valid)."""
    try:
        _item_adapter().validate_python(item)
    except ValidationError as exc:
        return translate_errors(exc, item)
    return []
