"""Helpers for the backend tests: drive an app in process or on loopback, parse SSE replies."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from chatkit_lab.sources import LoopbackServer

MODES = ("in-process", "loopback")


@dataclass
class SSE:
    event: str | None
    data: str

    @property
    def payload(self) -> Any:
        return json.loads(self.data)


@dataclass
class Reply:
    status: int
    headers: httpx.Headers
    body: bytes
    arrivals: list[float] = field(default_factory=list)
    """Monotonic seconds at which each raw read arrived."""

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def events(self) -> list[SSE]:
        return parse_sse(self.body)

    @property
    def payloads(self) -> list[Any]:
        return [event.payload for event in self.events]


def parse_sse(body: bytes) -> list[SSE]:
    """Minimal SSE parsing for LF-framed replies (the backends here write LF only)."""
    events = []
    for block in body.decode().split("\n\n"):
        if not block.strip():
            continue
        name, data = None, []
        for line in block.split("\n"):
            key, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if key == "event":
                name = value
            elif key == "data":
                data.append(value)
        events.append(SSE(name, "\n".join(data)))
    return events


class Driver:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(
        self,
        path: str,
        payload: Any = None,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> Reply:
        body = content if content is not None else json.dumps(payload).encode()
        merged = {"content-type": "application/json", **(headers or {})}
        async with self.client.stream("POST", path, content=body, headers=merged) as response:
            chunks, arrivals = [], []
            async for chunk in response.aiter_raw():
                chunks.append(chunk)
                arrivals.append(time.monotonic())
            return Reply(response.status_code, response.headers, b"".join(chunks), arrivals)


@asynccontextmanager
async def drive(app: Any, mode: str) -> AsyncIterator[Driver]:
    """In process through httpx's ASGI transport (no timing), or over 127.0.0.1 under uvicorn."""
    if mode == "in-process":
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://backend.test") as c:
            yield Driver(c)
        return
    async with LoopbackServer(app) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            yield Driver(client)


def user_input(text: str) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


def create_body(text: str) -> dict[str, Any]:
    return {"type": "threads.create", "params": {"input": user_input(text)}, "metadata": {}}


def add_message_body(thread_id: str, text: str) -> dict[str, Any]:
    return {
        "type": "threads.add_user_message",
        "params": {"thread_id": thread_id, "input": user_input(text)},
        "metadata": {},
    }


def get_body(thread_id: str) -> dict[str, Any]:
    return {"type": "threads.get_by_id", "params": {"thread_id": thread_id}, "metadata": {}}
