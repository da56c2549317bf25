"""The items the modelled client shows, and their streamed text without quadratic copies.

Modelled from the openai-chatkit server SDK's semantics (see :mod:`chatkit_lab.client._model`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

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
