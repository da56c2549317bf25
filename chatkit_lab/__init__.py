"""chatkit-lab: find out why a ChatKit UI goes blank against a custom backend, with evidence.

Data flows one way: capture -> frames -> events -> checks -> findings -> report. Each stage is a
small private module; everything public is re-exported here.
"""

from ._analysis import EventAnalysis, analyze_capture, analyze_events
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
from ._checks import check_framing, check_request, check_transport, reply_kind
from ._client_model import ClientItem, ClientModel, ClientState, replay
from ._crosscheck import CrosscheckResult, crosscheck_httpx_sse
from ._diagnose import Diagnosis, diagnose, diagnose_captures, diagnose_target, evaluate_lifecycle
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
from ._har import HarImport, HarProblem, HarSkip, load_har
from ._lifecycle import Lifecycle, LifecycleRunner, Step
from ._persistence import Reload, diff_lifecycle, diff_reload, streamed_items
from ._proxy import PROXY_LIMITS, RecordingProxy, serve_proxy
from ._redact import (
    Redactor,
    clear_registered_secrets,
    redact_bytes,
    redact_capture,
    redact_chunks,
    redact_dataframe,
    redact_headers,
    redact_obj,
    redact_text,
    redact_url,
    register_secrets,
    secrets_from_env,
)
from ._report import layers_matrix, report_markdown
from ._targets import BUILTIN_TARGETS, Target, open_app_target, open_target
from ._transform import ClientRequest, LocalResponse, Transform, load_transform
from ._transports import (
    DEFAULT_LIMITS,
    HTTPTransport,
    InProcessTransport,
    Limits,
    LoopbackServer,
    Transport,
)

__all__ = [
    "clear_registered_secrets",
    "redact_bytes",
    "redact_chunks",
    "register_secrets",
    "PROXY_LIMITS",
    "RecordingProxy",
    "serve_proxy",
    "BUILTIN_TARGETS",
    "CAPTURE_FORMAT",
    "CAPTURE_VERSION",
    "DEFAULT_LIMITS",
    "LAYERS",
    "Capture",
    "CaptureFormatError",
    "ChatKitLabError",
    "CheckSpec",
    "Chunk",
    "ClientItem",
    "ClientModel",
    "ClientRequest",
    "ClientState",
    "CrosscheckResult",
    "Diagnosis",
    "Ending",
    "Event",
    "EventAnalysis",
    "Evidence",
    "Finding",
    "Frame",
    "FrameParser",
    "HTTPTransport",
    "HarFormatError",
    "HarImport",
    "HarProblem",
    "HarSkip",
    "InProcessTransport",
    "Lifecycle",
    "LifecycleRunner",
    "Limits",
    "LocalResponse",
    "LoopbackServer",
    "Redactor",
    "Reload",
    "RequestRecord",
    "Step",
    "Target",
    "TargetError",
    "Transform",
    "TransformError",
    "Transport",
    "analyze_capture",
    "analyze_events",
    "check_framing",
    "check_request",
    "check_specs",
    "check_transport",
    "checks_table",
    "crosscheck_httpx_sse",
    "decode_event",
    "decode_events",
    "diagnose",
    "diagnose_captures",
    "diagnose_target",
    "diff_lifecycle",
    "diff_reload",
    "evaluate_lifecycle",
    "finding",
    "findings_table",
    "first_failure",
    "layer_states",
    "layers_matrix",
    "load_captures",
    "load_har",
    "load_transform",
    "open_app_target",
    "open_target",
    "parse_bytes",
    "parse_frames",
    "redact_capture",
    "redact_dataframe",
    "redact_headers",
    "redact_obj",
    "redact_text",
    "redact_url",
    "register_check",
    "replay",
    "reply_kind",
    "report_markdown",
    "save_captures",
    "secrets_from_env",
    "streamed_items",
]
