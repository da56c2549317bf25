"""The capture model: one HTTP exchange, byte for byte, with arrival times.

A :class:`Capture` holds the request as sent, the response status and headers, every body chunk
as received (bytes plus a monotonic arrival offset in nanoseconds from the moment the request was
sent), and how the exchange ended. The messages ChatKit's parser dispatches and their events are
derived from the chunks on demand (by :mod:`chatkit_lab.sse`), so a capture loaded from disk is
analysed exactly like a fresh one.

Saved form (JSON Lines, redacted when saved): one ``capture`` header record, one ``chunk``
record per chunk, derived ``message`` and ``event`` records for readers (ignored on load: they
are recomputed, and so are the ``frame`` records of files from earlier versions), and an ``end``
record that lets a truncated file be told apart from a complete one. A file is written whole or
not at all (to a ``.partial`` file first, then renamed). The tables of a capture are the
presentation stage's (:mod:`chatkit_lab.report`).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from chatkit_lab.errors import CaptureFormatError
from chatkit_lab.redact import Redactor, current_redactor
from chatkit_lab.sse import (
    BrowserJson,
    Event,
    Message,
    MessageParser,
    browser_json_body,
    decode_messages,
    may_differ,
    parse_browser_json,
    run_message_parser,
)

EndState = Literal["complete", "timeout", "reset", "error", "limit", "stopped"]
END_STATES: tuple[str, ...] = ("complete", "timeout", "reset", "error", "limit", "stopped")
CAPTURE_FORMAT = "chatkit-lab.capture"
CAPTURE_VERSION = 1


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
    client_type: str | None = None
    """The ChatKit request type the client sent (``threads.create``), before a transform or
    fetch rewrote the request; ``None`` when no client was played (a HAR file, a proxy)."""
    answered_locally: bool = False
    """The client's fetch (or transform) answered the request itself: the backend never saw it."""
    kit: bool = False
    """A request the kit made for itself (a probe, a load it checks with, a cleanup), not
    ChatKit's: kept, not judged."""
    cleanup: bool = False
    """The kit deleting a thread the run created (a :attr:`kit` request)."""
    attempt: int = 0
    """Which re-send of a streaming request ChatKit's host script made (0: the first try)."""
    retry_wait_s: tuple[float, float] | None = None
    """How long ChatKit waits before that re-send (the shortest and the longest, seconds)."""
    fetch_error: str | None = None
    """What the custom fetch threw instead of returning a Response."""
    fetch_undefined: list[str] = field(default_factory=list)
    """Names the custom fetch used without defining them (their ReferenceError caught)."""
    fetch_body_error: str | None = None
    """Why the body ChatKit read from the fetch's Response broke off (the wire's arrived whole)."""
    fetch_body_bytes: int | None = None
    """How many bytes of that body ChatKit read before it broke off."""
    redirects: list[dict[str, Any]] = field(default_factory=list)
    """The redirects the transport followed, one ``{"status", "url", "location"}`` each."""
    content_encoding: dict[str, Any] | None = None
    """What a source did with the body's ``Content-Encoding`` (``{"coding": "gzip", "decoded":
    true, "raw_bytes": ...}``, see :mod:`chatkit_lab.sources`); ``None``: nothing decoded."""
    body_missing: bool = False
    """The file the capture was read from did not save the response body (a HAR)."""
    thread_items_before: list[str] = field(default_factory=list)
    """The item ids the thread held before this request (recorded by a scenario's session)."""

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

    def summary(self, redactor: Redactor | None = None) -> dict[str, Any]:
        """A one-row overview of the exchange (its strings redacted)."""
        return capture_summary(self, redactor)

    # -- persistence -----------------------------------------------------------------------

    def to_records(self) -> Iterator[dict[str, Any]]:
        """The JSON Lines records of this capture (header, chunks, derived, end)."""
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
        return save_captures(
            [self], path, redact=redact, extra_secrets=extra_secrets, redactor=redactor
        )

    @classmethod
    def load(cls, path: str | Path) -> Capture:
        """Read a file holding exactly one capture."""
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


def capture_summary(capture: Capture, redactor: Redactor | None = None) -> dict[str, Any]:
    """A one-row overview of the exchange (its strings redacted)."""
    summary = {
        "capture": capture.name,
        "target": capture.target,
        "transport": capture.transport,
        "request": capture.request_type or f"{capture.request.method} {capture.request.url}",
        "status": capture.status,
        "content_type": capture.content_type,
        "chunks": len(capture.chunks),
        "bytes": capture.size,
        "messages": len(capture.messages),
        "events": len(capture.events),
        "ended": capture.ending.state,
        "duration_ms": (
            (capture.ending.at_ns or (capture.chunks[-1].offset_ns if capture.chunks else 0)) / 1e6
            if capture.timing
            else None
        ),
    }
    return (redactor or current_redactor()).redact_obj(summary)


def redact_capture(
    capture: Capture, *, extra: Iterable[str] = (), redactor: Redactor | None = None
) -> Capture:
    """A copy of ``capture`` safe to save: URL, headers, bodies, notes, meta all redacted.

    The response body is redacted as a whole and cut again at the original chunk boundaries
    (see :meth:`~chatkit_lab.redact.Redactor.redact_chunks`): chunk count, indices and arrival
    offsets are kept; a chunk's bytes may change length. ``redactor`` defaults to the current
    one; ``extra`` secrets are scrubbed too.
    """
    scrub = (redactor or current_redactor()).with_secrets(extra)
    request = replace(
        capture.request,
        url=scrub.redact_url(capture.request.url),
        headers=scrub.redact_headers(capture.request.headers),
        body=scrub.redact_bytes(capture.request.body),
    )
    bodies = scrub.redact_chunks([chunk.data for chunk in capture.chunks])
    chunks = [
        Chunk(chunk.index, chunk.offset_ns, data)
        for chunk, data in zip(capture.chunks, bodies, strict=True)
    ]
    return replace(
        capture,
        request=request,
        response_headers=scrub.redact_headers(capture.response_headers),
        chunks=chunks,
        ending=replace(capture.ending, message=scrub.redact_text(capture.ending.message)),
        label=scrub.redact_text(capture.label),
        target=scrub.redact_string(capture.target),
        notes=[scrub.redact_text(note) for note in capture.notes],
        meta=scrub.redact_obj(capture.meta),
        client_type=scrub.redact_obj(capture.client_type),
        fetch_error=scrub.redact_obj(capture.fetch_error),
        fetch_undefined=scrub.redact_obj(capture.fetch_undefined),
        fetch_body_error=scrub.redact_obj(capture.fetch_body_error),
        redirects=scrub.redact_obj(capture.redirects),
        content_encoding=scrub.redact_obj(capture.content_encoding),
        thread_items_before=scrub.redact_obj(capture.thread_items_before),
    )


def capture_records(capture: Capture) -> Iterator[dict[str, Any]]:
    """The JSON Lines records of a capture (header, chunks, derived, end)."""
    yield {
        "record": "capture",
        "format": CAPTURE_FORMAT,
        "version": CAPTURE_VERSION,
        "id": capture.id,
        "label": capture.label,
        "target": capture.target,
        "transport": capture.transport,
        "started_at": capture.started_at,
        "timing": capture.timing,
        "request": {
            "method": capture.request.method,
            "url": capture.request.url,
            "headers": [list(pair) for pair in capture.request.headers],
            "body": _encode_bytes(capture.request.body),
        },
        "status": capture.status,
        "response_headers": [list(pair) for pair in capture.response_headers],
        "headers_ns": capture.headers_ns,
        "ending": {
            "state": capture.ending.state,
            "message": capture.ending.message,
            "at_ns": capture.ending.at_ns,
        },
        "notes": list(capture.notes),
        "meta": capture.meta,
        **{name: getattr(capture, name) for name in _FORMERLY_META},
    }
    for chunk in capture.chunks:
        yield {
            "record": "chunk",
            "capture": capture.id,
            "index": chunk.index,
            "offset_ns": chunk.offset_ns,
            **_encode_bytes(chunk.data),
        }
    for message in capture.messages:
        yield {"record": "message", "capture": capture.id, **message.to_dict()}
    for event in capture.events:
        yield {"record": "event", "capture": capture.id, **event.to_dict()}
    yield {
        "record": "end",
        "capture": capture.id,
        "chunks": len(capture.chunks),
        "bytes": capture.size,
    }


def _encode_bytes(data: bytes) -> dict[str, str]:
    try:
        return {"text": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"b64": base64.b64encode(data).decode("ascii")}


def _decode_bytes(record: dict[str, Any], where: str) -> bytes:
    if "text" in record and isinstance(record["text"], str):
        return record["text"].encode("utf-8")
    if "b64" in record and isinstance(record["b64"], str):
        try:
            return base64.b64decode(record["b64"], validate=True)
        except ValueError as exc:
            raise CaptureFormatError(f"{where}: bad base64 body ({exc})") from None
    raise CaptureFormatError(f"{where}: body has neither 'text' nor 'b64'")


def save_captures(
    captures: Iterable[Capture],
    path: str | Path,
    *,
    redact: bool = True,
    extra_secrets: Iterable[str] = (),
    redactor: Redactor | None = None,
) -> Path:
    """Write captures to one JSON Lines file, redacting secrets unless ``redact=False``.

    Redaction uses ``redactor`` (by default the current one, see
    :func:`~chatkit_lab.redact.current_redactor`); ``extra_secrets`` are literal values (a
    staging token from the environment, say) scrubbed too, wherever they appear, on top of the
    token shapes redaction always recognises.
    """
    scrub = (redactor or current_redactor()).with_secrets(extra_secrets)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".partial")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            for capture in captures:
                saved = redact_capture(capture, redactor=scrub) if redact else capture
                for record in capture_records(saved):
                    handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
                    handle.write("\n")
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def load_captures(path: str | Path) -> list[Capture]:
    """Read every capture in a JSON Lines capture file.

    Raises :class:`CaptureFormatError` naming the file and line for a foreign file, a version
    this kit cannot read, a corrupt record or a truncated capture.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CaptureFormatError(f"{source}: no such capture file") from None
    except UnicodeDecodeError as exc:
        raise CaptureFormatError(f"{source}: not a capture file (not UTF-8 text: {exc})") from None
    except OSError as exc:
        raise CaptureFormatError(f"{source}: cannot read ({exc.strerror})") from None
    captures: list[Capture] = []
    current: Capture | None = None
    # Records end with "\n" only: str.splitlines() would also cut at U+2028, U+0085 and other
    # separators that json.dumps(ensure_ascii=False) leaves raw inside a record's strings.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            if not captures and current is None:
                raise CaptureFormatError(
                    f"{source}: not a chatkit-lab capture file (line 1 is not JSON)"
                ) from None
            raise CaptureFormatError(f"{where}: corrupt record (not JSON)") from None
        if not isinstance(record, dict) or "record" not in record:
            raise CaptureFormatError(
                f"{where}: not a chatkit-lab capture record"
                + ("" if captures or current else " (is this a HAR or another tool's file?)")
            )
        kind = record["record"]
        if kind == "capture":
            if current is not None:
                raise CaptureFormatError(f"{where}: capture {current.id} has no end record")
            current = _capture_from_header(record, where)
        elif current is None:
            raise CaptureFormatError(f"{where}: {kind!r} record outside a capture")
        elif kind == "chunk":
            if record.get("capture") != current.id:
                raise CaptureFormatError(f"{where}: chunk belongs to another capture")
            offset = record.get("offset_ns")
            if not isinstance(offset, int):
                raise CaptureFormatError(f"{where}: chunk without an integer offset_ns")
            current.add_chunk(_decode_bytes(record, where), offset)
        elif kind in ("message", "event", "frame"):  # derived: recomputed from the chunks
            continue
        elif kind == "end":
            if record.get("chunks") != len(current.chunks) or record.get("bytes") != current.size:
                raise CaptureFormatError(
                    f"{where}: capture {current.id} is incomplete: end record says "
                    f"{record.get('chunks')} chunks / {record.get('bytes')} bytes, "
                    f"file holds {len(current.chunks)} / {current.size}"
                )
            captures.append(current)
            current = None
        else:
            raise CaptureFormatError(f"{where}: unknown record type {kind!r}")
    if current is not None:
        raise CaptureFormatError(
            f"{source}: capture {current.id} is truncated (no end record after "
            f"{len(current.chunks)} chunks)"
        )
    if not captures:
        raise CaptureFormatError(f"{source}: holds no captures")
    return captures


_FORMERLY_META = (
    "client_type",
    "answered_locally",
    "kit",
    "cleanup",
    "attempt",
    "retry_wait_s",
    "fetch_error",
    "fetch_undefined",
    "fetch_body_error",
    "fetch_body_bytes",
    "redirects",
    "content_encoding",
    "thread_items_before",
    "body_missing",
)
"""Fields of the capture header that files saved by earlier versions kept in ``meta``
(``body_missing`` in ``meta["har"]``)."""


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _facts(meta: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """The header's :data:`_FORMERLY_META` fields (taken out of ``meta`` in an earlier file),
    each of its type, else its default."""
    kept = {name: meta.pop(name) for name in _FORMERLY_META if name in meta}
    har = meta.get("har")
    if isinstance(har, dict) and "body_missing" in har:
        meta["har"] = {key: value for key, value in har.items() if key != "body_missing"}
        kept["body_missing"] = har["body_missing"]
    kept.update((name, record[name]) for name in _FORMERLY_META if name in record)
    attempt, wait, got = kept.get("attempt"), kept.get("retry_wait_s"), kept.get("fetch_body_bytes")
    undefined = kept.get("fetch_undefined")
    undefined = undefined if isinstance(undefined, list) else []
    hops = kept.get("redirects")
    hops = hops if isinstance(hops, list) else []
    coding = kept.get("content_encoding")
    held = kept.get("thread_items_before")
    held = held if isinstance(held, list) else []
    return {
        "client_type": _text(kept.get("client_type")),
        "answered_locally": bool(kept.get("answered_locally")),
        "kit": bool(kept.get("kit")),
        "cleanup": bool(kept.get("cleanup")),
        "attempt": attempt if isinstance(attempt, int) else 0,
        "retry_wait_s": (wait[0], wait[1]) if isinstance(wait, list) and len(wait) == 2 else None,
        "fetch_error": _text(kept.get("fetch_error")),
        "fetch_undefined": [str(name) for name in undefined],
        "fetch_body_error": _text(kept.get("fetch_body_error")),
        "fetch_body_bytes": got if isinstance(got, int) else None,
        "redirects": [hop for hop in hops if isinstance(hop, dict)],
        "content_encoding": coding if isinstance(coding, dict) else None,
        "body_missing": bool(kept.get("body_missing")),
        "thread_items_before": [str(item) for item in held],
    }


def _capture_from_header(record: dict[str, Any], where: str) -> Capture:
    if record.get("format") != CAPTURE_FORMAT:
        raise CaptureFormatError(
            f"{where}: not a chatkit-lab capture (format {record.get('format')!r})"
        )
    version = record.get("version")
    if not isinstance(version, int):
        raise CaptureFormatError(f"{where}: capture header without a version")
    if version > CAPTURE_VERSION:
        raise CaptureFormatError(
            f"{where}: capture format version {version} is newer than this chatkit-lab reads "
            f"({CAPTURE_VERSION}); upgrade chatkit-lab"
        )
    if version < CAPTURE_VERSION:
        raise CaptureFormatError(
            f"{where}: capture format version {version} is older than this chatkit-lab reads "
            f"({CAPTURE_VERSION}); re-capture it"
        )
    try:
        request = record["request"]
        ending = record.get("ending") or {}
        meta = dict(record.get("meta", {}))
        facts = _facts(meta, record)
        capture = Capture(
            request=RequestRecord(
                method=request["method"],
                url=request["url"],
                headers=[(str(k), str(v)) for k, v in request.get("headers", [])],
                body=_decode_bytes(request.get("body") or {"text": ""}, where),
            ),
            status=record.get("status"),
            response_headers=[(str(k), str(v)) for k, v in record.get("response_headers", [])],
            headers_ns=record.get("headers_ns"),
            ending=Ending(
                state=ending.get("state", "complete"),
                message=ending.get("message", ""),
                at_ns=ending.get("at_ns"),
            ),
            label=record.get("label", ""),
            target=record.get("target", ""),
            transport=record.get("transport", ""),
            timing=bool(record.get("timing", True)),
            id=record["id"],
            started_at=record.get("started_at", ""),
            notes=list(record.get("notes", [])),
            meta=meta,
            **facts,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CaptureFormatError(f"{where}: malformed capture header ({exc})") from None
    return capture
