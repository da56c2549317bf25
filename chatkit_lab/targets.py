"""Targets: what the kit talks to, resolved from a name or a URL.

A target is a ChatKit endpoint URL (as the frontend's ``api.url`` would hold it), a transport that
reaches it, and the client transform (custom fetch) in front of it. Built-in names start the
kit's own backends in process (or on 127.0.0.1 under uvicorn with ``loopback=True``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from chatkit_lab.client._transform import Transform, load_transform
from chatkit_lab.errors import TargetError

BUILTIN_TARGETS: tuple[str, ...] = (
    "reference",
    "legacy:attempt1",
    "legacy:attempt2",
    "legacy:attempt3",
)


@dataclass
class Target:
    """A resolved target, ready for the lifecycle runner."""

    name: str
    url: str
    sender: Any
    transform: Transform
    transform_name: str
    headers: dict[str, str] = field(default_factory=dict)
    app: Any = None
    store: Any = None
    """The recording store of a built-in reference backend (``None`` for remote targets)."""
    builtin: bool = False
    """``True`` for apps the kit runs itself (built-ins, any app given to ``open_app_target``):
    threads created there are not deleted afterwards. Remote URLs are ``False``."""


def _transform_name(spec: str | Transform | None, default: str) -> tuple[Transform, str]:
    if spec is None or spec == "default":
        spec = default
    if callable(spec):
        return spec, getattr(spec, "__name__", type(spec).__name__)
    return load_transform(spec), spec


def is_url(spec: str) -> bool:
    parts = urlsplit(spec)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


@asynccontextmanager
async def open_app_target(
    app: Any,
    path: str = "/chatkit",
    *,
    name: str = "app",
    transform: str | Transform | None = None,
    headers: dict[str, str] | None = None,
    loopback: bool = False,
    limits: Any = None,
) -> AsyncIterator[Target]:
    """A target for any ASGI app: in process by default, on 127.0.0.1 with ``loopback``."""
    from chatkit_lab.sources._transports import HTTPTransport, InProcessTransport, LoopbackServer

    chosen, chosen_name = _transform_name(transform, "none")
    if loopback:
        with LoopbackServer(app) as server:
            sender = HTTPTransport(limits=limits)
            yield Target(
                name,
                server.url + path,
                sender,
                chosen,
                chosen_name,
                dict(headers or {}),
                app,
                builtin=True,
            )
    else:
        sender = InProcessTransport(app)
        url = sender.base_url.rstrip("/") + path
        yield Target(name, url, sender, chosen, chosen_name, dict(headers or {}), app, builtin=True)


@asynccontextmanager
async def open_target(
    spec: str,
    *,
    headers: dict[str, str] | None = None,
    transform: str | Transform | None = "default",
    loopback: bool = False,
    limits: Any = None,
    verify: bool = True,
) -> AsyncIterator[Target]:
    """Resolve ``spec`` (a built-in name or an http(s) URL) into an open :class:`Target`."""
    if spec in BUILTIN_TARGETS:
        from chatkit_lab.backends import make_backend

        backend = make_backend(spec)
        default = backend.transform or "none"
        chosen = default if transform in (None, "default") else transform
        async with open_app_target(
            backend.app,
            backend.path,
            name=spec,
            transform=chosen,
            headers=headers,
            loopback=loopback,
            limits=limits,
        ) as target:
            target.builtin = True
            target.store = getattr(backend.app.state, "store", None)
            yield target
        return
    if is_url(spec):
        from chatkit_lab.sources._transports import HTTPTransport

        chosen, chosen_name = _transform_name(transform, "none")
        sender = HTTPTransport(limits=limits, verify=verify)
        yield Target(spec, spec, sender, chosen, chosen_name, dict(headers or {}))
        return
    raise TargetError(
        f"unknown target {spec!r}: give an http(s) URL of a ChatKit endpoint or one of "
        f"{', '.join(BUILTIN_TARGETS)}"
    )
