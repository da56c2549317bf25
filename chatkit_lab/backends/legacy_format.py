"""The legacy backend's wire formats: the SSE frames of each of the report's three attempts.

None of them is the ChatKit protocol. Payloads are kept exactly as the report shows them,
including its id scheme: the conversation id appears in every id (``msg-user-<n>``,
``msg-assistant-<n>``, ``resp_<n>``, ``item_<n>``), so the ids repeat on every turn of a
conversation. The reply text is deterministic (an echo).
"""

from __future__ import annotations

import json
from typing import Any

from ._util import split_deltas

__all__ = ["LEGACY_ATTEMPTS", "legacy_events", "legacy_reply"]

LEGACY_ATTEMPTS: dict[int, str] = {
    1: "thread.item.* payloads (data: only)",
    2: "Assistants-style thread.message.* events with event: lines",
    3: "Responses-style nine-step sequence (data: only)",
}


def legacy_reply(message: str) -> str:
    """The deterministic assistant reply to ``message``."""
    if not message.strip():
        return "I received an empty message. Please type something and send it again."
    return f'You said: "{message}". This reply comes from the legacy backend, in a few chunks.'


def _data(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


def _named(event: str, payload: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(payload)}\n\n".encode()


def legacy_events(
    attempt: int, conversation_id: int, message: str, reply: str, created_at: int
) -> list[bytes]:
    """The SSE frames the legacy backend sends for one exchange, in order."""
    n = conversation_id
    thread_id = str(n)
    deltas = split_deltas(reply, 3) or [""]
    if attempt == 1:
        return [
            _data(
                {
                    "type": "thread.item.user_message",
                    "item": {
                        "id": f"msg-user-{n}",
                        "type": "user_message",
                        "thread_id": thread_id,
                        "content": [{"type": "input_text", "text": message}],
                        "status": "completed",
                        "created_at": created_at,
                    },
                }
            ),
            _data(
                {
                    "type": "thread.item.assistant_message",
                    "item": {
                        "id": f"msg-assistant-{n}",
                        "type": "assistant_message",
                        "thread_id": thread_id,
                        "content": [{"type": "text", "text": reply}],
                        "status": "completed",
                        "created_at": created_at,
                    },
                }
            ),
        ]
    if attempt == 2:
        assistant_id = f"msg-assistant-{n}"
        in_progress = {
            "id": assistant_id,
            "object": "thread.message",
            "role": "assistant",
            "content": [],
            "status": "in_progress",
        }
        frames = [
            _named(
                "thread.message.created",
                {
                    "id": f"msg-user-{n}",
                    "object": "thread.message",
                    "role": "user",
                    "content": [{"type": "text", "text": {"value": message}}],
                    "status": "completed",
                },
            ),
            _named("thread.message.created", in_progress),
            _named("thread.message.in_progress", in_progress),
        ]
        for delta in deltas:
            frames.append(
                _named(
                    "thread.message.delta",
                    {
                        "id": assistant_id,
                        "object": "thread.message.delta",
                        "delta": {
                            "content": [{"index": 0, "type": "text", "text": {"value": delta}}]
                        },
                    },
                )
            )
        frames.append(
            _named(
                "thread.message.completed",
                {
                    "id": assistant_id,
                    "object": "thread.message",
                    "role": "assistant",
                    "content": [{"type": "text", "text": {"value": reply}}],
                    "status": "completed",
                },
            )
        )
        return frames
    if attempt == 3:
        response_id = f"resp_{n}"
        item_id = f"item_{n}"
        where = {"response_id": response_id, "item_id": item_id, "output_index": 0}
        done_item = {
            "id": item_id,
            "type": "message",
            "role": "assistant",
            "content": [{"type": "text", "text": reply}],
        }
        frames = [
            _data({"type": "thread.created", "thread": {"id": thread_id}}),
            _data(
                {
                    "type": "conversation.item.created",
                    "item": {
                        "id": f"msg-user-{n}",
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": message}],
                        "status": "completed",
                    },
                }
            ),
            _data(
                {
                    "type": "response.created",
                    "response": {"id": response_id, "status": "in_progress"},
                }
            ),
            _data(
                {
                    "type": "response.output_item.added",
                    "response_id": response_id,
                    "output_index": 0,
                    "item": {"id": item_id, "type": "message", "role": "assistant"},
                }
            ),
            _data(
                {
                    "type": "response.content_part.added",
                    **where,
                    "content_index": 0,
                    "part": {"type": "text", "text": ""},
                }
            ),
        ]
        for delta in deltas:
            frames.append(
                _data({"type": "response.text.delta", **where, "content_index": 0, "delta": delta})
            )
        frames += [
            _data(
                {
                    "type": "response.content_part.done",
                    **where,
                    "content_index": 0,
                    "part": {"type": "text", "text": reply},
                }
            ),
            _data(
                {
                    "type": "response.output_item.done",
                    "response_id": response_id,
                    "output_index": 0,
                    "item": done_item,
                }
            ),
            _data(
                {
                    "type": "response.done",
                    "response": {"id": response_id, "status": "completed", "output": [done_item]},
                }
            ),
        ]
        return frames
    raise ValueError(f"unknown attempt {attempt!r}: use one of {sorted(LEGACY_ATTEMPTS)}")
