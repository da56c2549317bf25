"""chatkit-lab: find out why a ChatKit UI goes blank against a custom backend, with evidence.

Data flows one way: capture -> frames -> events -> checks -> findings -> report. Each stage is a
small private module; everything public is re-exported here.
"""

from ._capture import (
    CAPTURE_FORMAT,
    CAPTURE_VERSION,
    Capture,
    Chunk,
    Ending,
    RequestRecord,
    load_captures,
    save_captures,
)
from ._errors import (
    CaptureFormatError,
    ChatKitLabError,
    HarFormatError,
    TargetError,
    TransformError,
)
from ._events import Event, decode_event, decode_events
from ._findings import (
    LAYERS,
    CheckSpec,
    Evidence,
    Finding,
    check_specs,
    checks_table,
    finding,
    findings_table,
    first_failure,
    layer_states,
    register_check,
)
from ._frames import Frame, FrameParser, parse_bytes, parse_frames
from ._redact import redact_capture, redact_headers, redact_text, redact_url

__all__ = [
    "CAPTURE_FORMAT",
    "CAPTURE_VERSION",
    "LAYERS",
    "Capture",
    "CaptureFormatError",
    "ChatKitLabError",
    "CheckSpec",
    "Chunk",
    "Ending",
    "Event",
    "Evidence",
    "Finding",
    "Frame",
    "FrameParser",
    "HarFormatError",
    "RequestRecord",
    "TargetError",
    "TransformError",
    "check_specs",
    "checks_table",
    "decode_event",
    "decode_events",
    "finding",
    "findings_table",
    "first_failure",
    "layer_states",
    "load_captures",
    "parse_bytes",
    "parse_frames",
    "redact_capture",
    "redact_headers",
    "redact_text",
    "redact_url",
    "register_check",
    "save_captures",
]
