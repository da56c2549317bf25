"""The report's custom ``fetch`` (ChatProvider.tsx) as a transform.

A transform is a plain callable: it receives the ``ClientRequest`` ChatKit.js would send and
returns either the request that really goes on the wire or a ``LocalResponse`` answered without
any network (both in :mod:`chatkit_lab.client`). To reproduce your own frontend, write a function
(or a class with ``__call__``) that does what your ``fetch`` does, and pass it, or its
``"module:callable"`` name, wherever a transform is accepted.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from chatkit_lab.client import ClientRequest, ControlCall, LocalResponse

from .legacy import LEGACY_TEST_SECRET, LEGACY_USER_ID, make_token

__all__ = [
    "AuthOnlyFetch",
    "LegacyFetch",
    "legacy_auth",
    "legacy_fetch",
    "legacy_payload",
    "parse_conversation_id",
]

_INTEGER = re.compile(r"-?\d+")


def parse_conversation_id(value: Any) -> int | None:
    """A ChatKit ``thread_id`` as the legacy backend's integer id, or ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value.strip())
    return None


def _input_text(params: dict[str, Any]) -> str:
    user_input = params.get("input")
    if not isinstance(user_input, dict):
        return ""
    content = user_input.get("content")
    if not isinstance(content, list):
        return ""
    texts = [
        part["text"]
        for part in content
        if isinstance(part, dict)
        and part.get("type") == "input_text"
        and isinstance(part.get("text"), str)
    ]
    return "".join(texts)


def legacy_payload(envelope: Any) -> dict[str, Any]:
    """The ``{message, conversation_id}`` body the report's fetch builds from a ChatKit body."""
    params = envelope.get("params") if isinstance(envelope, dict) else None
    params = params if isinstance(params, dict) else {}
    return {
        "message": _input_text(params),
        "conversation_id": parse_conversation_id(params.get("thread_id")),
    }


class LegacyFetch:
    """The report's custom fetch, configurable.

    ``token``: a fixed bearer token; by default a fresh one is made for ``user_id`` with
    ``secret`` on every request. ``base_url``: where the backend lives; by default the scheme and
    host of the request ChatKit sent.
    """

    def __init__(
        self,
        user_id: str = LEGACY_USER_ID,
        token: str | None = None,
        secret: str = LEGACY_TEST_SECRET,
        base_url: str | None = None,
    ) -> None:
        self.user_id = user_id
        self.token = token
        self.secret = secret
        self.base_url = base_url
        self.__name__ = "legacy_fetch"

    def __repr__(self) -> str:
        return f"LegacyFetch(user_id={self.user_id!r}, base_url={self.base_url!r})"

    def _base(self, url: str) -> str:
        if self.base_url:
            return self.base_url.rstrip("/")
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}" if parts.scheme else ""

    def controls(self, request: ClientRequest, capture: Any) -> list[ControlCall]:
        """What the report's frontend does with a reply: its fetch tees every event stream and
        calls ``setThreadId(thread.id)`` when it sees ``thread.created`` (ChatProvider.tsx)."""
        if not getattr(capture, "is_event_stream", False):
            return []
        for event in capture.events:
            payload = event.payload
            if isinstance(payload, dict) and payload.get("type") == "thread.created":
                thread = payload.get("thread")
                if isinstance(thread, dict) and isinstance(thread.get("id"), str | int):
                    return [ControlCall("setThreadId", (str(thread["id"]),))]
        return []

    def __call__(self, request: ClientRequest) -> ClientRequest | LocalResponse:
        envelope = request.json
        kind = envelope.get("type") if isinstance(envelope, dict) else None
        if kind == "threads.list":
            return LocalResponse.json_reply({"data": [], "has_more": False})
        token = self.token or make_token(self.user_id, self.secret)
        headers = {
            key: value
            for key, value in request.headers.items()
            if key.lower() not in ("authorization", "content-length", "content-type")
        }
        headers["content-type"] = "application/json"
        headers["authorization"] = f"Bearer {token}"
        body = json.dumps(legacy_payload(envelope)).encode()
        url = f"{self._base(request.url)}/{self.user_id}/chat"
        return ClientRequest("POST", url, headers, body)


legacy_fetch = LegacyFetch()
"""The report's fetch with the defaults (user ``user-1``, the local test secret)."""


class AuthOnlyFetch:
    """The fixed custom fetch: adds ``Authorization: Bearer <jwt>`` and changes nothing else.

    This is what ``api.fetch`` in ``CustomApiConfig`` is for: the ChatKit request keeps its URL,
    its envelope body and its type, so every request type (including the thread loads after a
    stream) reaches a backend that speaks the ChatKit protocol.
    """

    def __init__(
        self,
        user_id: str = LEGACY_USER_ID,
        token: str | None = None,
        secret: str = LEGACY_TEST_SECRET,
    ) -> None:
        self.user_id = user_id
        self.token = token
        self.secret = secret
        self.__name__ = "legacy_auth"

    def __repr__(self) -> str:
        return f"AuthOnlyFetch(user_id={self.user_id!r})"

    def __call__(self, request: ClientRequest) -> ClientRequest:
        token = self.token or make_token(self.user_id, self.secret)
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        headers["authorization"] = f"Bearer {token}"
        return ClientRequest(request.method, request.url, headers, request.body)


legacy_auth = AuthOnlyFetch()
"""The report's fetch reduced to what it should do: add the JWT, nothing else."""
