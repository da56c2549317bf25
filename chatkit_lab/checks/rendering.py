"""Rendering: would the ChatKit client show something, and a reply, after this stream?

Each check reads the modelled client state after the stream's last event (the client model,
:mod:`chatkit_lab.client`, replayed once in the stream's shared pass). Only streaming request
types that are expected to show something new are judged: a custom action or a structured-input
answer may legitimately change nothing on screen, and the model only sees this stream, not the
thread the client already shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chatkit_lab.capture import Capture
from chatkit_lab.checks._contexts import StreamContext
from chatkit_lab.checks._model import Evidence, Finding, Found, check, checks_of, run_checks
from chatkit_lab.client import MODEL_NOTE, NOTHING_RENDERED, ClientState

__all__ = ["REPLY_REQUEST_TYPES", "VISIBLE_REQUEST_TYPES", "check_rendering"]

REPLY_REQUEST_TYPES: frozenset[str] = frozenset(
    {"threads.create", "threads.add_user_message", "threads.retry_after_item"}
)
"""Streaming request types whose stream is expected to carry an assistant reply."""
VISIBLE_REQUEST_TYPES: frozenset[str] = REPLY_REQUEST_TYPES | {"threads.add_client_tool_output"}
"""Streaming request types whose stream is expected to put something new on screen."""


def _judged(stream: StreamContext, types: frozenset[str]) -> ClientState | None:
    """The final state when this stream is judged for ``types`` (``request_type=None`` is)."""
    if stream.request_type is not None and stream.request_type not in types:
        return None
    final = stream.final
    return final if final.events_seen else None


def _evidence(stream: StreamContext, final: ClientState, **more: Any) -> Evidence:
    ignored_names = sorted({str(n) for _, n, _ in final.ignored if n})
    detail: dict[str, Any] = {
        "events": final.events_seen,
        "understood": final.events_understood,
        "ignored": final.events_seen - final.events_understood,
    }
    if ignored_names:
        detail["ignored_types"] = ignored_names[:12]
    detail["client_model"] = MODEL_NOTE
    detail.update(more)
    return Evidence(capture=stream.name, event_index=final.last_event_index, detail=detail)


@check(
    code="rendering.nothing_rendered",
    layer="rendering",
    severity="error",
    description="Replaying the stream through a model of the ChatKit client leaves something on "
    "screen.",
    expectation="A streaming reply makes the client show at least one item (the user message, "
    "the assistant message). The client model is " + MODEL_NOTE + ".",
    fix="Emit ChatKit events: thread.item.done with the user_message item, then "
    "thread.item.added/updated/done for the assistant_message; the easiest way is to serve "
    "ChatKitServer from openai-chatkit.",
)
def nothing_rendered(stream: StreamContext) -> Iterator[Found]:
    final = _judged(stream, VISIBLE_REQUEST_TYPES)
    if final is not None and final.renders_nothing:
        yield Found(
            f"{NOTHING_RENDERED}: of {final.events_seen} events the client model understood "
            f"{final.events_understood}, and none of them leaves an item on screen",
            _evidence(stream, final),
        )


@check(
    code="rendering.no_assistant_text",
    layer="rendering",
    severity="error",
    description="Replaying the stream through a model of the ChatKit client shows an assistant "
    "reply.",
    expectation="After threads.create / threads.add_user_message / threads.retry_after_item the "
    "client shows an assistant_message with text (or another reply item such as a widget). The "
    "client model is " + MODEL_NOTE + ".",
    fix="Stream the reply as an assistant_message: thread.item.added (empty content), "
    "thread.item.updated with assistant_message.content_part.text_delta updates, then "
    'thread.item.done with content [{"type": "output_text", "text": ..., '
    '"annotations": []}].',
)
def no_assistant_text(stream: StreamContext) -> Iterator[Found]:
    final = _judged(stream, REPLY_REQUEST_TYPES)
    if final is None or final.renders_nothing or final.has_reply or _shows_error(final):
        return
    yield Found(
        "the UI would show no assistant reply: "
        f"{len(final.visible_items)} item(s) on screen, none of them assistant text "
        f"({final.events_seen} events, {final.events_understood} understood)",
        _evidence(stream, final, items=[f"{item.type} {item.id}" for item in final.visible_items]),
    )


@check(
    code="rendering.nothing_while_streaming",
    layer="rendering",
    severity="warning",
    description="The reply's text appears only with its thread.item.done: nothing is visible "
    "while it streams.",
    expectation="An assistant reply streams: thread.item.added, then "
    "assistant_message.content_part.text_delta updates that show the text as it is produced, "
    "then thread.item.done. The client model is " + MODEL_NOTE + ".",
    fix="Yield ThreadItemAddedEvent for the assistant message first, then a "
    "ThreadItemUpdatedEvent with an AssistantMessageContentPartTextDelta per chunk "
    "(chatkit.agents.stream_agent_response does this from an Agent's stream).",
)
def nothing_while_streaming(stream: StreamContext) -> Iterator[Found]:
    if stream.request_type is not None and stream.request_type not in REPLY_REQUEST_TYPES:
        return
    shown_early: set[str] = set()
    for event, result in zip(stream.events, stream.results, strict=False):
        payload = event.payload
        if not result.ok or not isinstance(payload, dict):
            continue
        kind = payload.get("type")
        if kind == "thread.item.updated" and _streams_text(payload.get("update")):
            shown_early.add(str(payload.get("item_id")))
        elif kind in ("thread.item.added", "thread.item.done"):
            item = payload.get("item")
            if not isinstance(item, dict) or item.get("type") != "assistant_message":
                continue
            has_text = any(
                isinstance(part, dict) and part.get("text") for part in item.get("content") or []
            )
            item_id = str(item.get("id"))
            if kind == "thread.item.added" and has_text:
                shown_early.add(item_id)
            elif kind == "thread.item.done" and has_text and item_id not in shown_early:
                yield Found(
                    f"the reply {item_id} shows no text while streaming: its text arrives only "
                    f"with its thread.item.done (event #{event.index})",
                    Evidence(
                        capture=stream.name,
                        event_index=event.index,
                        detail={"item_id": item_id, "client_model": MODEL_NOTE},
                    ),
                    at=(event.index,),
                )


def _shows_error(final: ClientState) -> bool:
    """An error or warning notice is on screen: the user has something to act on (an info
    notice or a progress line is not a reply)."""
    return any(not notice.startswith("info:") for notice in final.notices)


def _streams_text(update: Any) -> bool:
    if not isinstance(update, dict):
        return False
    kind = update.get("type")
    if kind == "assistant_message.content_part.text_delta":
        return bool(update.get("delta"))
    if kind == "assistant_message.content_part.added":
        content = update.get("content")
        return isinstance(content, dict) and bool(content.get("text"))
    return False


def check_rendering(
    final: ClientState,
    request_type: str | None = None,
    capture: Capture | str | None = None,
) -> list[Finding]:
    """Findings when a streamed reply would leave the client showing nothing, or no reply.

    ``final`` is the modelled client state after the stream's last event.
    """
    stream = StreamContext([], request_type, capture).with_final(final)
    return run_checks(checks_of(__name__), stream).findings
