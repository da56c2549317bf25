"""The lifecycle runner behaves as ChatKit's host script does, and never lies about side effects."""

from __future__ import annotations

from typing import Any

import pytest

from chatkit_lab.backends import legacy_app, reference_app
from chatkit_lab.backends.faulty import failing_reference_app
from chatkit_lab.backends.transforms import legacy_fetch
from chatkit_lab.client import ClientRequest, LifecycleRunner
from chatkit_lab.client._fetch import ControlCall
from chatkit_lab.client._network import JsonReply
from chatkit_lab.client._timeline import timeline
from chatkit_lab.targets import open_app_target


async def _run(app: Any, **options: Any):
    async with open_app_target(app, name="app") as target:
        runner = LifecycleRunner(target.sender, target.url, **options)
        return await runner.run()


@pytest.mark.parametrize("failure", ["create-500", "create-json"])
async def test_a_send_that_fails_after_saving_is_re_sent_five_times_and_leaves_six_threads(
    failure: str,
) -> None:
    life = await _run(failing_reference_app(failure, store="memory"))
    sends = [step for step in life.steps if step.client_type == "threads.create"]
    assert [step.attempt for step in sends] == [0, 1, 2, 3, 4, 5]
    assert all(step.network is not None and step.network.verdict == "retry" for step in sends)
    assert [step.retry_wait_s for step in sends[1:]] == [
        (1.0, 2.0),
        (2.0, 4.0),
        (4.0, 8.0),
        (5.0, 10.0),
        (5.0, 10.0),
    ]
    audit = life.store_audit
    assert len(audit["new_threads"]) == 6
    assert sum(audit["user_messages"].values()) == 6


async def test_threads_left_by_retries_are_deleted_each_deletion_confirmed_by_a_load() -> None:
    life = await _run(failing_reference_app("create-500", store="memory"), delete_created=True)
    assert len(life.deleted_threads) == 6
    checks = [step for step in life.kit_steps if step.name.startswith("cleanup check")]
    assert len(checks) == 6 and all((step.capture.status or 0) >= 400 for step in checks)


async def test_the_screen_after_a_failed_send_shows_the_error_chatkit_raises() -> None:
    life = await _run(failing_reference_app("create-500", store="memory"))
    screens = timeline(life).screens
    assert [screen.moment for screen in screens] == ["after send", "after the send failed"]
    assert screens[-1].error == "Streaming failed: Internal Server Error"


async def test_a_thread_load_answered_with_a_stream_reaches_the_ui_as_an_empty_object() -> None:
    life = await _run(legacy_app(attempt=3), transform=legacy_fetch)
    load = life.step("load: threads.get_by_id")
    assert load is not None and isinstance(load.network, JsonReply)
    assert load.network.ok and not load.network.parsed and load.ui_value == {}


async def test_every_load_that_the_target_answered_with_a_chat_turn_is_counted() -> None:
    life = await _run(legacy_app(attempt=3), transform=legacy_fetch)
    turned = {step.name for step in life.turns_for_non_sends}
    assert "load: threads.get_by_id" in turned and "reload: items.list" in turned
    assert all(
        step.client_type not in ("threads.create", "threads.add_user_message")
        for step in life.turns_for_non_sends
    )


async def test_the_reference_backend_runs_no_turn_for_a_load() -> None:
    life = await _run(reference_app(store="memory"))
    assert life.turns_for_non_sends == []


async def test_the_report_setup_shows_the_message_on_send_and_loses_it_after_the_load() -> None:
    life = await _run(legacy_app(attempt=3), transform=legacy_fetch)
    line = timeline(life)
    first = line.screens[0]
    assert first.moment == "after send" and first.loading
    assert [item.text for item in first.items] == ["Hello! What can you do?"]
    loss = line.first_loss
    assert loss is not None and loss.moment == "after the thread load"
    assert loss.lost == ("Hello! What can you do?",) and loss.items == ()
    assert "handed the UI {}" in loss.fact


async def test_the_reference_backend_loses_no_message_on_any_screen() -> None:
    life = await _run(reference_app(store="memory"))
    line = timeline(life)
    assert line.first_loss is None
    assert any(screen.moment == "while streaming" for screen in line.screens)


class _Recording:
    """A transform that records every request it sees and rewrites thread deletes."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, request: ClientRequest) -> ClientRequest:
        payload = request.json
        self.seen.append(payload.get("type") if isinstance(payload, dict) else "?")
        return request


async def test_cleanup_and_its_check_never_go_through_the_custom_fetch() -> None:
    recording = _Recording()
    life = await _run(reference_app(store="memory"), transform=recording, delete_created=True)
    assert "threads.delete" not in recording.seen
    assert life.deleted_threads == [life.thread_id]


def _rewrite_deletes(request: ClientRequest) -> ClientRequest:
    payload = request.json
    if isinstance(payload, dict) and payload.get("type") == "threads.delete":
        raise AssertionError("the kit's cleanup must not pass through the user's fetch")
    return request


async def test_a_delete_that_does_not_delete_is_reported_as_not_deleted() -> None:
    app = reference_app(store="memory")

    async def ignoring_deletes(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("method") == "POST":
            message = await receive()
            body = message.get("body", b"")
            if b'"threads.delete"' in body:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": b"{}"})
                return
            sent = False

            async def again() -> Any:
                nonlocal sent
                if sent:
                    return await receive()
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}

            await app(scope, again, send)
            return
        await app(scope, receive, send)

    life = await _run(ignoring_deletes, transform=_rewrite_deletes, delete_created=True)
    assert life.deleted_threads == []
    assert any("it was not deleted" in note for note in life.notes), life.notes


class _SetsThread:
    """A Python fetch whose frontend calls setThreadId on every threads.create reply."""

    def __call__(self, request: ClientRequest) -> ClientRequest:
        return request

    def controls(self, request: ClientRequest, capture: Any) -> list[ControlCall]:
        payload = request.json
        if isinstance(payload, dict) and payload.get("type") == "threads.create":
            return [ControlCall("setThreadId", ("thr_from_fetch",))]
        return []


async def test_a_set_thread_id_from_the_fetch_makes_the_client_load_that_thread() -> None:
    life = await _run(reference_app(store="memory"), transform=_SetsThread())
    assert life.thread_id == "thr_from_fetch" and life.thread_id_set_by_fetch
    load = life.step("load: threads.get_by_id")
    assert load is not None
    assert load.client_request.json["params"]["thread_id"] == "thr_from_fetch"


@pytest.mark.parametrize(
    ("target", "verdict"),
    [
        ("faulty:create-500", "request.http_error"),
        ("faulty:create-json", "transport.expected_stream_got_json"),
    ],
)
async def test_the_faulty_builtins_show_each_retry_and_the_duplicated_messages(
    target: str, verdict: str
) -> None:
    from chatkit_lab import diagnose

    diagnosis = await diagnose(target)
    codes = [f.code for f in diagnosis.findings]
    assert codes.count("request.resent_by_chatkit") == 5
    duplicated = [f for f in diagnosis.findings if f.code == "persistence.retry_duplicated"]
    assert duplicated and duplicated[0].evidence.detail["saved"] == 6
    assert diagnosis.verdict is not None and diagnosis.verdict.code == verdict
