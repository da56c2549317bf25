"""A scenario added from outside the package, in one place: its declaration, play and check,
the reference backend's reply to its prompt and its faulty variant all come with one
``register_scenario`` call."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chatkit_lab.backends import faulty_app, match_scenario, reference_app
from chatkit_lab.checks import Found, Skip, check
from chatkit_lab.diagnosis import run_scenarios
from chatkit_lab.scenarios import (
    Fault,
    Reply,
    Scenario,
    ScenarioContext,
    Session,
    done_items,
    item_text,
    register_scenario,
    resolve_scenarios,
    scenarios,
    unregister_scenario,
)
from chatkit_lab.targets import open_app_target

WORD = "plum"


async def play(session: Session) -> None:
    create = await session.create_thread(session.prompt("ask"))
    session.require_thread(create)
    replies = [
        i for i in done_items(create.seen_by_chatkit) if i.get("type") == "assistant_message"
    ]
    session.facts["reply"] = " ".join(item_text(i) for i in replies)
    session.facts["capture"] = create.capture.name


@check(
    code="rendering.toy_word_missing",
    layer="rendering",
    severity="error",
    description="The reply to the toy prompt names the toy word.",
    expectation=f"The reply says {WORD!r}.",
    fix="Answer the toy prompt with the toy word.",
)
def word_missing(ctx: ScenarioContext) -> Iterator[Found | Skip]:
    if "reply" not in ctx.facts:
        yield Skip("nothing was asked")
        return
    if WORD not in ctx.facts["reply"]:
        yield Found(f"the reply {ctx.facts['reply']!r} does not say {WORD!r}", ctx.evidence())


def _swap(node: Any) -> Any:
    """The faulty variant: every string of every event says ``pear`` for the toy word."""
    if isinstance(node, dict):
        return {key: _swap(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_swap(value) for value in node]
    return node.replace(WORD, "pear") if isinstance(node, str) else node


TOY = Scenario(
    name="toy",
    title="Say the toy word",
    description="The client asks for the toy word; the reply must name it.",
    requests=("threads.create",),
    play=play,
    checks=__name__,
    prompts={"ask": "Say the toy word."},
    replies={"ask": Reply("toy", f"The toy word is {WORD}.")},
    faulty=Fault("the reference backend that forgets the toy word", events=_swap),
)


@pytest.fixture
def toy() -> Iterator[Scenario]:
    register_scenario(TOY)
    yield TOY
    unregister_scenario(TOY.name)


async def _grade(app: Any) -> str:
    async with open_app_target(app, "/chatkit", name="toy") as target:
        conformance = await run_scenarios(target, resolve_scenarios("toy"))
    result = conformance.result("toy")
    assert result is not None
    return result.state


async def test_a_registered_scenario_is_listed_and_played_by_the_reference(toy: Scenario) -> None:
    assert list(scenarios())[-1] == "toy"
    assert match_scenario("say the TOY word") == "toy"
    assert await _grade(reference_app(store="memory")) == "pass"


async def test_a_registered_scenario_gets_its_faulty_variant(toy: Scenario) -> None:
    assert await _grade(faulty_app("toy", store="memory")) == "fail"


def test_an_unregistered_scenario_is_gone_and_a_duplicate_is_refused(toy: Scenario) -> None:
    with pytest.raises(RuntimeError, match="declared twice"):
        register_scenario(TOY)
    unregister_scenario("toy")
    assert "toy" not in scenarios()
    assert match_scenario("Say the toy word.") is None
