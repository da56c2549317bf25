"""The client's fetch: what stands between ChatKit's requests and the wire.

ChatKit's host script performs every request with ``options.api.fetch`` when the page sets one
(protocol notes, "The client's network layer"). A :class:`ClientFetch` is that function as the
kit runs it: it receives the request ChatKit would send and a way to reach the wire, and hands
back what ChatKit gets, recording every wire call and every call it made to the ChatKit control
(``setThreadId`` and friends).

Two kinds exist: :class:`TransformFetch` wraps a Python transform (a request in, a request or a
local reply out), and the Node runner (:mod:`chatkit_lab.client._node_fetch`) runs the user's
own JavaScript or TypeScript fetch as written.

Client transforms are a Python stand-in for a frontend's custom ``fetch``: ChatKit's
``CustomApiConfig`` lets a frontend pass its own ``fetch``, which teams use to add headers, but
also to rewrite bodies or answer some requests locally. A transform is a plain callable that
takes the request ChatKit.js would send and returns either the request that actually goes on the
wire or a :class:`LocalResponse` answered without any network, exactly what such a fetch does.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from chatkit_lab.capture import Capture, Ending, RequestRecord
from chatkit_lab.errors import TransformError
from chatkit_lab.sources import ClientRequest


@dataclass
class LocalResponse:
    """A reply a transform produced itself: the request never reached the backend."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})
    body: bytes = b""

    @classmethod
    def json_reply(cls, payload: Any, status: int = 200) -> LocalResponse:
        return cls(status, {"content-type": "application/json"}, json.dumps(payload).encode())


Transform = Callable[[ClientRequest], ClientRequest | LocalResponse]
"""A custom fetch: the request ChatKit would send in; what goes on the wire (or a reply) out."""


def identity(request: ClientRequest) -> ClientRequest:
    """The transform that changes nothing (no custom fetch)."""
    return request


_BUILTIN: dict[str, Transform] = {"none": identity}


def builtin_transforms() -> list[str]:
    """Names accepted by :func:`load_transform` without a table of its own: ``none``."""
    return sorted(_BUILTIN)


def load_transform(
    spec: str | Transform | None, named: Mapping[str, Transform | str] | None = None
) -> Transform:
    """Resolve a transform from a name, a ``module:callable`` string, or a callable.

    ``named`` adds names to the built-in ``none`` (the targets registry passes the transforms
    plugins registered: :func:`chatkit_lab.targets.load_transform`).
    """
    if spec is None:
        return identity
    if callable(spec):
        return spec
    table = {**_BUILTIN, **(named or {})}
    if spec in table:
        value = table[spec]
        return load_transform(value) if isinstance(value, str) else value
    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name or not attribute:
        raise TransformError(
            f"unknown transform {spec!r}: use one of {', '.join(sorted(table))} "
            "or 'module:callable'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise TransformError(f"transform {spec!r}: cannot import {module_name!r} ({exc})") from None
    found = getattr(module, attribute, None)
    if found is None:
        raise TransformError(f"transform {spec!r}: {module_name!r} has no {attribute!r}")
    if isinstance(found, type):
        found = found()
    if not callable(found):
        raise TransformError(f"transform {spec!r}: {attribute!r} is not callable")
    return found


def apply_transform(transform: Transform, request: ClientRequest) -> ClientRequest | LocalResponse:
    """Run a transform, turning its exceptions into a :class:`TransformError` naming the request."""
    try:
        result = transform(request)
    except TransformError:
        raise
    except Exception as exc:  # a user's transform may raise anything
        raise TransformError(
            f"transform {getattr(transform, '__name__', transform)!r} failed on "
            f"{request.method} {request.url}: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(result, ClientRequest | LocalResponse):
        raise TransformError(
            f"transform {getattr(transform, '__name__', transform)!r} returned "
            f"{type(result).__name__}; expected ClientRequest or LocalResponse"
        )
    return result


Send = Callable[[ClientRequest], Awaitable[Capture]]
"""How a fetch reaches the wire: the kit performs the request and returns its capture."""

CONTROL_COMMANDS: tuple[str, ...] = (
    "setThreadId",
    "sendUserMessage",
    "setComposerValue",
    "fetchUpdates",
    "sendCustomAction",
    "focusComposer",
)
"""Commands a page can send to ChatKit (``control`` in React), per the protocol notes."""


@dataclass(frozen=True)
class ControlCall:
    """One call the fetch made to the ChatKit control."""

    command: str
    args: tuple[Any, ...] = ()

    def describe(self) -> str:
        shown = ", ".join(repr(arg) for arg in self.args)
        return f"{self.command}({shown})"


@dataclass
class FetchOutcome:
    """What one ChatKit request turned into."""

    handed_back: Capture | None
    """What the fetch handed back to ChatKit (``None`` when it threw)."""
    wire: list[Capture] = field(default_factory=list)
    """Every request the fetch made on the wire, in order."""
    wire_requests: list[ClientRequest] = field(default_factory=list)
    controls: list[ControlCall] = field(default_factory=list)
    error: str | None = None
    """The error the fetch threw (ChatKit's request then fails with it)."""
    built_by_fetch: bool = False
    """``True`` when the reply handed back did not come from a wire call (answered locally)."""
    console: str = ""
    """What the fetch printed (Node runs only), bounded."""


class ClientFetch(Protocol):
    """A custom fetch as the kit runs it."""

    name: str

    async def __call__(self, request: ClientRequest, send: Send) -> FetchOutcome: ...


_UNDEFINED = re.compile(
    r"ReferenceError: (?P<name>[A-Za-z_$][\w$]*) is not defined"
    r"(?:[^\n]*\n(?:[^\n]*\n){0,2}?[^\n]*?\(?(?P<file>[^\s()/]+\.(?:m?js|cjs|mts|ts|tsx|jsx))"
    r":(?P<line>\d+):\d+)?"
)


def undefined_names(console: str) -> list[str]:
    """``name (file line N)`` for each name a fetch used without defining it, from the
    ``ReferenceError`` its own ``catch`` printed (a name its React component gave it)."""
    found: dict[str, None] = {}
    for match in _UNDEFINED.finditer(console[:65536]):
        where = f" ({match['file']} line {match['line']})" if match["file"] else ""
        found.setdefault(f"{match['name']}{where}")
    return list(found)[:20]


def mark_outcome(capture: Capture, handed_back: Capture | None, console: str) -> None:
    """Note on the step's capture what only the fetch's side shows: names its file lacks (from
    a ``ReferenceError`` its own ``catch`` printed), and a body ChatKit read that broke off
    while the wire's arrived whole (ChatKit is judged on what it got)."""
    missing = undefined_names(console)
    if missing:
        capture.fetch_undefined = missing
    if (
        handed_back is not None
        and handed_back.ending.state in ("error", "reset")
        and capture.ending.state == "complete"
    ):
        capture.fetch_body_error = handed_back.ending.message[:500]
        capture.fetch_body_bytes = handed_back.size


def local_capture(request: ClientRequest, reply: LocalResponse, label: str, target: str) -> Capture:
    """A capture for a reply a custom fetch produced itself (no network, no timing)."""
    capture = Capture(
        request=RequestRecord(
            request.method, request.url, list(request.headers.items()), request.body
        ),
        status=reply.status,
        response_headers=list(reply.headers.items()),
        headers_ns=0,
        label=label,
        target=target,
        transport="local",
        timing=False,
        ending=Ending("complete", "answered by the client transform", 0),
    )
    capture.add_chunk(reply.body, 0)
    capture.answered_locally = True
    kind = request.json.get("type") if isinstance(request.json, dict) else None
    capture.client_type = kind if isinstance(kind, str) else None
    capture.notes.append(
        "answered by the client transform (custom fetch); the backend never saw it"
    )
    return capture


class TransformFetch:
    """A Python transform run as ChatKit's fetch: rewrite (or answer), then one wire call.

    A transform cannot see replies, so it makes no control calls; a transform object may define
    ``controls(request, capture) -> list[ControlCall]`` to say which calls its frontend makes
    after a reply (the report's fetch calls ``setThreadId`` on ``thread.created``).
    """

    def __init__(self, transform: Transform = identity, name: str = "") -> None:
        self.transform = transform
        self.name = name or getattr(transform, "__name__", type(transform).__name__)

    async def __call__(self, request: ClientRequest, send: Send) -> FetchOutcome:
        try:
            result = apply_transform(self.transform, request)
        except TransformError as exc:
            return FetchOutcome(None, error=str(exc))
        if isinstance(result, LocalResponse):
            capture = local_capture(request, result, "", "")
            return FetchOutcome(capture, built_by_fetch=True)
        capture = await send(result)
        outcome = FetchOutcome(capture, [capture], [result])
        controls = getattr(self.transform, "controls", None)
        if callable(controls):
            try:
                outcome.controls = list(controls(request, capture))
            except Exception as exc:  # a user's hook may raise anything
                outcome.error = f"{type(exc).__name__} in controls(): {exc}"
        return outcome


__all__ = [
    "CONTROL_COMMANDS",
    "ClientFetch",
    "ClientRequest",
    "ControlCall",
    "FetchOutcome",
    "LocalResponse",
    "Send",
    "Transform",
    "TransformFetch",
    "apply_transform",
    "builtin_transforms",
    "identity",
    "load_transform",
    "local_capture",
    "mark_outcome",
    "undefined_names",
]
