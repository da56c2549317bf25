"""``cancel``: the user stops a reply half-way, then reloads and sends another message.

ChatKit's stop button aborts the streaming request (the kit closes the connection after the
first three text deltas, as a client that stops reading does; how the closed UI decides to show
the button is modelled from ``stream_options.allow_cancel``). What a conforming server does is
the SDK's ``ChatKitServer.handle_stream_cancelled``: it saves the pending assistant message if
it has any text, adds a hidden note so the next reply does not continue the cancelled one, and
leaves nothing pending. So the reload must show the user's message and the partial reply (at
least the text the user saw), nothing in progress, and the next message must get a normal reply.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from chatkit_lab.checks import Evidence, Found, Skip, check
from chatkit_lab.scenarios._base import (
    Fault,
    Reply,
    Scenario,
    ScenarioContext,
    Session,
    done_items,
    item_text,
    reload_thread,
)
from chatkit_lab.sources import StopReading

DELTA = b"assistant_message.content_part.text_delta"
STOP_AFTER = 3
"""Text deltas the client reads before it stops."""
SETTLE_S = 0.5
"""How long the client waits after stopping before it reloads (a server saves on disconnect)."""
STORY = (
    "Once upon a time a lighthouse stood alone on a rocky cape at the edge of the northern "
    "sea. Every evening its keeper climbed the long spiral stair, wound the old brass clockwork "
    "and lit the great lamp, whose beam swept the dark water until dawn. Sailors far away knew "
    "the rhythm of its light by heart: two long flashes, then a short one, then a pause. One "
    "winter night a storm tore the clouds apart and the lamp flickered, yet the keeper held the "
    "flame steady with his own hands until the ships had passed the reef. By morning the sea was "
    "calm, and the lighthouse shone on."
)
"""The reference backend's long story: over forty deltas of two words."""
STORY_PAUSE_S = 0.025
"""Seconds between two deltas of the long story (the reference slows no other reply)."""


def seen_before_stop(events: list[Any]) -> dict[str, Any]:
    """What the client had received when it stopped: items done, the streaming text per item,
    and the stream options."""
    done: dict[str, dict[str, Any]] = {}
    text: dict[str, str] = {}
    options: dict[str, Any] | None = None
    for event in events:
        payload = event.payload
        if not isinstance(payload, dict):
            continue
        kind = payload.get("type")
        if kind == "stream_options" and isinstance(payload.get("stream_options"), dict):
            options = payload["stream_options"]
        elif kind == "thread.item.done" and isinstance(payload.get("item"), dict):
            done[str(payload["item"].get("id"))] = payload["item"]
        elif kind == "thread.item.updated" and isinstance(payload.get("update"), dict):
            update = payload["update"]
            if update.get("type") == DELTA.decode() and isinstance(update.get("delta"), str):
                item_id = str(payload.get("item_id"))
                text[item_id] = text.get(item_id, "") + update["delta"]
    return {"done": done, "streaming_text": text, "stream_options": options}


async def play(session: Session) -> None:
    if session.custom_fetch:
        session.not_offered(
            "stopping a stream through your own fetch under Node is not supported yet: run the "
            "cancel scenario without --fetch (the kit stops reading itself)"
        )
    stop = StopReading(DELTA, STOP_AFTER, f"the client stopped after {STOP_AFTER} text deltas")
    create = await session.create_thread(session.prompt("long"), stop=stop)
    thread_id = session.require_thread(create)
    capture = create.capture
    seen = seen_before_stop(capture.events)
    options = seen["stream_options"]
    if isinstance(options, dict) and options.get("allow_cancel") is False:
        session.not_offered(
            "the stream's stream_options say allow_cancel: false, so the ChatKit UI offers no "
            "stop button (modelled from the SDK's StreamOptions)",
            create,
        )
    if capture.ending.state != "stopped":
        deltas = sum(len(text) > 0 for text in seen["streaming_text"].values())
        session.not_offered(
            f"the reply ended ({capture.ending.state}) before {STOP_AFTER} text deltas had "
            f"arrived (text streamed for {deltas} item(s)), so there was nothing to stop: give "
            "a prompt that gets a longer reply (--prompt cancel.long=...)",
            create,
        )
    session.facts["seen"] = seen
    session.facts["stopped_capture"] = capture.name
    await asyncio.sleep(SETTLE_S)
    await reload_thread(session, thread_id, "reload after stop")
    after = await session.say(
        thread_id, session.prompt("next"), "send after stop: threads.add_user_message"
    )
    items = done_items(after.seen_by_chatkit)
    errors = [
        e.payload
        for e in after.seen_by_chatkit.events
        if isinstance(e.payload, dict) and e.payload.get("type") == "error"
    ]
    session.facts["after_stop"] = {
        "capture": after.capture.name,
        "status": after.capture.status,
        "replied": any(
            i.get("type") == "assistant_message" and item_text(i).strip() for i in items
        ),
        "errors": [str(e.get("message") or e.get("code") or "error")[:200] for e in errors],
    }


SCENARIO = Scenario(
    name="cancel",
    title="Stop a reply half-way",
    description="The client stops reading the reply after its first text deltas (the stop "
    "button), reloads the thread and sends another message. The reload must show the partial "
    "reply the SDK's handle_stream_cancelled saves, and nothing left pending.",
    requests=("threads.create", "threads.get_by_id", "items.list", "threads.add_user_message"),
    play=play,
    checks=__name__,
    prompts={
        "long": "Tell me a long story about a lighthouse.",
        "next": "Thanks, that is enough. Just say OK.",
    },
    judged_loads=("reload after stop",),
    replies={"long": Reply("cancel", STORY, pause_s=STORY_PAUSE_S)},
    # The bug: the documented route iterates the SDK's stream inside Starlette's response task
    # group. When the client goes away (the stop button aborts the request) Starlette cancels
    # the group through an anyio cancel scope, and anyio cancellation is level-triggered: the
    # SDK's handle_stream_cancelled runs, but every await in it is cancelled again, so the
    # partial reply it saves is lost (on a store whose calls await the event loop, as an async
    # driver's do, on every stop). What the user sees: they stop a reply, reload, and the text
    # they had read is gone. The reference serves streams with a response that runs the stream
    # in a task of its own and cancels it once: on the same store it keeps the partial reply.
    faulty=Fault(
        "the reference backend served by the route the SDK docs show, "
        "StreamingResponse(result): a stop cancels the SDK's own saves, so the partial reply is "
        "lost (on a store with an async driver)",
        route="documented",
    ),
)


# -- the checks ----------------------------------------------------------------------------


def _stopped(ctx: ScenarioContext) -> dict[str, Any] | None:
    seen = ctx.facts.get("seen")
    return seen if isinstance(seen, dict) and "reload" in ctx.facts else None


@check(
    code="persistence.cancel_partial_lost",
    layer="persistence",
    severity="error",
    description="After the user stops a reply, the reload shows the partial reply they saw.",
    expectation="ChatKitServer.handle_stream_cancelled saves the pending assistant message when "
    "it has text, so the reload shows an assistant message starting with the text the user saw "
    "before pressing stop.",
    fix="On cancellation (asyncio.CancelledError in your stream, or the client disconnecting) "
    "save the assistant message streamed so far; with ChatKitServer keep the default "
    "handle_stream_cancelled, or call super() from yours. Served with FastAPI's "
    "StreamingResponse (the documented route), a stop reaches the SDK as Starlette's anyio "
    "cancel scope, which cancels handle_stream_cancelled's own store writes too: iterate the "
    "SDK's stream in a task of its own and cancel that task once when the client goes away "
    "(docs/concepts/scenarios.md shows how).",
)
def partial_lost(ctx: ScenarioContext) -> Iterator[Found | Skip]:
    seen = _stopped(ctx)
    if seen is None:
        yield Skip("the stream was never stopped mid-reply")
        return
    texts = {item_id: text for item_id, text in seen["streaming_text"].items() if text.strip()}
    reloaded = [item for item in ctx.facts["reload"] if item.get("type") == "assistant_message"]
    for item_id, text in texts.items():
        twin = next((item for item in reloaded if str(item.get("id")) == item_id), None)
        saved = item_text(twin) if twin is not None else None
        if saved is not None and saved.strip().startswith(text.strip()):
            continue
        starting = [item for item in reloaded if item_text(item).strip().startswith(text.strip())]
        if starting:
            continue
        what = (
            f"assistant message {item_id!r} is on the reload with other text ({saved!r})"
            if saved is not None
            else f"no assistant message on the reload holds it ({len(reloaded)} assistant "
            "message(s) there)"
        )
        yield Found(
            f"the user stopped the reply after seeing {text!r}; after a reload it is gone: {what}",
            ctx.evidence(item_id=item_id, seen=text, reloaded=[i.get("id") for i in reloaded]),
        )


@check(
    code="persistence.cancel_message_lost",
    layer="persistence",
    severity="error",
    description="After the user stops a reply, the reload still shows the message they sent.",
    expectation="The user message the stream finished (thread.item.done) before the stop is "
    "saved, so it is on the reload.",
    fix="Save the user message before streaming the reply (ChatKitServer does it on "
    "thread.item.done), not after the reply ends.",
)
def message_lost(ctx: ScenarioContext) -> Iterator[Found | Skip]:
    seen = _stopped(ctx)
    if seen is None:
        yield Skip("the stream was never stopped mid-reply")
        return
    reloaded = {str(item.get("id")) for item in ctx.facts["reload"]}
    for item_id, item in seen["done"].items():
        if item.get("type") == "user_message" and item_id not in reloaded:
            yield Found(
                f"user message {item_id!r} ({item_text(item)!r}) was streamed as done before the "
                "stop but is not on the reload",
                ctx.evidence(item_id=item_id),
            )


@check(
    code="persistence.cancel_left_pending",
    layer="persistence",
    severity="error",
    description="After the user stops a reply, nothing on the reload is still in progress.",
    expectation="The reload shows no empty assistant message and no item still pending or in "
    "progress from the stopped turn (handle_stream_cancelled drops empty messages).",
    fix="On cancellation save only finished items and non-empty assistant messages; drop or "
    "close the rest (the SDK's default handle_stream_cancelled does).",
)
def left_pending(ctx: ScenarioContext) -> Iterator[Found | Skip]:
    if _stopped(ctx) is None:
        yield Skip("the stream was never stopped mid-reply")
        return
    for item in ctx.facts["reload"]:
        kind = item.get("type")
        status = item.get("status")
        empty = kind == "assistant_message" and not item_text(item).strip()
        if empty or status in ("pending", "in_progress"):
            state = "empty" if empty else f"status {status!r}"
            yield Found(
                f"{kind} {item.get('id')!r} on the reload after the stop is {state}: the UI shows "
                "it as unfinished",
                ctx.evidence(item_id=item.get("id"), type=kind, state=state),
            )


@check(
    code="persistence.cancel_thread_locked",
    layer="persistence",
    severity="error",
    description="After the user stops a reply, the thread still answers the next message.",
    expectation="The message sent after the stop gets a normal reply (an assistant message), not "
    "an error event, an HTTP error or nothing: the stop released whatever the reply held.",
    fix="Release what a reply holds when the stream is cancelled (a per-thread lock, a "
    "'generating' flag, a pending item the next turn refuses to follow): in a finally block, or "
    "in handle_stream_cancelled (keep super()), so the next message is answered.",
)
def thread_locked(ctx: ScenarioContext) -> Iterator[Found | Skip]:
    after = ctx.facts.get("after_stop")
    if _stopped(ctx) is None or not isinstance(after, dict):
        yield Skip("no message was sent after a stop")
        return
    if after.get("replied"):
        return
    status = after.get("status")
    if status is not None and status >= 400:
        how = f"answered HTTP {status}"
    elif after.get("errors"):
        how = f"answered with an error event ({after['errors'][0]!r})"
    else:
        how = "got no reply"
    yield Found(
        f"after the user stopped a reply, the next message {how}: the thread no longer answers",
        Evidence(capture=after.get("capture"), detail={"status": status}),
    )


@check(
    code="persistence.cancel_partial_twice",
    layer="persistence",
    severity="error",
    description="After the user stops a reply, the reload shows the partial reply once.",
    expectation="One assistant message on the reload holds the text the user saw before the "
    "stop (the SDK saves the pending message once, under its id).",
    fix="Save the partial reply once: either let ChatKitServer's handle_stream_cancelled save it, "
    "or save it yourself and do not call super(); a Store whose add_thread_item inserts a new "
    "row for an id it already holds should upsert.",
)
def partial_twice(ctx: ScenarioContext) -> Iterator[Found | Skip]:
    seen = _stopped(ctx)
    if seen is None:
        yield Skip("the stream was never stopped mid-reply")
        return
    texts = [text.strip() for text in seen["streaming_text"].values() if text.strip()]
    reloaded = [item for item in ctx.facts["reload"] if item.get("type") == "assistant_message"]
    for text in texts:
        holding = [item for item in reloaded if item_text(item).strip().startswith(text)]
        if len(holding) > 1:
            yield Found(
                f"the partial reply the user saw ({text!r}) is on the reload {len(holding)} "
                "times: the user sees it twice",
                ctx.evidence(seen=text, ids=[i.get("id") for i in holding]),
            )
