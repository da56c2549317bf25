"""The ChatKit protocol's vocabulary, read from the installed openai-chatkit SDK.

Which request types stream and which answer JSON, which event and item types exist, and the
judge of every event: the SDK's own pydantic model (``chatkit.types.ThreadStreamEvent``),
validated the way the SDK's types would parse the payload, with its errors in plain words at JSON
paths of the payload. The client model ignores what does not validate; the schema checks report
it.

Pydantic's error locations carry the tags of the unions they went through (``('thread.item.done',
'item', 'assistant_message', 'content', 0, 'type')``); :func:`translate_errors` turns them into
the JSON paths a backend author can look up in their own payload (``item.content[0].type``) and
into sentences.
"""

from __future__ import annotations

import json
import typing
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import chatkit.types as chatkit_types
from pydantic import BaseModel, TypeAdapter, ValidationError

from chatkit_lab.sse import Event, json_kind

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


# -- pydantic's validation errors as plain words at JSON paths of the payload ----------------


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
    kind = json_kind(value)
    return kind if value is None else f"{kind} {_show(value)}"


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
