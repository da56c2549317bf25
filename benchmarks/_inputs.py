"""Large generated inputs for the cost benchmarks (written to a temporary folder, never the repo).

* :func:`write_har`: a Chrome-style HAR export of a ChatKit session, of about a given size:
  each ``threads.create`` entry carries an event-stream body of reference events, each
  ``threads.get_by_id`` entry a JSON body, with the static entries a page load adds;
* :func:`one_byte_capture`: one capture holding ``n`` frames ``data: 1`` (each event's data is
  one byte), cut into network-sized chunks;
* :func:`unknown_types_capture`: one capture of ``n`` events, each of a distinct unknown type.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chatkit_lab import Capture
from chatkit_lab.capture import RequestRecord

from ._streams import reference_chunks

__all__ = ["one_byte_capture", "unknown_types_capture", "write_har"]

CHUNK_BYTES = 16 * 1024
"""How much of a body arrives in one chunk of the generated captures (a network read)."""


def _stream_capture(body: bytes, chunk_bytes: int = CHUNK_BYTES) -> Capture:
    capture = Capture(
        request=RequestRecord(
            "POST",
            "http://127.0.0.1/chatkit",
            [("content-type", "application/json")],
            b'{"type":"threads.create","params":{"input":{"content":[]}}}',
        ),
        status=200,
        response_headers=[("content-type", "text/event-stream")],
        headers_ns=1_000,
        label="threads.create",
        transport="synthetic",
    )
    for position, start in enumerate(range(0, len(body), chunk_bytes)):
        capture.add_chunk(body[start : start + chunk_bytes], (position + 2) * 1_000)
    return capture


def one_byte_capture(events: int) -> Capture:
    """``events`` frames ``data: 1`` (one-byte events) in one threads.create capture."""
    return _stream_capture(b"data: 1\n\n" * events)


def one_byte_body(events: int) -> bytes:
    """The body of :func:`one_byte_capture`."""
    return b"data: 1\n\n" * events


def unknown_types_capture(events: int) -> Capture:
    """``events`` events, each of its own unknown type (``x.type.0``, ``x.type.1``, ...)."""
    body = b"".join(
        b'data: {"type":"x.type.%d","n":%d}\n\n' % (number, number) for number in range(events)
    )
    return _stream_capture(body)


def _header(name: str, value: str) -> dict[str, str]:
    return {"name": name, "value": value}


def _entry(
    number: int, url: str, body: dict[str, Any] | None, mime: str, text: str, kind: str
) -> dict[str, Any]:
    post = (
        {"mimeType": "application/json", "text": json.dumps(body, separators=(",", ":"))}
        if body is not None
        else None
    )
    request: dict[str, Any] = {
        "method": "POST" if post else "GET",
        "url": url,
        "httpVersion": "http/2.0",
        "headers": [
            _header(":authority", "app.example.test"),
            _header("content-type", "application/json"),
            _header("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/132.0.0.0"),
        ],
        "queryString": [],
        "cookies": [],
        "headersSize": -1,
        "bodySize": len(post["text"]) if post else 0,
    }
    if post:
        request["postData"] = post
    return {
        "_resourceType": kind,
        "cache": {},
        "connection": "443",
        "pageref": "page_1",
        "request": request,
        "response": {
            "status": 200,
            "statusText": "",
            "httpVersion": "http/2.0",
            "headers": [_header("content-type", mime), _header("cache-control", "no-cache")],
            "cookies": [],
            "content": {"size": len(text), "mimeType": mime, "text": text},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
            "_transferSize": len(text),
            "_error": None,
        },
        "serverIPAddress": "192.0.2.20",
        "startedDateTime": _started(number),
        "time": 120.5,
        "timings": {"blocked": 1.1, "send": 0.1, "wait": 9.8, "receive": 110.0},
    }


def _started(number: int) -> str:
    """Entry ``number``'s start, a second after the one before (in time order, as a browser
    writes them, however many entries there are)."""
    started = datetime(2026, 2, 11, 14, tzinfo=UTC) + timedelta(seconds=number)
    return started.strftime("%Y-%m-%dT%H:%M:%S.101Z")


def write_har(path: Path, total_bytes: int, stream_bytes: int = 1_000_000) -> dict[str, int]:
    """Write a HAR of about ``total_bytes`` to ``path``; returns its entry counts and size.

    Each turn is a ``threads.create`` entry whose event-stream body is about ``stream_bytes``
    of reference events, then a ``threads.get_by_id`` JSON entry and a static script entry.
    The file is written entry by entry, so writing it needs no more memory than one entry.
    """
    events = max(8, stream_bytes // 100)
    stream_text = b"".join(reference_chunks(events)).decode("utf-8")
    reload_text = json.dumps(
        {"id": "thr_bench", "items": {"data": [{"id": "msg_1", "type": "user_message"}]}}
    )
    static = "console.log('app');\n" * 50
    counts = {"entries": 0, "streams": 0, "bytes": 0}
    with path.open("w", encoding="utf-8") as handle:
        handle.write('{"log": {"version": "1.2", "creator": {"name": "WebInspector", ')
        handle.write('"version": "537.36"}, "pages": [], "entries": [\n')
        written = handle.tell()
        number = 0
        while written < total_bytes:
            turn = [
                _entry(
                    number,
                    "https://app.example.test/_next/static/chunks/app.js",
                    None,
                    "application/javascript",
                    static,
                    "script",
                ),
                _entry(
                    number + 1,
                    "https://api.example.test/chatkit",
                    {"type": "threads.create", "params": {"input": {"content": []}}},
                    "text/event-stream",
                    stream_text,
                    "fetch",
                ),
                _entry(
                    number + 2,
                    "https://api.example.test/chatkit",
                    {"type": "threads.get_by_id", "params": {"thread_id": "thr_bench"}},
                    "application/json",
                    reload_text,
                    "fetch",
                ),
            ]
            for entry in turn:
                handle.write(("" if number == 0 else ",\n") + json.dumps(entry))
                number += 1
            counts["streams"] += 1
            written = handle.tell()
        handle.write("\n]}}\n")
        counts["entries"] = number
        counts["bytes"] = handle.tell()
    return counts
