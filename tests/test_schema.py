"""Schema layer: payloads judged by the openai-chatkit SDK's own ThreadStreamEvent model."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    InferenceOptions,
    ThreadItemDoneEvent,
    UserMessageItem,
    UserMessageTextContent,
)

from chatkit_lab.checks import check_specs
from chatkit_lab.checks.decoding import check_decoding
from chatkit_lab.checks.schema import check_schema
from chatkit_lab.client.protocol import CHATKIT_EVENT_TYPES, validate_item, validate_payload
from chatkit_lab.sse import Event, decode_messages, dispatch_bytes

STREAMS = Path(__file__).parent / "streams"
NOW = datetime(2026, 2, 11, 10, 0, 0)
TS_TEXT = "2026-02-11T10:00:00"


def events_of(raw: bytes) -> list[Event]:
    return decode_messages(dispatch_bytes(raw))


def sdk_json(model: object) -> dict:
    """An SDK model serialized the way ChatKitServer serializes events."""
    return json.loads(model.model_dump_json(by_alias=True, exclude_none=True))  # type: ignore[attr-defined]


def assistant_done(**item_changes: object) -> dict:
    payload = sdk_json(
        ThreadItemDoneEvent(
            item=AssistantMessageItem(
                id="msg_a",
                thread_id="thr_1",
                created_at=NOW,
                content=[AssistantMessageContent(text="Hi there")],
            )
        )
    )
    payload["item"].update(item_changes)
    return payload


def test_the_event_types_come_from_the_installed_sdk() -> None:
    assert "thread.item.done" in CHATKIT_EVENT_TYPES
    assert "stream_options" in CHATKIT_EVENT_TYPES
    assert "thread.message.delta" not in CHATKIT_EVENT_TYPES
    assert len(CHATKIT_EVENT_TYPES) == 12


def test_an_event_serialized_by_the_sdk_validates_and_yields_the_sdk_model() -> None:
    result = validate_payload(assistant_done())
    assert result.ok and result.known_type and result.errors == []
    assert type(result.model).__name__ == "ThreadItemDoneEvent"


def test_a_text_content_part_is_named_at_its_json_path_with_the_expected_output_text() -> None:
    payload = assistant_done(content=[{"type": "text", "text": "Hi"}])
    result = validate_payload(payload)
    assert not result.ok and result.known_type
    assert [e.path for e in result.errors] == ["item.content[0].type"]
    assert result.errors[0].message == '`item.content[0].type` is "text", expected "output_text"'
    assert result.errors[0].problem == "wrong_value"


def test_a_missing_created_at_is_reported_as_missing_at_item_created_at() -> None:
    payload = assistant_done()
    del payload["item"]["created_at"]
    result = validate_payload(payload)
    assert [(e.path, e.problem) for e in result.errors] == [("item.created_at", "missing")]
    assert result.errors[0].message == "`item.created_at` is missing"


def test_an_unknown_event_type_is_said_in_plain_words() -> None:
    result = validate_payload({"type": "response.text.delta", "delta": "x"})
    assert not result.ok and not result.known_type
    assert result.errors[0].message == (
        'unknown event `type` "response.text.delta": not a ChatKit event'
    )


def test_an_event_without_a_type_says_the_type_is_missing() -> None:
    result = validate_payload({"object": "thread.message"})
    assert result.type is None and not result.known_type
    assert [(e.path, e.problem) for e in result.errors] == [("type", "missing")]


def test_an_unknown_item_type_lists_the_chatkit_item_types() -> None:
    payload = assistant_done(type="message")
    result = validate_payload(payload)
    assert [e.path for e in result.errors] == ["item.type"]
    assert '"assistant_message"' in result.errors[0].expected
    assert '"message"' in result.errors[0].message


def test_union_tags_are_stripped_from_nested_paths_inside_a_thread() -> None:
    payload = {
        "type": "thread.created",
        "thread": {
            "id": "thr_1",
            "created_at": "2026-02-11T10:00:00",
            "status": {"type": "active"},
            "items": {"data": [assistant_done(created_at="yesterday")["item"]]},
        },
    }
    result = validate_payload(payload)
    assert [e.path for e in result.errors] == ["thread.items.data[0].created_at"]
    assert "ISO 8601" in result.errors[0].message


def test_a_field_named_like_its_item_type_is_not_mistaken_for_a_union_tag() -> None:
    payload = {
        "type": "thread.item.done",
        "item": {"id": "w", "thread_id": "t", "created_at": TS_TEXT, "type": "widget"},
    }
    result = validate_payload(payload)
    assert [e.path for e in result.errors] == ["item.widget"]


def test_a_plain_union_reports_only_the_branch_matching_the_update_type() -> None:
    payload = {
        "type": "thread.item.updated",
        "item_id": "msg_a",
        "update": {"type": "assistant_message.content_part.text_delta", "content_index": 0},
    }
    result = validate_payload(payload)
    assert [e.message for e in result.errors] == ["`update.delta` is missing"]


def test_a_plain_union_with_no_matching_branch_collapses_into_one_error() -> None:
    bad_update = validate_payload(
        {"type": "thread.item.updated", "item_id": "m", "update": {"type": "text_delta"}}
    )
    assert [e.path for e in bad_update.errors] == ["update.type"]
    assert "assistant_message.content_part.text_delta" in bad_update.errors[0].expected
    bad_code = validate_payload({"type": "error", "code": "rate_limited"})
    assert [e.message for e in bad_code.errors] == [
        '`code` is "rate_limited", expected one of "stream.error", "custom"'
    ]


def test_null_for_an_optional_field_is_fine_but_null_for_a_list_is_named() -> None:
    assert validate_payload(assistant_done() | {"extra": None}).ok
    user = {
        "type": "thread.item.done",
        "item": {
            "id": "u",
            "thread_id": "t",
            "created_at": "2026-02-11T10:00:00Z",
            "type": "user_message",
            "content": [{"type": "input_text", "text": "hi"}],
            "quoted_text": None,
            "inference_options": {"model": None, "tool_choice": None},
        },
    }
    assert validate_payload(user).ok
    result = validate_payload(
        assistant_done(content=[{"type": "output_text", "text": "x", "annotations": None}])
    )
    assert [e.message for e in result.errors] == [
        "`item.content[0].annotations` is null, expected an array"
    ]


def test_validate_item_checks_a_bare_thread_item() -> None:
    item = sdk_json(
        UserMessageItem(
            id="u",
            thread_id="t",
            created_at=NOW,
            content=[UserMessageTextContent(text="hi")],
            inference_options=InferenceOptions(),
        )
    )
    assert validate_item(item) == []
    del item["inference_options"]
    assert [e.path for e in validate_item(item)] == ["inference_options"]


def test_check_schema_gives_one_finding_per_invalid_event_with_every_field_error() -> None:
    payload = assistant_done(content=[{"type": "text", "text": "Hi"}])
    del payload["item"]["created_at"]
    first_frame = b"data: " + json.dumps(payload).encode() + b"\n\n"
    raw = first_frame + b'data: {"type":"response.done"}\n\n'
    findings = check_schema(events_of(raw), capture="cap")
    assert [f.code for f in findings] == ["schema.invalid_event", "schema.unknown_type"]
    first = findings[0]
    assert first.evidence.event_index == 0 and first.evidence.capture == "cap"
    assert {e["path"] for e in first.evidence.detail["errors"]} == {
        "item.created_at",
        "item.content[0].type",
    }
    assert first.evidence.excerpt and first.evidence.byte_range == (0, len(first_frame))


def test_decoding_findings_carry_the_excerpt_and_explain_done_sentinels() -> None:
    raw = b'data: [DONE]\n\ndata: {not json\n\ndata: [1, 2]\n\ndata: {"type":"notice"}\n\n'
    findings = check_decoding(events_of(raw))
    assert [f.code for f in findings] == [
        "decoding.not_json",
        "decoding.not_json",
        "decoding.not_object",
    ]
    assert "[DONE]" in findings[0].summary and findings[0].evidence.excerpt == "[DONE]"
    assert findings[2].evidence.event_index == 2


def test_schema_checks_are_registered_with_concrete_fixes() -> None:
    specs = check_specs()
    for code in (
        "decoding.not_json",
        "decoding.not_object",
        "schema.missing_type",
        "schema.unknown_type",
        "schema.invalid_event",
    ):
        assert code in specs
        assert specs[code].fix
    assert "ChatKitServer" in specs["schema.unknown_type"].fix
