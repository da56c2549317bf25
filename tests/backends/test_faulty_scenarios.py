"""Each ``faulty:<scenario>`` built-in fails its own scenario, at the layer of its fault, and
nothing else: every other scenario (the message lifecycle included) passes or is skipped."""

from __future__ import annotations

import json
from typing import Any

from chatkit_lab.backends import FAULTY_SCENARIOS, reference_app
from chatkit_lab.backends.faulty import AsyncDriverStore, faults, rewrite_stream_events
from chatkit_lab.backends.stores import MemoryStore
from chatkit_lab.diagnosis import Conformance, diagnose_scenarios, run_scenarios
from chatkit_lab.redact import current_redactor
from chatkit_lab.scenarios import resolve_scenarios, scenarios
from chatkit_lab.scenarios.errors import never_retryable
from chatkit_lab.targets import describe_targets, open_app_target


async def only_its_own_scenario_fails(variant: str, scenario: str, layer: str, code: str) -> None:
    """Run every scenario against ``variant``: ``scenario`` fails with ``layer``/``code`` as its
    verdict; every other scenario passes or is skipped."""
    conformance = await diagnose_scenarios(variant, "all")
    own = conformance.result(scenario)
    assert own is not None, f"{scenario} did not run"
    verdict = own.diagnosis.verdict
    assert own.state == "fail", (own.state, own.reason)
    assert verdict is not None
    assert (verdict.layer, verdict.code) == (layer, code), own.reason
    others = {r.name: r for r in conformance.results if r.name != scenario}
    assert set(others) == set(scenarios()) - {scenario}
    broken = {name: r.reason for name, r in others.items() if r.state not in ("pass", "skip")}
    assert broken == {}


async def test_a_stop_behind_the_documented_streaming_route_loses_the_partial_reply() -> None:
    await only_its_own_scenario_fails(
        "faulty:cancel", "cancel", "persistence", "persistence.cancel_partial_lost"
    )


async def test_a_store_that_never_deletes_items_brings_a_retried_answer_back() -> None:
    await only_its_own_scenario_fails(
        "faulty:retry", "retry", "persistence", "persistence.retry_kept_old_reply"
    )


async def test_a_store_that_never_saves_the_completed_tool_call_loses_it_on_reload() -> None:
    await only_its_own_scenario_fails(
        "faulty:client-tool", "client-tool", "persistence", "persistence.client_tool_unresolved"
    )


async def test_a_hand_written_widget_with_lower_case_types_is_no_chatkit_widget() -> None:
    await only_its_own_scenario_fails("faulty:widget", "widget", "schema", "schema.invalid_event")


async def test_task_updates_counted_from_one_point_past_the_workflows_tasks() -> None:
    await only_its_own_scenario_fails(
        "faulty:workflow", "workflow", "ordering", "ordering.task_index"
    )


async def test_a_store_that_saves_messages_without_attachments_loses_the_file_on_reload() -> None:
    await only_its_own_scenario_fails(
        "faulty:attachments", "attachments", "persistence", "persistence.attachment_lost"
    )


async def test_a_store_that_never_deletes_threads_keeps_a_deleted_thread() -> None:
    await only_its_own_scenario_fails(
        "faulty:history", "history", "persistence", "persistence.deleted_thread_remains"
    )


async def test_errors_always_sent_without_retry_hide_the_retry_button() -> None:
    await only_its_own_scenario_fails(
        "faulty:errors", "errors", "rendering", "rendering.error_retry_flag"
    )


def test_every_scenario_but_messages_has_a_registered_faulty_variant() -> None:
    wanted = set(scenarios()) - {"messages"}
    assert set(faults()) == set(FAULTY_SCENARIOS) == wanted
    registered = describe_targets()
    assert {f"faulty:{name}" for name in wanted} <= set(registered)
    assert all(registered[f"faulty:{name}"] for name in wanted)


async def cancel_result(app: Any) -> Conformance:
    async with open_app_target(app, "/chatkit", name="control", transform="none") as target:
        return await run_scenarios(target, resolve_scenarios("cancel"), redactor=current_redactor())


async def test_the_same_store_behind_the_reference_route_keeps_the_partial_reply() -> None:
    # The control for faulty:cancel: its store, served the reference's way, is not the fault.
    app = reference_app(store=AsyncDriverStore(MemoryStore()))
    result = (await cancel_result(app)).result("cancel")
    assert result is not None
    assert result.state == "pass", result.reason
    saved = [c for c in app.state.store.calls if c.params.get("type") == "sdk_hidden_context"]
    assert saved and saved[0].error is None


async def test_the_event_rewriter_rewrites_events_split_across_body_messages() -> None:
    event = b'data: {"type": "error", "code": "custom", "allow_retry": true}\n\n'
    chunks = [b": comment\n\n" + event[:20], event[20:] + event, b"data: [1]\n\n", b""]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for n, chunk in enumerate(chunks):
            more = n < len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more})

    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.disconnect"}

    await rewrite_stream_events(app, never_retryable)({"type": "http"}, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    frames = body.split(b"\n\n")
    assert frames[0] == b": comment" and frames[3] == b"data: [1]" and frames[4] == b""
    assert [json.loads(f[6:])["allow_retry"] for f in frames[1:3]] == [False, False]


# -- planted faults that only show across requests ---------------------------------------------


async def its_own_scenario_finds(variant: str, scenario: str, code: str) -> None:
    """Every scenario against ``variant``: ``scenario`` fails and finds ``code``; every other
    scenario passes or is skipped."""
    conformance = await diagnose_scenarios(variant, "all")
    own = conformance.result(scenario)
    assert own is not None and own.state == "fail", own and own.reason
    assert code in {f.code for f in own.diagnosis.findings}, own.reason
    broken = {
        r.name: r.reason
        for r in conformance.results
        if r.name != scenario and r.state not in ("pass", "skip")
    }
    assert broken == {}


async def test_a_widget_change_sent_as_an_update_and_never_saved_is_gone_after_a_reload() -> None:
    await only_its_own_scenario_fails(
        "faulty:widget-unsaved", "widget", "persistence", "persistence.widget_update_lost"
    )


async def test_a_widget_replaced_under_a_new_id_replaces_nothing_the_thread_had() -> None:
    await only_its_own_scenario_fails(
        "faulty:widget-new-id", "widget", "ordering", "ordering.replaced_unknown_item"
    )


async def test_a_history_whose_pages_always_say_has_more_never_ends() -> None:
    await only_its_own_scenario_fails(
        "faulty:history-endless", "history", "persistence", "persistence.history_never_ends"
    )


async def test_a_tool_answer_that_brings_back_the_same_call_is_a_loop() -> None:
    await only_its_own_scenario_fails(
        "faulty:client-tool-loop", "client-tool", "rendering", "rendering.client_tool_loop"
    )


async def test_a_workflow_finished_without_its_tasks_drops_them() -> None:
    await only_its_own_scenario_fails(
        "faulty:workflow-drops-tasks", "workflow", "rendering", "rendering.workflow_tasks_dropped"
    )


async def test_a_workflow_the_kit_found_unfinished_fails_and_is_no_skip() -> None:
    await only_its_own_scenario_fails(
        "faulty:workflow-unfinished", "workflow", "ordering", "ordering.unfinished_item"
    )


async def test_a_stop_that_locks_the_thread_fails_cancel() -> None:
    await its_own_scenario_finds(
        "faulty:cancel-locks", "cancel", "persistence.cancel_thread_locked"
    )


async def test_a_stopped_reply_saved_twice_shows_twice_after_a_reload() -> None:
    await only_its_own_scenario_fails(
        "faulty:cancel-twice", "cancel", "persistence", "persistence.cancel_partial_twice"
    )


def test_every_more_fault_is_a_registered_target_that_names_a_scenario() -> None:
    from chatkit_lab.backends import MORE_FAULTY_SCENARIOS
    from chatkit_lab.backends.faulty import MORE_FAULTS

    assert set(MORE_FAULTS) == set(MORE_FAULTY_SCENARIOS)
    registered = describe_targets()
    for name, (scenario, _) in MORE_FAULTS.items():
        assert scenario in scenarios()
        assert registered.get(f"faulty:{name}")


async def test_a_backend_that_dies_on_a_load_of_a_deleted_thread_stopped_answering() -> None:
    # The store's NotFoundError is unhandled and ends the process: the load gets its connection
    # closed, every later request is refused. Graded as the backend stopping, never as a skip.
    conformance = await diagnose_scenarios("faulty:crash-on-deleted", "all")
    states = {r.name: r.state for r in conformance.results}
    history = conformance.result("history")
    assert history is not None
    assert history.state == "fail", history.reason
    assert "stopped answering" in history.reason
    assert "the request before it was threads.delete" in history.reason
    errors = conformance.result("errors")
    assert errors is not None
    assert errors.state == "not run"
    assert "stopped answering" in errors.reason
    earlier = {name: state for name, state in states.items() if name not in ("history", "errors")}
    assert set(earlier.values()) == {"pass"}, earlier  # nothing before the crash differs
    assert "skip" not in states.values()


async def test_a_backend_that_died_refuses_every_later_request() -> None:
    # The history scenario meets the crash itself (retry, played first, passes); a second run on
    # the same app is refused at its first request.
    from chatkit_lab.backends.faulty import crash_on_deleted_app

    app = crash_on_deleted_app()
    async with open_app_target(app, "/chatkit", name="crashing") as target:
        first = await run_scenarios(target, resolve_scenarios("history,retry"))
        second = await run_scenarios(target, resolve_scenarios("retry"))
    assert [(r.name, r.state) for r in first.results] == [("retry", "pass"), ("history", "fail")]
    (refused,) = second.results
    assert refused.state == "fail"
    assert "stopped answering" in refused.reason and "connection refused" in refused.reason
