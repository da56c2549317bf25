"""Findings: the one shape every check reports in.

Modelled on h2spec and the Autobahn testsuite: every check has a stable code, a layer, a
description and an expectation (a :class:`CheckSpec`, registered once), and every time it trips
it produces a :class:`Finding` with a severity from a fixed vocabulary and the raw evidence beside
it. Layer states (``pass``/``warn``/``fail``/``skip``) are derived from findings, never set by hand.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pandas as pd

LAYERS: tuple[str, ...] = (
    "request",
    "transport",
    "framing",
    "decoding",
    "schema",
    "ordering",
    "rendering",
    "persistence",
)
"""The diagnosis layers, in the order a request travels through them."""

Layer = Literal[
    "request", "transport", "framing", "decoding", "schema", "ordering", "rendering", "persistence"
]
Severity = Literal["error", "warning", "info"]
LayerState = Literal["pass", "warn", "fail", "skip"]

SEVERITIES: tuple[str, ...] = ("error", "warning", "info")
LAYER_STATES: tuple[str, ...] = ("pass", "warn", "fail", "skip")


@dataclass(frozen=True)
class CheckSpec:
    """A check's stable identity: what it looks at and what it expects to see."""

    code: str
    layer: str
    description: str
    expectation: str
    fix: str
    severity: str = "error"


_REGISTRY: dict[str, CheckSpec] = {}


def register_check(
    code: str,
    layer: str,
    description: str,
    expectation: str,
    fix: str,
    severity: str = "error",
) -> CheckSpec:
    """Register a check once (module import time) and return its spec.

    Re-registering the same code with the same content is allowed (module reloads in notebooks);
    a different definition under an existing code is a programming error.
    """
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; expected one of {LAYERS}")
    if severity not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}; expected one of {SEVERITIES}")
    spec = CheckSpec(code, layer, description, expectation, fix, severity)
    existing = _REGISTRY.get(code)
    if existing is not None and existing != spec:
        raise ValueError(f"check code {code!r} is already registered with a different definition")
    _REGISTRY[code] = spec
    return spec


def check_specs() -> dict[str, CheckSpec]:
    """Every registered check, by code."""
    return dict(_REGISTRY)


def checks_table() -> pd.DataFrame:
    """All registered checks as a table (code, layer, severity, description, expectation, fix)."""
    rows = [asdict(spec) for spec in sorted(_REGISTRY.values(), key=_spec_sort_key)]
    columns = ["code", "layer", "severity", "description", "expectation", "fix"]
    return pd.DataFrame(rows, columns=columns)


def _spec_sort_key(spec: CheckSpec) -> tuple[int, str]:
    return (LAYERS.index(spec.layer), spec.code)


@dataclass
class Evidence:
    """Where a finding was seen, precisely enough to find it again in the capture."""

    capture: str | None = None
    """Capture id or label."""
    event_index: int | None = None
    frame_index: int | None = None
    byte_range: tuple[int, int] | None = None
    excerpt: str | None = None
    """A short excerpt of the offending payload (already redacted, at most a few hundred chars)."""
    detail: dict[str, Any] = field(default_factory=dict)
    """Anything else that proves the point: timings, expected vs got, ids."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if value is None or value == {}:
                continue
            out[key] = list(value) if isinstance(value, tuple) else value
        return out

    def describe(self) -> str:
        """One line for tables and markdown."""
        parts: list[str] = []
        if self.capture:
            parts.append(f"capture {self.capture}")
        if self.event_index is not None:
            parts.append(f"event #{self.event_index}")
        if self.frame_index is not None and self.event_index is None:
            parts.append(f"frame #{self.frame_index}")
        if self.byte_range is not None:
            parts.append(f"bytes {self.byte_range[0]}..{self.byte_range[1]}")
        for key, value in self.detail.items():
            parts.append(f"{key}={value}")
        if self.excerpt:
            parts.append(f"`{_shorten(self.excerpt, 160)}`")
        return "; ".join(parts)


def _shorten(text: str, limit: int) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Finding:
    """One thing a check found, with the evidence and the fix."""

    layer: str
    code: str
    severity: str
    summary: str
    evidence: Evidence = field(default_factory=Evidence)
    fix: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "code": self.code,
            "severity": self.severity,
            "summary": self.summary,
            "evidence": self.evidence.to_dict(),
            "fix": self.fix,
        }


def finding(
    code: str,
    summary: str,
    evidence: Evidence | None = None,
    *,
    severity: str | None = None,
    fix: str | None = None,
) -> Finding:
    """A finding for a registered check; layer, default severity and fix come from its spec."""
    spec = _REGISTRY.get(code)
    if spec is None:
        raise KeyError(f"check code {code!r} is not registered")
    return Finding(
        layer=spec.layer,
        code=code,
        severity=severity or spec.severity,
        summary=summary,
        evidence=evidence or Evidence(),
        fix=fix if fix is not None else spec.fix,
    )


def layer_states(
    findings: list[Finding], evaluated: set[str] | None = None
) -> dict[str, str]:
    """Derive each layer's state: ``fail`` on any error, ``warn`` on any warning, else ``pass``.

    Layers not in ``evaluated`` (when given) and without findings are ``skip``.
    """
    states: dict[str, str] = {}
    for layer in LAYERS:
        severities = {f.severity for f in findings if f.layer == layer}
        if "error" in severities:
            states[layer] = "fail"
        elif "warning" in severities:
            states[layer] = "warn"
        elif evaluated is not None and layer not in evaluated:
            states[layer] = "skip"
        else:
            states[layer] = "pass"
    return states


def first_failure(findings: list[Finding]) -> Finding | None:
    """The verdict: the first error finding in layer order (``None`` when no layer fails)."""
    errors = [f for f in findings if f.severity == "error"]
    if not errors:
        return None
    return min(errors, key=lambda f: LAYERS.index(f.layer))


def findings_table(findings: list[Finding]) -> pd.DataFrame:
    """Findings as a table sorted by layer order, with the evidence as one readable column."""
    rows = [
        {
            "layer": f.layer,
            "code": f.code,
            "severity": f.severity,
            "summary": f.summary,
            "evidence": f.evidence.describe(),
            "fix": f.fix,
        }
        for f in sorted(findings, key=lambda f: LAYERS.index(f.layer))
    ]
    columns = ["layer", "code", "severity", "summary", "evidence", "fix"]
    return pd.DataFrame(rows, columns=columns)
