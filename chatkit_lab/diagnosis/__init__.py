"""Layered diagnosis: the only orchestrator.

It plays the client against a target (or reads loose captures), runs every layer's checks
(request, transport, framing, decoding, schema, ordering, rendering, persistence), derives each
layer's state (``pass``, ``warn``, ``fail``, ``skip``) and names the verdict: the first failure
on the user's path, the earliest failing step and within it the lowest failing layer.
"""

from chatkit_lab.diagnosis._conformance import (
    SCENARIO_STATES,
    Conformance,
    ScenarioResult,
)
from chatkit_lab.diagnosis._evidence import save_run
from chatkit_lab.diagnosis._loose import diagnose_captures, diagnose_source
from chatkit_lab.diagnosis._model import Counterfactual, Diagnosis
from chatkit_lab.diagnosis._run import (
    OpenRun,
    RunConfig,
    diagnose,
    diagnose_target,
    evaluate_lifecycle,
    evaluate_steps,
    open_run,
)
from chatkit_lab.diagnosis._scenarios import diagnose_scenarios, evaluate_scenario, run_scenarios

__all__ = [
    "SCENARIO_STATES",
    "Conformance",
    "Counterfactual",
    "Diagnosis",
    "OpenRun",
    "RunConfig",
    "ScenarioResult",
    "diagnose_scenarios",
    "evaluate_scenario",
    "open_run",
    "run_scenarios",
    "save_run",
    "diagnose",
    "diagnose_captures",
    "diagnose_source",
    "diagnose_target",
    "evaluate_lifecycle",
    "evaluate_steps",
]
