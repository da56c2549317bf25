"""Scripts for the reference backend's model: what it says, turn by turn, deterministically.

The agent's default model is an ``agents.testing.ScriptedModel`` fed by a :class:`Script`: each
reply streams as several text deltas in the Responses API's event shapes (the same events a real
model sends), optionally after a function tool call, so streams are realistic and repeatable.

:func:`text_step` and :func:`tool_call_step` build single model steps (``agents.testing.ModelStep``)
for other scripted turns, such as the scenarios' replies the reference plays. A text step may
pause between its deltas (``pause_s``); a scenario's reply asks for it where it needs a slow
stream, and it runs inside the model's stream, as a slow real model would.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.items import TResponseStreamEvent
from agents.testing import ModelCall, ModelStep, function_call
from openai.types.responses import (
    Response as ModelResponseObject,
)
from openai.types.responses import (
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
    ResponseUsage,
)
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

from ._util import split_deltas

__all__ = ["SCRIPTS", "Script", "ToolCall", "resolve_script", "text_step", "tool_call_step"]


@dataclass(frozen=True)
class ToolCall:
    """A function tool the scripted model calls before answering."""

    name: str = "get_weather"
    arguments: Mapping[str, Any] = field(default_factory=lambda: {"city": "Paris"})


@dataclass(frozen=True)
class Script:
    """What the scripted model says, turn by turn.

    ``replies[n]`` answers the n-th user message of a thread (cycling when the thread is longer).
    A reply may use the placeholders ``{input}`` (the user's text), ``{turn}`` (1-based),
    ``{history}`` (messages the model saw before this one) and ``{tool_output}`` (what the tool
    returned, when ``tool`` is set). Each reply streams as several text deltas of
    ``words_per_delta`` words.
    """

    name: str
    replies: tuple[str, ...]
    tool: ToolCall | None = None
    words_per_delta: int = 2
    description: str = ""

    def __post_init__(self) -> None:
        if not self.replies:
            raise ValueError(f"script {self.name!r} needs at least one reply")

    @classmethod
    def from_replies(
        cls,
        replies: str | Sequence[str],
        *,
        name: str = "custom",
        tool: ToolCall | None = None,
        words_per_delta: int = 2,
    ) -> Script:
        """A script from your own reply texts (one string, or one per turn)."""
        texts = (replies,) if isinstance(replies, str) else tuple(replies)
        return cls(name=name, replies=texts, tool=tool, words_per_delta=words_per_delta)

    def render(self, turn: int, user_text: str, history: int, tool_output: str = "") -> str:
        """The reply for ``turn`` with its placeholders filled in."""
        text = self.replies[(max(turn, 1) - 1) % len(self.replies)]
        values = {
            "{input}": user_text,
            "{turn}": str(turn),
            "{history}": str(history),
            "{tool_output}": tool_output,
        }
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        return text

    def steps(
        self,
        turn: int,
        user_text: str,
        history: int,
        message_id: Callable[[], str],
    ) -> list[ModelStep]:
        """The model steps for one turn: an optional tool call, then a streamed text reply."""
        steps: list[ModelStep] = []
        if self.tool is not None:
            steps.append(tool_call_step(self.tool.name, self.tool.arguments))

        def reply_for(call: ModelCall) -> str:
            return self.render(turn, user_text, history, _last_tool_output(call.input))

        steps.append(text_step(reply_for, message_id(), words_per_delta=self.words_per_delta))
        return steps


def text_step(
    reply: str | Callable[[ModelCall], str],
    message_id: str,
    *,
    words_per_delta: int = 2,
    pause_s: float = 0.0,
) -> ModelStep:
    """One streamed assistant message (``reply``, or a function of the model call giving it),
    ``words_per_delta`` words a delta, with ``pause_s`` seconds between deltas."""

    def fixed(call: ModelCall, text: str = str(reply)) -> str:
        return text

    reply_for = reply if callable(reply) else fixed
    return ModelStep.stream(
        _text_stream(reply_for, message_id, _response_id(), words_per_delta, max(pause_s, 0.0))
    )


def tool_call_step(
    name: str,
    arguments: Mapping[str, Any],
    *,
    call_id: str | None = None,
    item_id: str | None = None,
) -> ModelStep:
    """One model step that calls the function tool ``name`` with ``arguments``."""
    call_id = call_id or f"call_{uuid.uuid4().hex[:12]}"
    return ModelStep(
        output=[function_call(name, dict(arguments), call_id=call_id, item_id=item_id)],
        response_id=_response_id(),
    )


SCRIPTS: dict[str, Script] = {
    "multi-delta": Script(
        name="multi-delta",
        replies=(
            'You said "{input}". This reply is streamed in several small text deltas, '
            "the way a real model sends it, so the client has to assemble it piece by piece.",
        ),
        description="one text reply in many deltas",
    ),
    "tool-call": Script(
        name="tool-call",
        replies=("I asked the weather tool. It says: {tool_output}.",),
        tool=ToolCall(),
        description="a function tool call, then a text answer that uses its output",
    ),
    "multi-turn": Script(
        name="multi-turn",
        replies=(
            'Hello! Turn {turn}: you said "{input}". Tell me more.',
            'Turn {turn}: noted "{input}". I can see {history} earlier messages in this thread.',
            "Turn {turn}: the conversation history reaches me intact ({history} messages so far).",
            'Turn {turn}: still here. Your latest message was "{input}".',
        ),
        description="replies that change by turn and count the history the model received",
    ),
}
"""Named scripts for the scripted model."""


def _response_id() -> str:
    return f"resp_{uuid.uuid4().hex[:16]}"


def _last_tool_output(model_input: Any) -> str:
    if not isinstance(model_input, list):
        return ""
    for entry in reversed(model_input):
        if isinstance(entry, Mapping) and entry.get("type") == "function_call_output":
            output = entry.get("output")
            return output if isinstance(output, str) else str(output)
    return ""


def _usage() -> ResponseUsage:
    return ResponseUsage(
        input_tokens=0,
        output_tokens=0,
        total_tokens=0,
        input_tokens_details=InputTokensDetails.model_validate(
            {"cached_tokens": 0, "cache_write_tokens": 0}
        ),
        output_tokens_details=OutputTokensDetails(reasoning_tokens=0),
    )


def _response(response_id: str, status: str, output: list[Any]) -> ModelResponseObject:
    return ModelResponseObject(
        id=response_id,
        created_at=0,
        model="scripted-model",
        object="response",
        output=output,
        tool_choice="auto",
        tools=[],
        top_p=None,
        parallel_tool_calls=False,
        status=status,  # type: ignore[arg-type]
        usage=_usage() if status == "completed" else None,
    )


def _text_stream(
    reply_for: Callable[[ModelCall], str],
    item_id: str,
    response_id: str,
    words_per_delta: int,
    pause_s: float = 0.0,
) -> Callable[[ModelCall], AsyncIterator[TResponseStreamEvent]]:
    """A stream factory: one assistant message whose text arrives as several deltas
    (``pause_s`` seconds apart)."""

    async def stream(call: ModelCall) -> AsyncIterator[TResponseStreamEvent]:
        text = reply_for(call)
        sequence = iter(range(1_000_000))

        def part(value: str) -> ResponseOutputText:
            return ResponseOutputText(type="output_text", text=value, annotations=[], logprobs=[])

        def message(status: str, content: list[ResponseOutputText]) -> ResponseOutputMessage:
            return ResponseOutputMessage(
                id=item_id,
                type="message",
                role="assistant",
                status=status,  # type: ignore[arg-type]
                content=content,  # type: ignore[arg-type]
            )

        yield ResponseCreatedEvent(
            type="response.created",
            response=_response(response_id, "in_progress", []),
            sequence_number=next(sequence),
        )
        yield ResponseOutputItemAddedEvent(
            type="response.output_item.added",
            item=message("in_progress", []),
            output_index=0,
            sequence_number=next(sequence),
        )
        yield ResponseContentPartAddedEvent(
            type="response.content_part.added",
            item_id=item_id,
            output_index=0,
            content_index=0,
            part=part(""),
            sequence_number=next(sequence),
        )
        for number, delta in enumerate(split_deltas(text, words_per_delta)):
            if pause_s and number:
                await asyncio.sleep(pause_s)
            yield ResponseTextDeltaEvent(
                type="response.output_text.delta",
                item_id=item_id,
                output_index=0,
                content_index=0,
                delta=delta,
                logprobs=[],
                sequence_number=next(sequence),
            )
        yield ResponseTextDoneEvent(
            type="response.output_text.done",
            item_id=item_id,
            output_index=0,
            content_index=0,
            text=text,
            logprobs=[],
            sequence_number=next(sequence),
        )
        yield ResponseContentPartDoneEvent(
            type="response.content_part.done",
            item_id=item_id,
            output_index=0,
            content_index=0,
            part=part(text),
            sequence_number=next(sequence),
        )
        done = message("completed", [part(text)])
        yield ResponseOutputItemDoneEvent(
            type="response.output_item.done",
            item=done,
            output_index=0,
            sequence_number=next(sequence),
        )
        yield ResponseCompletedEvent(
            type="response.completed",
            response=_response(response_id, "completed", [done]),
            sequence_number=next(sequence),
        )

    return stream


def resolve_script(script: str | Script, replies: str | Sequence[str] | None = None) -> Script:
    """A :class:`Script` from a name in :data:`SCRIPTS` or a script; ``replies`` overrides."""
    if replies is not None:
        tool = script.tool if isinstance(script, Script) else None
        if isinstance(script, str) and script in SCRIPTS:
            tool = SCRIPTS[script].tool
        return Script.from_replies(replies, tool=tool)
    if isinstance(script, Script):
        return script
    try:
        return SCRIPTS[script]
    except KeyError:
        raise ValueError(
            f"unknown script {script!r}: use one of {', '.join(sorted(SCRIPTS))} or a Script"
        ) from None
