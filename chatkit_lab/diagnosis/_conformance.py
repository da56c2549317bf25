"""The conformance table: one row per scenario, pass, fail or skipped with the reason.

Graded like h2spec: a scenario *passes* when none of its findings is an error, *fails* with the
first failure on its path (its verdict: the layer and the check), and is *skipped* when the
backend does not offer what it exercises, with the reason and the capture that showed it (a
skip is not a failure). ``error`` means the kit could not finish the scenario; it says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from chatkit_lab.diagnosis._model import Diagnosis
from chatkit_lab.redact import Redactor, current_redactor
from chatkit_lab.scenarios import Scenario

ScenarioState = Literal["pass", "fail", "skip", "error", "not run"]
SCENARIO_STATES: tuple[str, ...] = ("pass", "fail", "skip", "error", "not run")


@dataclass
class ScenarioResult:
    """One scenario's grade and everything behind it."""

    scenario: Scenario
    state: ScenarioState
    reason: str
    """For ``skip`` and ``error``: why; for ``fail``: the verdict; for ``pass``: what ran."""
    diagnosis: Diagnosis
    """Every finding of the scenario's exchanges and checks, and its session's steps."""
    evidence: str | None = None
    """For a skip: the capture that showed the backend does not offer it."""
    facts: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.scenario.name

    def to_dict(self) -> dict[str, Any]:
        verdict = self.diagnosis.verdict
        return {
            "name": self.name,
            "title": self.scenario.title,
            "state": self.state,
            "reason": self.reason,
            "evidence": self.evidence,
            **(
                {"evidence_file": self.diagnosis.saved[self.evidence]}
                if self.evidence in self.diagnosis.saved
                else {}
            ),
            "verdict": (
                {"layer": verdict.layer, "code": verdict.code, "summary": verdict.summary}
                if verdict is not None and self.state == "fail"
                else None
            ),
            "layers": dict(self.diagnosis.layers),
            "requests": len(self.diagnosis.lifecycle.steps) if self.diagnosis.lifecycle else 0,
            "findings": [self.diagnosis.filed(f.to_dict()) for f in self.diagnosis.findings],
            **({"saved": dict(self.diagnosis.saved)} if self.diagnosis.saved else {}),
        }


@dataclass
class Conformance:
    """Every scenario run against one target, in table order."""

    target: str
    results: list[ScenarioResult] = field(default_factory=list)
    redactor: Redactor = field(default_factory=current_redactor, repr=False, compare=False)

    def result(self, name: str) -> ScenarioResult | None:
        return next((result for result in self.results if result.name == name), None)

    @property
    def failed(self) -> bool:
        return any(result.state in ("fail", "error") for result in self.results)

    def counts(self) -> dict[str, int]:
        return {state: sum(r.state == state for r in self.results) for state in SCENARIO_STATES}

    def headline(self) -> str:
        counts = self.counts()
        parts = [f"{counts[state]} {state}" for state in SCENARIO_STATES if counts[state]]
        worst = next((r for r in self.results if r.state in ("fail", "error")), None)
        text = f"{self.target}: {len(self.results)} scenario(s): {', '.join(parts)}"
        if worst is not None:
            text += f"; first failing: {worst.name} ({worst.reason})"
        return self.redactor.redact_text(text)

    def to_json(self, *, redact: bool = True) -> dict[str, Any]:
        """The CLI's ``--json`` object for ``--scenario`` (secrets redacted unless told)."""
        payload = {
            "target": self.target,
            "scenarios": [result.to_dict() for result in self.results],
            "counts": self.counts(),
        }
        return self.redactor.redact_obj(payload) if redact else payload
