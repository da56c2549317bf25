"""Tables of a capture, for notebooks and reports: redacted, then shortened.

``chunks_table(capture)``, ``frames_table(capture)`` and ``events_table(capture)`` give one row
per chunk, SSE frame and decoded event.

Every string in a table is redacted first (the chunk previews across chunk boundaries, as when
saving) and only then cut, so a shortened cell never holds part of a secret.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from chatkit_lab.capture import Capture
from chatkit_lab.redact import Redactor, current_redactor, shorten

__all__ = ["chunks_table", "events_table", "frames_table"]

PREVIEW_LIMIT = 60
DATA_LIMIT = 80

CHUNK_COLUMNS = ["chunk", "arrived_ms", "gap_ms", "bytes", "preview"]
FRAME_COLUMNS = [
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
EVENT_COLUMNS = ["event", "frame", "arrived_ms", "sse_event", "type", "decode_error", "data"]


def one_line(text: str) -> str:
    """``text`` with its line breaks shown as ``\\r`` and ``\\n``, for a table cell."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _scrubbed(table: pd.DataFrame, redactor: Redactor | None, limits: dict[str, int]) -> Any:
    out = (redactor or current_redactor()).redact_dataframe(table)
    for column, limit in limits.items():
        out[column] = [
            shorten(one_line(value), limit) if isinstance(value, str) else value
            for value in out[column]
        ]
    return out


def chunks_table(capture: Capture, redactor: Redactor | None = None) -> pd.DataFrame:
    """One row per chunk: arrival offset, gap since the previous chunk, size, preview."""
    scrub = redactor or current_redactor()
    previews = scrub.redact_chunks([chunk.data for chunk in capture.chunks])
    rows = []
    previous = 0
    for chunk, shown in zip(capture.chunks, previews, strict=True):
        rows.append(
            {
                "chunk": chunk.index,
                "arrived_ms": chunk.offset_ns / 1e6 if capture.timing else None,
                "gap_ms": (chunk.offset_ns - previous) / 1e6 if capture.timing else None,
                "bytes": len(chunk.data),
                "preview": shorten(
                    one_line(shown.decode("utf-8", errors="replace")), PREVIEW_LIMIT
                ),
            }
        )
        previous = chunk.offset_ns
    return pd.DataFrame(rows, columns=CHUNK_COLUMNS)


def frames_table(capture: Capture, redactor: Redactor | None = None) -> pd.DataFrame:
    """One row per SSE frame: byte range, chunks, arrival, line endings, fields, dispatch."""
    rows = []
    for frame in capture.frames:
        rows.append(
            {
                "frame": frame.index,
                "bytes": f"{frame.start}..{frame.end}",
                "chunks": (
                    str(frame.first_chunk)
                    if frame.first_chunk == frame.last_chunk
                    else f"{frame.first_chunk}..{frame.last_chunk}"
                ),
                "arrived_ms": frame.arrived_ns / 1e6 if capture.timing else None,
                "line_ending": frame.line_ending,
                "fields": ",".join(name for name, _ in frame.fields),
                "event": frame.event,
                "id": frame.id,
                "dispatched": frame.dispatched,
                "complete": frame.complete,
                "data": frame.data,
                "notes": "; ".join(frame.notes),
            }
        )
    table = pd.DataFrame(rows, columns=FRAME_COLUMNS)
    return _scrubbed(table, redactor, {"data": DATA_LIMIT})


def events_table(capture: Capture, redactor: Redactor | None = None) -> pd.DataFrame:
    """One row per dispatched event: arrival, SSE name, JSON ``type``, decode error."""
    rows = []
    for event in capture.events:
        rows.append(
            {
                "event": event.index,
                "frame": event.frame_index,
                "arrived_ms": event.arrived_ns / 1e6 if capture.timing else None,
                "sse_event": event.sse_event,
                "type": event.type,
                "decode_error": event.decode_error,
                "data": event.data,
            }
        )
    table = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    return _scrubbed(table, redactor, {"data": DATA_LIMIT})
