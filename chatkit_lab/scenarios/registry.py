"""Every scenario, listed once, in the order the conformance table shows them.

A scenario is one module holding its :class:`~chatkit_lab.scenarios.Scenario` declaration
(``SCENARIO``), its play, its checks, what the reference backend answers to its prompts and its
faulty variant. A built-in one is listed in :data:`SCENARIO_MODULES`; one from outside the
package is added with :func:`register_scenario` or an entry point in :data:`SCENARIO_GROUP`.
The command line, the conformance table, the catalogue, the reference backend and the faulty
targets read them from :func:`scenarios`, and nothing else registers a scenario.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

from chatkit_lab.checks import Check, all_checks, checks_of
from chatkit_lab.errors import ScenarioError
from chatkit_lab.scenarios import (
    attachments,
    cancel,
    client_tool,
    errors,
    history,
    messages,
    retry,
    widget,
    workflow,
)
from chatkit_lab.scenarios._base import Scenario

__all__ = [
    "DEFAULT_SCENARIO",
    "SCENARIO_GROUP",
    "SCENARIO_MODULES",
    "register_scenario",
    "resolve_prompts",
    "resolve_scenarios",
    "scenario_checks",
    "scenarios",
    "unregister_scenario",
]

SCENARIO_MODULES: tuple[ModuleType, ...] = (
    messages,
    cancel,
    retry,
    client_tool,
    widget,
    workflow,
    attachments,
    history,
    errors,
)
"""The scenario modules, in table order."""

DEFAULT_SCENARIO = "messages"
"""What ``diagnose`` runs without ``--scenario``."""


SCENARIO_GROUP = "chatkit_lab.scenarios"
"""The entry point group through which an installed package adds its scenarios: each entry
point names a :class:`Scenario` or a module holding one as ``SCENARIO``."""

_registered: list[Scenario] = []


def register_scenario(scenario: Scenario) -> Scenario:
    """Add ``scenario`` after the built-in ones (and those of entry points), from anywhere: its
    declaration, play, checks, the reference backend's replies and its faulty variant all come
    with it. Returns it, so a module can write ``SCENARIO = register_scenario(Scenario(...))``."""
    if not isinstance(scenario, Scenario):
        raise TypeError(f"not a Scenario: {scenario!r}")
    _registered.append(scenario)
    _forget()
    try:
        scenarios()
        _checks()
    except RuntimeError:
        _registered.remove(scenario)
        _forget()
        raise
    return scenario


def unregister_scenario(name: str) -> None:
    """Remove a scenario :func:`register_scenario` added (nothing if there is none)."""
    _registered[:] = [s for s in _registered if s.name != name]
    _forget()


def _forget() -> None:
    scenarios.cache_clear()
    _checks.cache_clear()


def _declared(found: Any, where: str) -> Scenario:
    declared = getattr(found, "SCENARIO", found)
    if not isinstance(declared, Scenario):
        raise RuntimeError(f"{where} declares no SCENARIO")
    return declared


@cache
def scenarios() -> dict[str, Scenario]:
    """Every scenario by name, in table order: the built-in ones, those of the
    :data:`SCENARIO_GROUP` entry points, then those :func:`register_scenario` added."""
    found: dict[str, Scenario] = {}
    plugins = [_declared(e.load(), e.value) for e in entry_points(group=SCENARIO_GROUP)]
    for declared in [
        *(_declared(module, module.__name__) for module in SCENARIO_MODULES),
        *(plugin for plugin in plugins if plugin not in _registered),
        *_registered,
    ]:
        if declared.name in found:
            raise RuntimeError(f"scenario {declared.name!r} is declared twice")
        unknown = set(declared.replies) - set(declared.prompts)
        if unknown:
            raise RuntimeError(f"scenario {declared.name!r} replies to no prompt {unknown}")
        found[declared.name] = declared
    return found


@cache
def _checks() -> tuple[Check[Any], ...]:
    layer_codes = {declared.code for declared in all_checks()}
    seen: set[str] = set()
    out: list[Check[Any]] = []
    for declared in scenarios().values():
        for item in checks_of(declared.checks):
            if item.code in layer_codes or item.code in seen:
                raise RuntimeError(f"check code {item.code!r} is declared twice")
            seen.add(item.code)
            out.append(item)
    return tuple(out)


def scenario_checks() -> list[Check[Any]]:
    """The checks the scenarios declare, in table order (each also in its layer)."""
    return list(_checks())


def resolve_scenarios(spec: str | list[str] | tuple[str, ...]) -> list[Scenario]:
    """``all``, one name, or names separated by commas, as scenarios in table order."""
    known = scenarios()
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    wanted = [name.strip() for name in names if name.strip()]
    if not wanted:
        raise ScenarioError(f"no scenario named: use all or some of {', '.join(known)}")
    if "all" in wanted:
        return list(known.values())
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise ScenarioError(
            f"unknown scenario {', '.join(map(repr, unknown))}: use all or some of "
            f"{', '.join(known)}"
        )
    return [scenario for name, scenario in known.items() if name in wanted]


def resolve_prompts(pairs: list[str] | tuple[str, ...]) -> dict[str, dict[str, str]]:
    """``scenario.role=text`` overrides (``--prompt``), by scenario, checked against the
    prompts each scenario declares."""
    known = scenarios()
    out: dict[str, dict[str, str]] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        name, dot, role = key.strip().partition(".")
        scenario = known.get(name)
        if not sep or not dot or scenario is None or role not in scenario.prompts:
            roles = ", ".join(f"{s.name}.{r}" for s in known.values() for r in s.prompts)
            raise ScenarioError(
                f"bad --prompt {pair!r}: use SCENARIO.ROLE=TEXT with one of {roles}"
            )
        if not text.strip():
            raise ScenarioError(f"bad --prompt {pair!r}: the text is empty")
        out.setdefault(name, {})[role] = text
    return out
