"""The lifecycle runner: play the part of a ChatKit client against a backend.

The sequence follows what the client does (see the protocol notes; *client* behaviour is
modelled from the server SDK's semantics and public docs, not from ChatKit.js source):
``threads.list`` on mount, ``threads.create`` with a message, adopt the created thread and load
it (``threads.get_by_id``, then ``items.list``), a second turn with ``threads.add_user_message``,
and a reload. Every exchange, including one a custom fetch answered locally, becomes a
:class:`~chatkit_lab.Capture`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from chatkit_lab.capture._model import Capture, Ending, RequestRecord
from chatkit_lab.client._transform import (
    ClientRequest,
    LocalResponse,
    Transform,
    apply_transform,
    identity,
)


class Sender(Protocol):
    """What the runner needs of a transport."""

    async def send_request(
        self, request: ClientRequest, *, label: str = "", limits: Any = None
    ) -> Capture: ...


@dataclass
class Step:
    """One exchange of the lifecycle."""

    name: str
    client_type: str
    expects: str
    """``stream`` or ``json``: what ChatKit expects back for this request type."""
    client_request: ClientRequest
    """What ChatKit.js would send."""
    capture: Capture
    """What went on the wire and came back (a local reply is recorded as transport ``local``)."""
    wire_request: ClientRequest | None = None
    answered_locally: bool = False

    @property
    def reply_json(self) -> Any:
        return self.capture.json_body()


@dataclass
class Lifecycle:
    """Every step of one client session, in order."""

    target: str
    steps: list[Step] = field(default_factory=list)
    thread_id: str | None = None
    thread_id_adopted: bool = False
    """``True`` when a valid ``thread.created`` gave the client its thread id."""
    notes: list[str] = field(default_factory=list)
    created_threads: list[str] = field(default_factory=list)
    """Threads this session created in the target."""
    deleted_threads: list[str] = field(default_factory=list)
    """Threads deleted again at the end (remote targets, unless asked to keep them)."""

    @property
    def captures(self) -> list[Capture]:
        return [step.capture for step in self.steps]

    def step(self, name: str) -> Step | None:
        for step in self.steps:
            if step.name == name:
                return step
        return None

    def table(self) -> pd.DataFrame:
        """One row per step: what the client sent, what went on the wire, what came back."""
        rows = []
        for number, step in enumerate(self.steps, start=1):
            capture = step.capture
            rows.append(
                {
                    "step": number,
                    "name": step.name,
                    "client_sends": step.client_type,
                    "on_the_wire": (
                        "answered locally"
                        if step.answered_locally
                        else f"{capture.request.method} {_path(capture.request.url)} "
                        f"{capture.request_type or _body_shape(capture.request.body)}"
                    ),
                    "status": capture.status,
                    "content_type": capture.content_type or None,
                    "expects": step.expects,
                    "events": len(capture.events) if capture.is_event_stream else None,
                    "bytes": capture.size,
                    "ended": capture.ending.state,
                }
            )
        return pd.DataFrame(rows)


def _path(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path or "/"


def _body_shape(body: bytes) -> str:
    try:
        payload = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        return "(non-JSON body)"
    if isinstance(payload, dict):
        return "{" + ", ".join(payload) + "}"
    return type(payload).__name__


def user_input(text: str) -> dict[str, Any]:
    """The ``input`` ChatKit sends for a plain text message."""
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


def envelope(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """A ChatKit request envelope."""
    return {"type": kind, "params": params, "metadata": {}}


def local_capture(request: ClientRequest, reply: LocalResponse, label: str, target: str) -> Capture:
    """A capture for a reply a custom fetch produced itself (no network, no timing)."""
    capture = Capture(
        request=RequestRecord(
            request.method, request.url, list(request.headers.items()), request.body
        ),
        status=reply.status,
        response_headers=list(reply.headers.items()),
        headers_ns=0,
        label=label,
        target=target,
        transport="local",
        timing=False,
        ending=Ending("complete", "answered by the client transform", 0),
    )
    capture.add_chunk(reply.body, 0)
    capture.meta["answered_locally"] = True
    capture.meta["client_type"] = (
        request.json.get("type") if isinstance(request.json, dict) else None
    )
    capture.notes.append(
        "answered by the client transform (custom fetch); the backend never saw it"
    )
    return capture


class LifecycleRunner:
    """Runs the client lifecycle against one endpoint through one transform."""

    def __init__(
        self,
        sender: Sender,
        url: str,
        *,
        transform: Transform = identity,
        headers: dict[str, str] | None = None,
        target: str = "",
        limits: Any = None,
        delete_created: bool = False,
    ) -> None:
        self.delete_created = delete_created
        self.sender = sender
        self.url = url
        self.transform = transform
        self.headers = dict(headers or {})
        self.target = target or url
        self.limits = limits

    async def exchange(self, name: str, payload: dict[str, Any], expects: str) -> Step:
        """Send one ChatKit request through the transform; record it as a step."""
        client_request = ClientRequest.chatkit(self.url, payload, self.headers)
        result = apply_transform(self.transform, client_request)
        if isinstance(result, LocalResponse):
            capture = local_capture(client_request, result, name, self.target)
            return Step(name, payload["type"], expects, client_request, capture, None, True)
        capture = await self.sender.send_request(result, label=name, limits=self.limits)
        capture.target = capture.target or self.target
        capture.meta.setdefault("client_type", payload["type"])
        if result.body != client_request.body:
            capture.meta["client_body"] = client_request.body.decode("utf-8", "replace")
        return Step(name, payload["type"], expects, client_request, capture, result, False)

    async def run(
        self,
        message: str = "Hello! What can you do?",
        second_message: str = "Thanks. One more thing?",
        *,
        page_size: int = 2,
    ) -> Lifecycle:
        """The whole session: mount, first send, load, second send, reload."""
        started = time.monotonic()
        life = Lifecycle(self.target)
        steps = life.steps
        steps.append(
            await self.exchange(
                "mount: threads.list",
                envelope("threads.list", {"limit": 9999, "order": "desc"}),
                "json",
            )
        )
        create = await self.exchange(
            "send: threads.create",
            envelope("threads.create", {"input": user_input(message)}),
            "stream",
        )
        steps.append(create)
        thread_id, adopted = adopt_thread_id(create.capture)
        life.thread_id, life.thread_id_adopted = thread_id, adopted
        if thread_id is not None:
            life.created_threads.append(thread_id)
        try:
            await self._conversation(life, thread_id, adopted, second_message, page_size)
        finally:
            if self.delete_created and thread_id is not None:
                await self._delete(life, thread_id)
        life.notes.append(f"lifecycle took {time.monotonic() - started:.2f} s")
        return life

    async def _delete(self, life: Lifecycle, thread_id: str) -> None:
        step = await self.exchange(
            "cleanup: threads.delete", envelope("threads.delete", {"thread_id": thread_id}), "json"
        )
        step.capture.meta["cleanup"] = True
        life.steps.append(step)
        if step.capture.status is not None and step.capture.status < 300:
            life.deleted_threads.append(thread_id)
            life.notes.append(f"deleted thread {thread_id!r} created by this session")
        else:
            life.notes.append(
                f"could not delete thread {thread_id!r} created by this session "
                f"(status {step.capture.status}): delete it by hand"
            )

    async def _conversation(
        self,
        life: Lifecycle,
        thread_id: str | None,
        adopted: bool,
        second_message: str,
        page_size: int,
    ) -> None:
        steps = life.steps
        if thread_id is None:
            life.notes.append(
                "no thread id could be found in the threads.create reply: the client cannot "
                "load the thread or send a second message"
            )
            return
        if not adopted:
            life.notes.append(
                f"the reply had no valid thread.created; the runner goes on with thread id "
                f"{thread_id!r} found in the payloads, which the real client would not adopt"
            )
        await self._load(life, thread_id, "load", page_size)
        steps.append(
            await self.exchange(
                "send: threads.add_user_message",
                envelope(
                    "threads.add_user_message",
                    {"thread_id": thread_id, "input": user_input(second_message)},
                ),
                "stream",
            )
        )
        await self._load(life, thread_id, "reload", page_size)

    async def _load(self, life: Lifecycle, thread_id: str, prefix: str, page_size: int) -> None:
        life.steps.append(
            await self.exchange(
                f"{prefix}: threads.get_by_id",
                envelope("threads.get_by_id", {"thread_id": thread_id}),
                "json",
            )
        )
        life.steps.append(
            await self.exchange(
                f"{prefix}: items.list",
                envelope("items.list", {"thread_id": thread_id, "limit": 100, "order": "asc"}),
                "json",
            )
        )
        # Walk the items page by page, as the client does for older history.
        after: str | None = None
        for page in range(1, 51):
            params: dict[str, Any] = {"thread_id": thread_id, "limit": page_size, "order": "asc"}
            if after is not None:
                params["after"] = after
            step = await self.exchange(
                f"{prefix}: items.list page {page}", envelope("items.list", params), "json"
            )
            step.capture.meta["pagination_walk"] = prefix
            life.steps.append(step)
            reply = step.reply_json
            if not isinstance(reply, dict) or not reply.get("has_more"):
                break
            data = reply.get("data")
            next_after = reply.get("after")
            if not next_after and isinstance(data, list) and data and isinstance(data[-1], dict):
                next_after = data[-1].get("id")
            if not isinstance(next_after, str) or next_after == after:
                break
            after = next_after


def adopt_thread_id(capture: Capture) -> tuple[str | None, bool]:
    """The thread id the client adopts from a ``threads.create`` stream.

    Returns ``(id, True)`` for a valid ChatKit ``thread.created`` event; otherwise the best id
    found in the payloads (``thread.id``, ``item.thread_id``) with ``False``: the real client
    would not have adopted it, but following it shows what happens next.
    """
    from chatkit.types import ThreadCreatedEvent
    from pydantic import ValidationError

    fallback: str | None = None
    for event in capture.events:
        payload = event.payload
        if not isinstance(payload, dict):
            continue
        if payload.get("type") == "thread.created":
            try:
                created = ThreadCreatedEvent.model_validate(payload)
            except ValidationError:
                pass
            else:
                return created.thread.id, True
        for key in ("thread", "item"):
            inner = payload.get(key)
            if isinstance(inner, dict):
                candidate = inner.get("id") if key == "thread" else inner.get("thread_id")
                if isinstance(candidate, str | int) and fallback is None:
                    fallback = str(candidate)
        candidate = payload.get("thread_id")
        if isinstance(candidate, str | int) and fallback is None:
            fallback = str(candidate)
    return fallback, False
