"""A model of what the ChatKit client shows after each event, and its display.

ChatKit.js is closed source, so this reducer is modelled from the openai-chatkit server SDK's
semantics, not from ChatKit.js source: the SDK's event types (``chatkit.types``) say which events
exist, and its server (``ChatKitServer._process_events`` and the pending-item bookkeeping) says
what each one does to a thread:

* ``thread.created`` / ``thread.updated`` set the thread (and any items in its first page);
* ``thread.item.added`` shows an item that is still streaming; ``thread.item.done`` shows the
  finished item; ``thread.item.replaced`` overwrites it; ``thread.item.removed`` deletes it;
  items are keyed by id, so a repeated id overwrites the earlier item in place;
* ``thread.item.updated`` applies assistant content-part updates the way the SDK does (a
  ``text_delta`` for a part that does not exist yet creates it);
* ``error`` and ``notice`` show a notice; ``progress_update`` shows transient progress;
* anything that does not validate as a ChatKit event is ignored, which is why a backend that
  streams another protocol leaves the UI blank.
"""

from __future__ import annotations

import html
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from chatkit_lab.client.protocol import validate_payload
from chatkit_lab.redact import current_redactor
from chatkit_lab.sse import Event

__all__ = [
    "MODEL_NOTE",
    "NOTHING_RENDERED",
    "ClientItem",
    "ClientModel",
    "ClientState",
    "replay",
]

MODEL_NOTE = "modelled from the openai-chatkit server SDK's semantics, not from ChatKit.js source"
NOTHING_RENDERED = "the UI would draw nothing from this stream"
"""What the client model says when a stream leaves nothing on screen. It is about the stream
alone: the message the user typed is still on screen, drawn on send (see the session model)."""


_HIDDEN_TYPES = frozenset({"hidden_context_item", "sdk_hidden_context", "end_of_turn"})


@dataclass
class ClientItem:
    """One item as the client would show it."""

    id: str
    type: str
    role: str | None
    """``user`` for user messages, ``assistant`` for assistant-side items, else ``None``."""
    text: str
    """The displayed text (assistant: output_text parts; user: input_text/input_tag parts)."""
    streaming: bool
    """Added but not done yet (the client shows it as in progress)."""
    parts: list[str] = field(default_factory=list)
    """Assistant message content parts' text, by content index."""
    created_at: str | None = None
    first_event: int | None = None
    last_event: int | None = None
    # ``text`` and ``parts`` are stored in ``_text`` and ``_parts`` by the properties installed
    # below the class.

    @property
    def visible(self) -> bool:
        return self.type not in _HIDDEN_TYPES

    def copy(self) -> ClientItem:
        """An independent copy (a streamed text is shared, not copied: it never changes)."""
        new = object.__new__(ClientItem)
        new.id = self.id
        new.type = self.type
        new.role = self.role
        new._text = self._text
        new.streaming = self.streaming
        parts = self._parts
        if type(parts) is list:
            parts = list(parts) if parts else ()
        new._parts = parts
        new.created_at = self.created_at
        new.first_event = self.first_event
        new.last_event = self.last_event
        return new


# -- streamed text without quadratic copies --------------------------------------------------
#
# A text delta appends to one content part. Rebuilding the part and the item's text on every
# delta, and copying them into the snapshot kept after every event, costs time and memory
# proportional to the square of the stream's length. Instead a streamed part is a reference
# ``(log, count)`` to the first ``count`` pieces of an append-only list of pieces that the
# snapshots of one item share; ``parts`` and ``text`` are joined from it the first time they are
# read. Their values are exactly what eager joining would give.


class _PieceLog:
    """The pieces of one content part's text in arrival order (only ever appended to)."""

    __slots__ = ("pieces",)

    def __init__(self, pieces: list[str]) -> None:
        self.pieces = pieces


_PartRef = tuple[_PieceLog, int]


def _join_ref(ref: _PartRef) -> str:
    log, count = ref
    pieces = log.pieces
    return "".join(pieces if count == len(pieces) else pieces[:count])


def _get_parts(self: ClientItem) -> list[str]:
    parts = self._parts
    if type(parts) is tuple:
        parts = [_join_ref(ref) for ref in parts]
        self._parts = parts
    return parts


def _set_parts(self: ClientItem, value: list[str]) -> None:
    self._parts = value


def _get_text(self: ClientItem) -> str:
    text = self._text
    if text is None:
        text = "".join(_get_parts(self))
        self._text = text
    return text


def _set_text(self: ClientItem, value: str) -> None:
    self._text = value


def _part_refs(item: ClientItem) -> list[_PartRef]:
    """The item's parts as references, ready to extend."""
    parts = item._parts
    if type(parts) is tuple:
        return list(parts)
    return [(_PieceLog([part]), 1) for part in parts]


def _set_part_refs(item: ClientItem, refs: list[_PartRef]) -> None:
    """Store streamed parts; the text is joined from them when first read."""
    item._parts = tuple(refs)
    item._text = None


# The dataclass machinery has already generated __init__/__eq__/__repr__ (which read and write
# these attributes by name), so the properties slot in without changing what they do.
ClientItem.parts = property(_get_parts, _set_parts)  # type: ignore[assignment,method-assign]
ClientItem.text = property(_get_text, _set_text)  # type: ignore[assignment,method-assign]


def _item_from_model(item: BaseModel, index: int | None, streaming: bool) -> ClientItem:
    data = item.model_dump(mode="json")
    item_type = str(data.get("type"))
    role: str | None = None
    parts: list[str] = []
    text = ""
    if item_type == "user_message":
        role = "user"
        text = "".join(
            str(part.get("text", "")) for part in data.get("content", []) if isinstance(part, dict)
        )
    elif item_type == "assistant_message":
        role = "assistant"
        parts = [str(part.get("text", "")) for part in data.get("content", [])]
        text = "".join(parts)
    else:
        role = "assistant" if item_type not in _HIDDEN_TYPES else None
        text = _describe_other(item_type, data)
    return ClientItem(
        id=str(data.get("id")),
        type=item_type,
        role=role,
        text=text,
        streaming=streaming,
        parts=parts,
        created_at=data.get("created_at"),
        first_event=index,
        last_event=index,
    )


def _describe_other(item_type: str, data: dict[str, Any]) -> str:
    if item_type == "widget":
        return str(data.get("copy_text") or "[widget]")
    if item_type == "client_tool_call":
        return f"[client tool call {data.get('name')} ({data.get('status')})]"
    if item_type == "generated_image":
        return "[generated image]"
    if item_type == "workflow":
        tasks = (data.get("workflow") or {}).get("tasks") or []
        return f"[workflow, {len(tasks)} task(s)]"
    if item_type == "task":
        task = data.get("task") or {}
        return f"[task] {task.get('title') or task.get('content') or ''}".rstrip()
    if item_type == "structured_input":
        questions = [str(i.get("question", "")) for i in data.get("inputs") or []]
        return "[structured input] " + " / ".join(questions)
    return ""


@dataclass
class ClientState:
    """The modelled client after some events (a snapshot; later events do not change it)."""

    thread_id: str | None = None
    title: str | None = None
    items: dict[str, ClientItem] = field(default_factory=dict)
    notices: tuple[str, ...] = ()
    progress: str | None = None
    allow_cancel: bool | None = None
    events_seen: int = 0
    events_understood: int = 0
    ignored: tuple[tuple[int | None, str | None, str], ...] = ()
    """``(event index, event name, why)`` for every event the client could not use."""
    last_event_index: int | None = None
    # ``ignored`` is stored in ``_ignored`` by the property installed below the class.

    @property
    def visible_items(self) -> list[ClientItem]:
        return [item for item in self.items.values() if item.visible]

    @property
    def renders_nothing(self) -> bool:
        """``True`` when no item would be on screen."""
        return not self.visible_items

    @property
    def assistant_text(self) -> str:
        return "\n".join(
            item.text
            for item in self.visible_items
            if item.type == "assistant_message" and item.text
        )

    @property
    def has_assistant_text(self) -> bool:
        return bool(self.assistant_text)

    @property
    def has_reply(self) -> bool:
        """Assistant text, or any other assistant-side visible item (widget, workflow, ...)."""
        return self.has_assistant_text or any(
            item.type not in ("user_message", "assistant_message") for item in self.visible_items
        )

    @property
    def streaming_items(self) -> list[ClientItem]:
        return [item for item in self.items.values() if item.streaming]

    @property
    def message(self) -> str:
        """One sentence on what the UI would show."""
        if self.renders_nothing:
            return (
                f"{NOTHING_RENDERED}: {self.events_seen} events received, "
                f"{self.events_understood} understood"
            )
        streaming = len(self.streaming_items)
        return (
            f"the UI would show {len(self.visible_items)} item(s)"
            + (f", {streaming} still streaming" if streaming else "")
            + f" ({self.events_seen} events received, {self.events_understood} understood)"
        )

    def transcript(self) -> str:
        """The thread as plain text, one block per item (or why nothing would be shown)."""
        lines: list[str] = []
        for item in self.visible_items:
            who = item.role or item.type
            marker = " (streaming…)" if item.streaming else ""
            label = who if item.type in ("user_message", "assistant_message") else item.type
            lines.append(f"[{label}]{marker} {item.text}".rstrip())
        for notice in self.notices:
            lines.append(f"[notice] {notice}")
        if self.renders_nothing:
            lines.append(f"({self.message})")
        return current_redactor().redact_text("\n".join(lines))

    def __repr__(self) -> str:
        return (
            f"<ClientState thread={self.thread_id!r} items={len(self.visible_items)} "
            f"streaming={len(self.streaming_items)} events={self.events_seen} "
            f"understood={self.events_understood}"
            + (f" — {NOTHING_RENDERED}" if self.renders_nothing else "")
            + f"; {MODEL_NOTE}>"
        )

    def to_html(self) -> str:
        """A small self-contained HTML rendering of the thread (bubbles, streaming markers)."""
        scrub = current_redactor()

        def esc(text: str) -> str:  # redacted, then escaped: what is shown holds no secret
            return html.escape(scrub.redact_text(text))

        out = [
            '<div class="chatkit-lab-thread" style="font-family:system-ui,sans-serif;'
            'max-width:640px;border:1px solid #ddd;border-radius:8px;padding:8px;">',
            '<div style="font-size:11px;color:#666;margin-bottom:6px;">'
            f"thread {esc(str(self.thread_id or '(none)'))}"
            + (f" · {esc(self.title)}" if self.title else "")
            + f" · {self.events_seen} events, {self.events_understood} understood"
            + "</div>",
        ]
        if self.renders_nothing:
            out.append(
                '<div style="padding:16px;text-align:center;color:#a00;font-weight:600;">'
                f"{esc(self.message)}</div>"
            )
        for item in self.visible_items:
            user = item.type == "user_message"
            align = "flex-end" if user else "flex-start"
            background = "#e8f0fe" if user else "#f4f4f4"
            label = item.role or item.type
            marker = (
                ' <span style="color:#c60;font-size:11px;">▍ streaming</span>'
                if item.streaming
                else ""
            )
            text = esc(item.text) if item.text else '<span style="color:#999;">(empty)</span>'
            out.append(
                f'<div style="display:flex;justify-content:{align};margin:4px 0;">'
                f'<div style="background:{background};border-radius:12px;padding:6px 10px;'
                f'max-width:80%;white-space:pre-wrap;">'
                f'<div style="font-size:10px;color:#888;">{esc(label)} · {esc(item.id)}'
                f"{marker}</div>{text}</div></div>"
            )
        for notice in self.notices:
            out.append(
                '<div style="background:#fff4e5;border:1px solid #f0c36d;border-radius:6px;'
                f'padding:4px 8px;margin:4px 0;">{esc(notice)}</div>'
            )
        out.append(
            f'<div style="font-size:10px;color:#999;margin-top:6px;">Client {MODEL_NOTE}.'
            "</div></div>"
        )
        return "".join(out)

    def _repr_html_(self) -> str:
        return self.to_html()

    def snapshot(self) -> ClientState:
        return ClientState(
            self.thread_id,
            self.title,
            {key: item.copy() for key, item in self.items.items()},
            self.notices,
            self.progress,
            self.allow_cancel,
            self.events_seen,
            self.events_understood,
            self._ignored,  # a shared log reference stays one: the property reads either
            self.last_event_index,
        )


# -- the ignored events without quadratic copies ----------------------------------------------
#
# Every ignored event used to rebuild ``ignored`` as a tuple one longer, which on a long foreign
# stream is quadratic in time (and, with a snapshot per event, in memory). A model's state keeps
# an append-only log of them instead, and a state refers to its first ``count`` entries; the
# tuple is built the first time ``ignored`` is read, and equals what eager copying would give.


class _IgnoredLog:
    """The first ``count`` entries of an append-only list of ignored events."""

    __slots__ = ("count", "entries")

    def __init__(self, entries: list[tuple[int | None, str | None, str]], count: int) -> None:
        self.entries = entries
        self.count = count


def _get_ignored(self: ClientState) -> tuple[tuple[int | None, str | None, str], ...]:
    ignored = self._ignored
    if type(ignored) is _IgnoredLog:
        entries = ignored.entries
        ignored = tuple(entries if ignored.count == len(entries) else entries[: ignored.count])
        self._ignored = ignored
    return ignored


def _set_ignored(self: ClientState, value: tuple[tuple[int | None, str | None, str], ...]) -> None:
    self._ignored = value


ClientState.ignored = property(_get_ignored, _set_ignored)  # type: ignore[assignment,method-assign]


def _event_name(event: Any) -> str | None:
    if isinstance(event, Event):
        return event.type or (event.sse_event if event.sse_event != "message" else None)
    if isinstance(event, Mapping):
        value = event.get("type")
        return value if isinstance(value, str) else None
    return getattr(event, "type", None)


class ClientModel:
    """Reducer: apply events one by one, read the modelled client state after each.

    The client is modelled from the openai-chatkit server SDK's semantics, not from ChatKit.js
    source (ChatKit.js is closed); see the module docstring for the rules.
    """

    def __init__(self) -> None:
        self.reset()

    @property
    def state(self) -> ClientState:
        """The current state (a snapshot)."""
        return self._state.snapshot()

    @property
    def current(self) -> ClientState:
        """The live state (not a snapshot: the next :meth:`step` changes it)."""
        return self._state

    def reset(self) -> None:
        self._state = ClientState()
        self._ignored: list[tuple[int | None, str | None, str]] = []
        """Every ignored event so far; the state refers to it (see :class:`_IgnoredLog`)."""
        self.visible_count = 0
        """``len(self.current.visible_items)``, kept up to date by every step."""

    def apply(
        self, event: Event | Mapping[str, Any] | BaseModel, *, parsed: BaseModel | None = None
    ) -> ClientState:
        """Apply one event and return the state after it.

        ``event`` is a decoded :class:`Event`, a payload dict or an SDK event model; ``parsed``
        is the already-validated SDK model for it (skips validating again).
        """
        self.step(event, parsed)
        return self._state.snapshot()

    def step(self, event: Any, parsed: Any = None) -> None:
        """:meth:`apply` without the snapshot: the state after it is :attr:`current`."""
        state = self._state
        state.events_seen += 1
        index = event.index if isinstance(event, Event) else state.events_seen - 1
        state.last_event_index = index
        model = parsed
        if model is None:
            model, why = self._parse(event)
            if model is None:
                self._ignore((index, _event_name(event), why))
                return
        understood = self._reduce(model, index)
        if understood is None:
            state.events_understood += 1
        else:
            self._ignore((index, _event_name(event), understood))

    def _ignore(self, entry: tuple[int | None, str | None, str]) -> None:
        log = self._ignored
        log.append(entry)
        self._state._ignored = _IgnoredLog(log, len(log))

    def replay(self, events: Iterable[Event | Mapping[str, Any] | BaseModel]) -> list[ClientState]:
        """Apply every event; the state after each one."""
        return [self.apply(event) for event in events]

    # -- internals -------------------------------------------------------------------------

    @staticmethod
    def _parse(event: Any) -> tuple[BaseModel | None, str]:
        if isinstance(event, BaseModel):
            return event, ""
        if isinstance(event, Event):
            if event.decode_error is not None:
                return None, sys.intern(f"not decodable: {event.decode_error}")  # one per kind
            payload: Any = event.payload
        else:
            payload = dict(event)
        result = validate_payload(payload)
        if result.ok:
            return result.model, ""
        if not result.known_type:
            return None, "not a ChatKit event type"
        return None, "invalid ChatKit event: " + "; ".join(result.messages[:3])

    def _reduce(self, event_model: BaseModel, index: int | None) -> str | None:
        """Apply a valid SDK event; return why it had no effect, or ``None`` when applied."""
        state = self._state
        model: Any = event_model
        kind = getattr(model, "type", None)
        if kind in ("thread.created", "thread.updated"):
            thread = model.thread
            state.thread_id = thread.id
            state.title = thread.title
            for item in thread.items.data:
                state.items[item.id] = _item_from_model(item, index, streaming=False)
            self.visible_count = sum(1 for item in state.items.values() if item.visible)
            return None
        if kind in ("thread.item.added", "thread.item.done", "thread.item.replaced"):
            item = model.item
            previous = state.items.get(item.id)
            streaming = kind == "thread.item.added"
            new = _item_from_model(item, index, streaming=streaming)
            if previous is not None:
                new.first_event = previous.first_event
                self.visible_count -= previous.visible
            self.visible_count += new.visible
            state.items[item.id] = new
            return None
        if kind == "thread.item.removed":
            item_id = model.item_id
            removed = state.items.pop(item_id, None)
            if removed is None:
                return f"removes unknown item {item_id!r}"
            self.visible_count -= removed.visible
            return None
        if kind == "thread.item.updated":
            return self._update(model, index)
        if kind == "stream_options":
            state.allow_cancel = model.stream_options.allow_cancel
            return None
        if kind == "progress_update":
            state.progress = model.text
            return None
        if kind == "error":
            code = getattr(model.code, "value", model.code)
            message = model.message or f"error ({code})"
            state.notices = (*state.notices, f"error: {message}")
            return None
        if kind == "notice":
            level = model.level
            state.notices = (*state.notices, f"{level}: {model.message}")
            return None
        if kind == "client_effect":
            return None
        return f"unhandled event {kind!r}"

    def _update(self, model: Any, index: int | None) -> str | None:
        state = self._state
        item_id = model.item_id
        update = model.update
        item = state.items.get(item_id)
        if item is None:
            return f"update for unknown item {item_id!r}"
        item.last_event = index
        update_type = update.type
        if not update_type.startswith("assistant_message."):
            return None
        if item.type != "assistant_message":
            return f"assistant content update for a {item.type} item"
        content_index = update.content_index
        if content_index < 0:
            return f"negative content_index {content_index}"
        parts = item._parts
        if (
            type(parts) is tuple
            and content_index < len(parts)
            and update_type == "assistant_message.content_part.text_delta"
        ):  # the usual delta, to a part already streaming: extend its log in place
            log, count = parts[content_index]
            if count == len(log.pieces):
                log.pieces.append(update.delta)
                ref = ((log, count + 1),)
                item._parts = parts[:content_index] + ref + parts[content_index + 1 :]
                item._text = None
                return None
        refs = _part_refs(item)
        while len(refs) <= content_index:
            refs.append((_PieceLog([]), 0))
        if update_type.endswith(".text_delta"):
            log, count = refs[content_index]
            if count != len(log.pieces):  # another holder extended it: start a log of our own
                log = _PieceLog(log.pieces[:count])
            log.pieces.append(update.delta)
            refs[content_index] = (log, count + 1)
        elif update_type.endswith((".content_part.added", ".content_part.done")):
            refs[content_index] = (_PieceLog([update.content.text]), 1)
        _set_part_refs(item, refs)
        return None


def replay(events: Iterable[Event | Mapping[str, Any] | BaseModel]) -> list[ClientState]:
    """The modelled client state after each event (a fresh :class:`ClientModel`)."""
    return ClientModel().replay(events)
