"""Running the conformance scenarios against one target, and grading each.

Each scenario gets its own client session (its own threads) on the same open target, through
the same fetch. Its exchanges are judged by every layer's checks, as the message lifecycle's
are; at each load point the stream-vs-reload diff compares the load with what that thread had
streamed (unless the scenario judges its loads itself); then the scenario's own checks read
what its play recorded. A scenario the backend does not offer is skipped with the reason.
"""

from __future__ import annotations

from typing import Any

from chatkit_lab.capture import Capture
from chatkit_lab.checks import (
    LifecycleContext,
    Skipped,
    checks_of,
    diff_reload,
    layer_states,
    reply_kind,
    run_checks,
    run_layer,
    streamed_items,
)
from chatkit_lab.client import Lifecycle, NodeFetch
from chatkit_lab.diagnosis._conformance import Conformance, ScenarioResult
from chatkit_lab.diagnosis._fixes import fit_fixes
from chatkit_lab.diagnosis._loose import thread_of
from chatkit_lab.diagnosis._model import Diagnosis
from chatkit_lab.diagnosis._run import (
    OpenRun,
    RunConfig,
    _merge_repeated,
    begin_evaluation,
    evaluate_lifecycle,
    open_run,
)
from chatkit_lab.errors import ChatKitLabError
from chatkit_lab.redact import Redactor, redacting
from chatkit_lab.scenarios import (
    CannotGoOn,
    NotOffered,
    Scenario,
    Session,
    StoppedAnswering,
    error_events,
    resolve_scenarios,
)
from chatkit_lab.targets import Target

__all__ = ["diagnose_scenarios", "evaluate_scenario", "play_scenarios", "run_scenarios"]

LOAD = ": threads.get_by_id"


def _load_points(life: Lifecycle, diagnosis: Diagnosis, judged: tuple[str, ...]) -> list[Any]:
    """Every load point of a session (but those the scenario judges itself), each diffed
    against what its thread had streamed by then."""
    reloads = []
    for cut, step in enumerate(life.steps):
        if not step.name.endswith(LOAD) or step.attempt:
            continue
        prefix = step.name[: -len(LOAD)]
        if prefix in judged:
            continue
        thread = thread_of(step.capture)
        streams: list[Capture] = [
            s.capture
            for s in life.steps[:cut]
            if s.expects == "stream"
            and reply_kind(s.capture) == "stream"
            and thread_of(s.capture) == thread
        ]
        if not streams:
            continue
        list_step = life.step(f"{prefix}: items.list")
        pages = [s for s in life.steps if s.name.startswith(f"{prefix}: items.list page")]
        reloads.append(diff_reload(prefix, streamed_items(streams), step, list_step, pages))
    diagnosis.reloads = reloads
    return reloads


def evaluate_scenario(
    session: Session, target: str = "", transform: str = "", redactor: Redactor | None = None
) -> Diagnosis:
    """Run every layer's checks and the scenario's own over a finished session (the diagnosis
    carries the run's ``redactor``, else the current one)."""
    scenario = session.scenario
    life = session.life
    if scenario.name == "messages":
        return evaluate_lifecycle(life, target, transform, redactor)
    diagnosis, found, evaluated = begin_evaluation(life, target, transform, redactor)
    for reload in _load_points(life, diagnosis, scenario.judged_loads):
        found.extend(reload.findings)
        evaluated.add("persistence")
    whole = run_layer("persistence", LifecycleContext(life, []))
    found.extend(whole.findings)
    declared = checks_of(scenario.checks)
    own = run_checks(declared, session.context)
    found.extend(own.findings)
    diagnosis.skipped.extend(own.skipped)
    skipped = {item.code for item in own.skipped}
    evaluated.update(item.spec.layer for item in declared if item.code not in skipped)
    intended = [finding for finding in found if finding.code in scenario.intended]
    if intended:
        diagnosis.skipped.append(
            Skipped(
                "scenario",
                f"{len(intended)} finding(s) of {', '.join(sorted({f.code for f in intended}))} "
                "left out: the scenario asked for them",
            )
        )
    found = [finding for finding in found if finding.code not in scenario.intended]
    diagnosis.findings = _merge_repeated(found)
    fit_fixes(diagnosis.findings, diagnosis.captures, diagnosis.session)
    diagnosis.layers = layer_states(diagnosis.findings, evaluated)
    return diagnosis


def _grade(session: Session, diagnosis: Diagnosis, skipped: NotOffered | None) -> ScenarioResult:
    scenario = session.scenario
    verdict = diagnosis.verdict
    if isinstance(skipped, CannotGoOn) and verdict is None:
        return ScenarioResult(
            scenario, "error", skipped.reason, diagnosis, skipped.evidence, session.facts
        )
    if skipped is not None and not isinstance(skipped, CannotGoOn):
        # a skip never hides an error found on another exchange
        # (the refusal that shows the feature is missing is the skip's evidence, not a fault)
        found = [
            f
            for f in diagnosis.findings
            if f.severity == "error"
            and not (
                skipped.refusal
                and f.code == "request.http_error"
                and f.evidence.capture == skipped.evidence
            )
        ]
        if found:
            skipped = None
    if skipped is not None and not isinstance(skipped, CannotGoOn):
        diagnosis.skipped.append(Skipped("scenario", skipped.reason, skipped.evidence))
        return ScenarioResult(
            scenario, "skip", skipped.reason, diagnosis, skipped.evidence, session.facts
        )
    if verdict is not None:
        reason = f"{verdict.layer}: {verdict.code}: {verdict.summary}"
        return ScenarioResult(scenario, "fail", reason, diagnosis, facts=session.facts)
    steps = len(session.life.steps)
    warned = sorted({f.code for f in diagnosis.findings if f.severity == "warning"})
    reason = f"{steps} request(s), no error" + (
        f"; warnings: {', '.join(warned)}" if warned else ""
    )
    return ScenarioResult(scenario, "pass", reason, diagnosis, facts=session.facts)


async def run_scenarios(
    target: Target, scenarios: list[Scenario], config: RunConfig | None = None, **options: Any
) -> Conformance:
    """Play each scenario against an open target and grade it (the :class:`RunConfig`, or its
    fields as keywords).

    The run's redactor is ``redactor`` (default: the current one) with the target's credential
    headers.
    When a request gets no answer at all (the backend stopped answering), that scenario fails
    naming the request before it, and every later one is ``not run`` for that reason.
    """
    config = RunConfig.of(config or target.name, **options)
    return await play_scenarios(OpenRun.on(target, config), scenarios)


async def play_scenarios(run: OpenRun, scenarios: list[Scenario]) -> Conformance:
    """Play each scenario in one run and grade it (see :func:`run_scenarios`)."""
    target, fetch, redactor, config = run.target, run.fetch, run.redactor, run.config
    progress = config.progress
    conformance = Conformance(target.name, redactor=redactor)
    before: str | None = None
    gone: str | None = None
    met: list[dict[str, Any]] = []  # the error events earlier scenarios met: real failures
    with redacting(redactor):
        for scenario in scenarios:
            runner = run.runner()
            if progress is not None:
                runner.progress = lambda line, name=scenario.name: progress(f"{name}: {line}")
            session = Session(
                scenario,
                runner,
                prompts=(config.prompts or {}).get(scenario.name),
                upload_url=config.upload_url or target.upload_url,
                custom_fetch=isinstance(fetch, NodeFetch),
                sync_action=config.sync_action,
                upload_type=config.upload_type,
                before=before,
                met_errors=met,
                errors_upstream=config.errors_upstream,
            )
            if gone is not None:  # never a feature skip: nothing after it can be judged
                conformance.results.append(
                    ScenarioResult(
                        scenario,
                        "not run",
                        f"not run: {gone}",
                        Diagnosis(target.name, lifecycle=session.life, redactor=redactor),
                    )
                )
                continue
            skipped: NotOffered | None = None
            stopped: StoppedAnswering | None = None
            try:
                await scenario.play(session)
            except NotOffered as exc:
                skipped = exc
            except StoppedAnswering as exc:
                stopped = exc
            except ChatKitLabError:
                raise
            except Exception as exc:  # a reply the play did not foresee: graded, not a traceback
                diagnosis = Diagnosis(target.name, lifecycle=session.life, redactor=redactor)
                reason = redactor.redact_text(
                    f"the kit could not finish the scenario: {type(exc).__name__}: {exc}"
                )
                conformance.results.append(
                    ScenarioResult(scenario, "error", reason, diagnosis, facts=session.facts)
                )
                continue
            finally:
                if scenario.name != "messages" and stopped is None:
                    await runner.clean_up(session.life)
                before = session.last_request()
                if scenario.name != "errors":
                    met.extend(error_events(session.life, scenario.name))
            if scenario.name == "messages":
                run.refuse_unreachable(session.life)
            diagnosis = evaluate_scenario(session, target.name, run.fetch_name, redactor)
            if stopped is not None:
                gone = redactor.redact_text(stopped.reason)
                conformance.results.append(
                    ScenarioResult(
                        scenario, "fail", gone, diagnosis, stopped.evidence, session.facts
                    )
                )
                continue
            conformance.results.append(_grade(session, diagnosis, skipped))
    return conformance


async def diagnose_scenarios(
    target: str | RunConfig, scenarios: str | list[str] = "all", **options: Any
) -> Conformance:
    """Run conformance scenarios (``"all"``, a name, or names separated by commas) against a
    built-in backend or a ChatKit endpoint URL, and grade each: pass, fail or skipped.

    Takes a :class:`RunConfig`, or the target and the configuration's fields as keywords:
    ``prompts`` overrides a scenario's messages (``{"cancel": {"long": "..."}}``) for a backend
    that needs other words; ``upload_url`` is where ChatKit would upload files directly (the
    attachments scenario's direct strategy; a built-in backend knows its own);
    ``sync_action`` also sends ``threads.sync_custom_action`` after a widget action (ChatKit.js
    does not); ``upload_type`` is the MIME type the attachments scenario uploads (default: plain
    text, or what the backend's refusal says it takes); ``errors_upstream`` is where the
    errors scenario serves a failing model API (the backend was started with its model's base
    URL there), so it judges the backend's answer to a real failure.
    """
    chosen = resolve_scenarios(scenarios)
    async with open_run(target, **options) as opened:
        return await play_scenarios(opened, chosen)
