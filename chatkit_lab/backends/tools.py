"""The reference backend's function tools and widget actions, built with the SDK's helpers.

SDK behaviour (``chatkit.agents``, ``chatkit.server``, ``openai-agents``):

* a tool that sets ``ctx.context.client_tool_call = ClientToolCall(...)`` makes
  ``stream_agent_response`` end the stream with a ``client_tool_call`` item (status
  ``pending``); the agent stops there when the tool is listed in ``StopAtTools``. ChatKit.js
  runs the tool and sends ``threads.add_client_tool_output``, which the server answers by
  marking the item ``completed`` and calling ``respond`` again with no user message;
* ``AgentContext.stream_widget`` with an async generator streams ``thread.item.added``, a
  ``widget.*`` update for each change between states (``diff_widget``: appended text of a
  ``Text``/``Markdown`` with an ``id`` is a ``widget.streaming_text.value_delta``, anything
  else a ``widget.root.updated``) and ``thread.item.done`` with the last state;
* ``start_workflow``/``add_workflow_task``/``update_workflow_task``/``end_workflow`` stream the
  workflow item: the first task of a ``custom`` workflow arrives in ``thread.item.added``,
  later ones as ``workflow.task.added``, changes as ``workflow.task.updated``, the end as
  ``thread.item.done``;
* ``threads.custom_action`` streams whatever ``ChatKitServer.action`` yields (a
  ``thread.item.replaced`` is saved with ``Store.save_item``); ``threads.sync_custom_action``
  returns what ``sync_action`` returns, and saves nothing itself.

What the reference chooses: the tool names, texts, card layout and trip tasks; that a
refreshed card is saved by ``sync_action`` too (so a reload shows it); and
:class:`PacedAgentContext`. The SDK's workflow helpers stream the live ``WorkflowItem`` object
and later steps mutate it; a tool with no I/O between steps would mutate it before the
``thread.item.added`` event is serialized (the client would then see the later tasks twice),
and ``stream_agent_response`` would end the workflow a second time. A real tool awaits I/O
between steps; :class:`PacedAgentContext` makes each ``stream`` wait (bounded) until the
server has written that event, which gives the same ordering without slowing anything down.
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections import OrderedDict
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from agents import RunContextWrapper, function_tool
from chatkit.actions import Action, ActionConfig
from chatkit.agents import AgentContext, ClientToolCall
from chatkit.errors import CustomStreamError
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    CustomSummary,
    CustomTask,
    ProgressUpdateEvent,
    SyncCustomActionResponse,
    ThreadItemDoneEvent,
    ThreadItemReplacedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    WidgetItem,
    Workflow,
)
from chatkit.widgets import Button, Caption, Card, Text, Title
from pydantic import PrivateAttr

__all__ = [
    "CLIENT_TOOL_NAME",
    "SCENARIO_TOOLS",
    "WEATHER_REFRESH",
    "BoundedCounter",
    "PacedAgentContext",
    "get_selected_text",
    "get_weather",
    "plan_trip",
    "refresh_weather",
    "refreshed_item",
    "show_weather_card",
    "sync_refresh",
    "trip_tasks",
    "weather_card",
    "weather_report",
]

CLIENT_TOOL_NAME = "get_selected_text"
"""The client tool: ChatKit.js runs it (``onClientTool``) and sends back its result."""

WEATHER_REFRESH = "weather.refresh"
"""The action type of the weather card's button."""

FORECAST_TEXT_ID = "weather-forecast"
"""The id of the card's streamed ``Text`` (``diff_widget`` streams only components with an id)."""

WRITE_TIMEOUT_S = 5.0
"""How long :class:`PacedAgentContext` waits for one event to be written before going on."""

REFRESHED_FORECASTS = (
    "19 °C, light rain, wind from the south",
    "23 °C, sunny spells, calm",
    "17 °C, overcast, gusts from the north",
)


def weather_report(city: str) -> str:
    """The deterministic answer of the ``get_weather`` tool."""
    return f"{city}: 21 °C, clear skies, light wind from the west"


class PacedAgentContext(AgentContext):  # type: ignore[type-arg]
    """An ``AgentContext`` whose ``stream`` returns once the server has written the event.

    The server calls :meth:`mark_written` after each event it yielded is consumed; a wait that
    is not answered within ``write_timeout_s`` (a cancelled stream) gives up quietly.
    """

    write_timeout_s: float = WRITE_TIMEOUT_S
    _waiting: dict[int, asyncio.Event] = PrivateAttr(default_factory=dict)

    async def stream(self, event: ThreadStreamEvent) -> None:
        written = asyncio.Event()
        self._waiting[id(event)] = written
        try:
            await super().stream(event)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(written.wait(), self.write_timeout_s)
        finally:
            self._waiting.pop(id(event), None)

    def mark_written(self, event: object) -> None:
        """The server has written ``event``: release the tool waiting on it, if any."""
        waiter = self._waiting.get(id(event))
        if waiter is not None:
            waiter.set()


class BoundedCounter:
    """Counts per key (thread or item id), keeping at most ``limit`` keys (oldest dropped)."""

    def __init__(self, limit: int = 4096) -> None:
        self.limit = max(int(limit), 1)
        self._counts: OrderedDict[str, int] = OrderedDict()

    def bump(self, key: str) -> int:
        """Add one to ``key``'s count and return the new count."""
        count = self._counts.pop(key, 0) + 1
        self._counts[key] = count
        while len(self._counts) > self.limit:
            self._counts.popitem(last=False)
        return count

    def get(self, key: str) -> int:
        return self._counts.get(key, 0)


def _agent_context(ctx: RunContextWrapper[Any]) -> AgentContext:
    context = ctx.context
    if not isinstance(context, AgentContext):
        raise TypeError("this tool runs inside a ChatKit respond() with an AgentContext")
    return context


# -- tools ---------------------------------------------------------------------------------


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


@function_tool
async def get_selected_text(ctx: RunContextWrapper[Any]) -> str:
    """Read the text the user has selected in their editor (the client runs this tool)."""
    _agent_context(ctx).client_tool_call = ClientToolCall(name=CLIENT_TOOL_NAME, arguments={})
    return "asked the client for the selected text"


def weather_card(
    city: str, forecast: str, *, streaming: bool = False, caption: str | None = None
) -> Card:
    """The weather card: a title, the forecast text, an optional caption, a refresh button."""
    with warnings.catch_warnings():
        # the SDK marks direct use of the widget classes deprecated in favour of .widget
        # templates; the classes are still its types, and they validate what they build
        warnings.simplefilter("ignore", DeprecationWarning)
        children: list[Any] = [
            Title(value=f"Weather in {city}", size="sm"),
            Text(id=FORECAST_TEXT_ID, value=forecast, streaming=streaming),
        ]
        if caption is not None:
            children.append(Caption(value=caption))
        children.append(
            Button(
                label="Refresh",
                onClickAction=ActionConfig(type=WEATHER_REFRESH, payload={"city": city}),
            )
        )
        return Card(key="weather-card", children=children)


async def weather_card_states(city: str) -> AsyncIterator[Card]:
    """Four states: empty, half, whole forecast (text deltas), then a caption (a root update)."""
    forecast = weather_report(city)
    half = forecast[: forecast.index(",") + 1]
    yield weather_card(city, "", streaming=True)
    yield weather_card(city, half, streaming=True)
    yield weather_card(city, forecast, streaming=True)
    yield weather_card(city, forecast, caption="Source: the reference backend's weather tool")


@function_tool
async def show_weather_card(ctx: RunContextWrapper[Any], city: str) -> str:
    """Show the current weather for a city as a card.

    Args:
        city: The city to show.
    """
    await _agent_context(ctx).stream_widget(
        weather_card_states(city), copy_text=weather_report(city)
    )
    return f"A weather card for {city} is on screen."


def trip_tasks(city: str) -> list[tuple[str, str]]:
    """(title, content) of each task of the trip workflow."""
    return [
        ("Pick the dates", f"Three days in {city}, Friday to Sunday"),
        ("Find a hotel", f"A quiet hotel near the centre of {city}"),
        ("Plan the days", f"A museum, a walk by the river and a market in {city}"),
    ]


@function_tool
async def plan_trip(ctx: RunContextWrapper[Any], city: str) -> str:
    """Plan a trip to a city, step by step.

    Args:
        city: Where to go.
    """
    agent_context = _agent_context(ctx)
    await agent_context.start_workflow(Workflow(type="custom", tasks=[]))
    for index, (title, content) in enumerate(trip_tasks(city)):
        task = CustomTask(title=title, content=content, status_indicator="loading")
        await agent_context.add_workflow_task(task)
        done = task.model_copy(update={"status_indicator": "complete"})
        await agent_context.update_workflow_task(done, index)
    await agent_context.end_workflow(summary=CustomSummary(title=f"Planned a trip to {city}"))
    return f"The trip to {city} is planned: dates, hotel and days."


SCENARIO_TOOLS = [get_weather, get_selected_text, show_weather_card, plan_trip]
"""Every tool the reference agent has."""


# -- widget actions ------------------------------------------------------------------------


def _city(action: Action[str, Any], sender: WidgetItem | None) -> str:
    payload = action.payload if isinstance(action.payload, dict) else {}
    city = payload.get("city")
    if not isinstance(city, str) or not city.strip():
        raise CustomStreamError(f"{WEATHER_REFRESH} needs a city in its payload")
    if sender is None:
        raise CustomStreamError(f"{WEATHER_REFRESH} needs the widget it was sent from")
    return city.strip()[:80]


def refreshed_item(sender: WidgetItem, city: str, refresh: int) -> WidgetItem:
    """The sender widget with a new forecast (cycling through fixed ones)."""
    forecast = REFRESHED_FORECASTS[(refresh - 1) % len(REFRESHED_FORECASTS)]
    times = "once" if refresh == 1 else f"{refresh} times"
    card = weather_card(city, f"{city}: {forecast}", caption=f"Refreshed {times}")
    return sender.model_copy(update={"widget": card})


async def refresh_weather(
    thread: ThreadMetadata,
    action: Action[str, Any],
    sender: WidgetItem | None,
    *,
    refresh: int,
    message_id: str,
) -> AsyncIterator[ThreadStreamEvent]:
    """``threads.custom_action``: replace the card, then say so in a short message."""
    city = _city(action, sender)
    assert sender is not None  # checked by _city
    yield ThreadItemReplacedEvent(item=refreshed_item(sender, city, refresh))
    yield ThreadItemDoneEvent(
        item=AssistantMessageItem(
            id=message_id,
            thread_id=thread.id,
            created_at=datetime.now(),
            content=[AssistantMessageContent(text=f"I refreshed the weather in {city}.")],
        )
    )


def sync_refresh(
    action: Action[str, Any], sender: WidgetItem | None, *, refresh: int
) -> SyncCustomActionResponse:
    """``threads.sync_custom_action``: the refreshed card as ``updated_item``."""
    try:
        city = _city(action, sender)
    except CustomStreamError:
        return SyncCustomActionResponse(updated_item=None)
    assert sender is not None
    return SyncCustomActionResponse(updated_item=refreshed_item(sender, city, refresh))
