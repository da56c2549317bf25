"""Targets: what the kit talks to, resolved from a name or a URL.

A target is a ChatKit endpoint URL (as the frontend's ``api.url`` would hold it), a transport that
reaches it, and the client transform (custom fetch) in front of it. A URL is reached over HTTP.
A name is a built-in app the kit runs itself, in process (or on 127.0.0.1 under uvicorn with
``loopback=True``).

Names come from plugins: packages that declare an entry point in the ``chatkit_lab.plugins``
group, a function that receives the :class:`Registry` and adds targets, client transforms and
file sources to it. The kit's own backends register themselves this way; the core never imports
them. Plugins load once, the first time a name is looked up or a path read, so importing the kit
(or diagnosing a URL) does not pay for them.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, overload
from urllib.parse import urlsplit

from chatkit_lab.client import Transform
from chatkit_lab.client import load_transform as _resolve_transform
from chatkit_lab.errors import TargetError
from chatkit_lab.sources import (
    CaptureSource,
    HTTPTransport,
    InProcessTransport,
    Limits,
    LoopbackServer,
    register_source,
)

PLUGIN_GROUP = "chatkit_lab.plugins"
"""The entry point group plugins declare, e.g. ``builtin = "package.module:register"``."""


@dataclass
class BuiltinTarget:
    """A built-in app: the app, its ChatKit endpoint path, and the transform to use with it."""

    name: str
    app: Any
    path: str
    transform: str
    """Name of the default client transform (see :func:`load_transform`)."""
    description: str = ""
    token: str | None = None
    """A bearer token the backend accepts, for a user's own fetch run against it."""
    user_id: str | None = None
    """The user id the backend's token belongs to."""


@dataclass(frozen=True)
class TargetEntry:
    """A registered target name: how to build a fresh app for it, and what it is."""

    name: str
    make: Callable[[], BuiltinTarget]
    description: str = ""


@dataclass
class Registry:
    """The target names, client transforms and file sources plugins provide."""

    targets: dict[str, TargetEntry] = field(default_factory=dict)
    transforms: dict[str, Transform | str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    """One line per plugin that could not be loaded (its names are then missing)."""

    def add_target(
        self, name: str, make: Callable[[], BuiltinTarget], *, description: str = ""
    ) -> None:
        """Register ``name``; ``make()`` returns a fresh :class:`BuiltinTarget` on every call."""
        if not name or is_url(name):
            raise ValueError(f"a target name must be a non-empty name, not a URL: {name!r}")
        if name in self.targets:
            raise ValueError(f"target {name!r} is already registered")
        self.targets[name] = TargetEntry(name, make, description)

    def add_transform(self, name: str, transform: Transform | str) -> None:
        """Register a client transform under ``name`` (no ``:``, which means module:callable).

        ``transform`` is the callable, or a ``"module:callable"`` string imported the first time
        the name is used (so registering costs no import).
        """
        if not name or ":" in name:
            raise ValueError(f"a transform name must be non-empty and hold no ':': {name!r}")
        if name in self.transforms or name == "none":
            raise ValueError(f"transform {name!r} is already registered")
        if not callable(transform) and not (isinstance(transform, str) and ":" in transform):
            raise ValueError(f"transform {name!r} is not callable nor a 'module:callable' name")
        self.transforms[name] = transform

    def add_source(self, source: CaptureSource) -> None:
        """Register a file source (:func:`~chatkit_lab.sources.register_source`): the paths it
        sniffs are read wherever a path is, ``chatkit-lab diagnose FILE`` included."""
        register_source(source)

    def load(self, plugins: Iterable[EntryPoint]) -> Registry:
        """Call every plugin's register function with this registry; a failing one is noted
        in :attr:`failures` and skipped (its names stay unknown, the others work)."""
        for plugin in plugins:
            try:
                register = plugin.load()
                register(self)
            except Exception as exc:  # a third-party plugin may raise anything
                self.failures.append(
                    f"plugin {plugin.name!r} ({plugin.value}) failed to load: "
                    f"{type(exc).__name__}: {exc}"
                )
        return self


_lock = threading.Lock()
_registry: Registry | None = None


def registry() -> Registry:
    """The registry, filled from the installed plugins on first use."""
    global _registry
    with _lock:
        if _registry is None:
            _registry = Registry().load(entry_points(group=PLUGIN_GROUP))
        return _registry


def target_names() -> list[str]:
    """The registered target names, in registration order."""
    return list(registry().targets)


class _RegisteredNames(Sequence[str]):
    """The registered target names as a read-only sequence, loaded when first read."""

    def _names(self) -> tuple[str, ...]:
        return tuple(registry().targets)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[str, ...]: ...

    def __getitem__(self, index: int | slice) -> str | tuple[str, ...]:
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __contains__(self, value: object) -> bool:
        return value in registry().targets

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return self._names() == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._names())


BUILTIN_TARGETS: Sequence[str] = _RegisteredNames()
"""The built-in target names (``reference``, ``legacy:attempt1`` ...), read from the registry."""


def load_transform(spec: str | Transform | None) -> Transform:
    """A client transform from a registered name (``legacy-fetch``), ``none``, a
    ``module:callable`` string, or a callable. Plugins load only for a name they could hold."""
    if isinstance(spec, str) and ":" not in spec and spec != "none":
        return _resolve_transform(spec, registry().transforms)
    return _resolve_transform(spec)


def transform_names() -> list[str]:
    """Every transform name :func:`load_transform` accepts besides ``module:callable``."""
    return sorted({"none", *registry().transforms})


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
    token: str | None = None
    """A token a built-in backend accepts (handed to a user's fetch when none is given)."""
    user_id: str | None = None
    upload_url: str | None = None
    """Where ChatKit uploads files directly (a built-in backend's own upload route)."""


def _transform_name(spec: str | Transform | None, default: str) -> tuple[Transform, str]:
    if spec is None or spec == "default":
        spec = default
    if callable(spec):
        return spec, getattr(spec, "__name__", type(spec).__name__)
    return load_transform(spec), spec


def is_url(spec: str) -> bool:
    parts = urlsplit(spec)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def make_builtin(name: str) -> BuiltinTarget:
    """A fresh app for the registered target ``name``, or :class:`TargetError` naming the
    known ones."""
    found = registry().targets.get(name)
    if found is None:
        raise TargetError(_unknown(name))
    return found.make()


def _unknown(spec: str) -> str:
    known = registry()
    names = ", ".join(known.targets) or "none registered"
    text = f"unknown target {spec!r}: give an http(s) URL of a ChatKit endpoint or one of {names}"
    if known.failures:
        text += "; " + "; ".join(known.failures)
    return text


@asynccontextmanager
async def open_app_target(
    app: Any,
    path: str = "/chatkit",
    *,
    name: str = "app",
    transform: str | Transform | None = None,
    headers: dict[str, str] | None = None,
    loopback: bool = False,
    limits: Limits | None = None,
) -> AsyncIterator[Target]:
    """A target for any ASGI app: in process by default, on 127.0.0.1 with ``loopback``."""
    chosen, chosen_name = _transform_name(transform, "none")
    with ExitStack() as stack:
        if loopback:
            base = stack.enter_context(LoopbackServer(app)).url
            sender: Any = HTTPTransport(limits=limits)
        else:
            sender = InProcessTransport(app)
            base = sender.base_url.rstrip("/")
        yield Target(
            name, base + path, sender, chosen, chosen_name, dict(headers or {}), app, builtin=True
        )


@asynccontextmanager
async def open_target(
    spec: str,
    *,
    headers: dict[str, str] | None = None,
    transform: str | Transform | None = "default",
    loopback: bool = False,
    limits: Limits | None = None,
    verify: bool = True,
) -> AsyncIterator[Target]:
    """Resolve ``spec`` (a built-in name or an http(s) URL) into an open :class:`Target`."""
    if is_url(spec):
        chosen, chosen_name = _transform_name(transform, "none")
        sender = HTTPTransport(limits=limits, verify=verify)
        yield Target(spec, spec, sender, chosen, chosen_name, dict(headers or {}))
        return
    if transform not in (None, "default"):
        _transform_name(transform, "none")  # a bad name is refused before any app is built
    backend = make_builtin(spec)
    default = backend.transform or "none"
    picked = default if transform in (None, "default") else transform
    async with open_app_target(
        backend.app,
        backend.path,
        name=spec,
        transform=picked,
        headers=headers,
        loopback=loopback,
        limits=limits,
    ) as target:
        target.builtin = True
        target.store = getattr(getattr(backend.app, "state", None), "store", None)
        target.token, target.user_id = backend.token, backend.user_id
        upload = getattr(getattr(backend.app, "state", None), "direct_upload_path", None)
        if isinstance(upload, str) and target.url.endswith(backend.path):
            target.upload_url = target.url[: len(target.url) - len(backend.path)] + upload
        yield target


def describe_targets() -> Mapping[str, str]:
    """Each registered target name with its one-line description."""
    return {name: entry.description for name, entry in registry().targets.items()}
