"""Synthetic reference-style ChatKit streams, serialised the way the server SDK writes them.

Every event is a ``chatkit.types`` model dumped with ``model_dump_json(by_alias=True,
exclude_none=True)`` and framed as ``data: <json>\\n\\n``, one chunk per event: thread.created,
the user message done, stream options, the assistant message added, many text deltas, the
content part done, the assistant message done.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from chatkit_lab import Capture
from chatkit_lab.capture import RequestRecord

__all__ = [
    "THREAD_ID",
    "capture_from_chunks",
    "reference_chunks",
    "serialise",
]

THREAD_ID = "thr_bench"
ASSISTANT_ID = "msg_bench_assistant"
USER_ID = "msg_bench_user"
_WORDS = ("alpha ", "beta ", "gamma ", "delta ", "epsilon ", "zeta ", "eta ", "theta ")
_EPOCH = datetime(2026, 1, 1, 12, 0, 0)


def serialise(event: BaseModel) -> bytes:
    """One event as the SDK puts it on the wire: ``data: <compact JSON>`` and a blank line."""
    body = event.model_dump_json(by_alias=True, exclude_none=True)
    return b"data: " + body.encode("utf-8") + b"\n\n"


def reference_chunks(events: int) -> list[bytes]:
    """``events`` SSE chunks (at least 8) of one threads.create turn with a long streamed reply.

    The fixed events are built from SDK models; the text deltas, which make up nearly all of the
    stream, are built once from a model and reused with the delta text swapped in, so a large
    stream is generated quickly while staying byte-identical to what the SDK would write.
    """
    from chatkit.types import (
        ActiveStatus,
        AssistantMessageContent,
        AssistantMessageContentPartDone,
        AssistantMessageContentPartTextDelta,
        AssistantMessageItem,
        InferenceOptions,
        Page,
        StreamOptions,
        StreamOptionsEvent,
        Thread,
        ThreadCreatedEvent,
        ThreadItemAddedEvent,
        ThreadItemDoneEvent,
        ThreadItemUpdatedEvent,
        UserMessageItem,
        UserMessageTextContent,
    )

    deltas = max(events - 7, 1)
    thread = Thread(
        id=THREAD_ID,
        created_at=_EPOCH,
        status=ActiveStatus(),
        items=Page(data=[], has_more=False),
    )
    user = UserMessageItem(
        id=USER_ID,
        thread_id=THREAD_ID,
        created_at=_EPOCH + timedelta(milliseconds=100),
        content=[UserMessageTextContent(text="Tell me a long story")],
        attachments=[],
        inference_options=InferenceOptions(),
    )
    assistant_at = _EPOCH + timedelta(milliseconds=200)
    words = [_WORDS[i % len(_WORDS)] for i in range(deltas)]
    text = "".join(words)
    head: list[BaseModel] = [
        ThreadCreatedEvent(thread=thread),
        ThreadItemDoneEvent(item=user),
        StreamOptionsEvent(stream_options=StreamOptions(allow_cancel=True)),
        ThreadItemAddedEvent(
            item=AssistantMessageItem(
                id=ASSISTANT_ID, thread_id=THREAD_ID, created_at=assistant_at, content=[]
            )
        ),
    ]
    tail: list[BaseModel] = [
        ThreadItemUpdatedEvent(
            item_id=ASSISTANT_ID,
            update=AssistantMessageContentPartDone(
                content_index=0, content=AssistantMessageContent(text=text, annotations=[])
            ),
        ),
        ThreadItemDoneEvent(
            item=AssistantMessageItem(
                id=ASSISTANT_ID,
                thread_id=THREAD_ID,
                created_at=assistant_at,
                content=[AssistantMessageContent(text=text, annotations=[])],
            )
        ),
    ]
    marker = "\x00DELTA\x00"
    template = serialise(
        ThreadItemUpdatedEvent(
            item_id=ASSISTANT_ID,
            update=AssistantMessageContentPartTextDelta(content_index=0, delta=marker),
        )
    )
    encoded_marker = b"\\u0000DELTA\\u0000"
    before, found, after = template.partition(encoded_marker)
    if not found:  # pragma: no cover - the SDK's JSON escaping changed
        raise RuntimeError("cannot locate the delta in the serialised template")
    cache: dict[str, bytes] = {}
    middle: list[bytes] = []
    for word in words:
        piece = cache.get(word)
        if piece is None:
            piece = before + word.encode("utf-8") + after
            cache[word] = piece
        middle.append(piece)
    chunks = [serialise(event) for event in head] + middle + [serialise(e) for e in tail]
    # One extra closing event keeps the count exact: thread.updated with a title.
    from chatkit.types import ThreadUpdatedEvent

    titled = Thread(
        id=THREAD_ID,
        title="Story",
        created_at=_EPOCH,
        status=ActiveStatus(),
        items=Page(data=[], has_more=False),
    )
    chunks.append(serialise(ThreadUpdatedEvent(thread=titled)))
    return chunks


def capture_from_chunks(chunks: list[bytes], gap_ns: int = 1000, **meta: Any) -> Capture:
    """A finished threads.create capture holding ``chunks`` as they would have arrived."""
    body = b'{"type":"threads.create","params":{"input":{"content":[]}}}'
    capture = Capture(
        request=RequestRecord("POST", "http://127.0.0.1/chatkit", [], body),
        status=200,
        response_headers=[("content-type", "text/event-stream")],
        headers_ns=0,
        label="benchmark",
        transport="synthetic",
        meta=dict(meta),
    )
    for position, data in enumerate(chunks):
        capture.add_chunk(data, (position + 1) * gap_ns)
    return capture


# -- ASGI apps that stream prepared chunks ---------------------------------------------------


class ChunkApp:
    """A bare ASGI app that answers every request with ``chunks`` as an event stream.

    Each chunk is its own ``http.response.body`` message. ``gaps_s[i]`` (when given) is slept
    before chunk ``i`` is sent, and the monotonic time of each send is appended to ``sent_ns``
    (the server's own record, read on the same clock as the capture's when both run in this
    process).
    """

    def __init__(self, chunks: list[bytes], gaps_s: list[float] | None = None) -> None:
        self.chunks = chunks
        self.gaps_s = gaps_s
        self.sent_ns: list[int] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        import asyncio
        import time

        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        while True:  # read the request body
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream"),
                    (b"cache-control", b"no-cache"),
                ],
            }
        )
        self.sent_ns = []
        gaps = self.gaps_s
        for position, chunk in enumerate(self.chunks):
            if gaps is not None:
                await asyncio.sleep(gaps[position])
            self.sent_ns.append(time.monotonic_ns())
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


REQUEST_BODY = b'{"type":"threads.create","params":{"input":{"content":[]}}}'
REQUEST_HEADERS = [("content-type", "application/json")]
