"""Client model: what the ChatKit client would show after each event (modelled from the SDK)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chatkit_lab.checks.rendering import check_rendering
from chatkit_lab.client import (
    MODEL_NOTE,
    ClientModel,
    ClientState,
    replay,
)
from chatkit_lab.sse import Event, decode_messages, dispatch_bytes

STREAMS = Path(__file__).parent / "streams"
TS = "2026-02-11T10:00:00"


def events_of(*payloads: dict[str, Any]) -> list[Event]:
    raw = b"".join(b"data: " + json.dumps(p).encode() + b"\n\n" for p in payloads)
    return decode_messages(dispatch_bytes(raw))


def stream(name: str) -> list[Event]:
    return decode_messages(dispatch_bytes((STREAMS / name).read_bytes()))


def item(kind: str, item_id: str, item_type: str, text: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": item_id, "thread_id": "thr", "created_at": TS, "type": item_type}
    if item_type == "user_message":
        body |= {"content": [{"type": "input_text", "text": text}], "inference_options": {}}
    else:
        body["content"] = [] if text is None else [{"type": "output_text", "text": text}]
    return {"type": f"thread.item.{kind}", "item": body}


def delta(text: str, item_id: str = "a1", index: int = 0) -> dict[str, Any]:
    update = {
        "type": "assistant_message.content_part.text_delta",
        "content_index": index,
        "delta": text,
    }
    return {"type": "thread.item.updated", "item_id": item_id, "update": update}


def test_the_reference_stream_shows_the_user_message_and_the_assistant_reply() -> None:
    states = replay(stream("reference_handmade_create.sse"))
    final = states[-1]
    assert final.thread_id == "thr_1" and final.title == "Greeting"
    assert final.transcript() == "[user] Hello\n[assistant] Hi there"
    assert not final.renders_nothing and final.has_assistant_text
    assert final.events_seen == final.events_understood == 10
    assert final.streaming_items == []


def test_the_assistant_message_streams_delta_by_delta_before_it_is_done() -> None:
    events = events_of(
        item("done", "u1", "user_message", "Hi"),
        item("added", "a1", "assistant_message", None),
        delta("Hel"),
        delta("lo"),
        item("done", "a1", "assistant_message", "Hello"),
    )
    states = ClientModel().replay(events)
    assert [s.items["a1"].text for s in states[1:]] == ["", "Hel", "Hello", "Hello"]
    assert [s.items["a1"].streaming for s in states[1:]] == [True, True, True, False]
    assert states[3].transcript() == "[user] Hi\n[assistant] (streaming…) Hello"
    # Snapshots: later events never change an earlier state.
    assert states[2].items["a1"].text == "Hel"


def test_a_text_delta_for_a_part_that_does_not_exist_yet_creates_it() -> None:
    states = replay(
        events_of(
            item("added", "a1", "assistant_message", None), delta("a", index=0), delta("b", index=1)
        )
    )
    assert states[-1].items["a1"].parts == ["a", "b"]
    assert states[-1].items["a1"].text == "ab"


def test_a_repeated_id_overwrites_the_earlier_item_in_place() -> None:
    final = replay(
        events_of(
            item("done", "m1", "user_message", "question"),
            item("done", "m2", "user_message", "other"),
            item("done", "m1", "assistant_message", "answer"),
        )
    )[-1]
    assert list(final.items) == ["m1", "m2"]
    assert final.items["m1"].type == "assistant_message"
    assert final.transcript() == "[assistant] answer\n[user] other"


def test_removed_and_replaced_items_are_applied() -> None:
    final = replay(
        events_of(
            item("done", "a1", "assistant_message", "old"),
            item("replaced", "a1", "assistant_message", "new"),
            item("done", "a2", "assistant_message", "gone"),
            {"type": "thread.item.removed", "item_id": "a2"},
        )
    )[-1]
    assert final.transcript() == "[assistant] new"


def test_error_and_notice_events_become_notices() -> None:
    final = replay(
        events_of(
            {"type": "error", "code": "custom", "message": "Quota exceeded"},
            {"type": "notice", "level": "warning", "message": "Heads up"},
        )
    )[-1]
    assert final.notices == ("error: Quota exceeded", "warning: Heads up")
    assert "[notice] error: Quota exceeded" in final.transcript()


@pytest.mark.parametrize(
    "name",
    [
        "legacy_attempt1_thread_item.sse",
        "legacy_attempt2_assistants.sse",
        "legacy_attempt3_responses.sse",
    ],
)
def test_each_legacy_attempt_renders_nothing_because_every_event_is_ignored(name: str) -> None:
    events = stream(name)
    final = replay(events)[-1]
    assert final.renders_nothing
    assert final.events_understood == 0 and len(final.ignored) == len(events)
    assert final.message.startswith("the UI would draw nothing from this stream")
    assert "the UI would draw nothing from this stream" in final.transcript()
    findings = check_rendering(final, "threads.create", name)
    assert [f.code for f in findings] == ["rendering.nothing_rendered"]
    assert findings[0].evidence.detail["events"] == len(events)
    assert findings[0].evidence.detail["understood"] == 0


def test_an_invalid_chatkit_event_is_ignored_with_the_reason() -> None:
    final = replay(events_of({"type": "thread.created", "thread": {"id": "123"}}))[-1]
    assert final.thread_id is None
    (index, name, why) = final.ignored[0]
    assert (index, name) == (0, "thread.created") and "created_at" in why


def test_apply_accepts_plain_payload_dicts_and_sdk_models() -> None:
    from chatkit.types import ProgressUpdateEvent

    model = ClientModel()
    model.apply({"type": "progress_update", "text": "Thinking"})
    state = model.apply(ProgressUpdateEvent(text="Searching"))
    assert state.progress == "Searching" and state.events_understood == 2


def test_a_missing_reply_is_a_rendering_finding_only_for_requests_that_expect_one() -> None:
    final = replay(events_of(item("done", "u1", "user_message", "Hi")))[-1]
    assert [f.code for f in check_rendering(final, "threads.add_user_message")] == [
        "rendering.no_assistant_text"
    ]
    assert check_rendering(final, "threads.custom_action") == []
    effect_only = replay(events_of({"type": "client_effect", "name": "highlight"}))[-1]
    assert effect_only.renders_nothing
    assert check_rendering(effect_only, "threads.custom_action") == []
    assert [f.code for f in check_rendering(effect_only, None)] == ["rendering.nothing_rendered"]
    assert check_rendering(final, "threads.list") == []
    with_error = replay(
        events_of(
            item("done", "u1", "user_message", "Hi"), {"type": "error", "code": "stream.error"}
        )
    )[-1]
    assert check_rendering(with_error, "threads.create") == []


def test_the_html_rendering_escapes_text_and_marks_streaming_items() -> None:
    state = replay(
        events_of(
            item("done", "u1", "user_message", "<script>alert(1)</script>"),
            item("added", "a1", "assistant_message", None),
            delta("a & b"),
        )
    )[-1]
    page = state.to_html()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "a &amp; b" in page and "streaming" in page
    assert MODEL_NOTE in page and state._repr_html_() == page


def test_the_reprs_say_the_client_is_modelled_from_the_sdk() -> None:
    empty = ClientState()
    assert MODEL_NOTE in repr(empty)
    assert "the UI would draw nothing from this stream" in repr(empty)
    assert "the UI would draw nothing from this stream" in empty.to_html()
    assert "ChatKit.js" in (ClientModel.__doc__ or "")
