"""The scenarios stage: conformance scenarios beyond the first message, graded like h2spec.

Each scenario is one module (``messages``, ``cancel``, ``retry``, ``client_tool``, ``widget``,
``workflow``, ``attachments``, ``history``, ``errors``) holding its declaration, the coroutine
that plays the client's part, and the ``@check`` declarations that judge what it recorded;
:mod:`chatkit_lab.scenarios.registry` lists them. The diagnosis stage runs them
(:func:`chatkit_lab.diagnosis.diagnose_scenarios`) and grades each pass, fail or skipped.
"""

from chatkit_lab.scenarios._base import (
    CannotGoOn,
    NotOffered,
    Scenario,
    ScenarioContext,
    Session,
    StoppedAnswering,
    error_events,
    item_text,
    items_of,
    not_offered_evidence,
)
from chatkit_lab.scenarios._upstream import FailingUpstream, parse_upstream
from chatkit_lab.scenarios.registry import (
    DEFAULT_SCENARIO,
    SCENARIO_MODULES,
    resolve_prompts,
    resolve_scenarios,
    scenario_checks,
    scenarios,
)

__all__ = [
    "DEFAULT_SCENARIO",
    "CannotGoOn",
    "StoppedAnswering",
    "error_events",
    "FailingUpstream",
    "not_offered_evidence",
    "parse_upstream",
    "SCENARIO_MODULES",
    "NotOffered",
    "Scenario",
    "ScenarioContext",
    "Session",
    "item_text",
    "items_of",
    "resolve_prompts",
    "resolve_scenarios",
    "scenario_checks",
    "scenarios",
]
