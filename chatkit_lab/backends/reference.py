"""A reference ChatKit backend built the documented way, runnable without an API key.

:class:`ReferenceServer` is a :class:`chatkit.server.ChatKitServer` whose ``respond`` converts the
thread's stored items to agent input with the SDK's converter, runs an openai-agents ``Agent``
with ``Runner.run_streamed`` and turns the run into ChatKit events with
:func:`chatkit.agents.stream_agent_response`. Nothing here invents protocol: every event on the
wire is produced by the SDK, so its streams are what a correct backend sends.

By default the agent's model is an ``agents.testing.ScriptedModel`` fed by a :class:`Script`, so
streams are realistic (several text deltas, a function tool call, replies that change by turn)
and fully deterministic. Pass ``model="openai:gpt-4.1-mini"`` (or ``real_model=True``) with
``OPENAI_API_KEY`` set to talk to a real model instead. Tracing is always disabled: nothing leaves
the machine unless a real model was asked for.

:func:`reference_app` wraps the server in the single-endpoint FastAPI app the SDK docs describe.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents import Agent, Model, RunConfig, RunContextWrapper, Runner, function_tool
from agents import set_tracing_disabled as _set_tracing_disabled
from agents.items import TResponseStreamEvent
from agents.testing import ModelCall, ModelStep, ScriptedModel, function_call
from chatkit.agents import AgentContext, ThreadItemConverter, stream_agent_response
from chatkit.server import ChatKitServer, StreamingResult
from chatkit.store import NotFoundError, Store
from chatkit.types import (
    ProgressUpdateEvent,
    ThreadItem,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    UserMessageTagContent,
    UserMessageTextContent,
)
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
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
from pydantic import ValidationError

from chatkit_lab.errors import ChatKitLabError

from ._util import remove_with, split_deltas, temporary_db_path
from .stores import MemoryStore, RecordingStore, SQLiteStore

__all__ = [
    "CHATKIT_PATH",
    "DEFAULT_REAL_MODEL",
    "SCRIPTS",
    "ModelUnavailableError",
    "ReferenceServer",
    "Script",
    "ToolCall",
    "get_weather",
    "reference_app",
    "split_deltas",
    "weather_report",
]

CHATKIT_PATH = "/chatkit"
"""The reference app's single ChatKit endpoint."""

DEFAULT_REAL_MODEL = "openai:gpt-4.1-mini"
"""The model used by ``real_model=True``."""

DEFAULT_INSTRUCTIONS = (
    "You are the assistant of a ChatKit reference backend. Answer briefly. "
    "Use the get_weather tool when asked about the weather."
)


class ModelUnavailableError(ChatKitLabError):
    """A real model was requested but cannot be used (no ``OPENAI_API_KEY``)."""


# -- the tool ------------------------------------------------------------------------------


def weather_report(city: str) -> str:
    """The deterministic answer of the ``get_weather`` tool."""
    return f"{city}: 21 °C, clear skies, light wind from the west"


@function_tool
async def get_weather(ctx: RunContextWrapper[Any], city: str) -> str:
    """Get the current weather for a city.

    Args:
        city: The city to report on.
    """
    agent_context = ctx.context
    if isinstance(agent_context, AgentContext):
        await agent_context.stream(ProgressUpdateEvent(text=f"Checking the weather in {city}…"))
    return weather_report(city)


# -- scripts -------------------------------------------------------------------------------


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
            call_id = f"call_{uuid.uuid4().hex[:12]}"
            steps.append(
                ModelStep(
                    output=[
                        function_call(self.tool.name, dict(self.tool.arguments), call_id=call_id)
                    ],
                    response_id=_response_id(),
                )
            )

        def reply_for(call: ModelCall) -> str:
            return self.render(turn, user_text, history, _last_tool_output(call.input))

        steps.append(
            ModelStep.stream(
                _text_stream(reply_for, message_id(), _response_id(), self.words_per_delta)
            )
        )
        return steps


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
) -> Callable[[ModelCall], AsyncIterator[TResponseStreamEvent]]:
    """A stream factory: one assistant message whose text arrives as several deltas."""

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
        for delta in split_deltas(text, words_per_delta):
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


def resolve_model(model: str | Model | None, real_model: bool = False) -> str | Model | None:
    """``None`` for the scripted model, else the real model to use (checks ``OPENAI_API_KEY``)."""
    if model is None and real_model:
        model = DEFAULT_REAL_MODEL
    if model is None or model == "scripted":
        return None
    if isinstance(model, Model):
        return model
    name = model.removeprefix("openai:")
    if not os.environ.get("OPENAI_API_KEY"):
        raise ModelUnavailableError(
            f"model {model!r} needs OPENAI_API_KEY in the environment; without it, leave "
            "model unset to use the deterministic scripted model"
        )
    return name


# -- the server ----------------------------------------------------------------------------


def _user_text(item: UserMessageItem | None) -> str:
    if item is None:
        return ""
    parts: list[str] = []
    for part in item.content:
        if isinstance(part, UserMessageTextContent):
            parts.append(part.text)
        elif isinstance(part, UserMessageTagContent):
            parts.append(f"@{part.text}")
    return "".join(parts)


class ReferenceServer(ChatKitServer[dict[str, Any]]):
    """The documented ChatKit server shape: an Agent streamed through ``stream_agent_response``."""

    def __init__(
        self,
        store: Store[Any],
        *,
        script: str | Script = "multi-delta",
        replies: str | Sequence[str] | None = None,
        model: str | Model | None = None,
        real_model: bool = False,
        delay_s: float = 0.0,
        instructions: str = DEFAULT_INSTRUCTIONS,
    ) -> None:
        super().__init__(store)
        _set_tracing_disabled(True)
        self.script = resolve_script(script, replies)
        self.model = resolve_model(model, real_model)
        self.delay_s = max(float(delay_s), 0.0)
        self.instructions = instructions
        self.converter = ThreadItemConverter()
        self.scripted_models: list[ScriptedModel] = []
        """Every scripted model used so far (one per response), for inspecting model calls."""

    async def _history(self, thread_id: str, context: dict[str, Any]) -> list[ThreadItem]:
        items: list[ThreadItem] = []
        after: str | None = None
        while True:
            page = await self.store.load_thread_items(thread_id, after, 100, "asc", context)
            items.extend(page.data)
            if not page.has_more or page.after is None:
                return items
            after = page.after

    async def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: dict[str, Any],
    ) -> AsyncIterator[ThreadStreamEvent]:
        items = await self._history(thread.id, context)
        agent_input = await self.converter.to_agent_input(items)
        messages = [item for item in items if item.type in ("user_message", "assistant_message")]
        turn = sum(1 for item in messages if item.type == "user_message")

        model: str | Model
        if self.model is None:
            scripted = ScriptedModel(
                self.script.steps(
                    turn=turn,
                    user_text=_user_text(input_user_message),
                    history=max(len(messages) - 1, 0),
                    message_id=lambda: self.store.generate_item_id("message", thread, context),
                )
            )
            self.scripted_models.append(scripted)
            model = scripted
        else:
            model = self.model

        agent = Agent[AgentContext](
            name="ChatKit reference assistant",
            instructions=self.instructions,
            model=model,
            tools=[get_weather],
        )
        agent_context = AgentContext(thread=thread, store=self.store, request_context=context)
        result = Runner.run_streamed(
            agent,
            agent_input,
            context=agent_context,
            run_config=RunConfig(tracing_disabled=True),
        )
        async for event in stream_agent_response(agent_context, result):
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            yield event


# -- the app -------------------------------------------------------------------------------


def _make_store(store: str | Store[Any] | None, db_path: str | Path | None) -> Store[Any]:
    if isinstance(store, Store):
        return store
    if store in (None, "sqlite"):
        if db_path is not None:
            return SQLiteStore(db_path)
        path = temporary_db_path("chatkit-lab-reference-")
        sqlite = SQLiteStore(path)
        remove_with(sqlite, path)
        return sqlite
    if store == "memory":
        return MemoryStore()
    raise ValueError(f"unknown store {store!r}: use 'sqlite', 'memory' or a Store instance")


def reference_app(
    store: str | Store[Any] | None = None,
    db_path: str | Path | None = None,
    script: str | Script = "multi-delta",
    *,
    replies: str | Sequence[str] | None = None,
    model: str | Model | None = None,
    real_model: bool = False,
    delay_s: float = 0.0,
) -> FastAPI:
    """The reference backend as a FastAPI app with one ``POST /chatkit`` endpoint.

    ``store``: ``None``/``"sqlite"`` (a real SQLite file: ``db_path`` or a new temporary file),
    ``"memory"``, or any :class:`~chatkit.store.Store`. It is wrapped in a
    :class:`~chatkit_lab.backends.stores.RecordingStore`, available as ``app.state.store``;
    the server is ``app.state.server``.
    """
    inner = _make_store(store, db_path)
    recording = inner if isinstance(inner, RecordingStore) else RecordingStore(inner)
    server = ReferenceServer(
        recording,
        script=script,
        replies=replies,
        model=model,
        real_model=real_model,
        delay_s=delay_s,
    )
    app = FastAPI(title="chatkit-lab reference backend")
    app.state.server = server
    app.state.store = recording
    app.state.db_path = getattr(inner, "path", None)
    app.state.path = CHATKIT_PATH

    @app.post(CHATKIT_PATH)
    async def chatkit_endpoint(request: Request) -> Response:
        body = await request.body()
        try:
            result = await server.process(body, {"headers": dict(request.headers)})
        except ValidationError as exc:
            return JSONResponse(
                {
                    "error": "invalid ChatKit request",
                    "detail": json.loads(exc.json(include_url=False)),
                },
                status_code=400,
            )
        except NotFoundError as exc:
            return JSONResponse({"error": "not found", "detail": str(exc)}, status_code=404)
        if isinstance(result, StreamingResult):
            return StreamingResponse(result, media_type="text/event-stream")
        return Response(content=result.json, media_type="application/json")

    return app
