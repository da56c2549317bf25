"""The Google ADK ChatKit backend, served the way ``adk-chatkit``'s README and examples do.

``adk-chatkit`` gives an ``ADKChatKitServer`` (subclassed with ``_adk_respond``), an ``ADKStore``
over an ADK session service, ``stream_agent_response`` (ADK events to ChatKit events) and tool
helpers: ``stream_widget`` (a widget item from a tool) and ``issue_client_tool_call`` (a client
tool call item ending the turn). The server here follows the README's usage: ``_adk_respond``
runs an ADK ``Runner`` in SSE streaming mode with a ``ChatkitRunConfig`` and converts its events;
the route passes an ``ADKContext`` and returns ``StreamingResponse`` for streams. The agent has
two tools written for this test: a weather card (a display-only widget, as the examples'
weather card, fixed data, no network) and a client tool reading the editor's selection. Only
the model is replaced:
:class:`ScriptedLlm`, an ADK ``BaseLlm`` that calls a tool when the message asks for one and
otherwise streams a scripted answer, in memory.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

from adk_chatkit import (
    ADKAgentContext,
    ADKChatKitServer,
    ADKContext,
    ADKStore,
    ChatkitRunConfig,
    ClientToolCallState,
    issue_client_tool_call,
    stream_agent_response,
    stream_widget,
)
from chatkit.server import StreamingResult
from chatkit.types import ThreadMetadata, ThreadStreamEvent, UserMessageItem
from chatkit.widgets import Card, Text
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from google.adk.agents import LlmAgent
from google.adk.agents.run_config import StreamingMode
from google.adk.models import BaseLlm, LlmRequest, LlmResponse
from google.adk.runners import Runner
from google.adk.sessions import InMemorySessionService
from google.adk.tools import ToolContext
from google.genai import types as genai_types

APP = "chatkit-lab-adk"
USER = "user-1"
WORDS = 40


async def show_weather(city: str, tool_context: ToolContext) -> dict[str, str]:
    """Show the weather for a city as a card (display only, as the examples' weather card)."""
    card = Card(children=[Text(id="weather", value=f"{city}: 18 C, clear")])
    await stream_widget(card, tool_context)
    return {"shown": city}


async def get_selected_text(tool_context: ToolContext) -> dict[str, str]:
    """Read the text selected in the user's editor (runs in the browser)."""
    await issue_client_tool_call(
        ClientToolCallState(name="get_selected_text", arguments={}), tool_context
    )
    return {"status": "asked the client"}


def _last(request: LlmRequest) -> genai_types.Part | None:
    for content in reversed(request.contents or []):
        for part in reversed(content.parts or []):
            if part.text or part.function_response:
                return part
    return None


class ScriptedLlm(BaseLlm):
    """The replaced model: a tool call when asked for a card or the editor's selection, else
    a scripted answer streamed word by word (``fail``: every call raises it)."""

    fail: str | None = None

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        if self.fail is not None:
            raise RuntimeError(self.fail)
        part = _last(llm_request)
        asked = (part.text or "") if part is not None else ""
        if part is not None and part.function_response is None:
            lowered = asked.lower()
            call = None
            if "card" in lowered or "weather" in lowered:
                call = genai_types.Part.from_function_call(
                    name="show_weather", args={"city": "Paris"}
                )
            elif "selected" in lowered or "editor" in lowered:
                call = genai_types.Part.from_function_call(name="get_selected_text", args={})
            if call is not None:
                yield LlmResponse(content=genai_types.Content(role="model", parts=[call]))
                return
        words = f"You said: {asked or 'a tool answered'}. A long scripted answer:".split()
        words += [f"word{n}" for n in range(1, WORDS + 1)]
        for word in words:
            part = genai_types.Part(text=word + " ")
            yield LlmResponse(content=genai_types.Content(role="model", parts=[part]), partial=True)
        yield LlmResponse(
            content=genai_types.Content(
                role="model", parts=[genai_types.Part(text=" ".join(words) + " ")]
            ),
            partial=False,
        )


def _text(item: UserMessageItem) -> str:
    return " ".join(getattr(p, "text", "") or "" for p in item.content).strip()


class ADKServer(ADKChatKitServer):
    """``ADKChatKitServer`` with ``_adk_respond`` as the README shows it."""

    def __init__(self, store: ADKStore, runner: Runner) -> None:
        super().__init__(store)
        self.runner = runner

    async def _adk_respond(
        self,
        thread: ThreadMetadata,
        item: UserMessageItem | None,
        context: ADKContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        if item is None or not isinstance(item, UserMessageItem):
            return
        text = _text(item)
        if not text:
            return
        content = genai_types.Content(role="user", parts=[genai_types.Part.from_text(text=text)])
        agent_context = ADKAgentContext(
            app_name=context.app_name, user_id=context.user_id, thread=thread
        )
        events = self.runner.run_async(
            user_id=context.user_id,
            session_id=thread.id,
            new_message=content,
            run_config=ChatkitRunConfig(streaming_mode=StreamingMode.SSE, context=agent_context),
        )
        async for event in stream_agent_response(agent_context, events):
            yield event


def adk_app(*, fail: str | None = None) -> FastAPI:
    """The backend, the model replaced by :class:`ScriptedLlm`."""
    sessions = InMemorySessionService()
    agent = LlmAgent(
        name="assistant",
        model=ScriptedLlm(model="scripted", fail=fail),
        instruction="You are helpful.",
        tools=[show_weather, get_selected_text],
    )
    runner = Runner(app_name=APP, agent=agent, session_service=sessions)
    server = ADKServer(ADKStore(sessions), runner)
    app = FastAPI()

    @app.post("/chatkit")
    async def chatkit_endpoint(request: Request) -> Response:
        result = await server.process(await request.body(), ADKContext(user_id=USER, app_name=APP))
        if isinstance(result, StreamingResult):
            return StreamingResponse(result, media_type="text/event-stream")
        if hasattr(result, "json"):
            return Response(content=result.json, media_type="application/json")
        return JSONResponse(result)

    return app
