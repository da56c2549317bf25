"""A reference ChatKit backend built the documented way, runnable without an API key.

:class:`ReferenceServer` is a :class:`chatkit.server.ChatKitServer` whose ``respond`` converts the
thread's stored items to agent input with the SDK's converter, runs an openai-agents ``Agent``
with ``Runner.run_streamed`` and turns the run into ChatKit events with
:func:`chatkit.agents.stream_agent_response`. Nothing here invents protocol: every event on the
wire is produced by the SDK, so its streams are what a correct backend sends.

By default the agent's model is an ``agents.testing.ScriptedModel`` fed by a :class:`Script`, so
streams are realistic (several text deltas, a function tool call, replies that change by turn)
and fully deterministic (the scripts are in ``scripts``). Pass ``model="openai:gpt-4.1-mini"``
(or ``real_model=True``) with ``OPENAI_API_KEY`` set to talk to a real model instead. Tracing is
always disabled: nothing leaves the machine unless a real model was asked for.

:func:`reference_app` wraps the server in the single-endpoint FastAPI app the SDK docs describe.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from agents import Agent, Model, RunConfig, RunContextWrapper, Runner, function_tool
from agents import set_tracing_disabled as _set_tracing_disabled
from agents.testing import ScriptedModel
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
from pydantic import ValidationError

from chatkit_lab.errors import ChatKitLabError

from ._util import remove_with, split_deltas, temporary_db_path
from .scripts import SCRIPTS, Script, ToolCall, resolve_script
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


# -- the model -----------------------------------------------------------------------------


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
