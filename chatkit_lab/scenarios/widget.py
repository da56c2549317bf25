"""``widget``: a reply that shows a widget, its updates, and the user acting on it.

A ChatKit server streams a ``widget`` item whose ``widget`` root is one of the SDK's widget
types (``Card``, ``ListView``, ...; the schema layer validates every event against them) and
may update it while streaming (``widget.*`` updates, checked in order by the ordering layer).
A button's action reaches the server as ``threads.custom_action`` with the widget's item id,
and the server's ``action`` streams what changes (a replaced widget, a new message). The kit
presses the first action it finds in the widget, reloads, and also sends the action as
``threads.sync_custom_action`` (the SDK's non-streaming variant; ChatKit.js's host script does
not list it among the requests its ``chatkit`` profile sends, so a refusal there only skips
that part).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chatkit_lab.checks import Evidence, Found, Skip, check
from chatkit_lab.scenarios._base import Scenario, ScenarioContext, Session, done_items

CHANGES = ("thread.item.done", "thread.item.replaced", "thread.item.updated", "thread.item.removed")
MAX_DEPTH = 40


def first_action(node: Any, depth: int = 0) -> dict[str, Any] | None:
    """The first action (``onClickAction``, ``onSubmitAction``, ...) in a widget tree."""
    if depth > MAX_DEPTH:
        return None
    if isinstance(node, dict):
        for key, value in node.items():
            if key.startswith("on") and key.endswith("Action") and isinstance(value, dict):
                if isinstance(value.get("type"), str):
                    return value
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = first_action(child, depth + 1)
        if found is not None:
            return found
    return None


def _changes(events: list[Any]) -> list[str]:
    kinds = []
    for event in events:
        payload = event.payload
        if isinstance(payload, dict) and payload.get("type") in CHANGES:
            kinds.append(str(payload["type"]))
    return kinds


async def play(session: Session) -> None:
    create = await session.create_thread(session.prompt("ask"))
    thread_id = session.require_thread(create)
    widgets = [i for i in done_items(create.seen_by_chatkit) if i.get("type") == "widget"]
    if not widgets:
        session.not_offered(
            "the reply held no widget item: the backend shows no widgets, or needs other words "
            "(--prompt widget.ask=...)",
            create,
        )
    widget = widgets[-1]
    action = first_action(widget.get("widget"))
    session.facts.update(widget=widget, action=action)
    if action is None:
        session.life.notes.append("the widget offers no action: the action part was not played")
        await session.load(thread_id, "reload")
        return
    params = {"thread_id": thread_id, "item_id": widget.get("id"), "action": action}
    acted = await session.send(
        "action: threads.custom_action", "threads.custom_action", params, "stream"
    )
    session.facts["action_changes"] = _changes(acted.seen_by_chatkit.events)
    session.facts["action_capture"] = acted.capture.name
    await session.load(thread_id, "reload")
    synced = await session.send(
        "action: threads.sync_custom_action", "threads.sync_custom_action", params
    )
    session.facts["sync_reply"] = synced.ui_value
    session.facts["sync_capture"] = synced.capture.name
    session.facts["sync_status"] = synced.capture.status


SCENARIO = Scenario(
    name="widget",
    title="Show a widget and act on it",
    description="The reply shows a widget (its root validated against the SDK's widget types, "
    "its widget.* updates in order); the client presses its first action "
    "(threads.custom_action, then threads.sync_custom_action) and reloads.",
    requests=(
        "threads.create",
        "threads.custom_action",
        "threads.get_by_id",
        "items.list",
        "threads.sync_custom_action",
    ),
    play=play,
    checks=__name__,
    prompts={"ask": "Show the weather in Paris as a card."},
)


# -- the checks ----------------------------------------------------------------------------


@check(
    code="rendering.widget_action_no_effect",
    layer="rendering",
    severity="error",
    description="Pressing a widget's action changes something the user sees.",
    expectation="threads.custom_action streams at least one item change (the widget replaced "
    "or updated, or a new item), so the button does something.",
    fix="Implement ChatKitServer.action: yield a ThreadItemReplacedEvent with the updated "
    "widget, or a reply; the default raises NotImplementedError.",
)
def action_no_effect(ctx: ScenarioContext) -> Iterator[Found | Skip]:
    if "action_changes" not in ctx.facts:
        yield Skip("no widget action was pressed")
        return
    if not ctx.facts["action_changes"]:
        action = ctx.facts.get("action") or {}
        yield Found(
            f"the user pressed the widget's {action.get('type')!r} action; the reply changed "
            "no item: the button does nothing",
            Evidence(capture=ctx.facts.get("action_capture"), detail={"action": action}),
        )


@check(
    code="schema.sync_action_reply",
    layer="schema",
    severity="error",
    description="threads.sync_custom_action answers with a SyncCustomActionResponse.",
    expectation="The reply validates as the SDK's SyncCustomActionResponse (an optional "
    "updated_item that is a thread item).",
    fix="Return SyncCustomActionResponse(updated_item=...) from ChatKitServer.sync_action.",
)
def sync_reply(ctx: ScenarioContext) -> Iterator[Found | Skip]:
    if "sync_capture" not in ctx.facts:
        yield Skip("threads.sync_custom_action was not sent")
        return
    reply = ctx.facts.get("sync_reply")
    if reply is None:
        yield Skip(
            f"threads.sync_custom_action was refused (status {ctx.facts.get('sync_status')}): "
            "the backend does not offer it (ChatKit.js's chatkit profile does not send it)"
        )
        return
    from chatkit.types import SyncCustomActionResponse
    from pydantic import ValidationError

    try:
        SyncCustomActionResponse.model_validate(reply)
    except ValidationError as exc:
        yield Found(
            f"the threads.sync_custom_action reply is not a SyncCustomActionResponse: "
            f"{exc.errors()[0].get('msg', exc)}",
            Evidence(capture=ctx.facts.get("sync_capture")),
        )
