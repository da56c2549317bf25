"""The reference backend serves every conformance scenario the SDK's way, on the wire and in
its store."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from backend_helpers import add_message_body, create_body, drive, get_body, parse_sse
from chatkit.store import NotFoundError
from chatkit.types import Attachment, SyncCustomActionResponse, ThreadStreamEvent
from chatkit.widgets import Button, Card, WidgetRoot
from pydantic import TypeAdapter

from chatkit_lab.backends import reference
from chatkit_lab.backends.attachments import MAX_UPLOAD_BYTES, MemoryAttachmentStore
from chatkit_lab.backends.reference import CHATKIT_PATH, match_scenario, reference_app
from chatkit_lab.scenarios.cancel import STORY, STORY_PAUSE_S

EVENT = TypeAdapter[Any](ThreadStreamEvent)
ATTACHMENT = TypeAdapter[Any](Attachment)
WIDGET = TypeAdapter[Any](WidgetRoot)
DELTA = "assistant_message.content_part.text_delta"
LONG_STORY = "Tell me a long story about a lighthouse."


def request(request_type: str, **params: Any) -> dict[str, Any]:
    return {"type": request_type, "params": params, "metadata": {}}


def message_input(text: str, attachments: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": list(attachments),
        "inference_options": {},
    }


async def stream(client: Any, payload: dict[str, Any]) -> list[Any]:
    """POST a streaming request; every event validated against ThreadStreamEvent."""
    reply = await client.post(CHATKIT_PATH, payload)
    assert reply.status == 200, reply.body
    assert reply.headers["content-type"].startswith("text/event-stream")
    return [EVENT.validate_json(sse.data) for sse in reply.events]


async def call(client: Any, payload: dict[str, Any]) -> Any:
    reply = await client.post(CHATKIT_PATH, payload)
    assert reply.status == 200, reply.body
    return reply.json()


def done_items(events: list[Any], kind: str) -> list[Any]:
    return [e.item for e in events if e.type == "thread.item.done" and e.item.type == kind]


def text_of(item: Any) -> str:
    return "".join(part.text for part in item.content)


def updates(events: list[Any], kind: str) -> list[Any]:
    return [e.update for e in events if e.type == "thread.item.updated" and e.update.type == kind]


async def timed_events(server: Any, payload: dict[str, Any]) -> list[tuple[float, Any]]:
    """Iterate the server's stream directly (httpx's ASGI transport loses all timing)."""
    result = await server.process(json.dumps(payload), {})
    timed = []
    async for chunk in result:
        timed.append((time.monotonic(), EVENT.validate_json(chunk.removeprefix(b"data: "))))
    return timed


# -- messages, keywords ---------------------------------------------------------------------


def test_declared_prompts_match_exactly_whatever_their_case_and_spacing() -> None:
    assert match_scenario("TELL ME A LONG   STORY about a lighthouse") == "cancel"
    assert match_scenario("Show me an error I cannot retry.") == "error-final"
    assert match_scenario("Show me an error I can retry.") == "error-retry"
    assert match_scenario("Hello! What can you do?") is None
    assert match_scenario("Thanks. One more thing?") is None
    assert match_scenario("look at this", has_attachments=True) == "attachments"


async def test_plain_messages_get_the_plain_scripted_reply() -> None:
    app = reference_app(store="memory")
    async with drive(app, "in-process") as client:
        first = await stream(client, create_body("Hello! What can you do?"))
        thread_id = first[0].thread.id
        second = await stream(client, add_message_body(thread_id, "Thanks. One more thing?"))
    for events, said in ((first, "Hello! What can you do?"), (second, "Thanks. One more thing?")):
        (reply,) = done_items(events, "assistant_message")
        assert text_of(reply).startswith(f'You said "{said}"')
        assert [e.type for e in events if e.type in ("notice", "error", "progress_update")] == []


async def test_scenarios_switched_off_give_plain_replies() -> None:
    app = reference_app(store="memory", scenarios=False)
    async with drive(app, "in-process") as client:
        events = await stream(client, create_body("Show me a notice."))
    assert [e for e in events if e.type == "notice"] == []
    assert text_of(done_items(events, "assistant_message")[0]).startswith("You said")


# -- cancel ---------------------------------------------------------------------------------


async def test_the_long_story_streams_over_forty_deltas_with_a_pause_between_them() -> None:
    server = reference_app(store="memory").state.server
    timed = await timed_events(server, create_body(LONG_STORY))
    deltas = [
        (at, e) for at, e in timed if e.type == "thread.item.updated" and e.update.type == DELTA
    ]
    assert len(deltas) >= 40
    gaps = sorted(b[0] - a[0] for a, b in zip(deltas, deltas[1:], strict=False))
    assert gaps[len(gaps) // 2] >= STORY_PAUSE_S * 0.8
    assert "".join(e.update.delta for _, e in deltas) == STORY


async def test_only_the_long_story_is_slowed_down() -> None:
    server = reference_app(store="memory").state.server
    timed = await timed_events(server, create_body("Hello! What can you do?"))
    deltas = [at for at, e in timed if e.type == "thread.item.updated" and e.update.type == DELTA]
    assert len(deltas) >= 10
    assert deltas[-1] - deltas[0] < STORY_PAUSE_S * (len(deltas) - 1)


async def test_a_cancelled_story_keeps_its_partial_reply_and_the_next_message_is_answered() -> None:
    app = reference_app(store="memory")
    server = app.state.server
    seen: list[Any] = []
    three = asyncio.Event()

    async def read() -> None:
        result = await server.process(json.dumps(create_body(LONG_STORY)), {})
        async for chunk in result:
            seen.append(EVENT.validate_json(chunk.removeprefix(b"data: ")))
            if len(updates(seen, DELTA)) == 3:
                three.set()

    reader = asyncio.create_task(read())
    await asyncio.wait_for(three.wait(), 10)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    thread_id = seen[0].thread.id
    async with drive(app, "in-process") as client:
        saved = (await call(client, get_body(thread_id)))["items"]["data"]
        partial = [item for item in saved if item["type"] == "assistant_message"]
        assert len(partial) == 1
        partial_text = partial[0]["content"][0]["text"]
        assert partial_text.startswith("".join(u.delta for u in updates(seen, DELTA)))
        assert len(partial_text) < len(STORY)
        page = await app.state.store.load_thread_items(thread_id, None, 20, "asc", {})
        assert [item.type for item in page.data][-1] == "sdk_hidden_context"
        after = await stream(client, add_message_body(thread_id, "Hello again"))
    (reply,) = done_items(after, "assistant_message")
    assert text_of(reply).startswith('You said "Hello again"')


async def test_a_client_that_hangs_up_on_loopback_stops_the_story_mid_stream() -> None:
    app = reference_app(store="memory")
    async with drive(app, "loopback") as client:
        async with client.client.stream(
            "POST", CHATKIT_PATH, json=create_body(LONG_STORY)
        ) as response:
            buffer = b""
            async for chunk in response.aiter_raw():
                buffer += chunk
                if buffer.count(DELTA.encode()) >= 3:
                    break
        thread_id = json.loads(parse_sse(buffer)[0].data)["thread"]["id"]
        deadline = time.monotonic() + 5
        saved: list[Any] = []
        while time.monotonic() < deadline and not saved:
            await asyncio.sleep(0.05)
            page = await app.state.store.load_thread_items(thread_id, None, 20, "asc", {})
            saved = [item for item in page.data if item.type == "assistant_message"]
    assert len(saved) == 1
    assert 0 < len(text_of(saved[0])) < len(STORY)


# -- retry ----------------------------------------------------------------------------------


async def test_retry_after_the_user_message_replaces_the_reply_with_a_new_answer() -> None:
    app = reference_app(store="memory")
    async with drive(app, "in-process") as client:
        first = await stream(client, create_body("Give me a fun fact about octopuses."))
        thread_id = first[0].thread.id
        (user,) = done_items(first, "user_message")
        (old,) = done_items(first, "assistant_message")
        retried = await stream(
            client, request("threads.retry_after_item", thread_id=thread_id, item_id=user.id)
        )
        saved = (await call(client, get_body(thread_id)))["items"]["data"]
    (new,) = done_items(retried, "assistant_message")
    assert text_of(old).endswith("(answer 1)") and text_of(new).endswith("(answer 2)")
    assert new.id != old.id
    assert [item["id"] for item in saved] == [user.id, new.id]


# -- client tool ----------------------------------------------------------------------------


async def test_the_client_tool_call_ends_the_stream_pending_and_its_output_continues_it() -> None:
    app = reference_app(store="memory")
    async with drive(app, "in-process") as client:
        first = await stream(client, create_body("What text is selected in my editor?"))
        thread_id = first[0].thread.id
        result = {"text": "hello from the editor"}
        second = await stream(
            client, request("threads.add_client_tool_output", thread_id=thread_id, result=result)
        )
        saved = (await call(client, get_body(thread_id)))["items"]["data"]
    last = first[-1]
    assert last.type == "thread.item.done" and last.item.type == "client_tool_call"
    assert (last.item.name, last.item.arguments, last.item.status) == (
        "get_selected_text",
        {},
        "pending",
    )
    assert done_items(first, "assistant_message") == []
    (reply,) = done_items(second, "assistant_message")
    assert '"hello from the editor"' in text_of(reply)
    calls = [item for item in saved if item["type"] == "client_tool_call"]
    assert [(c["id"], c["status"], c["output"]) for c in calls] == [
        (last.item.id, "completed", result)
    ]


# -- widget ---------------------------------------------------------------------------------


async def _weather_card(client: Any) -> tuple[str, list[Any]]:
    events = await stream(client, create_body("Show the weather in Paris as a card."))
    return events[0].thread.id, events


def _button(card: Card) -> Button:
    return next(child for child in card.children if isinstance(child, Button))


async def test_the_weather_card_streams_widget_updates_with_a_refresh_button() -> None:
    app = reference_app(store="memory")
    async with drive(app, "in-process") as client:
        _, events = await _weather_card(client)
    added = next(e for e in events if e.type == "thread.item.added" and e.item.type == "widget")
    (widget,) = done_items(events, "widget")
    assert added.item.id == widget.id
    assert updates(events, "widget.streaming_text.value_delta")
    assert updates(events, "widget.root.updated")
    card = WIDGET.validate_python(widget.widget.model_dump())
    assert isinstance(card, Card)
    action = _button(card).onClickAction
    assert action is not None
    assert (action.type, action.payload) == ("weather.refresh", {"city": "Paris"})
    (reply,) = done_items(events, "assistant_message")
    widget_done = events.index(next(e for e in events if getattr(e, "item", None) == widget))
    reply_added = next(
        n for n, e in enumerate(events) if e.type == "thread.item.added" and e.item.id == reply.id
    )
    assert widget_done < reply_added and "Paris" in text_of(reply)


async def test_the_card_action_replaces_the_widget_and_adds_a_short_message() -> None:
    app = reference_app(store="memory")
    async with drive(app, "in-process") as client:
        thread_id, events = await _weather_card(client)
        (widget,) = done_items(events, "widget")
        action = {"type": "weather.refresh", "payload": {"city": "Paris"}}
        acted = await stream(
            client,
            request("threads.custom_action", thread_id=thread_id, item_id=widget.id, action=action),
        )
        saved = (await call(client, get_body(thread_id)))["items"]["data"]
    (replaced,) = [e.item for e in acted if e.type == "thread.item.replaced"]
    assert replaced.id == widget.id and replaced.widget != widget.widget
    assert "Refreshed once" in replaced.widget.model_dump_json()
    assert "refreshed" in text_of(done_items(acted, "assistant_message")[0])
    stored = next(item for item in saved if item["id"] == widget.id)
    assert "Refreshed once" in json.dumps(stored["widget"])


async def test_the_sync_card_action_returns_and_saves_the_refreshed_widget() -> None:
    app = reference_app(store="memory")
    async with drive(app, "in-process") as client:
        thread_id, events = await _weather_card(client)
        (widget,) = done_items(events, "widget")
        action = {"type": "weather.refresh", "payload": {"city": "Paris"}}
        body = request(
            "threads.sync_custom_action", thread_id=thread_id, item_id=widget.id, action=action
        )
        answer = SyncCustomActionResponse.model_validate(await call(client, body))
    updated = answer.updated_item
    assert updated is not None and updated.id == widget.id
    assert updated.widget != widget.widget
    stored = await app.state.store.load_item(thread_id, widget.id, {})
    assert stored.widget == updated.widget


# -- workflow -------------------------------------------------------------------------------


@pytest.mark.parametrize("delay_s", [0.0, 0.005])
async def test_the_trip_workflow_streams_each_task_once_then_a_reply(delay_s: float) -> None:
    app = reference_app(store="memory", delay_s=delay_s)
    async with drive(app, "in-process") as client:
        events = await stream(client, create_body("Plan a trip to Paris step by step."))
        saved = (await call(client, get_body(events[0].thread.id)))["items"]["data"]
    added = [e.item for e in events if e.type == "thread.item.added" and e.item.type == "workflow"]
    assert len(added) == 1 and len(added[0].workflow.tasks) == 1
    assert [u.task_index for u in updates(events, "workflow.task.added")] == [1, 2]
    assert [u.task_index for u in updates(events, "workflow.task.updated")] == [0, 1, 2]
    (workflow,) = done_items(events, "workflow")
    assert [t.status_indicator for t in workflow.workflow.tasks] == ["complete"] * 3
    assert workflow.workflow.summary is not None and "Paris" in workflow.workflow.summary.title
    assert "step by step" in text_of(done_items(events, "assistant_message")[0])
    (stored,) = [item for item in saved if item["type"] == "workflow"]
    assert len(stored["workflow"]["tasks"]) == 3


# -- attachments ----------------------------------------------------------------------------


async def _describe(client: Any, attachment_id: str) -> tuple[list[Any], Any]:
    events = await stream(
        client,
        request(
            "threads.create", input=message_input("Describe the attached file.", (attachment_id,))
        ),
    )
    saved = await call(client, get_body(events[0].thread.id))
    return events, saved


async def test_a_two_phase_upload_is_put_to_the_same_app_then_used_in_a_message() -> None:
    app = reference_app(store="memory")
    async with drive(app, "in-process") as client:
        meta = {"name": "notes.txt", "size": 21, "mime_type": "text/plain"}
        created = await call(client, request("attachments.create", **meta))
        descriptor = created["upload_descriptor"]
        url = urlsplit(descriptor["url"])
        assert descriptor["method"] == "PUT" and url.netloc == "backend.test"
        assert url.path == app.state.upload_path.format(attachment_id=created["id"])
        put = await client.client.put(url.path, content=b"hello from a notebook")
        assert put.status_code == 200 and "upload_descriptor" not in put.json()
        events, saved = await _describe(client, created["id"])
    reply = text_of(done_items(events, "assistant_message")[0])
    assert '"notes.txt" (text/plain, 21 bytes) starting "hello from a notebook"' in reply
    user = saved["items"]["data"][0]
    assert [a["id"] for a in user["attachments"]] == [created["id"]]
    assert user["attachments"][0]["thread_id"] == saved["id"]


async def test_a_direct_upload_returns_the_attachment_and_a_message_can_carry_it() -> None:
    app = reference_app(store="memory")
    async with drive(app, "in-process") as client:
        files = {"file": ("pixel.png", b"\x89PNG fake bytes", "image/png")}
        posted = await client.client.post(app.state.direct_upload_path, files=files)
        assert posted.status_code == 200
        attachment = ATTACHMENT.validate_python(posted.json())
        assert attachment.upload_descriptor is None and attachment.type == "image"
        preview = await client.client.get(urlsplit(str(attachment.preview_url)).path)
        assert preview.content == b"\x89PNG fake bytes"
        events, saved = await _describe(client, attachment.id)
    assert '"pixel.png" (image/png, 15 bytes)' in text_of(
        done_items(events, "assistant_message")[0]
    )
    assert saved["items"]["data"][0]["attachments"][0]["id"] == attachment.id


async def test_upload_routes_refuse_large_bodies_unknown_ids_and_missing_files() -> None:
    app = reference_app(store="memory")
    too_big = b"x" * (MAX_UPLOAD_BYTES + 1)
    async with drive(app, "in-process") as client:
        big = {"name": "big.bin", "size": MAX_UPLOAD_BYTES + 1, "mime_type": "application/zip"}
        refused = await client.post(CHATKIT_PATH, request("attachments.create", **big))
        meta = {"name": "a.bin", "size": 3, "mime_type": "application/octet-stream"}
        created = await call(client, request("attachments.create", **meta))
        path = app.state.upload_path.format(attachment_id=created["id"])
        put_big = await client.client.put(path, content=too_big)
        unknown = await client.client.put(app.state.upload_path.format(attachment_id="atc_nope"))
        direct_big = await client.client.post(
            app.state.direct_upload_path, files={"file": ("big.bin", too_big, "text/plain")}
        )
        no_file = await client.client.post(
            app.state.direct_upload_path, files={"other": ("a.txt", b"a", "text/plain")}
        )
    assert refused.status == 413
    assert (
        put_big.status_code == 413 and app.state.attachment_store.file(created["id"]).data is None
    )
    assert unknown.status_code == 404
    assert direct_big.status_code == 413 and no_file.status_code == 400


async def test_deleting_an_attachment_removes_it_from_both_stores() -> None:
    app = reference_app(store="memory")
    async with drive(app, "in-process") as client:
        files = {"file": ("a.txt", b"abc", "text/plain")}
        attachment = (await client.client.post(app.state.direct_upload_path, files=files)).json()
        answer = await call(client, request("attachments.delete", attachment_id=attachment["id"]))
    assert answer == {}
    assert attachment["id"] not in app.state.attachment_store
    with pytest.raises(NotFoundError):
        await app.state.store.load_attachment(attachment["id"], {})


async def test_the_attachment_store_keeps_a_bounded_number_of_files() -> None:
    store = MemoryAttachmentStore(max_files=2)
    ids = [store.add_upload(f"{n}.txt", "text/plain", b"x", {}).id for n in range(3)]
    assert [i in store for i in ids] == [False, True, True] and len(store) == 2


# -- history and feedback -------------------------------------------------------------------


async def test_history_requests_work_and_feedback_is_recorded_boundedly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reference, "MAX_FEEDBACK", 2)
    app = reference_app(store="memory")
    async with drive(app, "in-process") as client:
        threads = []
        for word in ("one", "two", "three"):
            events = await stream(client, create_body(word))
            threads.append((events[0].thread.id, done_items(events, "assistant_message")[0].id))
        first = await call(client, request("threads.list", limit=2, order="desc"))
        rest = await call(
            client, request("threads.list", limit=2, order="desc", after=first["after"])
        )
        renamed = await call(client, request("threads.update", thread_id=threads[0][0], title="Hi"))
        assert await call(client, request("threads.delete", thread_id=threads[1][0])) == {}
        for (thread_id, item_id), kind in zip(
            threads, ("positive", "negative", "positive"), strict=True
        ):
            body = request("items.feedback", thread_id=thread_id, item_ids=[item_id], kind=kind)
            assert await call(client, body) == {}
        remaining = await call(client, request("threads.list", limit=10, order="asc"))
    assert [t["id"] for t in first["data"] + rest["data"]] == [t for t, _ in reversed(threads)]
    assert first["has_more"] is True and renamed["title"] == "Hi"
    assert [t["id"] for t in remaining["data"]] == [threads[0][0], threads[2][0]]
    assert app.state.server.feedback == [
        (threads[1][0], (threads[1][1],), "negative"),
        (threads[2][0], (threads[2][1],), "positive"),
    ]


# -- errors and notices ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "allow_retry"),
    [("Show me an error I can retry.", True), ("Show me an error I cannot retry.", False)],
)
async def test_the_error_prompts_stream_a_progress_update_then_an_error(
    prompt: str, allow_retry: bool
) -> None:
    app = reference_app(store="memory")
    async with drive(app, "in-process") as client:
        events = await stream(client, create_body(prompt))
    assert [e.type for e in events][-2:] == ["progress_update", "error"]
    assert events[-1].allow_retry is allow_retry and events[-1].message
    assert done_items(events, "assistant_message") == []


async def test_the_notice_prompt_streams_a_notice_and_progress_then_a_reply() -> None:
    app = reference_app(store="memory")
    async with drive(app, "in-process") as client:
        events = await stream(client, create_body("Show me a notice."))
    types = [e.type for e in events]
    notice = next(e for e in events if e.type == "notice")
    assert notice.level == "info"
    assert types.index("notice") < types.index("progress_update") < types.index("thread.item.added")
    assert len(done_items(events, "assistant_message")) == 1


def test_the_upload_paths_are_on_the_app_state() -> None:
    app = reference_app(store="memory")
    paths = {route.path for route in app.routes if hasattr(route, "path")}
    assert app.state.upload_path in paths and app.state.direct_upload_path in paths
    assert app.state.upload_path.startswith(CHATKIT_PATH + "/")
