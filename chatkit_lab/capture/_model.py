"""The capture model: one HTTP exchange, byte for byte, with arrival times.

A :class:`Capture` holds the request as sent, the response status and headers, every body chunk
as received (bytes plus a monotonic arrival offset in nanoseconds from the moment the request was
sent), and how the exchange ended. Frames and events are derived from the chunks on demand (by
:mod:`chatkit_lab.sse`), so a capture loaded from disk is analysed exactly like a fresh one.

Saving and loading live in :mod:`chatkit_lab.capture._files`, the tables in
:mod:`chatkit_lab.capture._display`; the methods here only hand over to them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from chatkit_lab.errors import CaptureFormatError
from chatkit_lab.sse import (
    BrowserJson,
    Event,
    Frame,
    Message,
    MessageParser,
    browser_json_body,
    decode_messages,
    may_differ,
    parse_browser_json,
    parse_frames,
    run_message_parser,
)

if TYPE_CHECKING:
    import pandas as pd

    from chatkit_lab.redact import Redactor

EndState = Literal["complete", "timeout", "reset", "error", "limit", "stopped"]
END_STATES: tuple[str, ...] = ("complete", "timeout", "reset", "error", "limit", "stopped")


REPR_BYTES = 64
"""Most body bytes a ``repr`` shows: reprs end up in logs and task descriptions, unbounded."""


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


@dataclass
class RequestRecord:
    """The request as it went on the wire (after any client transform)."""

    method: str
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def __repr__(self) -> str:
        # bounded: a repr (a log line, an asyncio task's description) never copies a whole body
        return f"RequestRecord({self.method} {_short(self.url)}, {len(self.body)} body bytes)"

    def header(self, name: str) -> str | None:
        return _header(self.headers, name)

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or ``None`` when it is empty or not JSON."""
        if not self.body:
            return None
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return parse_browser_json(text).value

    @property
    def chatkit_type(self) -> str | None:
        """The ChatKit request type (``threads.create``, ...) of a ChatKit envelope body."""
        payload = self.json
        if isinstance(payload, dict) and isinstance(payload.get("type"), str):
            return payload["type"]
        return None


@dataclass
class Chunk:
    """One piece of the response body as it arrived."""

    index: int
    offset_ns: int
    """Monotonic nanoseconds from the moment the request was sent."""
    data: bytes

    def __repr__(self) -> str:
        shown = repr(self.data[:REPR_BYTES]) + ("..." if len(self.data) > REPR_BYTES else "")
        return (
            f"Chunk(index={self.index}, offset_ns={self.offset_ns}, {len(self.data)} bytes {shown})"
        )


@dataclass
class Ending:
    """How the exchange ended."""

    state: str = "complete"
    """One of ``complete``, ``timeout``, ``reset``, ``error``, ``limit``, or ``stopped`` (the
    client stopped reading on purpose, as ChatKit's stop button does)."""
    message: str = ""
    at_ns: int | None = None

    def __post_init__(self) -> None:
        if self.state not in END_STATES:
            raise ValueError(f"unknown end state {self.state!r}; expected one of {END_STATES}")


def _header(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers:
        if key.lower() == wanted:
            return value
    return None


def _new_id() -> str:
    return uuid.uuid4().hex[:12]


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class Capture:
    """One recorded exchange. Frames and events are derived from ``chunks``."""

    request: RequestRecord
    status: int | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    headers_ns: int | None = None
    """When the response head arrived (ns from the request)."""
    chunks: list[Chunk] = field(default_factory=list)
    ending: Ending = field(default_factory=Ending)
    label: str = ""
    target: str = ""
    transport: str = ""
    timing: bool = True
    """``False`` when the source kept no per-chunk timing (a HAR file): timing checks skip."""
    id: str = field(default_factory=_new_id)
    started_at: str = field(default_factory=_now_iso)
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        # bounded: a 32 MiB body must not become a 128 MiB string in a log line or task repr
        return (
            f"Capture({self.name!r}, {self.request!r}, status={self.status}, "
            f"{len(self.chunks)} chunks, {self.size} bytes, ending={self.ending.state!r})"
        )

    def __post_init__(self) -> None:
        self._derived_key: tuple[int, int] | None = None
        self._dispatch: MessageParser = MessageParser()
        self._events: list[Event] = []
        self._frames_key: tuple[int, int] | None = None
        self._frames: list[Frame] = []
        self._body_key: tuple[int, int] | None = None
        self._body_json: BrowserJson = BrowserJson()
        self._size_memo: tuple[list[Chunk], int, Chunk | None, int] | None = None
        """``(chunks list, its length, its last chunk, total bytes)`` when ``size`` was known."""

    # -- recording -----------------------------------------------------------------------

    def add_chunk(self, data: bytes, offset_ns: int) -> Chunk:
        """Append a received chunk (used by transports while the body streams in)."""
        size = self.size
        chunks = self.chunks
        chunk = Chunk(index=len(chunks), offset_ns=offset_ns, data=bytes(data))
        chunks.append(chunk)
        self._size_memo = (chunks, len(chunks), chunk, size + len(chunk.data))
        return chunk

    # -- derived views -------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.label or self.id

    @property
    def body(self) -> bytes:
        return b"".join(chunk.data for chunk in self.chunks)

    @property
    def size(self) -> int:
        """Body bytes received so far.

        Kept up to date by :meth:`add_chunk` (transports ask for it after every piece, so
        summing each time made recording quadratic); summed afresh whenever ``chunks`` was
        replaced, grown or shrunk, or its last chunk swapped, by other means.
        """
        chunks = self.chunks
        memo = self._size_memo
        if (
            memo is not None
            and memo[0] is chunks
            and memo[1] == len(chunks)
            and (memo[2] is (chunks[-1] if chunks else None))
        ):
            return memo[3]
        total = sum(len(chunk.data) for chunk in chunks)
        self._size_memo = (chunks, len(chunks), chunks[-1] if chunks else None, total)
        return total

    def header(self, name: str) -> str | None:
        """A response header by case-insensitive name."""
        return _header(self.response_headers, name)

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    @property
    def is_event_stream(self) -> bool:
        return self.content_type == "text/event-stream"

    @property
    def request_type(self) -> str | None:
        return self.request.chatkit_type

    def _key(self) -> tuple[int, int]:
        return (len(self.chunks), self.size)

    def _derive(self) -> None:
        key = self._key()
        if key != self._derived_key:
            self._dispatch = run_message_parser(self.chunks)
            careful = may_differ(self.body)  # one scan of the body, not one per event
            self._events = decode_messages(self._dispatch.messages, careful=careful)
            self._derived_key = key

    @property
    def messages(self) -> list[Message]:
        """The messages ChatKit's parser (``fetch-event-source``) dispatches, empty ones too."""
        self._derive()
        return self._dispatch.messages

    @property
    def dispatch(self) -> MessageParser:
        """ChatKit's parser after the whole body: its messages, and what it left undispatched
        (``undispatched``, ``unterminated``, ``tail_notes``), ``last_event_id``, ``retry_ms``."""
        self._derive()
        return self._dispatch

    @property
    def frames(self) -> list[Frame]:
        """SSE frames as a browser's ``EventSource`` (WHATWG) cuts them, undispatched ones too.

        The byte-level second opinion; the events the checks judge come from :attr:`messages`.
        """
        key = self._key()
        if key != self._frames_key:
            self._frames = parse_frames(self.chunks)
            self._frames_key = key
        return self._frames

    @property
    def events(self) -> list[Event]:
        """Decoded events: the messages ChatKit's parser dispatches that carry data.

        A message with empty data (a keep-alive comment's blank line, a ``retry:``-only block)
        reaches ChatKit's UI too; what the UI does with it is not known, and the kit models it
        as ignored (the framing layer reports it).
        """
        self._derive()
        return self._events

    def json_result(self) -> BrowserJson:
        """The whole body judged as the browser's ``Response.json()`` judges it (never raises):
        the value, why it did not decode, and the numbers and strings the browser reads
        differently."""
        key = self._key()
        if key != self._body_key:
            self._body_json = browser_json_body(self.body)
            self._body_key = key
        return self._body_json

    def json_body(self) -> Any:
        """The whole body parsed as JSON (for non-streaming replies); ``None`` if not JSON.

        Parsed as the browser parses it (see :meth:`json_result`): ``NaN``/``Infinity`` are not
        JSON, lone surrogates come back as U+FFFD, and nothing raises.
        """
        return self.json_result().value

    # -- tables (see chatkit_lab.capture._display) -----------------------------------

    def chunks_df(self, redactor: Redactor | None = None) -> pd.DataFrame:
        """One row per chunk: arrival offset, gap since the previous chunk, size, preview."""
        from chatkit_lab.capture._display import chunks_table

        return chunks_table(self, redactor)

    def frames_df(self, redactor: Redactor | None = None) -> pd.DataFrame:
        """One row per SSE frame: byte range, chunks, arrival, line endings, fields, dispatch."""
        from chatkit_lab.capture._display import frames_table

        return frames_table(self, redactor)

    def events_df(self, redactor: Redactor | None = None) -> pd.DataFrame:
        """One row per dispatched event: arrival, SSE name, JSON ``type``, decode error."""
        from chatkit_lab.capture._display import events_table

        return events_table(self, redactor)

    def summary(self, redactor: Redactor | None = None) -> dict[str, Any]:
        """A one-row overview of the exchange (its strings redacted)."""
        from chatkit_lab.capture._display import capture_summary

        return capture_summary(self, redactor)

    # -- persistence (see chatkit_lab.capture._files) --------------------------------

    def to_records(self) -> Iterator[dict[str, Any]]:
        """The JSON Lines records of this capture (header, chunks, derived, end)."""
        from chatkit_lab.capture._files import capture_records

        return capture_records(self)

    def save(
        self,
        path: str | Path,
        *,
        redact: bool = True,
        extra_secrets: Iterable[str] = (),
        redactor: Redactor | None = None,
    ) -> Path:
        """Write this capture alone to ``path`` (JSON Lines). Secrets are redacted by default."""
        from chatkit_lab.capture._files import save_captures

        return save_captures(
            [self], path, redact=redact, extra_secrets=extra_secrets, redactor=redactor
        )

    @classmethod
    def load(cls, path: str | Path) -> Capture:
        """Read a file holding exactly one capture."""
        from chatkit_lab.capture._files import load_captures

        captures = load_captures(path)
        if len(captures) != 1:
            raise CaptureFormatError(
                f"{path}: holds {len(captures)} captures; use load_captures() to read them all"
            )
        return captures[0]

    def equivalent(self, other: Capture) -> bool:
        """Same exchange: request, response, chunks (bytes and times) and ending all equal."""
        return list(self.to_records()) == list(other.to_records())

    def copy(self, **changes: Any) -> Capture:
        """A shallow copy with some fields replaced (derived data recomputed)."""
        return replace(self, **changes)
