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

:func:`reference_app` wraps the server in the single-endpoint FastAPI app the SDK docs describe,
plus the attachment upload routes (``attachments``).

The kit's scenarios are on by default (``scenarios=False`` turns them off): each scenario
declares what the reference answers to its prompts (:class:`~chatkit_lab.scenarios.Reply`), which
the scripted model plays when the user's text is one of those prompts (:class:`Replies`, an exact
lookup: nothing is guessed from words); its tools (``tools``) use the SDK's helpers, so every
event is still the SDK's. The reference chooses the ``ProgressUpdateEvent`` that ``respond``
yields before a declared notice or error, the weather card's ``action``/``sync_action``, and
the bounded :attr:`ReferenceServer.feedback` that ``add_feedback`` fills.
``handle_stream_cancelled`` is the SDK's default, which saves a cancelled reply's partial text.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from agents import Agent, Model, RunConfig, Runner, StopAtTools
from agents import set_tracing_disabled as _set_tracing_disabled
from agents.testing import ModelStep, ScriptedModel
from chatkit.actions import Action
from chatkit.agents import stream_agent_response
from chatkit.errors import CustomStreamError
from chatkit.server import ChatKitServer, StreamingResult
from chatkit.store import AttachmentStore, NotFoundError, Store
from chatkit.types import (
    ClientToolCallItem,
    FeedbackKind,
    NoticeEvent,
    ProgressUpdateEvent,
    SyncCustomActionResponse,
    ThreadItem,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    UserMessageTagContent,
    UserMessageTextContent,
    WidgetItem,
)
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError

from chatkit_lab.backends._streaming import ChatKitStreamingResponse, quiet_sdk_leftovers
from chatkit_lab.errors import ChatKitLabError
from chatkit_lab.scenarios import Reply, scenarios

from ._util import remove_with, split_deltas, temporary_db_path
from .attachments import (
    AttachmentConverter,
    MemoryAttachmentStore,
    UploadTooLargeError,
    add_upload_routes,
    describe_attachment,
    request_context,
)
from .scripts import SCRIPTS, Script, ToolCall, resolve_script, text_step, tool_call_step
from .stores import MemoryStore, RecordingStore, SQLiteStore
from .tools import (
    CLIENT_TOOL_NAME,
    SCENARIO_TOOLS,
    WEATHER_REFRESH,
    BoundedCounter,
    PacedAgentContext,
    get_weather,
    refresh_weather,
    sync_refresh,
    weather_report,
)

__all__ = [
    "CHATKIT_PATH",
    "DEFAULT_REAL_MODEL",
    "SCRIPTS",
    "Feedback",
    "ModelUnavailableError",
    "ReferenceServer",
    "Script",
    "ToolCall",
    "get_weather",
    "match_scenario",
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
    "Use the get_weather tool when asked about the weather, show_weather_card when asked for "
    "it as a card, plan_trip to plan a trip step by step, and get_selected_text to read the "
    "text selected in the user's editor."
)

MAX_FEEDBACK = 1000
"""How many feedback records :attr:`ReferenceServer.feedback` keeps (the newest)."""


class ModelUnavailableError(ChatKitLabError):
    """A real model was requested but cannot be used (no ``OPENAI_API_KEY``)."""


class Feedback(NamedTuple):
    """One ``items.feedback`` request as ``add_feedback`` received it."""

    thread_id: str
    item_ids: tuple[str, ...]
    kind: FeedbackKind


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


# -- the scenarios' replies ------------------------------------------------------------------


def _normal(text: str) -> str:
    return " ".join(text.lower().split()).rstrip(".!?")


@dataclass(frozen=True)
class Replies:
    """What the scenarios declare the reference answers (:class:`~chatkit_lab.scenarios.Reply`):
    by prompt, looked up exactly (case, spacing and a final full stop aside), and by client
    tool, for the turn after the tool's output. Nothing is guessed from words: any other text
    gets the plain scripted reply."""

    by_prompt: dict[str, Reply]
    by_tool: dict[str, Reply]
    with_files: Reply | None = None

    @classmethod
    def declared(cls) -> Replies:
        """The replies every registered scenario declares."""
        by_prompt: dict[str, Reply] = {}
        by_tool: dict[str, Reply] = {}
        with_files: Reply | None = None
        for scenario in scenarios().values():
            for role, reply in scenario.replies.items():
                by_prompt[_normal(scenario.prompts[role])] = reply
                if reply.tool == CLIENT_TOOL_NAME:
                    by_tool.setdefault(reply.tool, reply)
                if reply.with_files and with_files is None:
                    with_files = reply
        return cls(by_prompt, by_tool, with_files)

    def match(self, text: str, *, has_attachments: bool = False) -> Reply | None:
        """The reply declared for the prompt ``text``; a message with files that matches none
        gets the reply declared for any message with files."""
        found = self.by_prompt.get(_normal(text))
        return found if found is not None or not has_attachments else self.with_files

    def after_tool(self, items: Sequence[ThreadItem]) -> Reply | None:
        """The reply to a client tool's output: the thread's last visible item is the call,
        completed."""
        visible = [i for i in items if i.type not in ("sdk_hidden_context", "hidden_context_item")]
        last = visible[-1] if visible else None
        if isinstance(last, ClientToolCallItem) and last.status == "completed":
            return self.by_tool.get(last.name)
        return None


def match_scenario(text: str, *, has_attachments: bool = False) -> str | None:
    """The name of the scripted turn the reference plays for ``text`` (``None``: the plain
    reply)."""
    reply = Replies.declared().match(text, has_attachments=has_attachments)
    return reply.name if reply is not None else None


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


def _quote(output: Any) -> str:
    if isinstance(output, dict) and isinstance(output.get("text"), str):
        value = output["text"]
    elif isinstance(output, str):
        value = output
    else:
        value = json.dumps(output, ensure_ascii=False, default=str)
    return value if len(value) <= 500 else value[:500] + "…"


def _files(described: list[str]) -> str:
    if not described:
        return "I see no attached file in your message."
    count = len(described)
    return f"You attached {count} file{'s' if count != 1 else ''}: {'; '.join(described)}."


# -- the server ----------------------------------------------------------------------------


class ReferenceServer(ChatKitServer[dict[str, Any]]):
    """The documented ChatKit server shape: an Agent streamed through ``stream_agent_response``."""

    max_scripted_models = 256
    """How many of the latest scripted models :attr:`scripted_models` keeps."""

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
        attachment_store: AttachmentStore[Any] | None = None,
        scenarios: bool = True,
    ) -> None:
        attachments = attachment_store if attachment_store is not None else MemoryAttachmentStore()
        super().__init__(store, attachments)
        _set_tracing_disabled(True)
        self.script = resolve_script(script, replies)
        self.model = resolve_model(model, real_model)
        self.delay_s = max(float(delay_s), 0.0)
        self.instructions = instructions
        self.replies = Replies.declared() if scenarios else None
        """What the scenarios declare the reference answers (``None``: scenarios off)."""
        self.converter = AttachmentConverter(attachments)
        self.scripted_models: list[ScriptedModel] = []
        """The latest scripted models used (one per response), for inspecting model calls."""
        self.feedback: list[Feedback] = []
        """The newest :data:`MAX_FEEDBACK` feedback records, oldest first."""
        self.responses = BoundedCounter()
        """Responses so far per thread (the retry scenario's "answer N")."""
        self.refreshes = BoundedCounter()
        """Refreshes so far per widget item."""

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
        self.responses.bump(thread.id)
        message = input_user_message
        text = user_text(message)
        reply = after_tool = None
        if self.replies is not None and message is not None:
            reply = self.replies.match(text, has_attachments=bool(message.attachments))
        elif self.replies is not None:
            reply = after_tool = self.replies.after_tool(items)
        if reply is not None and reply.error is not None:
            yield ProgressUpdateEvent(icon="bolt", text="Working on it…")
            raise CustomStreamError(reply.error, allow_retry=reply.allow_retry)
        if reply is not None and reply.notice is not None:
            yield NoticeEvent(level="info", title=reply.notice[0], message=reply.notice[1])
            yield ProgressUpdateEvent(icon="info", text="Writing the reply…")
        agent_input = await self.converter.to_agent_input(items)

        model: str | Model
        if self.model is None:
            steps = self._steps(thread, items, message, reply, after_tool, context)
            scripted = ScriptedModel(steps)
            self.scripted_models.append(scripted)
            del self.scripted_models[: -self.max_scripted_models]
            model = scripted
        else:
            model = self.model

        agent = Agent[PacedAgentContext](
            name="ChatKit reference assistant",
            instructions=self.instructions,
            model=model,
            tools=list(SCENARIO_TOOLS),
            tool_use_behavior=StopAtTools(stop_at_tool_names=[CLIENT_TOOL_NAME]),
        )
        agent_context = PacedAgentContext(thread=thread, store=self.store, request_context=context)
        result = Runner.run_streamed(
            agent,
            agent_input,
            context=agent_context,
            run_config=RunConfig(tracing_disabled=True),
        )
        try:
            async for event in stream_agent_response(agent_context, result):
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
                yield event
                agent_context.mark_written(event)
        finally:
            if not result.is_complete:
                result.cancel()

    def _steps(
        self,
        thread: ThreadMetadata,
        items: list[ThreadItem],
        message: UserMessageItem | None,
        reply: Reply | None,
        after_tool: Reply | None,
        context: dict[str, Any],
    ) -> list[ModelStep]:
        """The scripted model's steps for one turn: the declared ``reply`` (or the answer to a
        client tool's output, ``after_tool``), else the script's plain reply."""

        def message_id() -> str:
            return self.store.generate_item_id("message", thread, context)

        def render(template: str) -> str:
            if "{attachments}" in template:
                described = [
                    describe_attachment(a, self.converter.stored(a.id))
                    for a in (message.attachments if message else [])
                ]
                template = template.replace("{attachments}", _files(described))
            if "{tool_output}" in template:
                output = next(
                    (
                        i.output
                        for i in reversed(items)
                        if isinstance(i, ClientToolCallItem) and i.status == "completed"
                    ),
                    None,
                )
                template = template.replace("{tool_output}", _quote(output))
            return template.replace("{answer}", str(self.responses.get(thread.id)))

        if after_tool is not None:
            return [text_step(render(after_tool.text), message_id())]
        if reply is not None and (reply.text or reply.tool):
            steps: list[ModelStep] = []
            if reply.tool is not None:
                tool_id = self.store.generate_item_id("tool_call", thread, context)
                steps.append(tool_call_step(reply.tool, reply.arguments, item_id=tool_id))
            if reply.text and reply.tool != CLIENT_TOOL_NAME:
                steps.append(text_step(render(reply.text), message_id(), pause_s=reply.pause_s))
            return steps
        said = [i for i in items if i.type in ("user_message", "assistant_message")]
        return self.script.steps(
            turn=sum(1 for i in said if i.type == "user_message"),
            user_text=user_text(message),
            history=max(len(said) - 1, 0),
            message_id=message_id,
        )

    async def action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: dict[str, Any],
    ) -> AsyncIterator[ThreadStreamEvent]:
        """``threads.custom_action``: the weather card's refresh button."""
        if action.type != WEATHER_REFRESH:
            raise CustomStreamError(f"this backend has no action {action.type[:80]!r}")
        refresh = self.refreshes.bump(sender.id) if sender is not None else 1
        message_id = self.store.generate_item_id("message", thread, context)
        async for event in refresh_weather(
            thread, action, sender, refresh=refresh, message_id=message_id
        ):
            yield event

    async def sync_action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: dict[str, Any],
    ) -> SyncCustomActionResponse:
        """``threads.sync_custom_action``: the refreshed card, also saved for reloads."""
        if action.type != WEATHER_REFRESH or sender is None:
            return SyncCustomActionResponse(updated_item=None)
        response = sync_refresh(action, sender, refresh=self.refreshes.bump(sender.id))
        if response.updated_item is not None:
            await self.store.save_item(thread.id, response.updated_item, context)
        return response

    async def add_feedback(
        self,
        thread_id: str,
        item_ids: list[str],
        feedback: FeedbackKind,
        context: dict[str, Any],
    ) -> None:
        """``items.feedback``: keep ``(thread_id, item_ids, kind)``, the newest few only."""
        self.feedback.append(Feedback(thread_id, tuple(item_ids), feedback))
        del self.feedback[:-MAX_FEEDBACK]


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
    scenarios: bool = True,
    attachment_store: MemoryAttachmentStore | None = None,
    server_class: type[ReferenceServer] = ReferenceServer,
    stream_response: type[StreamingResponse] = ChatKitStreamingResponse,
) -> FastAPI:
    """The reference backend as a FastAPI app with one ``POST /chatkit`` endpoint.

    ``store``: ``None``/``"sqlite"`` (a real SQLite file: ``db_path`` or a new temporary file),
    ``"memory"``, or any :class:`~chatkit.store.Store`. It is wrapped in a
    :class:`~chatkit_lab.backends.stores.RecordingStore`, available as ``app.state.store``;
    the server is ``app.state.server`` (built by ``server_class``). The attachment routes are
    on the same app: ``app.state.upload_path`` (two-phase ``PUT``, a template on
    ``{attachment_id}``), ``app.state.direct_upload_path`` (multipart ``POST``), and the
    in-memory store behind them is ``app.state.attachment_store``.

    Streams are served by ``stream_response``: :class:`ChatKitStreamingResponse` hands a stop
    (the client going away) to the SDK as one cancel, so ``handle_stream_cancelled`` saves the
    partial reply; the documented ``StreamingResponse`` loses it (see :mod:`._streaming`).
    """
    inner = _make_store(store, db_path)
    recording = inner if isinstance(inner, RecordingStore) else RecordingStore(inner)
    attachments = attachment_store if attachment_store is not None else MemoryAttachmentStore()
    server = server_class(
        recording,
        script=script,
        replies=replies,
        model=model,
        real_model=real_model,
        delay_s=delay_s,
        attachment_store=attachments,
        scenarios=scenarios,
    )
    app = FastAPI(title="chatkit-lab reference backend")
    app.state.server = server
    app.state.store = recording
    app.state.db_path = getattr(inner, "path", None)
    app.state.path = CHATKIT_PATH
    add_upload_routes(app, server, attachments)

    @app.post(CHATKIT_PATH)
    async def chatkit_endpoint(request: Request) -> Response:
        quiet_sdk_leftovers()
        body = await request.body()
        try:
            result = await server.process(body, request_context(request))
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
        except UploadTooLargeError as exc:
            return JSONResponse({"error": "too large", "detail": str(exc)}, status_code=413)
        except ValueError as exc:
            return JSONResponse({"error": "bad request", "detail": str(exc)}, status_code=400)
        if isinstance(result, StreamingResult):
            return stream_response(result, media_type="text/event-stream")
        return Response(content=result.json, media_type="application/json")

    return app
