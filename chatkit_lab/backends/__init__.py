"""Backends to diagnose against: a correct ChatKit server and the report's custom backend.

* ``reference``: :func:`reference_app`, a documented ``ChatKitServer`` running an Agent on a
  deterministic scripted model, persisting to SQLite (or memory), with a recording store;
* ``legacy:attempt1`` .. ``legacy:attempt3``: :func:`legacy_app`, the report's FastAPI backend in
  each of the formats it tried, reached through the report's custom fetch
  (:data:`legacy_fetch`);
* stores (:class:`SQLiteStore`, :class:`MemoryStore`, :class:`RecordingStore`) and deliberately
  faulty store wrappers for the diagnosis tests.

:func:`make_backend` builds a fresh built-in target by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from chatkit_lab.errors import TargetError

from ._util import split_deltas
from .faults import DropAssistantStore, RenamingStore, ReversedOrderStore
from .legacy import (
    LEGACY_ATTEMPTS,
    LEGACY_TEST_SECRET,
    LEGACY_USER_ID,
    ChatRequest,
    LegacyDatabase,
    legacy_app,
    legacy_events,
    legacy_path,
    legacy_reply,
    make_token,
)
from .reference import (
    CHATKIT_PATH,
    DEFAULT_REAL_MODEL,
    SCRIPTS,
    ModelUnavailableError,
    ReferenceServer,
    Script,
    ToolCall,
    get_weather,
    reference_app,
    weather_report,
)
from .stores import MemoryStore, RecordingStore, SQLiteStore, StoreCall, StoreWrapper
from .transforms import (
    AuthOnlyFetch,
    LegacyFetch,
    legacy_auth,
    legacy_fetch,
    legacy_payload,
    parse_conversation_id,
)


@dataclass
class BuiltinTarget:
    """A built-in backend: the app, the ChatKit endpoint path, and the transform to use."""

    name: str
    app: FastAPI
    path: str
    transform: str
    """Name of the default client transform (see ``chatkit_lab.client.load_transform``)."""
    description: str = ""


_DESCRIPTIONS: dict[str, str] = {
    "reference": "documented ChatKitServer + Agent on a scripted model, SQLite store",
    **{
        f"legacy:attempt{number}": f"the report's backend, attempt {number}: {text}"
        for number, text in LEGACY_ATTEMPTS.items()
    },
}


def builtin_targets() -> list[str]:
    """Names accepted by :func:`make_backend`."""
    return list(_DESCRIPTIONS)


def make_backend(name: str, **options: Any) -> BuiltinTarget:
    """A fresh built-in backend by name; ``options`` go to :func:`reference_app` or
    :func:`legacy_app` (e.g. ``delay_s``, ``script``, ``store``, ``db_path``)."""
    if name == "reference":
        return BuiltinTarget(
            name, reference_app(**options), CHATKIT_PATH, "none", _DESCRIPTIONS[name]
        )
    if name in _DESCRIPTIONS and name.startswith("legacy:attempt"):
        attempt = int(name.removeprefix("legacy:attempt"))
        app = legacy_app(attempt=attempt, **options)
        return BuiltinTarget(name, app, legacy_path(), "legacy-fetch", _DESCRIPTIONS[name])
    raise TargetError(
        f"unknown built-in target {name!r}: use one of {', '.join(builtin_targets())}"
    )


__all__ = [
    "CHATKIT_PATH",
    "DEFAULT_REAL_MODEL",
    "LEGACY_ATTEMPTS",
    "LEGACY_TEST_SECRET",
    "LEGACY_USER_ID",
    "SCRIPTS",
    "BuiltinTarget",
    "ChatRequest",
    "DropAssistantStore",
    "LegacyDatabase",
    "LegacyFetch",
    "MemoryStore",
    "ModelUnavailableError",
    "RecordingStore",
    "ReferenceServer",
    "RenamingStore",
    "ReversedOrderStore",
    "SQLiteStore",
    "Script",
    "StoreCall",
    "StoreWrapper",
    "ToolCall",
    "builtin_targets",
    "get_weather",
    "legacy_app",
    "legacy_events",
    "legacy_auth",
    "legacy_fetch",
    "AuthOnlyFetch",
    "legacy_path",
    "legacy_payload",
    "legacy_reply",
    "make_backend",
    "make_token",
    "parse_conversation_id",
    "reference_app",
    "split_deltas",
    "weather_report",
]
