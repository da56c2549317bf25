"""The capture model: one HTTP exchange, byte for byte, with arrival times.

A :class:`Capture` holds the request as sent, the response status and headers, every body chunk
as received (bytes plus a monotonic arrival offset in nanoseconds from the moment the request was
sent), and how the exchange ended. Frames and events are derived from the chunks on demand, so a
capture loaded from disk is analysed exactly like a fresh one.

Saved form: JSON Lines, one ``capture`` header record, one ``chunk`` record per chunk, derived
``frame`` and ``event`` records for readers (ignored on load: they are recomputed), and an ``end``
record that lets a truncated file be told apart from a complete one.
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

import pandas as pd

from chatkit_lab.errors import CaptureFormatError
from chatkit_lab.sse._events import Event, decode_events
from chatkit_lab.sse._frames import Frame, parse_frames

CAPTURE_FORMAT = "chatkit-lab.capture"
CAPTURE_VERSION = 1

EndState = Literal["complete", "timeout", "reset", "error", "limit"]
END_STATES: tuple[str, ...] = ("complete", "timeout", "reset", "error", "limit")


@dataclass
class RequestRecord:
    """The request as it went on the wire (after any client transform)."""

    method: str
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return _header(self.headers, name)

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or ``None`` when it is empty or not JSON."""
        try:
            return json.loads(self.body) if self.body else None
        except (ValueError, UnicodeDecodeError):
            return None

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


@dataclass
class Ending:
    """How the exchange ended."""

    state: str = "complete"
    """One of ``complete``, ``timeout``, ``reset``, ``error``, ``limit``."""
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

    def __post_init__(self) -> None:
        self._derived_key: tuple[int, int] | None = None
        self._frames: list[Frame] = []
        self._events: list[Event] = []
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

    def _derive(self) -> None:
        key = (len(self.chunks), self.size)
        if key != self._derived_key:
            self._frames = parse_frames(self.chunks)
            self._events = decode_events(self._frames)
            self._derived_key = key

    @property
    def frames(self) -> list[Frame]:
        """SSE frames as a browser would cut them (including undispatched ones)."""
        self._derive()
        return self._frames

    @property
    def events(self) -> list[Event]:
        """Decoded events for the frames a browser would dispatch."""
        self._derive()
        return self._events

    def json_body(self) -> Any:
        """The whole body parsed as JSON (for non-streaming replies); ``None`` if not JSON."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None

    # -- tables --------------------------------------------------------------------------

    def chunks_df(self) -> pd.DataFrame:
        """One row per chunk: arrival offset, gap since the previous chunk, size, preview."""
        rows = []
        previous = 0
        for chunk in self.chunks:
            rows.append(
                {
                    "chunk": chunk.index,
                    "arrived_ms": chunk.offset_ns / 1e6 if self.timing else None,
                    "gap_ms": (chunk.offset_ns - previous) / 1e6 if self.timing else None,
                    "bytes": len(chunk.data),
                    "preview": _preview(chunk.data),
                }
            )
            previous = chunk.offset_ns
        columns = ["chunk", "arrived_ms", "gap_ms", "bytes", "preview"]
        return pd.DataFrame(rows, columns=columns)

    def frames_df(self) -> pd.DataFrame:
        """One row per SSE frame: byte range, chunks, arrival, line endings, fields, dispatch."""
        rows = []
        for frame in self.frames:
            rows.append(
                {
                    "frame": frame.index,
                    "bytes": f"{frame.start}..{frame.end}",
                    "chunks": (
                        str(frame.first_chunk)
                        if frame.first_chunk == frame.last_chunk
                        else f"{frame.first_chunk}..{frame.last_chunk}"
                    ),
                    "arrived_ms": frame.arrived_ns / 1e6 if self.timing else None,
                    "line_ending": frame.line_ending,
                    "fields": ",".join(name for name, _ in frame.fields),
                    "event": frame.event,
                    "id": frame.id,
                    "dispatched": frame.dispatched,
                    "complete": frame.complete,
                    "data": _shorten(frame.data, 80),
                    "notes": "; ".join(frame.notes),
                }
            )
        columns = [
            "frame",
            "bytes",
            "chunks",
            "arrived_ms",
            "line_ending",
            "fields",
            "event",
            "id",
            "dispatched",
            "complete",
            "data",
            "notes",
        ]
        return pd.DataFrame(rows, columns=columns)

    def events_df(self) -> pd.DataFrame:
        """One row per dispatched event: arrival, SSE name, JSON ``type``, decode error."""
        rows = []
        for event in self.events:
            rows.append(
                {
                    "event": event.index,
                    "frame": event.frame_index,
                    "arrived_ms": event.arrived_ns / 1e6 if self.timing else None,
                    "sse_event": event.sse_event,
                    "type": event.type,
                    "decode_error": event.decode_error,
                    "data": _shorten(event.data, 80),
                }
            )
        columns = ["event", "frame", "arrived_ms", "sse_event", "type", "decode_error", "data"]
        return pd.DataFrame(rows, columns=columns)

    def summary(self) -> dict[str, Any]:
        """A one-row overview of the exchange."""
        return {
            "capture": self.name,
            "target": self.target,
            "transport": self.transport,
            "request": self.request_type or f"{self.request.method} {self.request.url}",
            "status": self.status,
            "content_type": self.content_type,
            "chunks": len(self.chunks),
            "bytes": self.size,
            "frames": len(self.frames),
            "events": len(self.events),
            "ended": self.ending.state,
            "duration_ms": (
                (self.ending.at_ns or (self.chunks[-1].offset_ns if self.chunks else 0)) / 1e6
                if self.timing
                else None
            ),
        }

    # -- persistence ---------------------------------------------------------------------

    def to_records(self) -> Iterator[dict[str, Any]]:
        """The JSON Lines records of this capture (header, chunks, derived, end)."""
        yield {
            "record": "capture",
            "format": CAPTURE_FORMAT,
            "version": CAPTURE_VERSION,
            "id": self.id,
            "label": self.label,
            "target": self.target,
            "transport": self.transport,
            "started_at": self.started_at,
            "timing": self.timing,
            "request": {
                "method": self.request.method,
                "url": self.request.url,
                "headers": [list(pair) for pair in self.request.headers],
                "body": _encode_bytes(self.request.body),
            },
            "status": self.status,
            "response_headers": [list(pair) for pair in self.response_headers],
            "headers_ns": self.headers_ns,
            "ending": {
                "state": self.ending.state,
                "message": self.ending.message,
                "at_ns": self.ending.at_ns,
            },
            "notes": list(self.notes),
            "meta": self.meta,
        }
        for chunk in self.chunks:
            yield {
                "record": "chunk",
                "capture": self.id,
                "index": chunk.index,
                "offset_ns": chunk.offset_ns,
                **_encode_bytes(chunk.data),
            }
        for frame in self.frames:
            yield {"record": "frame", "capture": self.id, **frame.to_dict()}
        for event in self.events:
            yield {"record": "event", "capture": self.id, **event.to_dict()}
        yield {"record": "end", "capture": self.id, "chunks": len(self.chunks), "bytes": self.size}

    def save(
        self, path: str | Path, *, redact: bool = True, extra_secrets: Iterable[str] = ()
    ) -> Path:
        """Write this capture alone to ``path`` (JSON Lines). Secrets are redacted by default."""
        return save_captures([self], path, redact=redact, extra_secrets=extra_secrets)

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


def _preview(data: bytes, limit: int = 60) -> str:
    return _shorten(data.decode("utf-8", errors="replace"), limit)


def _shorten(text: str, limit: int) -> str:
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def save_captures(
    captures: Iterable[Capture],
    path: str | Path,
    *,
    redact: bool = True,
    extra_secrets: Iterable[str] = (),
) -> Path:
    """Write captures to one JSON Lines file, redacting secrets unless ``redact=False``.

    ``extra_secrets`` are literal values (a staging token from the environment, say) scrubbed
    too, wherever they appear, on top of the token shapes redaction always recognises.
    """
    from chatkit_lab.redact._engine import redact_capture

    extra = list(extra_secrets)

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".partial")
    with tmp.open("w", encoding="utf-8") as handle:
        for capture in captures:
            saved = redact_capture(capture, extra=extra) if redact else capture
            for record in saved.to_records():
                handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
                handle.write("\n")
    tmp.replace(target)
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
        except ValueError:
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
        elif kind in ("frame", "event"):
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
            meta=dict(record.get("meta", {})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CaptureFormatError(f"{where}: malformed capture header ({exc})") from None
    return capture
