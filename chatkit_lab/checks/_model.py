"""The shapes every check shares: its declaration, what it found, and what it could not check.

Modelled on h2spec and the Autobahn testsuite: every check is one function with its declaration
on it (:func:`check`: a stable code, a layer, a severity, a description, an expectation and a
fix), and every time it trips it yields a :class:`Found`, which becomes a :class:`Finding` with
the declaration's layer, severity and fix and the raw evidence beside it. Layer states
(``pass``/``warn``/``fail``/``skip``) are derived from findings, never set by hand.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Generic, Literal, TypeVar

from chatkit_lab.redact import shorten

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

SEVERITIES: tuple[str, ...] = ("error", "warning", "info")
LAYER_STATES: tuple[str, ...] = ("pass", "warn", "fail", "skip")

STOPPED = (
    "the client stopped reading on purpose (the stop button): how the stream ends is the "
    "client's doing, not the server's"
)
"""Why the end-of-stream checks skip a capture whose ending is ``stopped``."""

EXCERPT_LIMIT = 2000
"""The most characters of raw payload an excerpt keeps (whatever shows it shortens it further,
after redacting)."""


def excerpt(data: bytes | str, limit: int = EXCERPT_LIMIT) -> str:
    """The start of a payload as text, raw (not redacted), at most ``limit`` characters."""
    if isinstance(data, bytes):
        data = data[: limit * 4].decode("utf-8", errors="replace")
    return data if len(data) <= limit else data[: limit - 1] + "…"


@dataclass(frozen=True)
class CheckSpec:
    """A check's stable identity: what it looks at and what it expects to see."""

    code: str
    layer: str
    description: str
    expectation: str
    fix: str
    severity: str = "error"


@dataclass
class Evidence:
    """Where a finding was seen, precisely enough to find it again in the capture."""

    capture: str | None = None
    """Capture id or label."""
    event_index: int | None = None
    frame_index: int | None = None
    byte_range: tuple[int, int] | None = None
    excerpt: str | None = None
    """The start of the offending payload, raw (at most :data:`EXCERPT_LIMIT` characters):
    whatever shows or exports it redacts it first."""
    detail: dict[str, Any] = field(default_factory=dict)
    """Anything else that proves the point: timings, expected vs got, ids."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if value is None or value == {}:
                continue
            out[key] = list(value) if isinstance(value, tuple) else value
        return out

    def describe(self, redact: Callable[[str], str] | None = None) -> str:
        """One line for tables and markdown; ``redact`` is applied before anything is cut."""
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
            text = redact(self.excerpt) if redact is not None else self.excerpt
            parts.append(f"`{_shorten(text, 160)}`")
        return "; ".join(parts)


def _shorten(text: str, limit: int) -> str:
    return shorten(text.replace("\n", "\\n"), limit)


@dataclass
class Finding:
    """One thing a check found, with the evidence and the fix."""

    layer: str
    code: str
    severity: str
    summary: str
    evidence: Evidence = field(default_factory=Evidence)
    fix: str = ""
    more: int = 0
    """How many further findings of this code in the same stream or exchange were not kept
    (the check runner keeps the first few as examples; this one carries the count of the rest)."""

    @property
    def count(self) -> int:
        """This finding and the ones of its code folded into it."""
        return 1 + self.more

    def to_dict(self) -> dict[str, Any]:
        out = {
            "layer": self.layer,
            "code": self.code,
            "severity": self.severity,
            "summary": self.summary,
            "evidence": self.evidence.to_dict(),
            "fix": self.fix,
        }
        if self.more:
            out["more"] = self.more
        return out


@dataclass(frozen=True)
class Found:
    """What a check function yields when it trips: the words and the evidence.

    ``at`` places it among its layer's findings: a layer lists what its checks found by ``at``
    (an event index, a frame index, an item position; ``()`` sorts first), then in declaration
    order, so findings read in the order the stream (or the reload) showed them.
    """

    summary: str
    evidence: Evidence = field(default_factory=Evidence)
    at: tuple[int, ...] = ()


@dataclass(frozen=True)
class Skipped:
    """A check, or a whole layer, that could not run on one capture, and why."""

    layer: str
    reason: str
    capture: str | None = None
    code: str | None = None
    """The check that was skipped (``None`` when the whole layer was)."""

    def __str__(self) -> str:
        where = f"{self.capture}: " if self.capture else ""
        return f"{where}{self.code or self.layer}: {self.reason}"


@dataclass(frozen=True)
class Skip:
    """What a check function yields when it cannot judge this context (see :class:`Skipped`)."""

    reason: str


Context = TypeVar("Context")


class Check(Generic[Context]):
    """One check: its declaration and the function that raises it.

    The function takes one context of its layer's kind (an exchange, a stream, a lifecycle)
    and yields :class:`Found` (or :class:`Skip`); :func:`run_checks` turns those into findings
    with the declaration's layer, severity and fix.
    """

    def __init__(self, spec: CheckSpec, function: Callable[[Context], Iterable[Found | Skip]]):
        self.spec = spec
        self.function = function
        self.__doc__ = function.__doc__
        self.__name__ = function.__name__
        self.__module__ = function.__module__

    @property
    def code(self) -> str:
        return self.spec.code

    def finding(self, summary: str, evidence: Evidence | None = None) -> Finding:
        """A finding of this check (layer, severity and fix from its declaration)."""
        spec = self.spec
        return Finding(
            spec.layer, spec.code, spec.severity, summary, evidence or Evidence(), spec.fix
        )

    def __call__(self, context: Context) -> list[Finding]:
        """The findings alone, in the order the function yields them."""
        return run_checks((self,), context, ordered=False).findings

    def __repr__(self) -> str:
        return f"<Check {self.spec.code} ({self.spec.layer}, {self.spec.severity})>"


def check(
    *,
    code: str,
    layer: Layer,
    severity: Severity,
    description: str,
    expectation: str,
    fix: str,
) -> Callable[[Callable[[Context], Iterable[Found | Skip]]], Check[Context]]:
    """Declare the decorated function as the check ``code``.

    The code starts with its layer's name, and the function lives in that layer's module
    (``chatkit_lab.checks.<layer>``), which the registry lists.
    """
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; expected one of {LAYERS}")
    if severity not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}; expected one of {SEVERITIES}")
    if not code.startswith(f"{layer}."):
        raise ValueError(f"check code {code!r} does not start with its layer {layer!r}")
    spec = CheckSpec(code, layer, description, expectation, fix, severity)

    def declare(function: Callable[[Context], Iterable[Found | Skip]]) -> Check[Context]:
        return Check(spec, function)

    return declare


def checks_of(module: str) -> list[Check[Any]]:
    """The checks declared in one module, in declaration order."""
    found = vars(sys.modules[module]).values()
    return [item for item in found if isinstance(item, Check) and item.__module__ == module]


@dataclass
class Outcome:
    """What a set of checks found in one context, and what they could not check."""

    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def run_checks(
    checks: Iterable[Check[Context]],
    context: Context,
    *,
    keep: int | None = None,
    ordered: bool = True,
) -> Outcome:
    """Run ``checks`` over one context; findings ordered by ``at``, then declaration order
    (``ordered=False``: in the order the checks yield them).

    The one check runner. With ``keep``, of each code only the first ``keep`` findings are kept
    and the number of the others is added to the first one's :attr:`Finding.more`; the others
    are counted as the check yields them and never become findings, so memory does not grow
    with them.
    """
    if keep is not None and keep < 1:
        raise ValueError(f"keep must be at least 1, not {keep}")
    placed: list[tuple[tuple[int, ...], Finding]] = []
    outcome = Outcome()
    name = getattr(context, "name", None)
    for declared in checks:
        kept: list[Finding] = []
        dropped = 0
        for item in declared.function(context):
            if isinstance(item, Skip):
                outcome.skipped.append(
                    Skipped(declared.spec.layer, item.reason, name, declared.code)
                )
            elif keep is None or len(kept) < keep:
                found = declared.finding(item.summary, item.evidence)
                kept.append(found)
                placed.append((item.at, found))
            else:
                dropped += 1
        if dropped:
            kept[0].more += dropped
    if ordered:
        placed.sort(key=lambda pair: pair[0])
    outcome.findings = [found for _, found in placed]
    return outcome


def layer_states(findings: list[Finding], evaluated: set[str] | None = None) -> dict[str, str]:
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
