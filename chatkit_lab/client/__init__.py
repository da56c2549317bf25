"""The client stage: what a ChatKit client sends, through its fetch, and what the user sees.

Fact and model sit side by side here, and every output says which is which:

- *fact*, read from ChatKit.js's host script (protocol notes): how each reply is judged
  (:mod:`._network`: the JSON fallback to ``{}``, the stream open check, the retries);
- *as written*: the user's own fetch, run under Node (:mod:`._node_fetch`), or a Python
  transform standing in for it (:mod:`._fetch`);
- *modelled*: what the closed UI iframe renders (:mod:`._model`, :mod:`._timeline`).

The session model (:mod:`.session`) holds both for a whole run, built once from its exchanges.

The lifecycle runner (:mod:`._lifecycle`) plays the client's part against a target.
"""

from chatkit_lab.client._cookies import CookieSender
from chatkit_lab.client._fetch import (
    CONTROL_COMMANDS,
    ClientFetch,
    ClientRequest,
    ControlCall,
    FetchOutcome,
    LocalResponse,
    Transform,
    TransformFetch,
    apply_transform,
    identity,
    load_transform,
    local_capture,
    undefined_names,
)
from chatkit_lab.client._lifecycle import LifecycleRunner, Sender, answers_not_found
from chatkit_lab.client._model import (
    MODEL_NOTE,
    NOTHING_RENDERED,
    ClientItem,
    ClientModel,
    ClientState,
    replay,
)
from chatkit_lab.client._network import (
    MAX_STREAM_RETRIES,
    SOURCE,
    JsonReply,
    StreamOpen,
    json_reply,
    parse_json_body,
    retry_delay_range,
    status_text,
    stream_open,
)
from chatkit_lab.client._node_fetch import (
    DEFAULT_TOKEN_ENV,
    NodeFetch,
    NodeFetchError,
    NodeFetchOutcome,
)
from chatkit_lab.client._steps import (
    SEND_TYPES,
    Lifecycle,
    Step,
    adopt_thread_id,
    body_shape,
    envelope,
    path_of,
    user_input,
)
from chatkit_lab.client._timeline import MODELLED, Screen, Shown, Timeline, item_text, timeline
from chatkit_lab.client.session import (
    Departure,
    Exchange,
    SessionModel,
    build_session,
    carries_turn,
    lifecycle_of_captures,
)

__all__ = [
    "CookieSender",
    "answers_not_found",
    "CONTROL_COMMANDS",
    "DEFAULT_TOKEN_ENV",
    "MAX_STREAM_RETRIES",
    "MODELLED",
    "MODEL_NOTE",
    "NOTHING_RENDERED",
    "SEND_TYPES",
    "SOURCE",
    "ClientFetch",
    "ClientItem",
    "ClientModel",
    "ClientRequest",
    "ClientState",
    "ControlCall",
    "Departure",
    "Exchange",
    "FetchOutcome",
    "JsonReply",
    "Lifecycle",
    "body_shape",
    "path_of",
    "LifecycleRunner",
    "LocalResponse",
    "NodeFetch",
    "NodeFetchError",
    "NodeFetchOutcome",
    "Screen",
    "SessionModel",
    "Sender",
    "Shown",
    "Step",
    "StreamOpen",
    "Timeline",
    "Transform",
    "TransformFetch",
    "adopt_thread_id",
    "apply_transform",
    "build_session",
    "carries_turn",
    "envelope",
    "identity",
    "json_reply",
    "lifecycle_of_captures",
    "load_transform",
    "local_capture",
    "undefined_names",
    "parse_json_body",
    "replay",
    "retry_delay_range",
    "status_text",
    "stream_open",
    "item_text",
    "timeline",
    "user_input",
]
