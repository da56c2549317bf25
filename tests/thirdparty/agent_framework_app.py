"""The Microsoft Agent Framework ChatKit backend, as its package's README serves it.

``agent-framework-chatkit``'s documented server: a ``ChatKitServer`` whose ``respond`` loads the
thread, converts it with ``simple_to_agent_input``, runs an ``Agent`` streaming and converts the
updates with ``stream_agent_response``; a FastAPI route that returns ``StreamingResponse`` for
streams. Only the model is replaced: :class:`ScriptedChatClient`, an Agent Framework chat client
that streams a scripted reply from memory (no network). The README leaves the
store to the user ("implement a Store"); this uses the kit's in-memory store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from agent_framework import (
    Agent,
    BaseChatClient,
    ChatResponse,
    ChatResponseUpdate,
    Message,
    ResponseStream,
)
from agent_framework.chatkit import simple_to_agent_input, stream_agent_response
from chatkit.server import ChatKitServer, StreamingResult
from chatkit.types import ThreadMetadata, ThreadStreamEvent, UserMessageItem
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from chatkit_lab.backends._streaming import ChatKitStreamingResponse
from chatkit_lab.backends.stores import MemoryStore

WORDS = 40
"""Words of each scripted reply (long enough for the stop button to stop it half-way)."""


def scripted_reply(messages: Sequence[Message]) -> list[str]:
    """The reply, word by word: it names the last user message, as a model would answer it."""
    last = next((m for m in reversed(messages) if m.role == "user"), None)
    asked = (last.text if last is not None else "") or "nothing"
    words = f"You said: {asked}. Here is a long scripted answer:".split()
    words += [f"word{n}" for n in range(1, WORDS + 1)]
    return [w + " " for w in words]


class ScriptedChatClient(BaseChatClient):
    """An Agent Framework chat client that streams a scripted reply (the replaced model)."""

    def __init__(self, *, fail: Exception | None = None) -> None:
        super().__init__()
        self.fail = fail
        self.calls = 0

    def _inner_get_response(
        self,
        *,
        messages: Sequence[Message],
        stream: bool,
        options: Mapping[str, Any],
        **kwargs: Any,
    ) -> Any:
        self.calls += 1
        words = scripted_reply(messages)
        if self.fail is not None:
            fail = self.fail

            async def failing() -> AsyncIterator[ChatResponseUpdate]:
                raise fail
                yield  # pragma: no cover

            stream_of = failing()
        else:

            async def updates() -> AsyncIterator[ChatResponseUpdate]:
                for word in words:
                    yield ChatResponseUpdate(
                        role="assistant", contents=[{"type": "text", "text": word}]
                    )

            stream_of = updates()
        if stream:
            return ResponseStream(stream_of, finalizer=ChatResponse.from_updates)

        async def whole() -> ChatResponse:
            return ChatResponse(messages=[Message(role="assistant", contents=["".join(words)])])

        return whole()


class AgentFrameworkServer(ChatKitServer[dict[str, Any]]):
    """The README's ``MyChatKitServer``."""

    def __init__(self, store: Any, agent: Agent) -> None:
        super().__init__(store)
        self.agent = agent

    async def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: dict[str, Any],
    ) -> AsyncIterator[ThreadStreamEvent]:
        if input_user_message is None:
            return
        page = await self.store.load_thread_items(
            thread_id=thread.id, after=None, limit=1000, order="asc", context=context
        )
        agent_messages = await simple_to_agent_input(page.data)
        response_stream = self.agent.run(agent_messages, stream=True)
        async for event in stream_agent_response(response_stream, thread.id):
            yield event


def agent_framework_app(*, fail: Exception | None = None, kit_route: bool = False) -> FastAPI:
    """The README's FastAPI app, the model replaced by :class:`ScriptedChatClient`
    (``kit_route``: the stream served the way the kit's reference serves it, as a control)."""
    agent = Agent(client=ScriptedChatClient(fail=fail), instructions="You are helpful.", tools=[])
    server = AgentFrameworkServer(MemoryStore(), agent)
    app = FastAPI()

    @app.post("/chatkit")
    async def chatkit_endpoint(request: Request) -> Response:
        result = await server.process(await request.body(), {"request": request})
        if isinstance(result, StreamingResult):
            if kit_route:
                return ChatKitStreamingResponse(result)
            return StreamingResponse(result, media_type="text/event-stream")
        return Response(content=result.json, media_type="application/json")

    return app
