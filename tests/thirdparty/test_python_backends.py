"""Published Python ChatKit backends, run offline through every scenario, their model replaced.

Each backend is built the way its package's README shows (see ``agent_framework_app.py`` and
``adk_app.py``); only the model is scripted. Each grade asserted here was checked against what
the package's code does and what ChatKit's client then shows (docs/guides/third-party-backends.md
says why, backend by backend).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from chatkit_lab.diagnosis import Conformance, ScenarioResult, run_scenarios
from chatkit_lab.redact import current_redactor
from chatkit_lab.scenarios import resolve_scenarios
from chatkit_lab.targets import open_app_target

sys.path.insert(0, str(Path(__file__).resolve().parent))

from adk_app import adk_app  # noqa: E402
from agent_framework_app import agent_framework_app  # noqa: E402


async def conform(app: Any, scenarios: str = "all") -> Conformance:
    async with open_app_target(app, "/chatkit", name="third-party") as target:
        return await run_scenarios(
            target, resolve_scenarios(scenarios), redactor=current_redactor()
        )


def result(conformance: Conformance, name: str) -> ScenarioResult:
    found = conformance.result(name)
    assert found is not None, f"{name} did not run"
    return found


def codes(found: ScenarioResult) -> set[str]:
    return {f.code for f in found.diagnosis.findings if f.severity == "error"}


def verdict(found: ScenarioResult) -> str | None:
    return found.diagnosis.verdict.code if found.diagnosis.verdict is not None else None


# -- Microsoft Agent Framework (agent-framework-chatkit) -------------------------------------


@pytest.fixture(scope="module")
def agent_framework() -> Conformance:
    return asyncio.run(conform(agent_framework_app()))


def test_agent_framework_streams_keeps_retries_and_pages_its_threads(
    agent_framework: Conformance,
) -> None:
    for name in ("messages", "retry", "history"):
        found = result(agent_framework, name)
        assert found.state == "pass", (name, found.reason)


def test_agent_framework_behind_the_readmes_route_loses_a_stopped_reply(
    agent_framework: Conformance,
) -> None:
    found = result(agent_framework, "cancel")
    assert found.state == "fail", found.reason
    assert verdict(found) == "persistence.cancel_partial_lost"


async def test_the_same_agent_framework_server_behind_the_kits_route_keeps_the_stopped_reply() -> (
    None
):
    # the control: the route, not the package, loses the partial reply
    found = result(await conform(agent_framework_app(kit_route=True), "cancel"), "cancel")
    assert found.state == "pass", found.reason


def test_agent_framework_offers_no_tools_widgets_or_workflows_and_is_skipped_there(
    agent_framework: Conformance,
) -> None:
    for name in ("client-tool", "widget", "workflow"):
        found = result(agent_framework, name)
        assert found.state == "skip", (name, found.reason)
        assert codes(found) == set()


def test_agent_framework_without_an_attachment_store_answers_a_bare_500(
    agent_framework: Conformance,
) -> None:
    # The README's route lets the SDK's "AttachmentStore is not configured" become a plain
    # "Internal Server Error": nothing says the feature is missing, so it is no skip.
    found = result(agent_framework, "attachments")
    assert found.state == "fail", found.reason
    assert verdict(found) == "request.http_error"
    assert "attachments.create" in found.reason


def test_agent_framework_without_a_failure_sends_no_error_and_is_skipped(
    agent_framework: Conformance,
) -> None:
    found = result(agent_framework, "errors")
    assert found.state == "skip", found.reason


async def test_agent_framework_with_a_failing_model_sends_a_retryable_error_and_passes() -> None:
    app = agent_framework_app(fail=RuntimeError("upstream model unavailable"))
    found = result(await conform(app, "errors"), "errors")
    assert found.state == "pass", found.reason
    flags = [
        e["payload"].get("allow_retry")
        for ask in found.facts["asks"]
        for e in ask["events"]
        if e["type"] == "error"
    ]
    assert flags and all(flag is True for flag in flags)  # a real failure, marked retryable


# -- Google ADK (adk-chatkit) ----------------------------------------------------------------


@pytest.fixture(scope="module")
def adk() -> Conformance:
    return asyncio.run(conform(adk_app()))


def test_adk_streams_deltas_before_it_adds_the_message_and_finishes_it_after_every_chunk(
    adk: Conformance,
) -> None:
    found = result(adk, "messages")
    assert found.state == "fail", found.reason
    assert verdict(found) == "ordering.update_before_added"
    assert {"ordering.duplicate_item_id", "ordering.event_after_done"} <= codes(found)


def test_adk_gives_every_item_a_new_id_on_load(adk: Conformance) -> None:
    assert "persistence.changed_id" in codes(result(adk, "messages"))


def test_adk_lists_every_thread_on_one_page_whatever_the_limit(adk: Conformance) -> None:
    assert "persistence.history_paging" in codes(result(adk, "history"))


def test_adk_shows_its_widget_and_its_client_tool_and_fails_them_on_ordering(
    adk: Conformance,
) -> None:
    widget = result(adk, "widget")
    assert widget.state == "fail", widget.reason
    assert widget.facts.get("widget") is not None  # the card arrived
    tool = result(adk, "client-tool")
    assert tool.state == "fail", tool.reason
    assert tool.facts.get("call", {}).get("name") == "get_selected_text"


def test_adk_has_no_attachment_store_and_its_route_answers_a_bare_500(adk: Conformance) -> None:
    found = result(adk, "attachments")
    assert found.state == "fail", found.reason
    assert verdict(found) == "request.http_error"


def test_no_adk_scenario_is_skipped_as_a_missing_feature_it_has(adk: Conformance) -> None:
    skipped = {r.name for r in adk.results if r.state == "skip"}
    assert skipped <= {"workflow", "errors"}, skipped
