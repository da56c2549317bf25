"""Conformance against the built-in reference: every scenario passes and really exercises its
feature; the command line lists, refuses and reports as it says; a scenario the backend does not
offer is skipped with the reason, which is not a failure.

The reference is played once for the whole module (``conformance``) and once through the
command line (``cli_run``); everything else reads those two runs.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from chatkit.server import ChatKitServer, StreamingResult
from chatkit.types import AssistantMessageContent, AssistantMessageItem, ThreadItemDoneEvent
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from typer.testing import CliRunner

from chatkit_lab.backends import MemoryStore
from chatkit_lab.checks import STOPPED
from chatkit_lab.cli import app as cli
from chatkit_lab.diagnosis import Conformance, ScenarioResult, diagnose_scenarios
from chatkit_lab.report import conformance_lines
from chatkit_lab.scenarios import item_text, scenarios
from chatkit_lab.scenarios.client_tool import RESULT
from chatkit_lab.scenarios.history import PAGE, TITLE
from chatkit_lab.sources import LoopbackServer

ROOT = Path(__file__).resolve().parents[2]
HAR = ROOT / "tests" / "har" / "chrome_reference.har"
RECORDING = ROOT / "data" / "samples" / "legacy_attempt3_via_proxy.jsonl"
NAMES = list(scenarios())
END_CHECKS = ("transport.incomplete", "framing.truncated_frame", "ordering.unfinished_item")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), terminal_width=80)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def conformance() -> Conformance:
    return asyncio.run(diagnose_scenarios("reference", "all"))


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, str, Path]:
    out = tmp_path_factory.mktemp("conformance") / "report.md"
    code, stdout, stderr = run(
        "diagnose", "reference", "--scenario", "all", "--json", "--out", str(out)
    )
    return code, stdout, stderr, out


def result(conformance: Conformance, name: str) -> ScenarioResult:
    found = conformance.result(name)
    assert found is not None, f"{name} was not run"
    return found


def step_events(found: ScenarioResult, step_name: str) -> list[dict[str, Any]]:
    life = found.diagnosis.lifecycle
    assert life is not None
    step = life.step(step_name)
    assert step is not None, f"{found.name} has no step {step_name!r}"
    return [e.payload for e in step.capture.events if isinstance(e.payload, dict)]


# -- every scenario passes against the reference, having exercised its feature ---------------


def test_every_scenario_runs_in_table_order_and_passes(conformance: Conformance) -> None:
    assert [r.name for r in conformance.results] == NAMES
    failing = {r.name: r.reason for r in conformance.results if r.state != "pass"}
    assert failing == {}
    assert not conformance.failed
    assert conformance.counts()["pass"] == len(NAMES)


def test_no_scenario_leaves_an_error_finding_behind(conformance: Conformance) -> None:
    for found in conformance.results:
        errors = [f.code for f in found.diagnosis.findings if f.severity == "error"]
        assert errors == [], found.name


def test_messages_sends_two_messages_and_reloads(conformance: Conformance) -> None:
    life = result(conformance, "messages").diagnosis.lifecycle
    assert life is not None
    kinds = [step.client_type for step in life.steps]
    assert {"threads.create", "threads.add_user_message", "items.list"} <= set(kinds)


def test_cancel_really_stopped_mid_reply_and_the_reload_keeps_the_partial_text(
    conformance: Conformance,
) -> None:
    found = result(conformance, "cancel")
    life = found.diagnosis.lifecycle
    assert life is not None
    create = life.step("send: threads.create")
    assert create is not None and create.capture.ending.state == "stopped"
    seen = [t for t in found.facts["seen"]["streaming_text"].values() if t.strip()]
    assert seen, "no text had streamed before the stop"
    reloaded = [i for i in found.facts["reload"] if i.get("type") == "assistant_message"]
    assert any(item_text(i).startswith(seen[0].strip()) for i in reloaded)
    after = step_events(found, "send after stop: threads.add_user_message")
    replies = [
        p["item"]
        for p in after
        if p.get("type") == "thread.item.done" and p["item"].get("type") == "assistant_message"
    ]
    assert replies and item_text(replies[-1]).strip()


def test_the_stopped_capture_is_not_blamed_on_the_server(conformance: Conformance) -> None:
    found = result(conformance, "cancel")
    stopped = found.facts["stopped_capture"]
    codes = {f.code for f in found.diagnosis.findings}
    assert not set(END_CHECKS) & codes
    skipped = [s for s in found.diagnosis.skipped if s.capture == stopped]
    assert set(END_CHECKS) <= {s.code for s in skipped}
    assert all(s.reason == STOPPED for s in skipped if s.code in END_CHECKS)


def test_retry_replaces_the_reply_with_a_new_one(conformance: Conformance) -> None:
    facts = result(conformance, "retry").facts
    old = {i["id"]: item_text(i) for i in facts["old_reply"]}
    new = {i["id"]: item_text(i) for i in facts["new_reply"]}
    assert old and new and not set(old) & set(new)
    assert set(old.values()) != set(new.values())
    reloaded = {str(i.get("id")) for i in facts["reload"]}
    assert set(new) <= reloaded and not set(old) & reloaded
    assert facts["user_id"] in reloaded


def test_client_tool_resolves_the_call_and_the_reply_quotes_its_output(
    conformance: Conformance,
) -> None:
    facts = result(conformance, "client-tool").facts
    assert facts["call"]["status"] == "pending"
    (resolved,) = [i for i in facts["reload"] if i.get("id") == facts["call"]["id"]]
    assert resolved["status"] == "completed" and resolved["output"] == RESULT
    said = " ".join(item_text(i) for i in facts["continuation"])
    assert RESULT["text"] in said


def test_widget_streamed_updates_and_its_action_changed_it(conformance: Conformance) -> None:
    found = result(conformance, "widget")
    facts = found.facts
    assert facts["action"]["type"] == "weather.refresh"
    assert facts["action_changes"]
    assert "sync_reply" not in facts  # ChatKit.js does not send threads.sync_custom_action
    assert facts["widget_reloaded"] == facts["widget_shown"] != facts["widget"]["widget"]
    updates = [
        p["update"]["type"]
        for p in step_events(found, "send: threads.create")
        if p.get("type") == "thread.item.updated"
    ]
    assert any(kind.startswith("widget.") for kind in updates)


async def test_the_non_streaming_widget_action_is_sent_only_when_asked_for() -> None:
    asked = await diagnose_scenarios("reference", "widget", sync_action=True)
    found = result(asked, "widget")
    assert found.state == "pass", found.reason
    reply = found.facts["sync_reply"]
    assert isinstance(reply, dict) and reply.get("updated_item")


def test_workflow_streamed_task_updates_and_the_reload_keeps_every_task(
    conformance: Conformance,
) -> None:
    found = result(conformance, "workflow")
    facts = found.facts
    (flow,) = facts["workflows"]
    assert len(flow["workflow"]["tasks"]) >= 2
    kinds = [
        p["update"]["type"]
        for p in step_events(found, "send: threads.create")
        if p.get("type") == "thread.item.updated" and p.get("item_id") == flow["id"]
    ]
    assert {"workflow.task.added", "workflow.task.updated"} <= set(kinds)
    assert facts["updates"] == len(kinds)
    (kept,) = [i for i in facts["reload"] if i.get("id") == flow["id"]]
    assert len(kept["workflow"]["tasks"]) == len(flow["workflow"]["tasks"])


def test_attachments_both_uploads_reach_the_reload(conformance: Conformance) -> None:
    facts = result(conformance, "attachments").facts
    assert len(facts["attached"]) == 2, "the direct upload was not played"
    assert all(200 <= u["status"] < 300 for u in facts["uploads"])
    (message,) = [i for i in facts["reload"] if i.get("id") == facts["user_message"]["id"]]
    assert {a["id"] for a in message["attachments"]} == set(facts["attached"])
    assert facts["delete_accepted"] is True


def test_history_paged_renamed_deleted_and_gave_feedback(conformance: Conformance) -> None:
    facts = result(conformance, "history").facts
    assert len(facts["pages"]) >= 2 and all(p["size"] <= PAGE for p in facts["pages"])
    after = {t["id"]: t for t in facts["listed_after"]}
    assert after[facts["renamed"]]["title"] == TITLE
    assert facts["deleted"] not in after and facts["deleted_still_loads"] is False
    assert facts["feedback_accepted"] is True


def test_errors_each_ask_got_its_event_with_the_right_retry_flag(conformance: Conformance) -> None:
    asks = {a["role"]: a for a in result(conformance, "errors").facts["asks"]}
    assert all(a["arrived"] for a in asks.values())
    for role, flag in (("retryable", True), ("final", False)):
        errors = [e["payload"] for e in asks[role]["events"] if e["type"] == "error"]
        assert [e["allow_retry"] for e in errors] == [flag]
    kinds = {e["type"] for e in asks["notice"]["events"]}
    assert {"notice", "progress_update"} <= kinds


# -- the conformance table and JSON --------------------------------------------------------


def test_the_terminal_table_has_one_row_per_scenario_within_80_columns(
    conformance: Conformance,
) -> None:
    lines = conformance_lines(conformance, width=80)
    assert all(len(line) <= 80 for line in lines)
    assert lines[0].startswith("reference: ")
    rows = [line.split() for line in lines[1:] if line.startswith("  ")]
    assert [(row[0], row[1]) for row in rows[: len(NAMES)]] == [(n, "PASS") for n in NAMES]


def test_the_command_line_lists_each_scenario_as_json_and_exits_zero(
    cli_run: tuple[int, str, str, Path],
) -> None:
    code, stdout, stderr, _ = cli_run
    assert code == 0, stdout + stderr
    payload = json.loads(stdout)
    assert payload["target"] == "reference"
    assert [s["name"] for s in payload["scenarios"]] == NAMES
    for listed in payload["scenarios"]:
        assert listed["state"] == "pass", listed
        assert isinstance(listed["reason"], str) and listed["reason"]
        assert listed["verdict"] is None
    assert payload["counts"]["pass"] == len(NAMES)


def test_the_report_written_with_out_has_the_conformance_table(
    cli_run: tuple[int, str, str, Path],
) -> None:
    code, _, _, out = cli_run
    assert code == 0
    text = out.read_text(encoding="utf-8")
    assert "## Conformance" in text
    header = next(line for line in text.splitlines() if line.startswith("| scenario"))
    assert [c.strip() for c in header.strip("|").split("|")] == [
        "scenario",
        "state",
        "layer",
        "check",
        "why",
    ]
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    for name in NAMES:
        assert any(line.split("|")[1].strip() == name and "pass" in line for line in rows), name


# -- a scenario the backend does not offer ----------------------------------------------------


class NoFilesServer(ChatKitServer[dict[str, Any]]):
    """A ChatKit server that answers every message and has no attachment store."""

    async def respond(self, thread: Any, input_user_message: Any, context: dict[str, Any]):
        yield ThreadItemDoneEvent(
            item=AssistantMessageItem(
                id=self.store.generate_item_id("message", thread, context),
                thread_id=thread.id,
                created_at=datetime.now(),
                content=[AssistantMessageContent(text="OK, noted.")],
            )
        )


def no_files_app() -> FastAPI:
    server = NoFilesServer(MemoryStore())
    app = FastAPI()

    @app.post("/chatkit")
    async def chatkit(request: Request) -> Response:
        try:
            result = await server.process(await request.body(), {})
        except Exception as exc:  # what many custom backends answer for a missing feature
            return JSONResponse({"error": str(exc)}, status_code=500)
        if isinstance(result, StreamingResult):
            return StreamingResponse(result, media_type="text/event-stream")
        return Response(content=result.json, media_type="application/json")

    return app


def test_a_backend_without_an_attachment_store_skips_attachments_and_does_not_fail() -> None:
    with LoopbackServer(no_files_app()) as server:
        url = f"{server.url}/chatkit"
        code, stdout, stderr = run("diagnose", url, "--scenario", "attachments,errors", "--json")
    assert code == 0, stdout + stderr
    listed = {s["name"]: s for s in json.loads(stdout)["scenarios"]}
    assert listed["attachments"]["state"] == "skip"
    assert "attachments.create" in listed["attachments"]["reason"]
    assert listed["attachments"]["evidence"]  # the capture that showed it
    assert listed["errors"]["state"] == "skip"  # it never sends an error when asked
    assert json.loads(stdout)["counts"]["skip"] == 2


def test_a_skip_that_cites_a_capture_names_the_file_it_was_saved_in(tmp_path: Path) -> None:
    out = tmp_path / "saved"
    with LoopbackServer(no_files_app()) as server:
        url = f"{server.url}/chatkit"
        code, stdout, stderr = run(
            "diagnose", url, "--scenario", "attachments", "--save", str(out), "--json"
        )
    assert code == 0, stdout + stderr
    [played] = json.loads(stdout)["scenarios"]
    assert played["state"] == "skip" and played["evidence"]
    assert played["evidence_file"] == played["saved"][played["evidence"]]
    assert (out / "attachments" / played["evidence_file"]).is_file()


# -- what the command line refuses ----------------------------------------------------------


@pytest.mark.parametrize("recording", [HAR, RECORDING], ids=["har", "capture-file"])
def test_a_scenario_on_a_recording_is_refused_with_one_line(recording: Path) -> None:
    code, stdout, stderr = run("diagnose", str(recording), "--scenario", "all")
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1
    assert "--scenario" in lines[0] and "built-in name or a URL" in lines[0]
    assert "Traceback" not in stdout + stderr


def test_an_unknown_scenario_is_a_usage_error_naming_the_known_ones() -> None:
    code, stdout, stderr = run("diagnose", "reference", "--scenario", "cancel,nope")
    assert code == 2
    assert "'nope'" in stderr
    assert all(name in stderr for name in NAMES)
    assert stdout == ""


def test_an_unknown_scenario_in_json_mode_is_a_json_error() -> None:
    code, stdout, _ = run("diagnose", "reference", "--scenario", "nope", "--json")
    assert code == 2
    payload = json.loads(stdout)
    assert payload["exit_code"] == 2 and "nope" in payload["error"]


def test_a_bad_prompt_override_is_a_usage_error() -> None:
    code, _, stderr = run("diagnose", "reference", "--scenario", "widget", "--prompt", "nope=x")
    assert code == 2
    assert "SCENARIO.ROLE=TEXT" in stderr


def test_prompt_without_scenario_is_a_usage_error() -> None:
    code, _, stderr = run("diagnose", "reference", "--prompt", "widget.ask=x")
    assert code == 2
    assert "--scenario" in stderr
