"""The Diagnosis: every finding of one run, the layer states, and the verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chatkit_lab.capture import Capture
from chatkit_lab.checks import (
    LAYERS,
    Finding,
    Reload,
    Skipped,
)
from chatkit_lab.client import Lifecycle, Step
from chatkit_lab.client.session import SessionModel
from chatkit_lab.redact import Redactor, current_redactor


@dataclass
class Diagnosis:
    """Everything one diagnosis found, and the verdict."""

    target: str
    findings: list[Finding] = field(default_factory=list)
    layers: dict[str, str] = field(default_factory=dict)
    captures: list[Capture] = field(default_factory=list)
    lifecycle: Lifecycle | None = None
    reloads: list[Reload] = field(default_factory=list)
    analyses: dict[str, Any] = field(default_factory=dict)
    """Event analysis per streaming capture name."""
    skipped: list[Skipped] = field(default_factory=list)
    """Checks (or layers) that could not run, each with the reason (``str()`` reads as text)."""
    transform: str = ""
    redactor: Redactor = field(default_factory=current_redactor, repr=False, compare=False)
    """The run's redactor (the secrets the user supplied): every output below is redacted by it."""
    session: SessionModel | None = None
    """The session model, built once from the run's exchanges: every verdict, story, screen and
    fix reads it (see docs/concepts/client-model.md)."""
    saved: dict[str, str] = field(default_factory=dict)
    """Capture name -> the file it was saved in (``--save``); reasons citing a capture name it."""
    counterfactual: Counterfactual | None = None
    """The same session again with the fetch replaced by a pass-through that keeps only the
    headers it adds (a :class:`~chatkit_lab.diagnosis.Counterfactual`), when a fetch ran."""

    @property
    def verdict(self) -> Finding | None:
        """The first failure on the user's path: the earliest failing step at or before the
        first screen that departs from a working backend (the session model's departure), and
        within it the lowest failing layer (see docs/concepts/layers.md, "The verdict")."""
        errors = [finding for finding in self.findings if finding.severity == "error"]
        if not errors:
            return None
        order = self.step_order()
        last = len(order) + 1
        departure = self.session.departure if self.session is not None else None
        if departure is not None and departure.step in order:
            # the first screen that departs from a working backend: the cause is at or before it
            seen_at = order[departure.step]
            upto = [f for f in errors if order.get(f.evidence.capture or "", last) <= seen_at]
            errors = upto or errors
        return min(
            errors,
            key=lambda f: (order.get(f.evidence.capture or "", last), LAYERS.index(f.layer)),
        )

    def step_order(self) -> dict[str, int]:
        """Each capture's position on the user's path (the lifecycle step it belongs to)."""
        order: dict[str, int] = {}
        if self.lifecycle is not None:
            for number, step in enumerate(self.lifecycle.steps):
                for capture in (step.capture, *step.wire, step.handed_back):
                    if capture is not None:
                        order.setdefault(capture.name, number)
        for number, capture in enumerate(self.captures):
            order.setdefault(capture.name, len(order) + number)
        return order

    def step(self, request: str, phase: str | None = None) -> Step:
        """The first step that sent the ChatKit request ``request`` (``"threads.create"``), in
        ``phase`` when given (``"load"``, ``"reload"``, ``"send after stop"``): the typed way
        to the step named ``"<phase>: <request>"``. A re-sent attempt is never the first."""
        steps = self.lifecycle.steps if self.lifecycle is not None else []
        for step in steps:
            if step.client_type == request and not step.attempt:
                if phase is None or step.name == f"{phase}: {request}":
                    return step
        where = f" in phase {phase!r}" if phase else ""
        raise KeyError(f"no {request} step{where}; steps: {[step.name for step in steps]}")

    def analysis(self, request: str, phase: str | None = None) -> Any:
        """The event analysis of the stream :meth:`step` finds."""
        return self.analyses[self.step(request, phase).capture.name]

    @property
    def failed(self) -> bool:
        return self.verdict is not None

    def to_json(self, *, redact: bool = True) -> dict[str, Any]:
        """The CLI's ``--json`` object (secrets redacted unless ``redact=False``)."""
        verdict = self.verdict
        payload: dict[str, Any] = {
            "target": self.target,
            "verdict": (
                {"layer": verdict.layer, "code": verdict.code, "summary": verdict.summary}
                if verdict
                else None
            ),
            "layers": dict(self.layers),
            "findings": [self.filed(f.to_dict()) for f in self.findings],
            "departure": self._departure_json(),
        }
        if self.saved:
            payload["saved"] = dict(self.saved)
        if self.counterfactual is not None:
            other = self.counterfactual.diagnosis.verdict
            payload["without_fetch"] = {
                "kept_headers": list(self.counterfactual.kept),
                "verdict": (
                    {"layer": other.layer, "code": other.code, "summary": other.summary}
                    if other
                    else None
                ),
                "says": self.counterfactual.line(),
            }
        return self.redactor.redact_obj(payload) if redact else payload

    def filed(self, finding: dict[str, Any]) -> dict[str, Any]:
        """A finding's dict, its evidence naming the file its capture was saved in."""
        evidence = finding.get("evidence")
        if isinstance(evidence, dict) and evidence.get("capture") in self.saved:
            evidence["file"] = self.saved[evidence["capture"]]
        return finding

    def _departure_json(self) -> dict[str, Any] | None:
        departure = self.session.departure if self.session is not None else None
        if departure is None:
            return None
        return {
            "screen": departure.screen,
            "step": departure.step,
            "kind": departure.kind,
            "sees": departure.sees,
        }

    def headline(self) -> str:
        """One line: the verdict or that every layer passes (secrets redacted)."""
        verdict = self.verdict
        if verdict is None:
            warned = [name for name, state in self.layers.items() if state == "warn"]
            extra = f" (warnings in {', '.join(warned)})" if warned else ""
            return self.redactor.redact_text(f"{self.target}: every layer passes{extra}")
        return self.redactor.redact_text(
            f"{self.target}: first broken layer is {verdict.layer} ({verdict.code}): "
            + verdict.summary
        )


@dataclass
class Counterfactual:
    """The same session with the fetch replaced by a header-only pass-through."""

    fetch: str
    """The fetch that was replaced (its name)."""
    kept: list[str]
    """The names of the headers the pass-through kept (values are never shown)."""
    diagnosis: Diagnosis
    """The run without the fetch."""

    @property
    def fetch_is_the_cause(self) -> bool:
        return not self.diagnosis.failed

    def line(self) -> str:
        """One sentence: what the same session gives on the same target without the fetch."""
        kept = ", ".join(self.kept) if self.kept else "no header"
        head = (
            f"the same session with {self.fetch} replaced by a pass-through that adds only {kept}"
        )
        verdict = self.diagnosis.verdict
        if verdict is None:
            return (
                f"{head} passes every layer: the fetch alone is the cause; make it add "
                "headers and nothing else."
            )
        return (
            f"{head} still fails at {verdict.layer} ({verdict.code}): {verdict.summary}. The "
            "fetch is not the only cause; the backend needs that fix too."
        )
