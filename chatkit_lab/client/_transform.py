"""Client transforms: a Python stand-in for a frontend's custom ``fetch``.

ChatKit's ``CustomApiConfig`` lets a frontend pass its own ``fetch``. Teams use it to add headers,
but also to rewrite bodies or answer some requests locally. A transform is a plain callable that
takes the request ChatKit.js would send and returns either the request that actually goes on the
wire or a :class:`LocalResponse` answered without any network, exactly what such a fetch does.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chatkit_lab.errors import TransformError


@dataclass
class ClientRequest:
    """A request as a ChatKit client (or a transform) sends it."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except (ValueError, UnicodeDecodeError):
            return None

    @classmethod
    def chatkit(
        cls, url: str, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> ClientRequest:
        """The POST ChatKit.js sends for one envelope ``{"type", "params", "metadata"}``."""
        merged = {"content-type": "application/json", "accept": "text/event-stream, */*"}
        merged.update(headers or {})
        body = json.dumps(payload, separators=(",", ":")).encode()
        return cls("POST", url, merged, body)


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


_BUILTIN: dict[str, str] = {
    "none": "chatkit_lab.client._transform:identity",
    "legacy-fetch": "chatkit_lab.backends.transforms:legacy_fetch",
    "legacy-auth": "chatkit_lab.backends.transforms:legacy_auth",
}


def builtin_transforms() -> list[str]:
    """Names accepted by :func:`load_transform` besides ``module:callable``."""
    return sorted(_BUILTIN)


def load_transform(spec: str | Transform | None) -> Transform:
    """Resolve a transform from a built-in name, a ``module:callable`` string, or a callable."""
    if spec is None:
        return identity
    if callable(spec):
        return spec
    target = _BUILTIN.get(spec, spec)
    module_name, colon, attribute = target.partition(":")
    if not colon or not module_name or not attribute:
        raise TransformError(
            f"unknown transform {spec!r}: use one of {', '.join(builtin_transforms())} "
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
