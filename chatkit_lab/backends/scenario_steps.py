"""Which scenario a turn asks for, and the scripted model's steps for it.

The kit's conformance scenarios send plain-language prompts; the reference picks its behaviour
by a case-insensitive keyword in the user's text (:data:`SCENARIO_KEYWORDS`), so a backend on a
real model gets the same prompts. Any other text gets the plain scripted reply, unchanged.

Everything here is the reference's choice (keywords, texts, the story's pace); the model steps
are ``agents.testing.ModelStep``s in the Responses API's event shapes, and what reaches the wire
is made from them by the SDK's ``stream_agent_response``. The long story is the only reply
that pauses between its deltas (:data:`STORY_PAUSE_S`), so a client that stops reading stops
it mid-stream; nothing else is slowed down.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agents.testing import ModelStep
from chatkit.errors import CustomStreamError
from chatkit.types import (
    Attachment,
    ClientToolCallItem,
    NoticeEvent,
    ProgressUpdateEvent,
    ThreadItem,
    ThreadStreamEvent,
    UserMessageItem,
    UserMessageTagContent,
    UserMessageTextContent,
)

from .scenario_tools import CLIENT_TOOL_NAME
from .scripts import Script, text_step, tool_call_step

__all__ = [
    "CLIENT_TOOL_RESULT",
    "ERROR_MESSAGES",
    "NOTICE",
    "SCENARIO_KEYWORDS",
    "STORY_PAUSE_S",
    "TurnFacts",
    "long_story",
    "match_scenario",
    "opening_events",
    "scenario_error",
    "scenario_for",
    "scenario_steps",
    "turn_facts",
    "turn_steps",
    "user_text",
]

SCENARIO_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("cannot retry", "error-final"),
    ("error i can retry", "error-retry"),
    ("long story", "cancel"),
    ("fun fact", "retry"),
    ("selected", "client-tool"),
    ("as a card", "widget"),
    ("step by step", "workflow"),
    ("attached", "attachments"),
    ("notice", "notice"),
)
"""(keyword, scenario), first match wins: "cannot retry" is checked before "can retry"."""

CLIENT_TOOL_RESULT = "client-tool-result"
"""The turn after ``threads.add_client_tool_output``: no user message, a completed call."""

STORY_PAUSE_S = 0.025
"""Seconds between two deltas of the long story (and of no other reply)."""

ERROR_MESSAGES = {
    "error-retry": "Something went wrong on purpose. Try again: this error allows a retry.",
    "error-final": "Something went wrong on purpose, and this error does not allow a retry.",
}
"""The ``CustomStreamError`` messages of the error scenarios."""

NOTICE = ("Heads up", "This is an informational notice from the reference backend.")
"""(title, message) of the notice scenario's ``notice`` event."""

_STORY = (
    "Once upon a time a lighthouse stood alone on a rocky cape at the edge of the northern "
    "sea. Every evening its keeper climbed the long spiral stair, wound the old brass clockwork "
    "and lit the great lamp, whose beam swept the dark water until dawn. Sailors far away knew "
    "the rhythm of its light by heart: two long flashes, then a short one, then a pause. One "
    "winter night a storm tore the clouds apart and the lamp flickered, yet the keeper held the "
    "flame steady with his own hands until the ships had passed the reef. By morning the sea was "
    "calm, and the lighthouse shone on."
)


def long_story() -> str:
    """The cancel scenario's reply: over forty deltas of two words."""
    return _STORY


def user_text(item: UserMessageItem | None) -> str:
    """The text of a user message, tags as ``@name`` (what the SDK's converter sends)."""
    if item is None:
        return ""
    parts: list[str] = []
    for part in item.content:
        if isinstance(part, UserMessageTextContent):
            parts.append(part.text)
        elif isinstance(part, UserMessageTagContent):
            parts.append(f"@{part.text}")
    return "".join(parts)


def match_scenario(text: str, *, has_attachments: bool = False) -> str | None:
    """The scenario the user's text asks for (keywords, case-insensitive), else ``None``.

    A message that carries attachments and no other keyword is the attachments scenario.
    """
    normalized = " ".join(text.lower().split())
    for keyword, scenario in SCENARIO_KEYWORDS:
        if keyword in normalized:
            return scenario
    return "attachments" if has_attachments else None


def _visible(items: Sequence[ThreadItem]) -> list[ThreadItem]:
    return [
        item for item in items if item.type not in ("sdk_hidden_context", "hidden_context_item")
    ]


def scenario_for(
    items: Sequence[ThreadItem], message: UserMessageItem | None, text: str
) -> str | None:
    """The scenario of this turn: from the user's text, or, with no user message, the
    continuation of a completed client tool call."""
    if message is not None:
        return match_scenario(text, has_attachments=bool(message.attachments))
    visible = _visible(items)
    last = visible[-1] if visible else None
    if isinstance(last, ClientToolCallItem) and last.status == "completed":
        if last.name == CLIENT_TOOL_NAME:
            return CLIENT_TOOL_RESULT
    return None


def completed_tool_output(items: Sequence[ThreadItem]) -> Any:
    """The output of the most recent completed client tool call in ``items``."""
    for item in reversed(items):
        if isinstance(item, ClientToolCallItem) and item.status == "completed":
            return item.output
    return None


def _quote(output: Any) -> str:
    if isinstance(output, dict) and isinstance(output.get("text"), str):
        value = output["text"]
    elif isinstance(output, str):
        value = output
    else:
        value = json.dumps(output, ensure_ascii=False, default=str)
    return value if len(value) <= 500 else value[:500] + "…"


def _place(text: str, preposition: str, default: str = "Paris") -> str:
    found = re.search(rf"\b{preposition}\s+([A-Z][\w'-]{{1,40}})", text)
    return found.group(1) if found else default


@dataclass(frozen=True)
class TurnFacts:
    """What a scenario reply may depend on."""

    user_text: str = ""
    answer: int = 1
    """Responses this thread has had so far, this one included."""
    attachments: tuple[str, ...] = ()
    """One description per attachment of the user's message."""
    tool_output: Any = None
    """The output of the client tool call this turn continues."""


def turn_facts(
    items: Sequence[ThreadItem],
    message: UserMessageItem | None,
    *,
    answer: int,
    describe: Callable[[Attachment], str],
) -> TurnFacts:
    """The facts of one turn: the user's text, the answer number, the attachments described
    by ``describe`` and the output of the client tool call the turn continues."""
    return TurnFacts(
        user_text=user_text(message),
        answer=answer,
        attachments=tuple(describe(a) for a in (message.attachments if message else [])),
        tool_output=completed_tool_output(items),
    )


def scenario_steps(
    scenario: str,
    facts: TurnFacts,
    *,
    message_id: Callable[[], str],
    tool_item_id: Callable[[], str],
) -> list[ModelStep] | None:
    """The model steps for ``scenario``, or ``None`` when the turn uses the plain reply."""
    text = facts.user_text
    if scenario == "cancel":
        return [text_step(long_story(), message_id(), pause_s=STORY_PAUSE_S)]
    if scenario == "retry":
        reply = (
            "Here is a fun fact: an octopus has three hearts and blue blood. "
            f"(answer {facts.answer})"
        )
        return [text_step(reply, message_id())]
    if scenario == "client-tool":
        return [tool_call_step(CLIENT_TOOL_NAME, {}, item_id=tool_item_id())]
    if scenario == CLIENT_TOOL_RESULT:
        reply = f'The text selected in your editor is "{_quote(facts.tool_output)}".'
        return [text_step(reply, message_id())]
    if scenario == "widget":
        city = _place(text, "in")
        return [
            tool_call_step("show_weather_card", {"city": city}, item_id=tool_item_id()),
            text_step(f"Here is the weather in {city} as a card.", message_id()),
        ]
    if scenario == "workflow":
        city = _place(text, "to")
        return [
            tool_call_step("plan_trip", {"city": city}, item_id=tool_item_id()),
            text_step(
                f"Your trip to {city} is planned, step by step: dates, hotel and days.",
                message_id(),
            ),
        ]
    if scenario == "attachments":
        if facts.attachments:
            count = len(facts.attachments)
            listed = "; ".join(facts.attachments)
            reply = f"You attached {count} file{'s' if count != 1 else ''}: {listed}."
        else:
            reply = "I see no attached file in your message."
        return [text_step(reply, message_id())]
    return None


def opening_events(scenario: str | None) -> list[ThreadStreamEvent]:
    """What ``respond`` yields before the model runs (error and notice scenarios)."""
    if scenario in ERROR_MESSAGES:
        return [ProgressUpdateEvent(icon="bolt", text="Working on it…")]
    if scenario == "notice":
        return [
            NoticeEvent(level="info", title=NOTICE[0], message=NOTICE[1]),
            ProgressUpdateEvent(icon="info", text="Writing the reply…"),
        ]
    return []


def scenario_error(scenario: str | None) -> CustomStreamError | None:
    """The error ``respond`` raises for an error scenario (the SDK streams it as ``error``)."""
    if scenario not in ERROR_MESSAGES:
        return None
    return CustomStreamError(ERROR_MESSAGES[scenario], allow_retry=scenario == "error-retry")


def turn_steps(
    script: Script,
    scenario: str | None,
    items: Sequence[ThreadItem],
    message: UserMessageItem | None,
    facts: TurnFacts,
    *,
    message_id: Callable[[], str],
    tool_item_id: Callable[[], str],
) -> list[ModelStep]:
    """The scripted model's steps for one turn: the scenario's, else the script's reply."""
    if scenario is not None:
        steps = scenario_steps(scenario, facts, message_id=message_id, tool_item_id=tool_item_id)
        if steps is not None:
            return steps
    messages = [item for item in items if item.type in ("user_message", "assistant_message")]
    return script.steps(
        turn=sum(1 for item in messages if item.type == "user_message"),
        user_text=facts.user_text,
        history=max(len(messages) - 1, 0),
        message_id=message_id,
    )
