"""Decoding and schema checks: is each event a ChatKit ``ThreadStreamEvent``?

The judge is the openai-chatkit SDK's own pydantic model (``chatkit.types.ThreadStreamEvent``),
validated the way the SDK's types would parse the payload. Pydantic's error locations carry the
tags of the unions they went through (``('thread.item.done', 'item', 'assistant_message',
'content', 0, 'type')``); this module turns them into the JSON paths a backend author can look up
in their own payload (``item.content[0].type``) and into plain sentences.
"""

from __future__ import annotations

import json
import typing
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from chatkit_lab.capture._model import Capture
from chatkit_lab.checks._model import Evidence, Finding, finding, register_check
from chatkit_lab.sse._events import Event

__all__ = [
    "CHATKIT_EVENT_TYPES",
    "CHATKIT_ITEM_TYPES",
    "FieldError",
    "SchemaResult",
    "check_decoding",
    "check_schema",
    "excerpt",
    "format_path",
    "translate_errors",
    "validate_event",
    "validate_item",
    "validate_payload",
]

EXCERPT_LIMIT = 300

_SDK_FIX = (
    "Emit ChatKit events exactly as chatkit.types.ThreadStreamEvent defines them (serialize "
    "the SDK's models with model_dump_json(by_alias=True, exclude_none=True)); the easiest way "
    "is to serve ChatKitServer from openai-chatkit and yield its event models."
)

register_check(
    "decoding.not_json",
    "decoding",
    "Every dispatched SSE event's data is parsed as JSON.",
    "Each event's data is one JSON object (the SDK writes `data: <compact JSON>` per event).",
    "Write each event as `data: ` + json.dumps(event) + a blank line; drop sentinels such as "
    "`[DONE]` (a ChatKit stream simply ends when the response ends) and never split one JSON "
    "value over several events.",
)
register_check(
    "decoding.not_object",
    "decoding",
    "Every decoded event is a JSON object.",
    "Each event's data is a JSON object with a string `type` field.",
    'Send one JSON object per event, e.g. {"type": "thread.item.done", "item": {...}}, '
    "not a bare string, number or array.",
)
register_check(
    "schema.missing_type",
    "schema",
    "Every event object carries the string `type` field ChatKit dispatches on.",
    "A `type` naming a ChatKit event (thread.created, thread.item.added, ...); the SSE "
    "`event:` line does not replace it.",
    "Put the event name in the JSON payload's `type` field: ChatKit ignores the SSE `event:` "
    "line. " + _SDK_FIX,
)
register_check(
    "schema.unknown_type",
    "schema",
    "Every event's `type` is one of ChatKit's ThreadStreamEvent types.",
    "One of: thread.created, thread.updated, thread.item.added, thread.item.updated, "
    "thread.item.done, thread.item.removed, thread.item.replaced, stream_options, "
    "progress_update, client_effect, error, notice.",
    "Emit ChatKit events: thread.item.added/updated/done with ThreadItem payloads; the easiest "
    "way is to serve ChatKitServer from openai-chatkit.",
)
register_check(
    "schema.invalid_event",
    "schema",
    "Every ChatKit event's fields validate against the SDK's ThreadStreamEvent model.",
    "Required fields present with the SDK's types and literal values (items carry id, "
    "thread_id, ISO 8601 created_at; assistant content parts are `output_text`).",
    _SDK_FIX,
)


@lru_cache(maxsize=1)
def _event_adapter() -> TypeAdapter[Any]:
    from chatkit.types import ThreadStreamEvent

    return TypeAdapter(ThreadStreamEvent)


@lru_cache(maxsize=1)
def _item_adapter() -> TypeAdapter[Any]:
    from chatkit.types import ThreadItem

    return TypeAdapter(ThreadItem)


def _union_tags(annotated: Any) -> tuple[str, ...]:
    """The ``type`` literal of each model in an ``Annotated[A | B | ..., discriminator]``."""
    union = typing.get_args(annotated)[0]
    tags: list[str] = []
    for model in typing.get_args(union):
        default = model.model_fields["type"].default
        tags.append(str(default))
    return tuple(tags)


def _event_types() -> frozenset[str]:
    from chatkit.types import ThreadStreamEvent

    return frozenset(_union_tags(ThreadStreamEvent))


def _item_types() -> frozenset[str]:
    from chatkit.types import ThreadItem

    return frozenset(_union_tags(ThreadItem))


CHATKIT_EVENT_TYPES: frozenset[str] = _event_types()
"""Every ``type`` a ChatKit ``ThreadStreamEvent`` can have (read from the installed SDK)."""
CHATKIT_ITEM_TYPES: frozenset[str] = _item_types()
"""Every ``type`` a ``ThreadItem`` can have (hidden context types included)."""


@dataclass(slots=True)
class FieldError:
    """One thing wrong with an event, at a JSON path of the payload."""

    path: str
    """JSON path into the payload (``item.content[0].type``; ``""`` for the event itself)."""
    problem: str
    """``missing``, ``wrong_value``, ``wrong_type``, ``unknown_type`` or ``invalid``."""
    message: str
    """The plain-words sentence."""
    got: Any = None
    expected: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "problem": self.problem,
            "message": self.message,
            "got": self.got,
            "expected": self.expected,
        }

    def __str__(self) -> str:
        return self.message


@dataclass(slots=True)
class SchemaResult:
    """The SDK's verdict on one payload."""

    ok: bool
    type: str | None
    known_type: bool
    """``True`` when ``type`` names a ChatKit event (whether or not the fields are right)."""
    model: BaseModel | None = None
    """The parsed SDK event model when ``ok`` (from :func:`validate_payload` and
    :func:`validate_event`; an :class:`~chatkit_lab.EventAnalysis` keeps only the verdicts, not
    the models, so its results leave this ``None``)."""
    errors: list[FieldError] = field(default_factory=list)

    @property
    def messages(self) -> list[str]:
        return [error.message for error in self.errors]


def validate_payload(payload: Any) -> SchemaResult:
    """Validate one decoded payload against ``chatkit.types.ThreadStreamEvent``."""
    result, model = _validate_payload(payload)
    result.model = model
    return result


def validate_event(event: Event) -> SchemaResult:
    """Validate a decoded :class:`Event` (an undecodable one is reported as such)."""
    result, model = _validate_event(event)
    result.model = model
    return result


def _validate_payload(payload: Any) -> tuple[SchemaResult, Any]:
    """The verdict on one payload without its model, and the model (``None`` unless valid)."""
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


def _validate_event(event: Event) -> tuple[SchemaResult, Any]:
    """:func:`validate_event` with the model handed back apart (``None`` unless valid)."""
    if event.decode_error is not None or not isinstance(event.payload, dict):
        return (
            SchemaResult(
                ok=False,
                type=None,
                known_type=False,
                errors=[
                    FieldError(
                        "", "invalid", event.decode_error or "not a JSON object", event.data
                    )
                ],
            ),
            None,
        )
    return _validate_payload(event.payload)


def validate_item(item: Any) -> list[FieldError]:
    """Field errors of a payload validated as a ``ThreadItem`` (empty when it is valid)."""
    try:
        _item_adapter().validate_python(item)
    except ValidationError as exc:
        return translate_errors(exc, item)
    return []


# -- error translation --------------------------------------------------------------------


@dataclass
class _Raw:
    path: list[str | int]
    branch: tuple[tuple[str | int, ...], str] | None
    """The first non-discriminated union branch this error went through: (path, branch name)."""
    kind: str
    value: Any
    found: bool
    """Whether ``value`` was found in the payload (``False`` for a missing field)."""
    ctx: dict[str, Any]
    msg: str


def _walk(loc: tuple[Any, ...], payload: Any) -> tuple[list[str | int], Any, bool, Any]:
    """Follow a pydantic location through the payload, dropping union tag segments."""
    path: list[str | int] = []
    value = payload
    found = True
    branch: tuple[tuple[str | int, ...], str] | None = None
    last = len(loc) - 1
    tagged: set[int] = set()
    """Dicts whose discriminator tag has been consumed already."""
    for position, segment in enumerate(loc):
        if isinstance(value, dict):
            if (
                isinstance(segment, str)
                and segment == value.get("type")
                and id(value) not in tagged
                and position != last
            ):
                # A discriminated union's tag: pydantic puts it right after the field.
                tagged.add(id(value))
                continue
            if isinstance(segment, str) and segment in value:
                path.append(segment)
                value = value[segment]
                continue
            if position == last and isinstance(segment, str) and not _branch_name(segment):
                # The final segment of a field error is the field itself (usually missing).
                path.append(segment)
                value = None
                found = False
                continue
            # A smart (non-discriminated) union's branch name.
            if branch is None:
                branch = (tuple(path), str(segment))
            continue
        if isinstance(value, list) and isinstance(segment, int) and 0 <= segment < len(value):
            path.append(segment)
            value = value[segment]
            continue
        # A scalar (or something unexpected): the remaining segments are union branch names.
        if branch is None:
            branch = (tuple(path), str(segment))
    return path, value, found, branch


def _branch_name(segment: str) -> bool:
    """Whether a location segment names a union branch (a model or type) rather than a field."""
    return segment[:1].isupper() or "[" in segment or "-" in segment


def format_path(path: list[str | int] | tuple[str | int, ...]) -> str:
    """``['item', 'content', 0, 'type']`` as ``item.content[0].type``."""
    out = ""
    for segment in path:
        if isinstance(segment, int):
            out += f"[{segment}]"
        else:
            out += ("." if out else "") + segment
    return out


def _show(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"


def _describe(value: Any) -> str:
    kind = _json_kind(value)
    return kind if value is None else f"{kind} {_show(value)}"


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


_EXPECTED_KIND = {
    "model_type": "an object",
    "model_attributes_type": "an object",
    "dict_type": "an object",
    "list_type": "an array",
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "datetime_type": "an ISO 8601 date-time string",
    "datetime_parsing": "an ISO 8601 date-time string",
    "datetime_from_date_parsing": "an ISO 8601 date-time string",
    "datetime_object_invalid": "an ISO 8601 date-time string",
    "url_type": "a URL string",
    "url_parsing": "a URL string",
}


def _expected_values(ctx: dict[str, Any]) -> str:
    return str(ctx.get("expected") or ctx.get("expected_tags") or "")


def _quote_tags(text: str) -> str:
    return text.replace("'", '"')


def _message(raw: _Raw, path: list[str | int]) -> FieldError:
    where = format_path(path)
    kind = raw.kind
    if kind == "union_tag_invalid":
        tag_path = format_path([*path, "type"])
        expected = _quote_tags(_expected_values(raw.ctx))
        got = raw.value.get("type") if isinstance(raw.value, dict) else raw.ctx.get("tag")
        if not path:
            return FieldError(
                "type",
                "unknown_type",
                f"unknown event `type` {_show(got)}: not a ChatKit event",
                got,
                expected,
            )
        return FieldError(
            tag_path,
            "wrong_value",
            f"`{tag_path}` is {_show(got)}, expected one of {expected}",
            got,
            expected,
        )
    if kind == "union_tag_not_found":
        tag_path = format_path([*path, "type"])
        if not path:
            return FieldError("type", "missing", "`type` is missing", None, "a ChatKit event type")
        return FieldError(tag_path, "missing", f"`{tag_path}` is missing", None, "a type tag")
    if kind == "missing":
        return FieldError(where, "missing", f"`{where}` is missing", None, "a value")
    if kind in ("literal_error", "enum"):
        expected = _quote_tags(_expected_values(raw.ctx))
        return FieldError(
            where,
            "wrong_value",
            f"`{where}` is {_show(raw.value)}, expected {expected}",
            raw.value,
            expected,
        )
    if kind in _EXPECTED_KIND:
        expected = _EXPECTED_KIND[kind]
        detail = ""
        if kind.startswith("datetime") and raw.ctx.get("error"):
            detail = f" ({raw.ctx['error']})"
        return FieldError(
            where,
            "wrong_type",
            f"`{where or 'the event'}` is {_describe(raw.value)}, expected {expected}{detail}",
            raw.value,
            expected,
        )
    return FieldError(where, "invalid", f"`{where or 'the event'}`: {raw.msg}", raw.value, raw.msg)


def _mismatched_tag(raw: _Raw, prefix: tuple[str | int, ...]) -> bool:
    """Whether this error says the branch's own literal tag does not match the input."""
    if raw.kind not in ("literal_error", "enum"):
        return False
    return tuple(raw.path) in (prefix, (*prefix, "type"))


def translate_errors(exc: ValidationError, payload: Any) -> list[FieldError]:
    """Pydantic errors as plain-words :class:`FieldError` s at JSON paths of ``payload``.

    Discriminated-union tags are dropped from the paths. For a plain (smart) union pydantic
    reports every branch; only the branch whose ``type`` matches the input is kept, and when none
    matches, the branch errors collapse into one "is X, expected one of ..." error.
    """
    raws: list[_Raw] = []
    for error in exc.errors(include_url=False):
        path, value, found, branch = _walk(tuple(error["loc"]), payload)
        raws.append(
            _Raw(
                path=path,
                branch=branch,
                kind=error["type"],
                value=value if found else None,
                found=found,
                ctx=dict(error.get("ctx") or {}),
                msg=error["msg"],
            )
        )
    out: list[FieldError] = []
    seen_unions: set[tuple[str | int, ...]] = set()
    for raw in raws:
        if raw.branch is None:
            out.append(_message(raw, raw.path))
            continue
        prefix = raw.branch[0]
        if prefix in seen_unions:
            continue
        seen_unions.add(prefix)
        out.extend(_resolve_union(prefix, [r for r in raws if r.branch and r.branch[0] == prefix]))
    unique: list[FieldError] = []
    for item in out:
        if all(item.message != other.message for other in unique):
            unique.append(item)
    return unique


def _resolve_union(prefix: tuple[str | int, ...], raws: list[_Raw]) -> list[FieldError]:
    branches: dict[str, list[_Raw]] = {}
    for raw in raws:
        assert raw.branch is not None
        branches.setdefault(raw.branch[1], []).append(raw)
    matching = {
        name: errors
        for name, errors in branches.items()
        if not any(_mismatched_tag(raw, prefix) for raw in errors)
    }
    if matching:
        best = min(matching.values(), key=len)
        return [_message(raw, raw.path) for raw in best]
    expected_values: list[str] = []
    got: Any = None
    tag_path: tuple[str | int, ...] = prefix
    for raw in raws:
        if _mismatched_tag(raw, prefix):
            expected_values.append(_quote_tags(_expected_values(raw.ctx)))
            got = raw.value
            tag_path = tuple(raw.path)
    where = format_path(tag_path)
    expected = ", ".join(dict.fromkeys(expected_values))
    return [
        FieldError(
            where,
            "wrong_value",
            f"`{where}` is {_show(got)}, expected one of {expected}",
            got,
            expected,
        )
    ]


# -- checks -------------------------------------------------------------------------------


def excerpt(event: Event, limit: int = EXCERPT_LIMIT) -> str:
    """The start of an event's data, short enough for evidence."""
    data = event.data
    return data if len(data) <= limit else data[: limit - 1] + "…"


def _evidence(event: Event, capture: Capture | str | None, /, **detail: Any) -> Evidence:
    name = capture.name if isinstance(capture, Capture) else capture
    return Evidence(
        capture=name,
        event_index=event.index,
        frame_index=event.frame_index,
        byte_range=event.byte_range,
        excerpt=excerpt(event),
        detail=detail,
    )


def check_decoding(events: list[Event], capture: Capture | str | None = None) -> list[Finding]:
    """One finding per event whose data is not a JSON object."""
    findings: list[Finding] = []
    for event in events:
        if event.decode_error is None:
            continue
        if event.payload is None:
            hint = ""
            if event.data.strip() == "[DONE]":
                hint = (
                    " (`[DONE]` is an OpenAI Chat Completions/Assistants terminator; ChatKit "
                    "has none)"
                )
            findings.append(
                finding(
                    "decoding.not_json",
                    f"event #{event.index} is not JSON: "
                    f"{event.decode_error.removeprefix('not JSON: ')}{hint}",
                    _evidence(event, capture, error=event.decode_error),
                )
            )
        else:
            findings.append(
                finding(
                    "decoding.not_object",
                    f"event #{event.index} is {event.decode_error}",
                    _evidence(event, capture, error=event.decode_error),
                )
            )
    return findings


def check_schema(
    events: list[Event],
    results: list[SchemaResult] | None = None,
    verdicts: list[Any] | None = None,
    capture: Capture | str | None = None,
) -> list[Finding]:
    """One finding per decodable event that is not a valid ChatKit event.

    ``results`` (from :func:`validate_event`) and ``verdicts`` (``DialectVerdict`` s, used to say
    which protocol a foreign event belongs to and what it should have been) are optional.
    """
    if results is None:
        results = [validate_event(event) for event in events]
    findings: list[Finding] = []
    for position, (event, result) in enumerate(zip(events, results, strict=True)):
        if event.decode_error is not None or result.ok:
            continue
        verdict = verdicts[position] if verdicts is not None else None
        extra: dict[str, Any] = {}
        foreign = ""
        if verdict is not None:
            extra["dialect"] = verdict.dialect
            if verdict.should_be:
                extra["should_be"] = verdict.should_be
            if verdict.advice:
                extra["advice"] = verdict.advice
            if verdict.dialect in ("assistants", "responses", "invented"):
                foreign = f" ({verdict.label})"
        errors = [error.to_dict() for error in result.errors]
        suggestion = ""
        if verdict is not None and verdict.should_be == "nothing":
            suggestion = "; drop it (ChatKit has no equivalent)"
        elif verdict is not None and verdict.should_be:
            suggestion = f"; send {verdict.should_be} instead"
        if result.type is None:
            name = ""
            if event.sse_event != "message":
                name = f" (only the SSE `event:` line says {event.sse_event!r})"
            findings.append(
                finding(
                    "schema.missing_type",
                    f"event #{event.index} has no JSON `type` field{name}{foreign}: ChatKit "
                    f"ignores it{suggestion}",
                    _evidence(event, capture, sse_event=event.sse_event, errors=errors, **extra),
                )
            )
        elif not result.known_type:
            findings.append(
                finding(
                    "schema.unknown_type",
                    f"event #{event.index}: unknown event `type` {result.type!r}{foreign}: "
                    f"ChatKit ignores it{suggestion}",
                    _evidence(event, capture, type=result.type, errors=errors, **extra),
                )
            )
        else:
            listed = "; ".join(result.messages[:4])
            more = f" (+{len(result.errors) - 4} more)" if len(result.errors) > 4 else ""
            findings.append(
                finding(
                    "schema.invalid_event",
                    f"event #{event.index} ({result.type}) does not validate as a ChatKit "
                    f"event: {listed}{more}",
                    _evidence(event, capture, type=result.type, errors=errors, **extra),
                )
            )
    return findings
