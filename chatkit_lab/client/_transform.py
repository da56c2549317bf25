"""Client transforms: a Python stand-in for a frontend's custom ``fetch``.

ChatKit's ``CustomApiConfig`` lets a frontend pass its own ``fetch``. Teams use it to add headers,
but also to rewrite bodies or answer some requests locally. A transform is a plain callable that
takes the request ChatKit.js would send and returns either the request that actually goes on the
wire or a :class:`LocalResponse` answered without any network, exactly what such a fetch does.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chatkit_lab.errors import TransformError
from chatkit_lab.sources import ClientRequest

__all__ = [
    "ClientRequest",
    "LocalResponse",
    "Transform",
    "apply_transform",
    "builtin_transforms",
    "identity",
    "load_transform",
]


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
