"""What one client session did: its steps, in order, and what each turned into.

A :class:`Step` is one request ChatKit made (or re-made: the host script retries failed stream
opens), with what went on the wire, what the fetch handed back to ChatKit, the host script's
verdict on it (fact) and the calls the fetch made to the ChatKit control. A :class:`Lifecycle`
is every step of one session, plus the requests the kit made for itself (never through the
user's fetch).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from chatkit_lab.capture import Capture
from chatkit_lab.client._fetch import ClientRequest, ControlCall
from chatkit_lab.client._network import JsonReply, StreamOpen

SEND_TYPES = frozenset(
    {
        "threads.create",
        "threads.add_user_message",
        "threads.add_client_tool_output",
        "threads.retry_after_item",
        "threads.custom_action",
    }
)
"""Request types with which the user asks for a turn (everything else is not a turn)."""

NOT_A_TURN = frozenset({"stream_options", "progress_update", "notice", "error", "client_effect"})
"""Event types that say something about a stream but carry no turn (no thread, no item)."""

_MAX_TURN_EVENTS = 200
"""How many events :func:`carries_turn` reads before it decides (bounded)."""


def carries_turn(capture: Capture) -> bool:
    """Whether a reply carries a new turn: an event stream holding at least one event that is
    not only stream bookkeeping (:data:`NOT_A_TURN`), such as a thread, an item or a foreign
    protocol's message event. A stream of one ``stream_options`` event carries none."""
    if not capture.is_event_stream:
        return False
    for event in capture.events[:_MAX_TURN_EVENTS]:
        payload = event.payload
        kind = payload.get("type") if isinstance(payload, dict) else None
        if kind is None:
            kind = event.sse_event if event.sse_event not in ("", "message") else None
        if kind is None and event.data.strip():
            return True  # data that is not a ChatKit event: a foreign message
        if isinstance(kind, str) and kind not in NOT_A_TURN:
            return True
    return False


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
    attempt: int = 0
    """0 for the first try; n for the host script's n-th retry of a failed stream open."""
    network: StreamOpen | JsonReply | None = None
    """The host script's verdict on what the fetch handed back (fact, not modelled)."""
    handed_back: Capture | None = None
    """What the fetch handed back to ChatKit, when it is not ``capture`` itself."""
    controls: list[ControlCall] = field(default_factory=list)
    fetch_error: str | None = None
    """The error the custom fetch threw for this request (ChatKit's request failed with it)."""
    wire: list[Capture] = field(default_factory=list)
    """Every wire call the fetch made for this request (``capture`` is the first)."""
    retry_wait_s: tuple[float, float] | None = None
    """For a retry: how long ChatKit would have waited before it (the kit compresses it)."""

    @property
    def reply_json(self) -> Any:
        return self.capture.json_body()

    @property
    def seen_by_chatkit(self) -> Capture:
        """The reply ChatKit got: what the fetch handed back (usually the wire reply)."""
        return self.handed_back or self.capture

    @property
    def ui_value(self) -> Any:
        """What the UI received for a JSON request (``{}`` for a body that did not parse)."""
        if isinstance(self.network, JsonReply) and self.network.ok:
            return self.network.value
        return None

    @property
    def ran_a_turn(self) -> bool:
        """Whether the target streamed a reply to a request that did not ask for a turn."""
        if self.client_type in SEND_TYPES or self.answered_locally:
            return False
        return any(carries_turn(capture) for capture in self.wire)


@dataclass
class Lifecycle:
    """Every step of one client session, in order."""

    target: str
    steps: list[Step] = field(default_factory=list)
    thread_id: str | None = None
    thread_id_adopted: bool = False
    """``True`` when a valid ``thread.created`` gave the client its thread id."""
    thread_id_set_by_fetch: bool = False
    """``True`` when the custom fetch called ``setThreadId`` with the thread id."""
    notes: list[str] = field(default_factory=list)
    created_threads: list[str] = field(default_factory=list)
    """Threads this session created in the target."""
    deleted_threads: list[str] = field(default_factory=list)
    """Threads deleted again at the end, each confirmed gone by a load."""
    kit_steps: list[Step] = field(default_factory=list)
    """Requests the kit made for itself (store audit, cleanup checks), never through a fetch."""
    store_audit: dict[str, Any] = field(default_factory=dict)
    """Threads and user messages found in the target after retried sends (see the runner)."""

    @property
    def captures(self) -> list[Capture]:
        return [step.capture for step in self.steps]

    def step(self, name: str) -> Step | None:
        for step in self.steps:
            if step.name == name:
                return step
        return None

    @property
    def turns_for_non_sends(self) -> list[Step]:
        """Steps that were not sends but made the target run a chat turn."""
        return [step for step in self.steps if step.ran_a_turn]

    @property
    def retries(self) -> list[Step]:
        return [step for step in self.steps if step.attempt > 0]


def path_of(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path or "/"


def body_shape(body: bytes) -> str:
    try:
        payload = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError, RecursionError):
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
