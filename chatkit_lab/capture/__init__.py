"""The capture stage: one HTTP exchange byte for byte (the model), saved and loaded as JSON Lines.

Every source (in process, HTTP, loopback, proxy, HAR) produces a :class:`Capture`; everything
after it (framing, checks, reports) reads one. Captures are redacted when saved. Its tables
(chunks, messages, events) are the presentation stage's: :mod:`chatkit_lab.report`.
"""

from chatkit_lab.capture._model import (
    CAPTURE_FORMAT,
    CAPTURE_VERSION,
    END_STATES,
    Capture,
    Chunk,
    Ending,
    EndState,
    RequestRecord,
    capture_records,
    capture_summary,
    load_captures,
    redact_capture,
    save_captures,
)

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
    "load_captures",
    "redact_capture",
    "save_captures",
]
