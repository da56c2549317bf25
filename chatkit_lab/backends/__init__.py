"""Backends to diagnose against: a correct ChatKit server and the report's custom backend.

* ``reference``: :func:`reference_app`, a documented ``ChatKitServer`` running an Agent on a
  deterministic scripted model, persisting to SQLite (or memory), with a recording store;
* ``legacy:attempt1`` .. ``legacy:attempt3``: :func:`legacy_app`, the report's FastAPI backend in
  each of the formats it tried, reached through the report's custom fetch
  (:data:`legacy_fetch`);
* ``faulty:create-500``, ``faulty:create-json`` (:data:`FAILING_SENDS`), one
  ``faulty:<scenario>`` per scenario that declares its faulty variant (:func:`faulty_scenarios`)
  and more planted faults (:data:`MORE_FAULTY_SCENARIOS`): the reference with one realistic bug
  (all in ``faulty``);
* stores (:class:`SQLiteStore`, :class:`MemoryStore`, :class:`RecordingStore`) and deliberately
  faulty store wrappers for the diagnosis tests.

:func:`make_backend` builds a fresh built-in target by name; :func:`register` adds them all (and
the report's fetch transforms) to the kit's target registry, through the ``chatkit_lab.plugins``
entry point.
"""

from __future__ import annotations

import importlib
from functools import partial
from typing import Any

from chatkit_lab.errors import TargetError
from chatkit_lab.targets import BuiltinTarget, Registry

from .legacy_format import LEGACY_ATTEMPTS

_EXPORTS: dict[str, str] = {
    "CHATKIT_PATH": "reference",
    "DEFAULT_REAL_MODEL": "reference",
    "LEGACY_TEST_SECRET": "legacy",
    "LEGACY_USER_ID": "legacy",
    "SCRIPTS": "reference",
    "ChatRequest": "legacy",
    "DropAssistantStore": "faults",
    "failing_reference_app": "faulty",
    "faulty_app": "faulty",
    "LegacyDatabase": "legacy",
    "LegacyFetch": "transforms",
    "MemoryStore": "stores",
    "ModelUnavailableError": "reference",
    "RecordingStore": "wrappers",
    "ReferenceServer": "reference",
    "RenamingStore": "faults",
    "ReversedOrderStore": "faults",
    "SQLiteStore": "stores",
    "Script": "scripts",
    "StoreCall": "wrappers",
    "StoreWrapper": "wrappers",
    "ToolCall": "scripts",
    "Replies": "reference",
    "get_weather": "reference",
    "match_scenario": "reference",
    "legacy_app": "legacy",
    "legacy_events": "legacy_format",
    "legacy_auth": "transforms",
    "legacy_fetch": "transforms",
    "AuthOnlyFetch": "transforms",
    "legacy_path": "legacy",
    "legacy_payload": "transforms",
    "legacy_reply": "legacy_format",
    "make_token": "legacy",
    "parse_conversation_id": "transforms",
    "reference_app": "reference",
    "split_deltas": "_util",
    "weather_report": "reference",
}
"""Public names, loaded from their module on first use: registering the built-in targets (which
every lookup of a target name does) must not import FastAPI, the agents SDK and the stores."""


def __getattr__(name: str) -> Any:
    if name == "FAULTY_SCENARIOS":
        return faulty_scenarios()
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'chatkit_lab.backends' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


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
        from .reference import CHATKIT_PATH, reference_app

        return BuiltinTarget(
            name, reference_app(**options), CHATKIT_PATH, "none", _DESCRIPTIONS[name]
        )
    if name in _DESCRIPTIONS and name.startswith("legacy:attempt"):
        from .legacy import LEGACY_TEST_SECRET, LEGACY_USER_ID, legacy_app, legacy_path, make_token

        attempt = int(name.removeprefix("legacy:attempt"))
        app = legacy_app(attempt=attempt, **options)
        return BuiltinTarget(
            name,
            app,
            legacy_path(),
            "legacy-fetch",
            _DESCRIPTIONS[name],
            token=make_token(LEGACY_USER_ID, LEGACY_TEST_SECRET),
            user_id=LEGACY_USER_ID,
        )
    raise TargetError(
        f"unknown built-in target {name!r}: use one of {', '.join(builtin_targets())}"
    )


FAILING_SENDS: dict[str, str] = {
    "create-500": "the reference backend, saving the user message and then answering "
    "threads.create with HTTP 500 (ChatKit re-sends it up to five times)",
    "create-json": "the reference backend, saving the user message and then answering "
    "threads.create with JSON and status 200 (ChatKit re-sends it up to five times)",
}
"""Faulty built-ins whose sends fail after saving (see :func:`.faulty.failing_reference_app`)."""


def faulty_scenarios() -> dict[str, str]:
    """``faulty:<scenario>`` built-ins, one per registered scenario that declares its faulty
    variant (:class:`~chatkit_lab.scenarios.Fault`): scenario name -> description."""
    from chatkit_lab.scenarios import scenarios

    return {name: s.faulty.description for name, s in scenarios().items() if s.faulty is not None}


MORE_FAULTY_SCENARIOS: dict[str, str] = {
    "widget-unsaved": "the reference backend sending a refreshed widget as thread.item.updated "
    "and never saving it: a reload brings back the old card",
    "widget-new-id": "the reference backend replacing a widget with a new id: two cards after a "
    "reload",
    "history-endless": "the reference backend on a store whose threads.list pages always say "
    "has_more: true",
    "client-tool-loop": "the reference backend asking for the same client tool again after every "
    "answer to it",
    "workflow-drops-tasks": "the reference backend finishing its workflow with no tasks",
    "workflow-unfinished": "the reference backend never finishing its workflow",
    "cancel-locks": "the reference backend on a store that locks a thread when a reply is "
    "stopped: every later message there fails",
    "cancel-twice": "the reference backend saving a stopped reply twice",
    "crash-on-deleted": "the reference backend whose process ends on the first load of a "
    "thread it deleted (the history scenario does it): every later request is refused",
}
"""More planted faults ``faulty:<name>``, one cross-request rule each (see
:data:`.faulty.MORE_FAULTS`)."""


def _faulty_backend(name: str, description: str, **options: Any) -> BuiltinTarget:
    from .faulty import failing_reference_app, faulty_app
    from .reference import CHATKIT_PATH

    make = failing_reference_app if name in FAILING_SENDS else faulty_app
    return BuiltinTarget(f"faulty:{name}", make(name, **options), CHATKIT_PATH, "none", description)


def register(registry: Registry) -> None:
    """Add the built-in targets and the report's fetch transforms to the kit's registry.

    The kit calls this through the ``chatkit_lab.plugins`` entry point the first time it looks
    a name up; the core never imports this package. Nothing heavy is imported here: each
    target's app is built, and each transform loaded, when it is used.
    """
    for name, description in _DESCRIPTIONS.items():
        registry.add_target(name, partial(make_backend, name), description=description)
    faulty = {**FAILING_SENDS, **faulty_scenarios(), **MORE_FAULTY_SCENARIOS}
    for name, description in faulty.items():
        registry.add_target(
            f"faulty:{name}", partial(_faulty_backend, name, description), description=description
        )
    registry.add_transform("legacy-fetch", f"{__name__}.transforms:legacy_fetch")
    registry.add_transform("legacy-auth", f"{__name__}.transforms:legacy_auth")


__all__ = [
    *_EXPORTS,
    "BuiltinTarget",
    "FAILING_SENDS",
    "FAULTY_SCENARIOS",
    "LEGACY_ATTEMPTS",
    "MORE_FAULTY_SCENARIOS",
    "builtin_targets",
    "faulty_scenarios",
    "make_backend",
    "register",
]
