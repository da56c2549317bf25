"""Every scenario check trips on broken facts and stays quiet on valid ones (h2spec style).

Each code a scenario declares has a case here: the facts its play records (built the way the
play builds them, from hand-made items and streams), once broken so the check must raise its
code, once valid so none of the scenario's checks may raise anything. A scenario check declared
without its case fails ``test_every_scenario_check_has_a_triggering_and_a_valid_case``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from chatkit.actions import ActionConfig
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    ClientToolCallItem,
    CustomSummary,
    CustomTask,
    FileAttachment,
    InferenceOptions,
    UserMessageItem,
    UserMessageTextContent,
    WidgetItem,
    Workflow,
    WorkflowItem,
)
from chatkit.widgets import Button, Card, Text

from chatkit_lab.capture import Capture, Ending, RequestRecord
from chatkit_lab.checks import checks_of, run_checks
from chatkit_lab.client import Lifecycle
from chatkit_lab.scenarios import ScenarioContext, scenario_checks, scenarios
from chatkit_lab.scenarios.attachments import attachment_problem
from chatkit_lab.scenarios.cancel import seen_before_stop
from chatkit_lab.scenarios.client_tool import MAX_CHAIN, RESULT
from chatkit_lab.scenarios.errors import shown
from chatkit_lab.scenarios.history import TITLE
from chatkit_lab.scenarios.workflow import task_updates, tasks_added

URL = "http://backend.test/chatkit"
THREAD = "thr_case"
WHEN = datetime(2025, 1, 1, 12, 0, 0)
MS = 1_000_000
Facts = dict[str, Any]


# -- items, as the SDK serialises them ---------------------------------------------------------


def dump(model: Any) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


def user(item_id: str = "msg_user", text: str = "hi", files: tuple[Any, ...] = ()) -> dict:
    return dump(
        UserMessageItem(
            id=item_id,
            thread_id=THREAD,
            created_at=WHEN,
            content=[UserMessageTextContent(text=text)],
            attachments=list(files),
            inference_options=InferenceOptions(),
        )
    )


def assistant(item_id: str = "msg_asst", text: str = "Hello there.") -> dict[str, Any]:
    content = [AssistantMessageContent(text=text)] if text else []
    return dump(
        AssistantMessageItem(id=item_id, thread_id=THREAD, created_at=WHEN, content=content)
    )


def tool_call(status: str = "pending", output: Any = None) -> dict[str, Any]:
    return dump(
        ClientToolCallItem(
            id="ctc_1",
            thread_id=THREAD,
            created_at=WHEN,
            status=status,
            call_id="call_1",
            name="get_selected_text",
            arguments={},
            output=output,
        )
    )


def widget(value: str = "Paris: 18 C") -> dict[str, Any]:
    card = Card(
        children=[
            Text(id="weather", value=value),
            Button(
                label="Refresh",
                onClickAction=ActionConfig(type="weather.refresh", payload={"city": "Paris"}),
            ),
        ]
    )
    return dump(WidgetItem(id="wdg_1", thread_id=THREAD, created_at=WHEN, widget=card))


def workflow(tasks: int = 2) -> dict[str, Any]:
    flow = Workflow(
        type="custom",
        tasks=[CustomTask(title=f"step {n}", content=f"done {n}") for n in range(1, tasks + 1)],
        summary=CustomSummary(title="Trip planned"),
    )
    return dump(WorkflowItem(id="wf_1", thread_id=THREAD, created_at=WHEN, workflow=flow))


def attachment(attachment_id: str) -> FileAttachment:
    return FileAttachment(id=attachment_id, name=f"{attachment_id}.txt", mime_type="text/plain")


def thread(thread_id: str, title: str | None = None) -> dict[str, Any]:
    return {"id": thread_id, "title": title, "created_at": WHEN.isoformat(), "status": {}}


# -- streams, recorded as a capture --------------------------------------------------------------


def stream_capture(payloads: list[dict[str, Any]], *, ending: Ending | None = None) -> Capture:
    made = Capture(
        request=RequestRecord("POST", URL, [], b'{"type":"threads.create"}'),
        status=200,
        response_headers=[("content-type", "text/event-stream")],
        headers_ns=MS,
        ending=ending or Ending(),
        label="case",
    )
    for number, payload in enumerate(payloads, 1):
        made.add_chunk(b"data: " + json.dumps(payload).encode() + b"\n\n", (number + 1) * MS)
    return made


def delta(item_id: str, text: str) -> dict[str, Any]:
    update = {"type": "assistant_message.content_part.text_delta", "content_index": 0}
    return {"type": "thread.item.updated", "item_id": item_id, "update": {**update, "delta": text}}


# -- the facts each play records ---------------------------------------------------------------


def cancel_facts(reload: list[dict[str, Any]] | None = None) -> Facts:
    """A stream stopped after three deltas of ``msg_asst``, then the reload."""
    pending = assistant("msg_asst", "")
    stopped = stream_capture(
        [
            {"type": "stream_options", "stream_options": {"allow_cancel": True}},
            {"type": "thread.item.done", "item": user()},
            {"type": "thread.item.added", "item": pending},
            delta("msg_asst", "Once upon "),
            delta("msg_asst", "a time "),
            delta("msg_asst", "a lighthouse"),
        ],
        ending=Ending("stopped", "the client stopped after 3 text deltas"),
    )
    saved = assistant("msg_asst", "Once upon a time a lighthouse")
    return {
        "seen": seen_before_stop(stopped.events),
        "stopped_capture": stopped.name,
        "reload": [user(), saved] if reload is None else reload,
        "reload_capture": "reload after stop: items.list",
        "after_stop": {
            "capture": "send after stop: threads.add_user_message",
            "status": 200,
            "replied": True,
            "errors": [],
        },
    }


def looping_tool(*, same: bool) -> Facts:
    """Every tool output brought back a pending call, past the kit's bound: the same call each
    time, or (valid) a chain of different calls that ended within the bound."""
    facts = client_tool_facts()
    count = MAX_CHAIN + 1 if same else MAX_CHAIN
    facts["chain"] = [
        {
            "id": f"ctc_{n}",
            "name": "get_selected_text" if same else f"step_{n}",
            "arguments": {},
            "capture": f"tool output {n}",
        }
        for n in range(1, count + 1)
    ]
    return facts


def locked_after_stop() -> Facts:
    """The message after the stop gets an error event and no reply."""
    facts = cancel_facts()
    facts["after_stop"].update(replied=False, errors=["A reply is already in progress."])
    return facts


def retry_facts(reload: list[dict[str, Any]] | None = None) -> Facts:
    old, new = (
        assistant("msg_old", "Octopuses have three hearts (answer 1)"),
        assistant("msg_new", "Octopuses taste with their arms (answer 2)"),
    )
    return {
        "user_id": "msg_user",
        "old_reply": [old],
        "new_reply": [new],
        "kept": [user()],
        "reload": [user(), new] if reload is None else reload,
        "reload_capture": "reload after retry: items.list",
    }


def client_tool_facts(
    reload_call: dict[str, Any] | None = None, continuation: list[dict[str, Any]] | None = None
) -> Facts:
    done = tool_call("completed", RESULT) if reload_call is None else reload_call
    said = [assistant("msg_after", 'You selected "hello from the editor".')]
    link = {"id": "ctc_1", "name": "get_selected_text", "arguments": {}, "capture": "create"}
    return {
        "call": tool_call(),
        "chain": [link],
        "continuation": said if continuation is None else continuation,
        "continuation_capture": "tool output: threads.add_client_tool_output",
        "reload": [user(), done, *said],
        "reload_capture": "reload after the tool output: items.list",
    }


def widget_facts(
    changes: list[str] | None = None,
    sync_reply: Any = "valid",
    *,
    reloaded: str | None = "Paris: 19 C",
    in_place: bool = True,
) -> Facts:
    """A widget action that changed the card to 19 C (by ``widget.root.updated`` when
    ``in_place``, else by a replaced item), then a reload showing ``reloaded``; with the
    non-streaming action asked for too."""
    action = {"type": "weather.refresh", "payload": {"city": "Paris"}}
    return {
        "widget": widget(),
        "action": action,
        "action_changes": (["thread.item.updated"] if in_place else ["thread.item.replaced"])
        if changes is None
        else changes,
        "action_capture": "action: threads.custom_action",
        "widget_shown": widget("Paris: 19 C")["widget"],
        "widget_updated_in_place": in_place,
        "widget_reloaded": widget(reloaded)["widget"] if reloaded is not None else None,
        "widget_reload_found": reloaded is not None,
        "reload_capture": "reload: items.list",
        "sync_reply": {"updated_item": widget("Paris: 19 C")}
        if sync_reply == "valid"
        else sync_reply,
        "sync_capture": "action: threads.sync_custom_action",
        "sync_status": 200,
    }


def workflow_facts(kept_tasks: int = 2, done_tasks: int = 2) -> Facts:
    streamed = stream_capture(
        [
            {"type": "thread.item.added", "item": workflow(0)},
            *(
                {
                    "type": "thread.item.updated",
                    "item_id": "wf_1",
                    "update": {"type": kind, "task_index": n, "task": {"type": "custom"}},
                }
                for n in range(2)
                for kind in ("workflow.task.added", "workflow.task.updated")
            ),
            {"type": "thread.item.done", "item": workflow(done_tasks)},
        ]
    )
    return {
        "workflows": [workflow(done_tasks)],
        "updates": task_updates(streamed.events),
        "added": tasks_added(streamed.events),
        "stream_capture": "send: threads.create",
        "reload": [user(), workflow(kept_tasks)],
        "reload_capture": "reload: items.list",
    }


def attachments_facts(
    *,
    create_reply: Any = None,
    statuses: tuple[int | None, ...] = (200, 201),
    reloaded_files: tuple[str, ...] = ("atc_two_phase", "atc_direct"),
) -> Facts:
    two_phase, direct = attachment("atc_two_phase"), attachment("atc_direct")
    facts: Facts = {
        "uploads": [
            {"name": name, "status": status, "capture": f"upload {n}", "url": f"{URL}/upload/{n}"}
            for n, (name, status) in enumerate(
                zip(
                    ("upload: PUT (notes.txt)", "upload: direct (direct.txt)"),
                    statuses,
                    strict=True,
                ),
                1,
            )
        ],
    }
    problem = attachment_problem(create_reply) if create_reply is not None else None
    if problem is not None:  # as the play records a reply that is no Attachment
        facts["bad_replies"] = [{"capture": "attach: attachments.create", "problem": problem}]
        return facts
    sent = user("msg_files", "Describe the attached file.", (two_phase, direct))
    kept = [f for f in (two_phase, direct) if f.id in reloaded_files]
    facts.update(
        two_phase=dump(two_phase),
        direct=dump(direct),
        attached=[two_phase.id, direct.id],
        user_message=sent,
        reload=[user("msg_files", "Describe the attached file.", tuple(kept))],
        reload_capture="reload: items.list",
        delete_accepted=True,
    )
    return facts


def history_facts(
    *,
    order: tuple[int, ...] = (3, 2, 1),
    title: str | None = TITLE,
    still_loads: bool = False,
) -> Facts:
    created = ["thr_1", "thr_2", "thr_3"]
    listed = [thread(f"thr_{n}") for n in order]
    return {
        "threads": created,
        "created": created,
        "listed": listed,
        "pages": [
            {"size": 2, "has_more": True, "capture": "list page 1"},
            {"size": len(listed) - 2, "has_more": False, "capture": "list page 2"},
        ],
        "rename_ok": True,
        "renamed": "thr_1",
        "feedback_accepted": True,
        "deleted": "thr_3",
        "delete_ok": True,
        "listed_after": [thread("thr_2"), thread("thr_1", title)],
        "deleted_still_loads": still_loads,
        "deleted_check_capture": "check: threads.get_by_id of the deleted thread",
    }


def errors_facts(
    *,
    retryable_flag: bool = True,
    notice_message: str | None = "Heads up: this is a notice.",
    final_as_reply: str | None = None,
    final_flag: bool = False,
) -> Facts:
    """What the errors play records: each ask's stream, read by the play's own ``shown``."""
    progress = {"type": "progress_update", "text": "Working on it"}
    notice: dict[str, Any] = {"type": "notice", "level": "info"}
    if notice_message is not None:
        notice["message"] = notice_message
    streams = {
        "retryable": [
            progress,
            {
                "type": "error",
                "code": "custom",
                "message": "Try again.",
                "allow_retry": retryable_flag,
            },
        ],
        "final": [
            progress,
            {"type": "error", "code": "custom", "message": "Cannot do.", "allow_retry": final_flag},
        ]
        if final_as_reply is None
        else [{"type": "thread.item.done", "item": assistant("msg_final", final_as_reply)}],
        "notice": [notice, progress, {"type": "thread.item.done", "item": assistant()}],
    }
    asks = []
    for role, asked, retry in (
        ("retryable", "error", True),
        ("final", "error", False),
        ("notice", "notice", None),
    ):
        made = stream_capture(streams[role])
        events = shown(made)
        replies = [
            p["item"]["content"][0]["text"]
            for p in streams[role]
            if p["type"] == "thread.item.done" and p["item"]["type"] == "assistant_message"
        ]
        asks.append(
            {
                "role": role,
                "asked": asked,
                "allow_retry": retry,
                "capture": f"ask: {role}",
                "events": events,
                "arrived": any(e["type"] == asked for e in events),
                "replies": replies,
            }
        )
    return {"threads": [THREAD], "thread_id": THREAD, "asks": asks}


def upstream_facts(payloads: list[dict[str, Any]] | None = None, *, calls: int = 1) -> Facts:
    """What the errors play records with a failing upstream: one message, the backend's answer
    (by default the SDK's error event for the model's failure, allow_retry true)."""
    if payloads is None:
        payloads = [{"type": "error", "code": "stream.error", "allow_retry": True}]
    made = stream_capture(payloads)
    events = shown(made)
    replies = [
        p["item"]["content"][0]["text"]
        for p in payloads
        if p["type"] == "thread.item.done" and p["item"]["type"] == "assistant_message"
    ]
    got = {
        "role": "upstream",
        "asked": "error",
        "allow_retry": None,
        "capture": "send: threads.create",
        "status": 200,
        "events": events,
        "arrived": any(e["type"] == "error" for e in events),
        "replies": replies,
        "upstream": "http://127.0.0.1:8999",
        "calls": calls,
    }
    return {"threads": [THREAD], "thread_id": THREAD, "asks": [got], "upstream": got}


# -- one case per code ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    scenario: str
    broken: Callable[[], Facts]
    valid: Callable[[], Facts]


def not_a_widget() -> dict[str, Any]:
    """A widget item whose root is none of the SDK's widget types."""
    broken = widget()
    broken["widget"] = {"type": "NotAWidget"}
    return broken


CASES: dict[str, Case] = {
    "persistence.cancel_partial_lost": Case(
        "cancel", lambda: cancel_facts([user()]), lambda: cancel_facts()
    ),
    "persistence.cancel_message_lost": Case(
        "cancel",
        lambda: cancel_facts([assistant("msg_asst", "Once upon a time a lighthouse")]),
        lambda: cancel_facts(),
    ),
    "persistence.cancel_left_pending": Case(
        "cancel",
        lambda: cancel_facts(
            [user(), assistant("msg_asst", "Once upon a time a lighthouse"), assistant("e", "")]
        ),
        lambda: cancel_facts(),
    ),
    "rendering.workflow_tasks_dropped": Case(
        "workflow", lambda: workflow_facts(kept_tasks=0, done_tasks=0), workflow_facts
    ),
    "rendering.client_tool_loop": Case(
        "client-tool", lambda: looping_tool(same=True), lambda: looping_tool(same=False)
    ),
    "persistence.cancel_thread_locked": Case("cancel", locked_after_stop, lambda: cancel_facts()),
    "persistence.cancel_partial_twice": Case(
        "cancel",
        lambda: cancel_facts(
            [
                user(),
                assistant("msg_asst", "Once upon a time a lighthouse"),
                assistant("msg_asst_copy", "Once upon a time a lighthouse"),
            ]
        ),
        lambda: cancel_facts(),
    ),
    "persistence.retry_kept_old_reply": Case(
        "retry",
        lambda: retry_facts([user(), *retry_facts()["old_reply"], *retry_facts()["new_reply"]]),
        lambda: retry_facts(),
    ),
    "persistence.retry_reply_missing": Case(
        "retry", lambda: retry_facts([user()]), lambda: retry_facts()
    ),
    "persistence.retry_changed_kept": Case(
        "retry",
        lambda: retry_facts([user("msg_user_again"), *retry_facts()["new_reply"]]),
        lambda: retry_facts(),
    ),
    "persistence.client_tool_unresolved": Case(
        "client-tool", lambda: client_tool_facts(reload_call=tool_call()), client_tool_facts
    ),
    "rendering.client_tool_no_continuation": Case(
        "client-tool", lambda: client_tool_facts(continuation=[]), client_tool_facts
    ),
    "rendering.widget_action_no_effect": Case(
        "widget", lambda: widget_facts(changes=[]), widget_facts
    ),
    "persistence.widget_update_lost": Case(
        "widget", lambda: widget_facts(reloaded="Paris: 18 C"), widget_facts
    ),
    "schema.sync_action_reply": Case(
        "widget",
        lambda: widget_facts(sync_reply={"updated_item": not_a_widget()}),
        widget_facts,
    ),
    "persistence.workflow_tasks_lost": Case(
        "workflow", lambda: workflow_facts(kept_tasks=1), workflow_facts
    ),
    "schema.attachment_reply": Case(
        "attachments",
        lambda: attachments_facts(create_reply={"id": "atc_1", "name": "notes.txt"}),
        attachments_facts,
    ),
    "request.upload_failed": Case(
        "attachments", lambda: attachments_facts(statuses=(404, 201)), attachments_facts
    ),
    "persistence.attachment_lost": Case(
        "attachments",
        lambda: attachments_facts(reloaded_files=("atc_two_phase",)),
        attachments_facts,
    ),
    "persistence.history_paging": Case(
        "history", lambda: history_facts(order=(1, 2, 3)), history_facts
    ),
    "persistence.history_never_ends": Case("history", lambda: _endless_history(), history_facts),
    "persistence.rename_not_shown": Case(
        "history", lambda: history_facts(title="New chat"), history_facts
    ),
    "persistence.deleted_thread_remains": Case(
        "history", lambda: history_facts(still_loads=True), history_facts
    ),
    "rendering.error_as_reply": Case(
        "errors",
        lambda: errors_facts(final_as_reply="Sorry: RuntimeError: upstream model unavailable"),
        lambda: errors_facts(final_as_reply="Here is what went wrong, and how to go on."),
    ),
    "rendering.error_retry_flag": Case(
        "errors", lambda: errors_facts(retryable_flag=False), errors_facts
    ),
    "rendering.error_without_words": Case(
        "errors", lambda: errors_facts(notice_message=None), errors_facts
    ),
    "rendering.failure_unseen": Case(
        "errors",
        lambda: upstream_facts([{"type": "progress_update", "text": "Thinking"}]),
        upstream_facts,
    ),
}

MORE_TRIGGERS: dict[str, list[Callable[[], Facts]]] = {
    "persistence.cancel_partial_lost": [
        lambda: cancel_facts([user(), assistant("msg_asst", "Something else entirely")]),
    ],
    "persistence.cancel_left_pending": [
        lambda: cancel_facts(
            [user(), assistant("msg_asst", "Once upon a time a lighthouse"), tool_call()]
        ),
    ],
    "persistence.client_tool_unresolved": [
        lambda: {**client_tool_facts(), "reload": [user()]},
        lambda: client_tool_facts(reload_call=tool_call("completed", {"text": "other"})),
    ],
    "rendering.client_tool_no_continuation": [
        lambda: client_tool_facts(continuation=[assistant("msg_after", "")]),
    ],
    "request.upload_failed": [lambda: attachments_facts(statuses=(200, None))],
    "persistence.history_paging": [
        lambda: history_facts(order=(3, 2, 2, 1)),
        lambda: history_facts(order=(3, 1)),
        lambda: {
            **history_facts(),
            "pages": [{"size": 3, "has_more": False, "capture": "list page 1"}],
        },
    ],
    "persistence.cancel_thread_locked": [
        lambda: {
            **cancel_facts(),
            "after_stop": {"capture": "after", "status": 409, "replied": False, "errors": []},
        },
    ],
    "persistence.rename_not_shown": [lambda: {**history_facts(), "listed_after": []}],
    "persistence.deleted_thread_remains": [
        lambda: {
            **history_facts(),
            "listed_after": [*history_facts()["listed_after"], thread("thr_3")],
        },
    ],
    "persistence.widget_update_lost": [
        lambda: widget_facts(reloaded="Paris: 18 C", in_place=False),
        lambda: widget_facts(reloaded="Lyon: 7 C"),
    ],
    "rendering.error_without_words": [
        lambda: {
            **errors_facts(),
            "met": [
                {
                    "scenario": "widget",
                    "capture": "action: threads.custom_action",
                    "event": 1,
                    "payload": {"type": "error", "code": "custom", "allow_retry": True},
                }
            ],
        },
        lambda: _error_without_message(),
    ],
}


def test_a_real_failure_marked_final_or_retryable_from_the_upstream_is_no_fault() -> None:
    for retry in (True, False):
        error = {"type": "error", "code": "custom", "message": "Model down", "allow_retry": retry}
        found, _ = judge("errors", upstream_facts([error]))
        assert found == []


def test_a_failure_answered_with_a_reply_that_does_not_quote_it_is_no_fault() -> None:
    sorry = {"type": "thread.item.done", "item": assistant("msg_s", "Please try again later.")}
    found, _ = judge("errors", upstream_facts([sorry]))
    assert found == []


def test_a_real_failure_marked_retryable_where_a_final_error_was_asked_for_is_no_fault() -> None:
    found, _ = judge("errors", errors_facts(final_flag=True))
    assert found == []


def _endless_history() -> Facts:
    """The last page says has_more, and the page after it is empty and says so again."""
    facts = history_facts()
    facts["pages"][-1]["has_more"] = True
    facts["pages"].append(
        {"size": 0, "has_more": True, "capture": "list page 3", "never_ends": "an empty page"}
    )
    return facts


def _error_without_message() -> Facts:
    facts = errors_facts()
    for event in facts["asks"][0]["events"]:
        event["payload"] = {k: v for k, v in event["payload"].items() if k != "message"}
    return facts


def judge(scenario: str, facts: Facts) -> tuple[list[str], list[str]]:
    """Run every check ``scenario`` declares over ``facts``: the codes found, and skipped."""
    declared = checks_of(scenarios()[scenario].checks)
    context = ScenarioContext(scenario, Lifecycle("case"), deepcopy(facts))
    outcome = run_checks(declared, context)
    return [f.code for f in outcome.findings], [s.code or "" for s in outcome.skipped]


@pytest.mark.parametrize("code", sorted(CASES))
def test_the_broken_facts_raise_the_check(code: str) -> None:
    case = CASES[code]
    found, _ = judge(case.scenario, case.broken())
    assert code in found


@pytest.mark.parametrize(
    ("code", "number"),
    [(code, n) for code, more in sorted(MORE_TRIGGERS.items()) for n in range(len(more))],
)
def test_each_other_way_of_breaking_it_raises_the_check_too(code: str, number: int) -> None:
    found, _ = judge(CASES[code].scenario, MORE_TRIGGERS[code][number]())
    assert code in found


@pytest.mark.parametrize("code", sorted(CASES))
def test_the_valid_facts_raise_nothing_and_the_check_really_judges_them(code: str) -> None:
    case = CASES[code]
    found, skipped = judge(case.scenario, case.valid())
    assert found == []
    assert code not in skipped


@pytest.mark.parametrize("code", sorted(CASES))
def test_each_case_runs_the_scenario_whose_module_declares_the_check(code: str) -> None:
    declared = {c.code for c in checks_of(scenarios()[CASES[code].scenario].checks)}
    assert code in declared


@pytest.mark.parametrize("name", [s.name for s in scenarios().values() if checks_of(s.checks)])
def test_with_nothing_recorded_every_check_of_a_scenario_skips_with_a_reason(name: str) -> None:
    declared = checks_of(scenarios()[name].checks)
    outcome = run_checks(declared, ScenarioContext(name, Lifecycle("case"), {}))
    assert outcome.findings == []
    assert sorted(s.code for s in outcome.skipped) == sorted(c.code for c in declared)
    assert all(s.reason.strip() for s in outcome.skipped)


def test_a_finding_points_at_the_capture_that_shows_it() -> None:
    context = ScenarioContext("retry", Lifecycle("case"), retry_facts([user()]))
    outcome = run_checks(checks_of(scenarios()["retry"].checks), context)
    (missing,) = [f for f in outcome.findings if f.code == "persistence.retry_reply_missing"]
    assert missing.evidence.capture == "reload after retry: items.list"
    assert "msg_new" in missing.summary


def test_every_scenario_check_has_a_triggering_and_a_valid_case() -> None:
    declared = {c.code for c in scenario_checks()}
    assert set(CASES) == declared, {
        "declared without a case": sorted(declared - set(CASES)),
        "case without a declared check": sorted(set(CASES) - declared),
    }
    assert set(MORE_TRIGGERS) <= set(CASES)
