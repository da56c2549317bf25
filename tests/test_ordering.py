"""Ordering: the item lifecycle state machine, its faults and the optional events it tolerates."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chatkit_lab.checks import check_specs
from chatkit_lab.checks.ordering import check_ordering
from chatkit_lab.sse import Event, decode_messages, dispatch_bytes

TS = "2026-02-11T10:00:00"


def events_of(*payloads: dict[str, Any]) -> list[Event]:
    raw = b"".join(b"data: " + json.dumps(p).encode() + b"\n\n" for p in payloads)
    return decode_messages(dispatch_bytes(raw))


def thread_created() -> dict[str, Any]:
    thread = {"id": "thr", "created_at": TS, "items": {"data": [], "has_more": False}}
    return {"type": "thread.created", "thread": thread}


def user_done(item_id: str = "u1") -> dict[str, Any]:
    item = {
        "id": item_id,
        "thread_id": "thr",
        "created_at": TS,
        "type": "user_message",
        "content": [{"type": "input_text", "text": "hello"}],
        "inference_options": {},
    }
    return {"type": "thread.item.done", "item": item}


def assistant(kind: str, item_id: str = "a1", text: str | None = None) -> dict[str, Any]:
    content = [] if text is None else [{"type": "output_text", "text": text}]
    item = {
        "id": item_id,
        "thread_id": "thr",
        "created_at": TS,
        "type": "assistant_message",
        "content": content,
    }
    return {"type": f"thread.item.{kind}", "item": item}


def delta(text: str, index: int = 0, item_id: str = "a1") -> dict[str, Any]:
    update = {
        "type": "assistant_message.content_part.text_delta",
        "content_index": index,
        "delta": text,
    }
    return {"type": "thread.item.updated", "item_id": item_id, "update": update}


def part(kind: str, index: int, text: str = "", item_id: str = "a1") -> dict[str, Any]:
    update = {
        "type": f"assistant_message.content_part.{kind}",
        "content_index": index,
        "content": {"type": "output_text", "text": text},
    }
    return {"type": "thread.item.updated", "item_id": item_id, "update": update}


def codes(*payloads: dict[str, Any], request_type: str | None = "threads.create") -> list[str]:
    return [f.code for f in check_ordering(events_of(*payloads), request_type=request_type)]


def test_the_reference_order_has_no_ordering_finding() -> None:
    assert (
        codes(
            thread_created(),
            user_done(),
            {"type": "stream_options", "stream_options": {"allow_cancel": True}},
            assistant("added"),
            part("added", 0),
            delta("Hi"),
            delta(" there"),
            part("done", 0, "Hi there"),
            assistant("done", text="Hi there"),
            {"type": "thread.updated", "thread": thread_created()["thread"]},
        )
        == []
    )


def test_optional_events_may_all_be_absent() -> None:
    # No stream_options, no content_part.added/done, and a done item without an added.
    assert (
        codes(
            thread_created(),
            user_done(),
            assistant("added"),
            delta("Hi"),
            assistant("done", text="Hi"),
        )
        == []
    )
    assert codes(thread_created(), user_done(), assistant("done", text="Hi")) == []
    assert (
        codes(user_done(), assistant("done", text="Hi"), request_type="threads.add_user_message")
        == []
    )


def test_a_delta_for_the_next_part_creates_it_but_skipping_a_part_is_reported() -> None:
    assert (
        codes(
            thread_created(),
            user_done(),
            assistant("added"),
            delta("a", 0),
            delta("b", 1),
            assistant("done", text="ab"),
        )
        == []
    )
    findings = check_ordering(
        events_of(
            thread_created(),
            user_done(),
            assistant("added"),
            delta("a", 1),
            assistant("done", text="a"),
        ),
        request_type="threads.create",
    )
    assert [f.code for f in findings] == ["ordering.content_index"]
    assert findings[0].evidence.event_index == 3
    assert findings[0].evidence.detail == {"item_id": "a1", "content_index": 1, "parts": 0}


def test_content_part_added_for_a_far_index_is_reported_but_existing_parts_are_fine() -> None:
    assert codes(
        thread_created(),
        user_done(),
        assistant("added"),
        part("added", 2),
        assistant("done", text=""),
    ) == ["ordering.content_index"]
    assert (
        codes(
            thread_created(),
            user_done(),
            assistant("added"),
            part("added", 0),
            delta("x", 0),
            part("done", 0, "x"),
            assistant("done", text="x"),
        )
        == []
    )


def test_an_update_before_added_is_reported_once_and_the_item_is_then_tracked() -> None:
    findings = check_ordering(
        events_of(
            thread_created(),
            user_done(),
            delta("Hi"),
            assistant("added"),
            delta("!"),
            assistant("done", text="Hi!"),
        ),
        request_type="threads.create",
    )
    assert [f.code for f in findings] == ["ordering.update_before_added"]
    assert findings[0].evidence.detail["item_id"] == "a1"


def test_an_update_after_done_is_reported_but_replaced_and_removed_are_allowed() -> None:
    assert codes(
        thread_created(), user_done(), assistant("added"), assistant("done", text="x"), delta("y")
    ) == ["ordering.event_after_done"]
    assert (
        codes(
            thread_created(),
            user_done(),
            assistant("done", text="x"),
            assistant("replaced", text="y"),
            {"type": "thread.item.removed", "item_id": "a1"},
        )
        == []
    )
    assert codes(
        thread_created(),
        user_done(),
        assistant("done", text="x"),
        {"type": "thread.item.removed", "item_id": "a1"},
        delta("late"),
    ) == ["ordering.event_after_done"]


def test_reusing_an_id_is_a_duplicate() -> None:
    findings = check_ordering(
        events_of(
            thread_created(),
            user_done("m1"),
            assistant("added", "m1"),
            delta("x", 0, "m1"),
            assistant("done", "m1", "x"),
        ),
        request_type="threads.create",
    )
    assert [f.code for f in findings] == ["ordering.duplicate_item_id"]
    assert "reuses the id of the user_message" in findings[0].summary
    assert codes(
        thread_created(), user_done(), assistant("done", text="x"), assistant("done", text="x")
    ) == ["ordering.duplicate_item_id"]
    assert codes(
        thread_created(),
        user_done(),
        assistant("added"),
        assistant("added"),
        assistant("done", text=""),
    ) == ["ordering.duplicate_item_id"]


def test_an_item_left_streaming_at_the_end_is_unfinished() -> None:
    findings = check_ordering(
        events_of(thread_created(), user_done(), assistant("added"), delta("Hi")),
        request_type="threads.create",
    )
    assert [f.code for f in findings] == ["ordering.unfinished_item"]
    assert findings[0].evidence.event_index == 2
    assert findings[0].evidence.detail["last_event"] == 3


def test_thread_created_must_come_first_and_exist_on_threads_create() -> None:
    assert codes(user_done(), thread_created(), assistant("done", text="x")) == [
        "ordering.thread_not_first"
    ]
    assert codes(user_done(), assistant("done", text="x")) == ["ordering.thread_missing"]
    assert (
        codes(user_done(), assistant("done", text="x"), request_type="threads.add_user_message")
        == []
    )
    assert codes(user_done(), assistant("done", text="x"), request_type=None) == []


def test_the_user_message_must_come_back_as_a_done_item() -> None:
    assert codes(thread_created(), assistant("done", text="x")) == [
        "ordering.user_message_not_done"
    ]
    assert codes(assistant("done", text="x"), request_type="threads.add_user_message") == [
        "ordering.user_message_not_done"
    ]
    assert codes(assistant("done", text="x"), request_type="threads.retry_after_item") == []


def test_an_error_event_is_noticed_as_a_warning() -> None:
    findings = check_ordering(
        events_of(
            thread_created(),
            user_done(),
            {"type": "error", "code": "stream.error", "allow_retry": True},
        ),
        request_type="threads.create",
    )
    assert [(f.code, f.severity) for f in findings] == [("ordering.error_event", "warning")]
    assert findings[0].evidence.detail["code"] == "stream.error"


def test_an_update_for_the_wrong_item_type_is_reported() -> None:
    assert codes(thread_created(), user_done(), delta("x", 0, "u1")) == [
        "ordering.event_after_done"
    ]
    widget_update = {
        "type": "thread.item.updated",
        "item_id": "a1",
        "update": {
            "type": "widget.streaming_text.value_delta",
            "component_id": "c",
            "delta": "x",
            "done": False,
        },
    }
    assert codes(
        thread_created(), user_done(), assistant("added"), widget_update, assistant("done", text="")
    ) == ["ordering.update_wrong_item"]


def test_invalid_and_foreign_events_raise_no_ordering_finding_of_their_own() -> None:
    bad_done = assistant("done", text="x")
    bad_done["item"]["content"][0]["type"] = "text"
    # The invalid done still finishes the item (schema reports it), so nothing is unfinished.
    assert codes(thread_created(), user_done(), assistant("added"), delta("x"), bad_done) == []
    # A stream with no valid ChatKit event at all gets no absence findings either.
    assert (
        codes(
            {"type": "response.text.delta", "delta": "x"},
            {"type": "thread.created", "thread": {"id": "1"}},
        )
        == []
    )


@pytest.mark.parametrize(
    "code",
    [
        "ordering.thread_not_first",
        "ordering.thread_missing",
        "ordering.user_message_not_done",
        "ordering.update_before_added",
        "ordering.event_after_done",
        "ordering.duplicate_item_id",
        "ordering.content_index",
        "ordering.update_wrong_item",
        "ordering.unfinished_item",
        "ordering.error_event",
    ],
)
def test_every_ordering_check_is_registered_in_the_ordering_layer(code: str) -> None:
    spec = check_specs()[code]
    assert spec.layer == "ordering" and spec.fix and spec.expectation
