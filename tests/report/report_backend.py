"""A small ChatKit-speaking ASGI app whose strings a test chooses (ids, reply text, event types).

It answers the requests of the kit's client session the way a ChatKit server would, with every
backend-supplied string taken from :class:`Strings`, so a test can diagnose the same backend
with harmless and with hostile text and compare the reports.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

CREATED = "2026-02-11T10:00:00"


@dataclass(frozen=True)
class Strings:
    """What the backend says: the thread id, the reply, and one event type ChatKit lacks."""

    thread_id: str = "thr_1"
    reply: str = "Hi there, this is the reply."
    odd_type: str = "backend.note"
    item_id: str = "msg_asst_1"


def _item(strings: Strings, kind: str, item_id: str, text: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": item_id,
        "thread_id": strings.thread_id,
        "created_at": CREATED,
        "type": kind,
    }
    if kind == "user_message":
        item |= {
            "content": [{"type": "input_text", "text": text}],
            "attachments": [],
            "inference_options": {},
        }
    else:
        item["content"] = [{"type": "output_text", "text": text, "annotations": []}] if text else []
    return item


def _thread(strings: Strings, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": strings.thread_id,
        "created_at": CREATED,
        "status": {"type": "active"},
        "metadata": {},
        "items": {"data": items, "has_more": False, "after": None},
    }


def _turn(strings: Strings, number: int, text: str, create: bool) -> list[dict[str, Any]]:
    user = _item(strings, "user_message", f"msg_user_{number}", text)
    reply_id = f"{strings.item_id}_{number}"
    events: list[dict[str, Any]] = []
    if create:
        events.append({"type": "thread.created", "thread": _thread(strings, [])})
    events += [
        {"type": "thread.item.done", "item": user},
        {"type": strings.odd_type, "note": strings.reply},
        {"type": "thread.item.added", "item": _item(strings, "assistant_message", reply_id, "")},
        {
            "type": "thread.item.updated",
            "item_id": reply_id,
            "update": {
                "type": "assistant_message.content_part.text_delta",
                "content_index": 0,
                "delta": strings.reply,
            },
        },
        {
            "type": "thread.item.done",
            "item": _item(strings, "assistant_message", reply_id, strings.reply),
        },
    ]
    return events


def _text_of(payload: Any) -> str:
    params = payload.get("params") if isinstance(payload, dict) else None
    content = (params or {}).get("input", {}).get("content", [])
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def chatkit_app(strings: Strings) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """An ASGI app serving one thread whose every string comes from ``strings``."""
    items: list[dict[str, Any]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        payload = json.loads(body or b"{}")
        kind = payload.get("type")
        if kind in ("threads.create", "threads.add_user_message"):
            number = len(items) // 2 + 1
            events = _turn(strings, number, _text_of(payload), kind == "threads.create")
            items.extend(e["item"] for e in events if e["type"] == "thread.item.done")
            data = b"".join(b"data: " + json.dumps(event).encode() + b"\n\n" for event in events)
            await _reply(send, "text/event-stream", data)
            return
        if kind == "threads.get_by_id":
            reply: Any = _thread(strings, items)
        elif kind == "items.list":
            reply = {"data": items, "has_more": False, "after": None}
        elif kind == "threads.list":
            reply = {"data": [], "has_more": False, "after": None}
        else:
            reply = {}
        await _reply(send, "application/json", json.dumps(reply).encode())

    return app


async def _reply(send: Send, content_type: str, data: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", content_type.encode())],
        }
    )
    await send({"type": "http.response.body", "body": data, "more_body": False})
