"""The lifecycle runner: every exchange a ChatKit client makes becomes a capture."""

from __future__ import annotations

import json
from typing import Any

from faulty_servers import json_everywhere

from chatkit_lab.backends import reference_app
from chatkit_lab.capture import Capture, RequestRecord
from chatkit_lab.client import Lifecycle, LifecycleRunner, adopt_thread_id
from chatkit_lab.diagnosis import evaluate_lifecycle
from chatkit_lab.report import table as steps_table
from chatkit_lab.targets import open_app_target, open_target

REFERENCE_STEPS = [
    "mount: threads.list",
    "send: threads.create",
    "load: threads.get_by_id",
    "load: items.list",
    "load: items.list page 1",
    "send: threads.add_user_message",
    "reload: threads.get_by_id",
    "reload: items.list",
    "reload: items.list page 1",
    "reload: items.list page 2",
]


async def _run(spec: str, **kw: Any) -> Lifecycle:
    async with open_target(spec, **kw) as target:
        runner = LifecycleRunner(
            target.sender, target.url, transform=target.transform, target=target.name
        )
        return await runner.run()


def stream(*payloads: dict[str, Any]) -> Capture:
    capture = Capture(
        request=RequestRecord("POST", "http://backend.test/chatkit"),
        status=200,
        response_headers=[("content-type", "text/event-stream")],
        label="send: threads.create",
    )
    for n, payload in enumerate(payloads):
        capture.add_chunk(b"data: " + json.dumps(payload).encode() + b"\n\n", n + 1)
    return capture


VALID_THREAD = {
    "id": "thr_abc",
    "created_at": "2026-02-11T12:00:00",
    "status": {"type": "active"},
    "metadata": {},
    "items": {"data": [], "has_more": False, "after": None},
}


async def test_every_exchange_of_the_reference_session_becomes_a_capture() -> None:
    life = await _run("reference")
    assert [step.name for step in life.steps] == REFERENCE_STEPS
    assert all(isinstance(step.capture, Capture) for step in life.steps)
    assert life.captures == [step.capture for step in life.steps]
    assert all(step.capture.status == 200 for step in life.steps)
    assert all(step.capture.ending.state == "complete" for step in life.steps)
    assert [step.capture.label for step in life.steps] == REFERENCE_STEPS
    expects = {step.name: step.expects for step in life.steps}
    assert expects["send: threads.create"] == "stream"
    assert expects["load: threads.get_by_id"] == "json"
    assert life.thread_id_adopted and life.thread_id and life.created_threads == [life.thread_id]
    table = steps_table(life)
    assert list(table["name"]) == REFERENCE_STEPS
    assert table.loc[table["name"] == "send: threads.create", "events"].item() > 0


async def test_a_request_the_custom_fetch_answers_itself_is_still_a_capture() -> None:
    life = await _run("legacy:attempt1", transform="legacy-fetch")
    mount = life.steps[0]
    assert mount.answered_locally and mount.wire_request is None
    assert mount.capture.transport == "local"
    assert mount.capture.answered_locally is True
    assert mount.capture.json_body() == {"data": [], "has_more": False}
    create = life.step("send: threads.create")
    assert create is not None and create.wire_request is not None
    assert create.capture.request.url.endswith("/user-1/chat")
    assert create.capture.request_type is None  # no ChatKit envelope on the wire any more
    assert json.loads(create.capture.meta["client_body"])["type"] == "threads.create"


async def test_a_json_reply_where_a_stream_was_expected_is_a_finding_not_a_crash() -> None:
    async with open_app_target(json_everywhere(), name="json-everywhere") as target:
        runner = LifecycleRunner(target.sender, target.url, target=target.name)
        life = await runner.run()
    # ChatKit's host script re-sends a stream whose open check fails (JSON, status 200) five times.
    retries = [f"send: threads.create (retry {n})" for n in range(1, 6)]
    assert [step.name for step in life.steps] == [
        "mount: threads.list",
        "send: threads.create",
        *retries,
    ]
    assert [step.attempt for step in life.steps[1:]] == [0, 1, 2, 3, 4, 5]
    assert life.thread_id is None
    assert any("no thread id could be found" in note for note in life.notes)
    diagnosis = evaluate_lifecycle(life)
    codes = {f.code for f in diagnosis.findings}
    assert "transport.expected_stream_got_json" in codes
    assert diagnosis.verdict is not None
    assert (diagnosis.verdict.layer, diagnosis.verdict.code) == (
        "transport",
        "transport.expected_stream_got_json",
    )
    assert diagnosis.layers["persistence"] == "skip"


async def test_a_stream_where_json_was_expected_is_a_finding_not_a_crash() -> None:
    life = await _run("legacy:attempt3", transform="legacy-fetch")
    load = life.step("load: threads.get_by_id")
    assert load is not None and load.expects == "json"
    assert load.capture.is_event_stream
    assert load.reply_json is None
    diagnosis = evaluate_lifecycle(life)
    got_stream = [f for f in diagnosis.findings if f.code == "transport.expected_json_got_stream"]
    assert {f.evidence.capture for f in got_stream} >= {
        "load: threads.get_by_id",
        "reload: threads.get_by_id",
    }


async def test_the_thread_id_comes_from_a_valid_thread_created() -> None:
    capture = stream({"type": "thread.created", "thread": VALID_THREAD})
    assert adopt_thread_id(capture) == ("thr_abc", True)
    life = await _run("reference")
    create = life.step("send: threads.create")
    assert create is not None
    first = create.capture.events[0].payload
    assert first["type"] == "thread.created"
    assert life.thread_id == first["thread"]["id"] and life.thread_id_adopted


def test_an_invalid_thread_created_only_gives_an_unadopted_fallback_id() -> None:
    capture = stream({"type": "thread.created", "thread": {"id": "123"}})
    assert adopt_thread_id(capture) == ("123", False)


def test_an_id_found_only_in_item_payloads_is_a_fallback_and_none_means_none() -> None:
    item = {"type": "thread.item.user_message", "item": {"id": "m", "thread_id": 7}}
    assert adopt_thread_id(stream(item)) == ("7", False)
    assert adopt_thread_id(stream({"type": "x", "thread_id": "t9"})) == ("t9", False)
    assert adopt_thread_id(stream({"object": "thread.message", "id": "msg-1"})) == (None, False)


async def test_the_runner_notes_when_it_follows_an_id_found_only_in_foreign_payloads() -> None:
    life = await _run("legacy:attempt1", transform="legacy-fetch")
    assert life.thread_id == "1" and not life.thread_id_adopted
    assert any("which the real client would not adopt" in note for note in life.notes)
    assert life.step("reload: threads.get_by_id") is not None


async def test_the_runner_stops_after_the_first_turn_when_no_thread_id_exists() -> None:
    life = await _run("legacy:attempt2", transform="legacy-fetch")
    assert life.thread_id is None
    assert [step.name for step in life.steps] == ["mount: threads.list", "send: threads.create"]
    assert any("no thread id could be found" in note for note in life.notes)


async def test_threads_created_in_a_non_builtin_target_are_deleted_at_the_end() -> None:
    app = reference_app(store="memory")
    async with open_app_target(app, name="app") as target:
        runner = LifecycleRunner(target.sender, target.url, delete_created=True)
        life = await runner.run()
    assert life.steps[-1].name == "cleanup: threads.delete"
    assert life.deleted_threads == life.created_threads == [life.thread_id]
    diagnosis = evaluate_lifecycle(life)
    assert diagnosis.verdict is None
