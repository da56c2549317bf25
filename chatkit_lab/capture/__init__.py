"""The capture stage: one HTTP exchange byte for byte (the model), saved and loaded as JSON Lines.

Every source (in process, HTTP, loopback, proxy, HAR) produces a :class:`Capture`; everything
after it (framing, checks, reports) reads one. Captures are redacted when saved.
"""

from chatkit_lab.capture._display import capture_summary, chunks_table, events_table, frames_table
from chatkit_lab.capture._files import (
    CAPTURE_FORMAT,
    CAPTURE_VERSION,
    capture_records,
    load_captures,
    save_captures,
)
from chatkit_lab.capture._model import END_STATES, Capture, Chunk, Ending, EndState, RequestRecord
from chatkit_lab.capture._redaction import redact_capture

__all__ = [
    "CAPTURE_FORMAT",
    "CAPTURE_VERSION",
    "END_STATES",
    "Capture",
    "Chunk",
    "EndState",
    "Ending",
    "RequestRecord",
    "capture_records",
    "capture_summary",
    "chunks_table",
    "events_table",
    "frames_table",
    "load_captures",
    "redact_capture",
    "save_captures",
]
