"""chatkit-lab: find out why a ChatKit UI goes blank against a custom backend, with evidence.

Data flows one way: capture -> frames -> events -> checks -> findings -> report. Each stage is a
small private module; everything public is re-exported here.
"""

from chatkit_lab.capture._model import (
    CAPTURE_FORMAT,
    CAPTURE_VERSION,
    Capture,
    Chunk,
    Ending,
    RequestRecord,
    load_captures,
    save_captures,
)
from chatkit_lab.checks._analysis import EventAnalysis, analyze_capture, analyze_events
from chatkit_lab.checks._exchange import check_framing, check_request, check_transport, reply_kind
from chatkit_lab.checks._model import (
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
from chatkit_lab.checks.persistence import Reload, diff_lifecycle, diff_reload, streamed_items
from chatkit_lab.client._lifecycle import Lifecycle, LifecycleRunner, Step
from chatkit_lab.client._model import ClientItem, ClientModel, ClientState, replay
from chatkit_lab.client._transform import ClientRequest, LocalResponse, Transform, load_transform
from chatkit_lab.diagnose import (
    Diagnosis,
    diagnose,
    diagnose_captures,
    diagnose_target,
    evaluate_lifecycle,
)
from chatkit_lab.errors import (
    CaptureFormatError,
    ChatKitLabError,
    HarFormatError,
    TargetError,
    TransformError,
)
from chatkit_lab.redact._engine import (
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
from chatkit_lab.report._markdown import layers_matrix, report_markdown
from chatkit_lab.sources._har import HarImport, HarProblem, HarSkip, load_har
from chatkit_lab.sources._proxy import PROXY_LIMITS, RecordingProxy, serve_proxy
from chatkit_lab.sources._transports import (
    DEFAULT_LIMITS,
    HTTPTransport,
    InProcessTransport,
    Limits,
    LoopbackServer,
    Transport,
)
from chatkit_lab.sse._crosscheck import CrosscheckResult, crosscheck_httpx_sse
from chatkit_lab.sse._events import Event, decode_event, decode_events
from chatkit_lab.sse._frames import Frame, FrameParser, parse_bytes, parse_frames
from chatkit_lab.targets import BUILTIN_TARGETS, Target, open_app_target, open_target

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
