"""``errors`` with a failing upstream: the backend's model fails for real, and the kit judges what
the user then sees.

The kit serves an API that fails like a model provider's outage (HTTP 500, the OpenAI error body)
on the address given (``--errors-upstream``); the backends here are started with their model's
base URL there, as a user starts theirs. A real failure marked retryable is never a fault.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from agents import OpenAIResponsesModel
from chatkit.types import AssistantMessageContent, AssistantMessageItem, ThreadItemDoneEvent
from openai import AsyncOpenAI

from chatkit_lab.backends import ReferenceServer, reference_app
from chatkit_lab.diagnosis import ScenarioResult, run_scenarios
from chatkit_lab.errors import TargetError
from chatkit_lab.scenarios import FailingUpstream, parse_upstream, resolve_scenarios
from chatkit_lab.targets import open_app_target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def model_at(upstream: str) -> OpenAIResponsesModel:
    """The model a backend builds from OPENAI_BASE_URL, pointed at ``upstream``."""
    client = AsyncOpenAI(base_url=f"{upstream}/v1", api_key="sk-test-not-real", max_retries=0)
    return OpenAIResponsesModel(model="gpt-4.1-mini", openai_client=client)


class QuotingServer(ReferenceServer):
    """Catches the model's failure and streams its text as the reply."""

    async def respond(self, thread: Any, item: Any, context: Any) -> AsyncIterator[Any]:
        try:
            async for event in super().respond(thread, item, context):
                yield event
        except Exception as exc:
            text = f"Sorry, something went wrong: {type(exc).__name__}: {exc}"
            yield ThreadItemDoneEvent(
                item=AssistantMessageItem(
                    id="msg_sorry",
                    thread_id=thread.id,
                    created_at=datetime.now(),
                    content=[AssistantMessageContent(text=text)],
                )
            )


class SilentServer(ReferenceServer):
    """Catches the model's failure and ends the stream with nothing."""

    async def respond(self, thread: Any, item: Any, context: Any) -> AsyncIterator[Any]:
        try:
            async for event in super().respond(thread, item, context):
                yield event
        except Exception:
            return


async def run_errors(server_class: type[ReferenceServer], *, called: bool = True) -> ScenarioResult:
    upstream = f"http://127.0.0.1:{free_port()}"
    model = model_at(upstream if called else "http://127.0.0.1:9")
    app = reference_app(store="memory", model=model, scenarios=False, server_class=server_class)
    async with open_app_target(app, "/chatkit", name="upstream") as target:
        conformance = await run_scenarios(
            target, resolve_scenarios("errors"), errors_upstream=upstream
        )
    result = conformance.result("errors")
    assert result is not None
    return result


async def test_a_backend_that_lets_the_models_failure_reach_the_sdk_passes_with_a_retry() -> None:
    # The SDK sends an error event with allow_retry: true: the UI offers Retry. No fault.
    result = await run_errors(ReferenceServer)
    assert result.state == "pass", result.reason
    got = result.facts["upstream"]
    assert got["calls"] >= 1
    assert [e["payload"].get("allow_retry") for e in got["events"] if e["type"] == "error"] == [
        True
    ]
    assert not [f for f in result.diagnosis.findings if f.severity == "error"]


async def test_a_backend_that_quotes_the_failure_as_a_reply_gets_a_warning() -> None:
    result = await run_errors(QuotingServer)
    assert result.state == "pass", result.reason
    assert "rendering.error_as_reply" in {f.code for f in result.diagnosis.findings}


async def test_a_backend_that_swallows_the_failure_shows_the_user_nothing_and_fails() -> None:
    result = await run_errors(SilentServer)
    assert result.state == "fail", result.reason
    codes = {f.code for f in result.diagnosis.findings if f.severity == "error"}
    assert "rendering.failure_unseen" in codes  # the stream said nothing of the failure


async def test_a_backend_that_never_called_the_upstream_is_told_how_to_point_it_there() -> None:
    result = await run_errors(ReferenceServer, called=False)
    assert result.state == "error", result.reason
    assert "never called the failing upstream" in result.reason
    assert "OPENAI_BASE_URL=" in result.reason


def test_the_failing_upstream_answers_every_request_like_an_outage() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with FailingUpstream(url) as upstream:
        reply = httpx.post(f"{url}/v1/responses", json={"input": "secret prompt"})
    assert reply.status_code == 500
    assert reply.json()["error"]["type"] == "server_error"
    assert reply.headers["x-should-retry"] == "false"
    assert upstream.calls == 1 and upstream.seen == ["POST /v1/responses"]
    with pytest.raises(httpx.ConnectError):  # served only while the block runs
        httpx.post(f"{url}/v1/responses", json={})


@pytest.mark.parametrize(
    "url", ["https://127.0.0.1:8999", "http://example.com:8999", "http://127.0.0.1", "nonsense"]
)
def test_an_upstream_the_kit_cannot_serve_is_refused_with_what_to_give(url: str) -> None:
    with pytest.raises(TargetError, match="http URL on this machine with a port"):
        parse_upstream(url)


def test_the_command_line_refuses_an_errors_upstream_it_cannot_serve() -> None:
    from typer.testing import CliRunner

    from chatkit_lab.cli import app as cli

    result = CliRunner().invoke(
        cli,
        ["diagnose", "reference", "--scenario", "errors", "--errors-upstream", "http://x.org:1"],
    )
    assert result.exit_code == 2
    assert "bad --errors-upstream" in result.stderr and "http://127.0.0.1:8999" in result.stderr
    alone = CliRunner().invoke(
        cli, ["diagnose", "reference", "--errors-upstream", "http://127.0.0.1:1"]
    )
    assert alone.exit_code == 2 and "go with --scenario" in alone.stderr
