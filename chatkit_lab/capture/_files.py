"""Saving and loading captures: JSON Lines, redacted when saved.

Saved form: one ``capture`` header record, one ``chunk`` record per chunk, derived ``frame`` and
``event`` records for readers (ignored on load: they are recomputed), and an ``end`` record that
lets a truncated file be told apart from a complete one. A file is written whole or not at all
(to a ``.partial`` file first, then renamed).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from chatkit_lab.capture._model import Capture, Ending, RequestRecord
from chatkit_lab.capture._redaction import redact_capture
from chatkit_lab.errors import CaptureFormatError
from chatkit_lab.redact import Redactor, current_redactor

CAPTURE_FORMAT = "chatkit-lab.capture"
CAPTURE_VERSION = 1


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
    }
    for chunk in capture.chunks:
        yield {
            "record": "chunk",
            "capture": capture.id,
            "index": chunk.index,
            "offset_ns": chunk.offset_ns,
            **_encode_bytes(chunk.data),
        }
    for frame in capture.frames:
        yield {"record": "frame", "capture": capture.id, **frame.to_dict()}
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
