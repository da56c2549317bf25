"""``widget``: a reply that shows a widget, its updates, and the user acting on it.

A ChatKit server streams a ``widget`` item whose ``widget`` root is one of the SDK's widget
types (``Card``, ``ListView``, ...; the schema layer validates every event against them) and
may update it while streaming (``widget.*`` updates, checked in order by the ordering layer).
A button's action reaches the server as ``threads.custom_action`` with the widget's item id,
and the server's ``action`` streams what changes (a replaced widget, a new message). The kit
presses the first action the server handles (an action whose ``handler`` is ``"client"`` stays
in the page: ChatKit.js hands it to the page's ``widgets.onAction`` and posts nothing), judges
the action's stream together with the thread's earlier streams (an update to the widget an
earlier stream finished is fine), and reloads: the widget the user saw after the action must be
the one the store gives back. ``threads.sync_custom_action`` (the SDK's non-streaming variant,
which ChatKit.js's host script does not send) is sent only when asked for (``sync_action``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chatkit_lab.checks import Evidence, Found, Skip, check
from chatkit_lab.scenarios._base import (
    Fault,
    Reply,
    Scenario,
    ScenarioContext,
    Session,
    finished,
    require_items,
)

CHANGES = ("thread.item.done", "thread.item.replaced", "thread.item.updated", "thread.item.removed")
MAX_DEPTH = 40


def actions(node: Any, depth: int = 0) -> list[dict[str, Any]]:
    """Every action (``onClickAction``, ``onSubmitAction``, ...) in a widget tree, in order."""
    if depth > MAX_DEPTH:
        return []
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key.startswith("on") and key.endswith("Action") and isinstance(value, dict):
                if isinstance(value.get("type"), str):
                    found.append(value)
        children: Any = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return found
    for child in children:
        found.extend(actions(child, depth + 1))
    return found


def first_action(node: Any) -> dict[str, Any] | None:
    """The first action in a widget tree the server handles (``handler`` not ``"client"``)."""
    return next((a for a in actions(node) if a.get("handler") != "client"), None)


def _patch(node: Any, component_id: str, component: Any, depth: int = 0) -> Any:
    """``node`` with the component whose ``id`` is ``component_id`` replaced (as the client
    applies ``widget.component.updated``)."""
    if depth > MAX_DEPTH:
        return node
    if isinstance(node, dict):
        if node.get("id") == component_id:
            return component
        return {k: _patch(v, component_id, component, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [_patch(v, component_id, component, depth + 1) for v in node]
    return node


def widget_after(widget: dict[str, Any], events: list[Any]) -> tuple[Any, bool]:
    """The widget the client shows after a stream's events for its item (the root), and whether
    the stream changed it by ``thread.item.updated`` (not by a replaced or done item)."""
    root = widget.get("widget")
    item_id = widget.get("id")
    by_update = False
    for event in events:
        payload = event.payload
        if not isinstance(payload, dict):
            continue
        kind = payload.get("type")
        item = payload.get("item")
        if kind in ("thread.item.replaced", "thread.item.done") and isinstance(item, dict):
            if item.get("id") == item_id and "widget" in item:
                root, by_update = item["widget"], False
        elif kind == "thread.item.updated" and payload.get("item_id") == item_id:
            update = payload.get("update")
            if not isinstance(update, dict):
                continue
            if update.get("type") == "widget.root.updated" and "widget" in update:
                root, by_update = update["widget"], True
            elif update.get("type") == "widget.component.updated":
                component_id = update.get("component_id")
                if isinstance(component_id, str):
                    root = _patch(root, component_id, update.get("component"))
                    by_update = True
    return root, by_update


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
    widgets = finished(create, "widget")
    require_items(session, create, widgets, "widget", "shows no widgets")
    widget = widgets[-1]
    found = actions(widget.get("widget"))
    action = first_action(widget.get("widget"))
    kept = [a for a in found if a.get("handler") == "client"]
    session.facts.update(widget=widget, action=action)
    if kept:
        session.life.notes.append(
            f"{len(kept)} widget action(s) with handler 'client' stay in the page (ChatKit.js "
            "hands them to widgets.onAction and posts nothing): not sent"
        )
    if action is None:
        session.life.notes.append(
            "the widget offers no action the server handles: the action part was not played"
        )
        await session.load(thread_id, "reload")
        return
    sent = {k: action[k] for k in ("type", "payload") if k in action}
    params = {"thread_id": thread_id, "item_id": widget.get("id"), "action": sent}
    acted = await session.send(
        "action: threads.custom_action", "threads.custom_action", params, "stream"
    )
    events = acted.seen_by_chatkit.events
    session.facts["action_changes"] = _changes(events)
    session.facts["action_capture"] = acted.capture.name
    shown, by_update = widget_after(widget, events)
    session.facts["widget_shown"] = shown
    session.facts["widget_updated_in_place"] = by_update
    reload = await session.load(thread_id, "reload")
    again = next((i for i in reload if i.get("id") == widget.get("id")), None)
    session.facts["widget_reloaded"] = again.get("widget") if again is not None else None
    session.facts["widget_reload_found"] = again is not None
    session.facts["reload_capture"] = session.capture_of("reload: items.list")
    if not session.sync_action:
        return
    synced = await session.send(
        "action: threads.sync_custom_action", "threads.sync_custom_action", params
    )
    session.facts["sync_reply"] = synced.ui_value
    session.facts["sync_capture"] = synced.capture.name
    session.facts["sync_status"] = synced.capture.status


def hand_written_widget(payload: dict[str, Any]) -> dict[str, Any]:
    """``faulty:widget``: the widget's components are named in lower case (``card``,
    ``text``, ``button``).

    The bug: the widget JSON is written by hand (or by a model) instead of built from
    ``chatkit.widgets``, with HTML-like type names; the SDK's widget types are case-sensitive
    (``Card``, ``Text``, ``Button``), so the root is no widget at all. What the user sees: no
    card, and no refresh button (no ChatKit widget type is named ``card``). Only the stream is
    rewritten: the store (and the sync action's reply) still hold the SDK's widget, so the
    fault shows where it is made.
    """
    item = payload.get("item")
    if isinstance(item, dict) and item.get("type") == "widget" and "widget" in item:
        return {**payload, "item": {**item, "widget": _lower_types(item["widget"])}}
    update = payload.get("update")
    if isinstance(update, dict) and update.get("type") == "widget.root.updated":
        return {**payload, "update": {**update, "widget": _lower_types(update.get("widget"))}}
    return payload


def _lower_types(node: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        return node
    if isinstance(node, list):
        return [_lower_types(child, depth + 1) for child in node]
    if not isinstance(node, dict):
        return node
    out = {key: _lower_types(value, depth + 1) for key, value in node.items()}
    if isinstance(out.get("type"), str):
        out["type"] = out["type"].lower()
    return out


SCENARIO = Scenario(
    name="widget",
    title="Show a widget and act on it",
    description="The reply shows a widget (its root validated against the SDK's widget types, "
    "its widget.* updates in order); the client presses its first server-handled action "
    "(threads.custom_action; threads.sync_custom_action only when asked for) and reloads: the "
    "widget must look as it did after the action.",
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
    replies={
        "ask": Reply(
            "widget",
            "Here is the weather in Paris as a card.",
            tool="show_weather_card",
            arguments={"city": "Paris"},
        )
    },
    faulty=Fault(
        "the reference backend streaming its widget as hand-written JSON with lower-case "
        "component types (card, text, button), which is no ChatKit widget",
        events=hand_written_widget,
    ),
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


def _canonical(node: Any) -> Any:
    """A widget tree with the fields the SDK fills by default dropped (for comparing)."""
    if isinstance(node, dict):
        return {k: _canonical(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_canonical(v) for v in node]
    return node


@check(
    code="persistence.widget_update_lost",
    layer="persistence",
    severity="error",
    description="What a widget action changed survives a reload.",
    expectation="After threads.custom_action, a load shows the widget as the action's stream "
    "left it (a widget.root.updated or widget.component.updated applied, or the replaced "
    "item), not as it was before.",
    fix="Save the changed widget: after streaming a widget update as thread.item.updated, also "
    "store the updated item (store.save_item / add_thread_item with the new widget), or send "
    "thread.item.replaced, which ChatKitServer saves for you.",
)
def widget_update_lost(ctx: ScenarioContext) -> Iterator[Found | Skip]:
    facts = ctx.facts
    if "widget_shown" not in facts or "widget_reloaded" not in facts:
        yield Skip("no widget action was pressed and reloaded")
        return
    widget = facts.get("widget") or {}
    before = widget.get("widget")
    shown = facts["widget_shown"]
    if _canonical(shown) == _canonical(before):
        yield Skip("the action's stream did not change the widget")
        return
    if not facts.get("widget_reload_found"):
        return  # the reload diff of every layer names a lost item
    reloaded = facts["widget_reloaded"]
    if _canonical(reloaded) == _canonical(shown):
        return
    how = (
        "sent as thread.item.updated"
        if facts.get("widget_updated_in_place")
        else "sent as a replaced item"
    )
    went_back = _canonical(reloaded) == _canonical(before)
    yield Found(
        f"the widget action's change ({how}) is gone after a reload: the store gives back "
        + ("the widget as it was before the action" if went_back else "another widget")
        + ", so the user's choice disappears",
        Evidence(
            capture=facts.get("reload_capture") or facts.get("action_capture"),
            detail={"item_id": widget.get("id")},
        ),
    )
