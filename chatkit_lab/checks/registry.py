"""Every check, listed once: the layer modules in layer order.

A check is a function with its declaration on it (:func:`~chatkit_lab.checks.check`) in the
module named for its layer. To add one, declare it in that module; the catalogue
(``chatkit-lab checks``, ``docs/concepts/checks.md``), the severities and the diagnosis all read
the declarations from the modules listed here, and nothing else registers a check.

:func:`run_layer` is the check runner the diagnosis uses. Its cost is bounded by the number of
distinct codes, not by the input: of each code it keeps the first :data:`KEPT_PER_CODE` findings
in one context (a stream, an exchange) as examples and counts the rest on the first of them
(:attr:`Finding.more <chatkit_lab.checks.Finding.more>`), so a stream that trips one check on a
million events yields a handful of findings that say "and 999,980 more". Layer states and the
verdict read severities and codes only, so they are the same as with every finding kept.
"""

from __future__ import annotations

from functools import cache
from types import ModuleType
from typing import Any

from chatkit_lab.checks import (
    decoding,
    framing,
    ordering,
    persistence,
    rendering,
    request,
    schema,
    transport,
)
from chatkit_lab.checks._model import (
    LAYERS,
    Check,
    CheckSpec,
    Evidence,
    Finding,
    Outcome,
    checks_of,
    run_checks,
)

__all__ = [
    "KEPT_PER_CODE",
    "LAYER_MODULES",
    "all_checks",
    "check_specs",
    "checks_for",
    "finding",
    "run_layer",
]

LAYER_MODULES: tuple[ModuleType, ...] = (
    request,
    transport,
    framing,
    decoding,
    schema,
    ordering,
    rendering,
    persistence,
)
"""The check modules, one per layer, in layer order."""

KEPT_PER_CODE = 20
"""Findings of one code kept per context by :func:`run_layer`; the rest are counted."""


@cache
def _registry() -> dict[str, tuple[Check[Any], ...]]:
    by_layer: dict[str, tuple[Check[Any], ...]] = {}
    seen: set[str] = set()
    for module, layer in zip(LAYER_MODULES, LAYERS, strict=True):
        if module.__name__.rsplit(".", 1)[-1] != layer:
            raise RuntimeError(f"{module.__name__} is listed where layer {layer!r} belongs")
        checks = tuple(checks_of(module.__name__))
        for declared in checks:
            if declared.spec.layer != layer:
                raise RuntimeError(f"{declared.code} is declared in the {layer} module")
            if declared.code in seen:
                raise RuntimeError(f"check code {declared.code!r} is declared twice")
            seen.add(declared.code)
        by_layer[layer] = checks
    return by_layer


def checks_for(layer: str) -> tuple[Check[Any], ...]:
    """The checks of one layer, in declaration order."""
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; expected one of {LAYERS}")
    return _registry()[layer]


def all_checks() -> list[Check[Any]]:
    """Every check, in layer order, then declaration order."""
    return [declared for layer in LAYERS for declared in _registry()[layer]]


def check_specs() -> dict[str, CheckSpec]:
    """Every check's declaration, by code."""
    return {declared.code: declared.spec for declared in all_checks()}


def finding(code: str, summary: str, evidence: Evidence | None = None) -> Finding:
    """A finding of the check ``code``: layer, severity and fix come from its declaration."""
    for declared in all_checks():
        if declared.code == code:
            return declared.finding(summary, evidence)
    raise KeyError(f"no check is declared with code {code!r}")


def run_layer(layer: str, context: Any, *, keep: int = KEPT_PER_CODE) -> Outcome:
    """Run one layer's checks over a context of that layer's kind, keeping ``keep`` findings of
    each code (:func:`~chatkit_lab.checks.run_checks`, the one runner)."""
    return run_checks(checks_for(layer), context, keep=keep)
