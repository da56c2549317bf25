"""Dialect: which protocol each event speaks, and the ChatKit event it should have been."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatkit_lab.checks.dialect import (
    DIALECTS,
    classify_event,
    classify_events,
    dialect_counts,
)
from chatkit_lab.checks.schema import check_dialect
from chatkit_lab.sse import Event, decode_messages, dispatch_bytes

STREAMS = Path(__file__).parent / "streams"


def events_of(raw: bytes) -> list[Event]:
    return decode_messages(dispatch_bytes(raw))


def one(payload: object, event: str | None = None) -> Event:
    head = f"event: {event}\n".encode() if event else b""
    return events_of(head + b"data: " + json.dumps(payload).encode() + b"\n\n")[0]


def stream(name: str) -> list[Event]:
    return events_of((STREAMS / name).read_bytes())


def test_attempt_1_invented_thread_item_names_are_flagged_as_invented() -> None:
    verdicts = classify_events(stream("legacy_attempt1_thread_item.sse"))
    assert [v.dialect for v in verdicts] == ["invented", "invented"]
    assert verdicts[0].should_be == "thread.item.done with a user_message item"
    assert verdicts[1].should_be.startswith("thread.item.done with an assistant_message item")
    assert '`content[0].type` is "text", expected "output_text"' in verdicts[1].advice


def test_attempt_2_assistants_events_are_flagged_as_assistants_even_without_a_json_type() -> None:
    verdicts = classify_events(stream("legacy_attempt2_assistants.sse"))
    assert [v.dialect for v in verdicts] == ["assistants"] * 6
    assert [v.name for v in verdicts] == [
        "thread.message.created",
        "thread.message.created",
        "thread.message.in_progress",
        "thread.message.delta",
        "thread.message.delta",
        "thread.message.completed",
    ]
    should = [v.should_be for v in verdicts]
    assert should[0] == "thread.item.done with a user_message item"
    assert should[1].startswith("thread.item.added with an assistant_message")
    assert should[2] == "nothing"
    assert should[3] == (
        "thread.item.updated with an assistant_message.content_part.text_delta update"
    )
    assert should[5].startswith("thread.item.done with the complete assistant_message")


def test_attempt_3_is_responses_api_behind_an_invalid_chatkit_thread_created() -> None:
    verdicts = classify_events(stream("legacy_attempt3_responses.sse"))
    assert [v.dialect for v in verdicts] == ["chatkit-invalid"] + ["responses"] * 9
    by_name = {v.name: v.should_be for v in verdicts}
    assert by_name["thread.created"].startswith("thread.created with a full Thread")
    for needed in ("created_at", "status", "items"):
        assert needed in by_name["thread.created"]
    assert "`thread.created_at` is missing" in verdicts[0].advice
    assert by_name["conversation.item.created"] == "thread.item.done with a user_message item"
    assert by_name["response.output_item.added"].startswith(
        "thread.item.added with an assistant_message"
    )
    assert by_name["response.text.delta"].endswith("content_part.text_delta update")
    assert by_name["response.done"].startswith("thread.item.done for the assistant message")
    assert by_name["response.created"] == "nothing"


@pytest.mark.parametrize(
    ("payload", "sse_event", "dialect", "should_start"),
    [
        ({"type": "thread.run.created", "object": "thread.run"}, None, "assistants", "nothing"),
        (
            {"object": "thread.run", "status": "failed"},
            "thread.run.failed",
            "assistants",
            "an error event",
        ),
        (
            {"id": "t", "object": "thread", "created_at": 1},
            "thread.created",
            "assistants",
            "thread.created with a full Thread",
        ),
        (
            {"type": "response.output_text.delta", "delta": "x"},
            None,
            "responses",
            "thread.item.updated with an assistant_message.content_part.text_delta",
        ),
        (
            {"type": "response.completed", "response": {}},
            None,
            "responses",
            "thread.item.done for the assistant message",
        ),
        (
            {"type": "conversation.item.created", "item": {"type": "message", "role": "assistant"}},
            None,
            "responses",
            "thread.item.done with the complete assistant_message",
        ),
        ({"type": "thread.item.created", "item": {}}, None, "invented", "thread.item.added"),
        (
            {"type": "thread.item.delta", "delta": "x"},
            None,
            "invented",
            "thread.item.updated with an assistant_message.content_part.text_delta",
        ),
        (
            {"type": "assistant_message.content_part.text_delta", "delta": "x"},
            None,
            "invented",
            "thread.item.updated carrying assistant_message.content_part.text_delta",
        ),
        (
            {"object": "chat.completion.chunk", "choices": []},
            None,
            "unknown",
            "thread.item.updated",
        ),
        ({"type": "ping"}, None, "unknown", None),
    ],
)
def test_foreign_events_map_to_their_chatkit_equivalent(
    payload: dict, sse_event: str | None, dialect: str, should_start: str | None
) -> None:
    verdict = classify_event(one(payload, sse_event))
    assert verdict.dialect == dialect
    if should_start is None:
        assert verdict.should_be is None
    else:
        assert verdict.should_be and verdict.should_be.startswith(should_start)


def test_a_valid_chatkit_event_is_chatkit_with_nothing_to_change() -> None:
    verdict = classify_event(one({"type": "stream_options", "stream_options": {"allow_cancel": 1}}))
    assert (verdict.dialect, verdict.should_be) == ("chatkit", None)


def test_a_done_sentinel_is_classified_and_should_be_dropped() -> None:
    events = events_of(b"event: done\ndata: [DONE]\n\ndata: [DONE]\n\ndata: {oops\n\n")
    verdicts = classify_events(events)
    assert [v.dialect for v in verdicts] == ["assistants", "unknown", "unknown"]
    assert verdicts[0].should_be == "nothing" and verdicts[2].should_be is None


def test_the_foreign_protocol_summary_counts_dialects_and_maps_each_name_once() -> None:
    events = stream("legacy_attempt3_responses.sse")
    verdicts = classify_events(events)
    assert dialect_counts(verdicts) == {"chatkit-invalid": 1, "responses": 9}
    assert set(dialect_counts(verdicts)) <= set(DIALECTS)
    findings = check_dialect(events, verdicts, "attempt3")
    assert [f.code for f in findings] == ["schema.foreign_protocol"]
    detail = findings[0].evidence.detail
    assert detail["valid_chatkit"] == 0 and detail["events"] == 10
    assert detail["should_be"]["response.text.delta"].startswith("thread.item.updated")
    assert "9 Responses API events" in findings[0].summary


def test_a_chatkit_stream_gets_no_dialect_finding() -> None:
    events = stream("reference_handmade_create.sse")
    assert check_dialect(events, classify_events(events)) == []
