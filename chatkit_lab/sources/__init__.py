"""Sources: where captures come from. Each one produces :class:`~chatkit_lab.capture.Capture`
objects, recorded byte for byte with each chunk's arrival time.

* :class:`InProcessTransport` (``_asgi``): an ASGI app driven in this event loop, unbuffered;
* :class:`HTTPTransport` (``_http``): real HTTP, the body decoded as a browser's fetch decodes it
  (``_encoding``; :func:`decode_capture` decodes a capture recorded raw, such as a proxy
  recording), fetch-style redirects, TLS verified;
* :class:`LoopbackServer` (``_loopback``): any ASGI app on 127.0.0.1, reached over HTTP;
* :class:`RecordingProxy` (``_proxy``): a reverse proxy recording a live browser session;
* :func:`load_har` (``_har``): a browser DevTools export, without per-chunk timing;
* :func:`read_captures` (``_files``): a file or folder, read by the first registered source that
  sniffs it (a HAR file, a capture file, a recording folder; :func:`register_source` adds one).

What they share (the request a source sends, :class:`Limits`, the :class:`Transport` protocol,
how a failed exchange is worded) is in ``_base``; uvicorn is started in one place,
``_loopback``'s :func:`serve_app`.
"""

from chatkit_lab.sources._asgi import InProcessTransport
from chatkit_lab.sources._base import (
    DEFAULT_LIMITS,
    BaseTransport,
    BodyLike,
    ClientRequest,
    HeadersLike,
    Limits,
    StopReading,
    Transport,
)
from chatkit_lab.sources._encoding import (
    ACCEPT_ENCODING,
    DECODABLE,
    BodyDecoder,
    DecodingError,
    decode_capture,
    encoding_info,
)
from chatkit_lab.sources._files import (
    CaptureSource,
    FileSource,
    is_capture_path,
    read_captures,
    register_source,
    registered_sources,
    unregister_source,
)
from chatkit_lab.sources._har import (
    EMPTY_STREAM_MESSAGE,
    KEPT_RESOURCE_TYPES,
    MISSING_BODY_MESSAGE,
    NO_TIMING_NOTE,
    HarImport,
    HarProblem,
    HarSkip,
    load_har,
)
from chatkit_lab.sources._http import HTTPTransport
from chatkit_lab.sources._loopback import LoopbackServer
from chatkit_lab.sources._proxy import (
    PROXY_LIMITS,
    RecordingProxy,
    capture_file_name,
    parse_listen,
    parse_upstream,
    serve_proxy,
)

__all__ = [
    "CaptureSource",
    "FileSource",
    "is_capture_path",
    "read_captures",
    "register_source",
    "registered_sources",
    "unregister_source",
    "ACCEPT_ENCODING",
    "DECODABLE",
    "BodyDecoder",
    "DecodingError",
    "decode_capture",
    "encoding_info",
    "DEFAULT_LIMITS",
    "EMPTY_STREAM_MESSAGE",
    "KEPT_RESOURCE_TYPES",
    "MISSING_BODY_MESSAGE",
    "NO_TIMING_NOTE",
    "PROXY_LIMITS",
    "BaseTransport",
    "BodyLike",
    "ClientRequest",
    "HTTPTransport",
    "HarImport",
    "HarProblem",
    "HarSkip",
    "HeadersLike",
    "InProcessTransport",
    "Limits",
    "StopReading",
    "LoopbackServer",
    "RecordingProxy",
    "Transport",
    "capture_file_name",
    "load_har",
    "parse_listen",
    "parse_upstream",
    "serve_proxy",
]
