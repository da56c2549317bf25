"""The reference backend streams valid ChatKit events and persists what it streamed."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from backend_helpers import (
    MODES,
    Reply,
    add_message_body,
    create_body,
    drive,
    get_body,
)
from chatkit.types import ThreadStreamEvent
from pydantic import TypeAdapter

from chatkit_lab.backends import (
    CHATKIT_PATH,
    SCRIPTS,
    MemoryStore,
    ModelUnavailableError,
    RecordingStore,
    ReferenceServer,
    Script,
    reference_app,
    split_deltas,
    weather_report,
)
from chatkit_lab.report import table as report_table

EVENT = TypeAdapter[Any](ThreadStreamEvent)


def validated(reply: Reply) -> list[Any]:
    """Every event validated one by one against ThreadStreamEvent."""
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    events = []
    for number, sse in enumerate(reply.events):
        assert sse.event is None, f"event {number} has an event: line"
        events.append(EVENT.validate_json(sse.data))
    return events


def assistant_text(events: list[Any]) -> tuple[str, str]:
    done = [
        e for e in events if e.type == "thread.item.done" and e.item.type == "assistant_message"
    ]
    assert len(done) == 1
    return done[0].item.id, "".join(part.text for part in done[0].item.content)


@pytest.mark.parametrize("mode", MODES)
async def test_the_reference_stream_validates_event_by_event(mode: str) -> None:
    app = reference_app(store="memory")
    async with drive(app, mode) as client:
        first = validated(await client.post(CHATKIT_PATH, create_body("hello there")))
        types = [event.type for event in first]
        assert types[:4] == [
            "thread.created",
            "thread.item.done",
            "stream_options",
            "thread.item.added",
        ]
        assert first[1].item.type == "user_message"
        deltas = [
            e.update.delta
            for e in first
            if e.type == "thread.item.updated"
            and e.update.type == "assistant_message.content_part.text_delta"
        ]
        assert len(deltas) >= 3
        item_id, text = assistant_text(first)
        assert "".join(deltas) == text and "hello there" in text
        assert first[3].item.id == item_id and types[-1] == "thread.item.done"

        thread_id = first[0].thread.id
        second = validated(await client.post(CHATKIT_PATH, add_message_body(thread_id, "again")))
        assert [e.type for e in second][:3] == [
            "thread.item.done",
            "stream_options",
            "thread.item.added",
        ]
        assert all(
            getattr(e, "item", None) is None or e.item.thread_id == thread_id for e in second
        )


@pytest.mark.parametrize("mode", MODES)
async def test_threads_get_by_id_returns_the_streamed_items(mode: str) -> None:
    app = reference_app()  # the default: a SQLite file
    streamed: list[tuple[str, str, str]] = []
    async with drive(app, mode) as client:
        first = validated(await client.post(CHATKIT_PATH, create_body("one")))
        thread_id = first[0].thread.id
        second = validated(await client.post(CHATKIT_PATH, add_message_body(thread_id, "two")))
        for event in first + second:
            if event.type == "thread.item.done":
                item = event.item
                text = "".join(part.text for part in item.content)
                streamed.append((item.id, item.type, text))
        reply = await client.post(CHATKIT_PATH, get_body(thread_id))
        assert reply.status == 200 and reply.headers["content-type"] == "application/json"
        thread = reply.json()
        loaded = [
            (item["id"], item["type"], "".join(part["text"] for part in item["content"]))
            for item in thread["items"]["data"]
        ]
        assert thread["id"] == thread_id and thread["items"]["has_more"] is False
        assert loaded == streamed
        assert [kind for _, kind, _ in loaded] == ["user_message", "assistant_message"] * 2

        newest_first = await client.post(
            CHATKIT_PATH,
            {"type": "items.list", "params": {"thread_id": thread_id, "limit": 3, "order": "desc"}},
        )
        page = newest_first.json()
        assert [item["id"] for item in page["data"]] == [i for i, _, _ in reversed(streamed)][:3]
        assert page["has_more"] is True


async def test_the_tool_call_script_calls_the_tool_then_answers() -> None:
    app = reference_app(store="memory", script="tool-call")
    async with drive(app, "in-process") as client:
        events = validated(await client.post(CHATKIT_PATH, create_body("weather in Paris?")))
    progress = [e for e in events if e.type == "progress_update"]
    assert progress and "Paris" in progress[0].text
    _, text = assistant_text(events)
    assert weather_report("Paris") in text
    server: ReferenceServer = app.state.server
    calls = server.scripted_models[-1].calls
    assert len(calls) == 2
    assert any(
        isinstance(entry, dict) and entry.get("type") == "function_call_output"
        for entry in calls[1].input
    )
    assert server.scripted_models[-1].remaining_steps == 0


async def test_the_multi_turn_script_varies_by_turn_and_sees_the_history() -> None:
    app = reference_app(store="memory", script="multi-turn")
    texts = []
    async with drive(app, "in-process") as client:
        first = validated(await client.post(CHATKIT_PATH, create_body("first")))
        thread_id = first[0].thread.id
        texts.append(assistant_text(first)[1])
        for word in ("second", "third"):
            reply = await client.post(CHATKIT_PATH, add_message_body(thread_id, word))
            texts.append(assistant_text(validated(reply))[1])
        loaded = (await client.post(CHATKIT_PATH, get_body(thread_id))).json()
    assert texts[0].startswith("Hello! Turn 1") and '"first"' in texts[0]
    assert "Turn 2" in texts[1] and "2 earlier messages" in texts[1]
    assert "Turn 3" in texts[2] and "4 messages" in texts[2]
    assert len(set(texts)) == 3
    assert len(loaded["items"]["data"]) == 6
    # the model received the whole thread, converted by the SDK's converter
    last_input = app.state.server.scripted_models[-1].calls[0].input
    assert [entry["role"] for entry in last_input] == ["user", "assistant"] * 2 + ["user"]


async def test_custom_replies_replace_the_script_text() -> None:
    app = reference_app(store="memory", replies=["Alpha beta gamma delta epsilon, {input}!"])
    async with drive(app, "in-process") as client:
        events = validated(await client.post(CHATKIT_PATH, create_body("zeta")))
    assert assistant_text(events)[1] == "Alpha beta gamma delta epsilon, zeta!"
    custom = Script.from_replies("one two three four five six", words_per_delta=1)
    assert len(split_deltas(custom.replies[0], custom.words_per_delta)) == 6


async def test_the_reference_app_records_what_it_asks_of_its_store() -> None:
    app = reference_app()
    store: RecordingStore = app.state.store
    assert isinstance(store, RecordingStore)
    async with drive(app, "in-process") as client:
        events = validated(await client.post(CHATKIT_PATH, create_body("log me")))
    done_ids = [e.item.id for e in events if e.type == "thread.item.done"]
    table = report_table(store.rows())
    added = table[table["method"] == "add_thread_item"]
    assert list(added["item_ids"]) == done_ids
    assert table["method"].iloc[0] == "save_thread"
    assert table["error"].isna().all()
    # the default store is a real SQLite file holding those items
    with sqlite3.connect(app.state.db_path) as conn:
        rows = [row[0] for row in conn.execute("SELECT id FROM items ORDER BY seq")]
    assert rows == done_ids


async def test_malformed_and_unknown_requests_get_client_errors() -> None:
    app = reference_app(store="memory")
    async with drive(app, "in-process") as client:
        bad = await client.post(CHATKIT_PATH, {"type": "threads.nope", "params": {}})
        missing = await client.post(CHATKIT_PATH, get_body("thr_missing"))
        listed = await client.post(CHATKIT_PATH, {"type": "threads.list", "params": {}})
    assert bad.status == 400 and bad.json()["error"] == "invalid ChatKit request"
    assert missing.status == 404
    assert listed.status == 200 and listed.json()["data"] == []


async def test_delay_spreads_the_stream_over_time_on_loopback() -> None:
    app = reference_app(store="memory", delay_s=0.03)
    async with drive(app, "loopback") as client:
        reply = await client.post(CHATKIT_PATH, create_body("slowly"))
    validated(reply)
    assert len(reply.arrivals) >= 4
    assert reply.arrivals[-1] - reply.arrivals[0] >= 0.15


def test_a_real_model_needs_an_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ModelUnavailableError, match="OPENAI_API_KEY"):
        ReferenceServer(MemoryStore(), model="openai:gpt-4.1-mini")
    with pytest.raises(ModelUnavailableError):
        reference_app(store="memory", real_model=True)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    assert ReferenceServer(MemoryStore(), real_model=True).model == "gpt-4.1-mini"
    assert ReferenceServer(MemoryStore()).model is None


def test_the_named_scripts_exist_and_unknown_ones_are_refused() -> None:
    assert {"multi-delta", "tool-call", "multi-turn"} <= set(SCRIPTS)
    with pytest.raises(ValueError, match="unknown script"):
        ReferenceServer(MemoryStore(), script="nope")
    with pytest.raises(ValueError, match="unknown store"):
        reference_app(store="postgres")
