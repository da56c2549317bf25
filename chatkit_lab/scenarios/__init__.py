"""The scenarios stage: conformance scenarios beyond the first message, graded like h2spec.

Each scenario is one module (``messages``, ``cancel``, ``retry``, ``client_tool``, ``widget``,
``workflow``, ``attachments``, ``history``, ``errors``) holding its declaration, the coroutine
that plays the client's part, and the ``@check`` declarations that judge what it recorded;
:mod:`chatkit_lab.scenarios.registry` lists them, and :func:`register_scenario` adds one
from outside the package. Each also declares what the kit's reference backend answers to its
prompts (:class:`Reply`) and its faulty variant (:class:`Fault`), as plain data. The diagnosis
stage runs them (:func:`chatkit_lab.diagnosis.diagnose_scenarios`) and grades each pass, fail or
skipped.
"""

from chatkit_lab.scenarios._base import (
    CannotGoOn,
    Fault,
    NotOffered,
    Reply,
    Scenario,
    ScenarioContext,
    Session,
    StoppedAnswering,
    done_items,
    error_events,
    item_text,
    items_of,
    not_offered_evidence,
)
from chatkit_lab.scenarios.errors import FailingUpstream, parse_upstream
from chatkit_lab.scenarios.registry import (
    DEFAULT_SCENARIO,
    SCENARIO_GROUP,
    SCENARIO_MODULES,
    register_scenario,
    resolve_prompts,
    resolve_scenarios,
    scenario_checks,
    scenarios,
    unregister_scenario,
)

__all__ = [
    "DEFAULT_SCENARIO",
    "CannotGoOn",
    "Fault",
    "Reply",
    "SCENARIO_GROUP",
    "register_scenario",
    "unregister_scenario",
    "StoppedAnswering",
    "done_items",
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
