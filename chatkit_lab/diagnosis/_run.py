"""Diagnosing a lifecycle: every layer's checks over each step, then the whole session."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatkit_lab.checks import (
    STREAM_LAYERS,
    ExchangeContext,
    Finding,
    LifecycleContext,
    Skipped,
    analyze_capture,
    body_not_saved,
    diff_lifecycle,
    layer_states,
    run_layer,
)
from chatkit_lab.client import (
    DEFAULT_TOKEN_ENV,
    SOURCE,
    ClientFetch,
    JsonReply,
    Lifecycle,
    LifecycleRunner,
    NodeFetch,
    Step,
    StreamOpen,
    Transform,
)
from chatkit_lab.client.session import build_session
from chatkit_lab.diagnosis._fixes import fit_fixes, fit_to_run_without_fetch
from chatkit_lab.diagnosis._model import Diagnosis
from chatkit_lab.errors import ChatKitLabError, TargetError
from chatkit_lab.redact import Redactor, current_redactor, redacting, request_secrets
from chatkit_lab.targets import Target, open_target

_FOLDED = ("request.rewritten", "request.answered_locally", "request.load_ran_a_turn")
"""Codes a custom fetch repeats on every exchange: folded into one finding with a count."""


def _merge_repeated(findings: list[Finding]) -> list[Finding]:
    """Fold findings that repeat per exchange (a custom fetch rewriting every request) into one."""
    merged: list[Finding] = []
    seen: dict[str, Finding] = {}
    for item in findings:
        if item.code in _FOLDED:
            first = seen.get(item.code)
            if first is not None:
                first.evidence.detail.setdefault("also_in", []).append(item.evidence.capture)
                continue
            seen[item.code] = item
        merged.append(item)
    turns = seen.get("request.load_ran_a_turn")
    if turns is not None:
        count = 1 + len(turns.evidence.detail.get("also_in", []))
        turns.evidence.detail["count"] = count
        if count > 1:
            turns.summary += f" (and {count - 1} more requests that asked for no turn)"
    return merged


def _what_chatkit_got(life: Lifecycle, findings: list[Finding]) -> None:
    """Name, on the rewrite finding, what ChatKit's host script made of each rewritten load."""
    rewritten = next((f for f in findings if f.code == "request.rewritten"), None)
    if rewritten is None:
        return
    got: dict[str, str] = {}
    for step in life.steps:
        network = step.network
        if step.wire_request is None or step.client_type in got:
            continue
        if isinstance(network, JsonReply) and network.ok and not network.parsed:
            shape = "an event stream" if step.capture.is_event_stream else "a body that is not JSON"
            got[step.client_type] = (
                f"{{}} (the {step.client_type} reply came back as {shape}, which {SOURCE} "
                "turns into {})"
            )
    if got:
        rewritten.evidence.detail["what_chatkit_got"] = got
        kind, first = next(iter(got.items()))
        shape = first.split(" came back as ", 1)[1].split(",", 1)[0]
        rewritten.summary += (
            f"; the thread load ({kind}) came back as {shape}, so ChatKit got an empty object {{}}"
        )


def evaluate_steps(steps: list[Step], diagnosis: Diagnosis) -> tuple[list[Finding], set[str]]:
    """Run the per-exchange layers over steps; return findings and the layers evaluated."""
    found: list[Finding] = []
    evaluated: set[str] = set()
    for step in steps:
        capture = step.capture
        if capture.meta.get("cleanup") or capture.meta.get("kit"):
            continue
        client_body = step.client_request.body if step.wire_request is not None else None
        exchange = ExchangeContext(capture, step.expects, client_body)
        found.extend(_run_layer("request", exchange, diagnosis, evaluated))
        if step.answered_locally:
            continue
        unsaved = body_not_saved(exchange)
        if unsaved is not None:
            evaluated.add("transport")
            diagnosis.skipped.append(unsaved)
            continue
        found.extend(_run_layer("transport", exchange, diagnosis, evaluated))
        if capture.status is None or capture.status >= 300:
            continue
        if exchange.kind != "stream" or step.expects == "json":
            continue
        network = step.network
        if isinstance(network, StreamOpen) and network.verdict != "open":
            # ChatKit's host script refused the stream at its open check and never read it:
            # nothing in it reached the UI, so the stream layers have nothing to judge.
            diagnosis.skipped.append(
                Skipped(
                    "framing",
                    f"{SOURCE} never read this stream (its open check refused it): "
                    f"{network.reason}",
                    capture.name,
                )
            )
            continue
        found.extend(_run_layer("framing", exchange, diagnosis, evaluated))
        evaluated.update(STREAM_LAYERS)
        analysis = analyze_capture(capture)
        # its display (tables, notebook HTML) is redacted by the run's redactor, read when shown
        analysis.redact = lambda text, owner=diagnosis: owner.redactor.redact_text(text)
        diagnosis.analyses[capture.name] = analysis
        found.extend(analysis.findings)
        diagnosis.skipped.extend(analysis.skipped)
    return found, evaluated


def _run_layer(
    layer: str, context: Any, diagnosis: Diagnosis, evaluated: set[str]
) -> list[Finding]:
    """One layer's checks over one context: its findings (what it skipped goes to the diagnosis)."""
    outcome = run_layer(layer, context)
    evaluated.add(layer)
    diagnosis.skipped.extend(outcome.skipped)
    return outcome.findings


def evaluate_lifecycle(life: Lifecycle, target: str = "", transform: str = "") -> Diagnosis:
    """Run every layer's checks over a finished lifecycle."""
    diagnosis = Diagnosis(target or life.target, lifecycle=life, transform=transform)
    diagnosis.captures = life.captures
    diagnosis.session = build_session(
        life, fetch_in_path=transform not in ("", "none"), target=target or life.target
    )
    found, evaluated = evaluate_steps(life.steps, diagnosis)
    diagnosis.reloads = diff_lifecycle(life)
    for reload in diagnosis.reloads:
        found.extend(reload.findings)
    whole = run_layer("persistence", LifecycleContext(life, []))
    found.extend(whole.findings)
    if diagnosis.reloads or whole.findings:
        evaluated.add("persistence")
    else:
        diagnosis.skipped.append(
            Skipped("persistence", "the thread was never loaded (no thread id)")
        )
    diagnosis.findings = _merge_repeated(found)
    _what_chatkit_got(life, diagnosis.findings)
    fit_fixes(diagnosis.findings, diagnosis.captures, diagnosis.session)
    diagnosis.layers = layer_states(diagnosis.findings, evaluated)
    return diagnosis


async def diagnose_target(
    target: Target,
    *,
    message: str = "Hello! What can you do?",
    second_message: str = "Thanks. One more thing?",
    limits: Any = None,
    keep_threads: bool = False,
    redactor: Redactor | None = None,
    fetch: ClientFetch | None = None,
    progress: Callable[[str], None] | None = None,
) -> Diagnosis:
    """Run the lifecycle against an open target and diagnose it.

    Threads created in a remote target are deleted at the end unless ``keep_threads``. The run's
    redactor (``redactor``, else the current one) learns the target's credential headers before
    the first request and is current while the run lasts; the diagnosis carries it.
    """
    run = (redactor or current_redactor()).with_secrets(request_secrets(target.url, target.headers))
    with redacting(run):
        runner = make_runner(target, fetch, limits=limits, keep_threads=keep_threads)
        runner.progress = progress
        life = await runner.run(message, second_message)
        refuse_unreachable(life, target, run)
        diagnosis = evaluate_lifecycle(life, target.name, fetch_name(target, fetch))
    diagnosis.redactor = run
    return diagnosis


def make_runner(
    target: Target, fetch: ClientFetch | None, *, limits: Any = None, keep_threads: bool = False
) -> LifecycleRunner:
    """A client for ``target`` through ``fetch`` (else the target's transform); threads created
    in a remote target are deleted at the end unless ``keep_threads``."""
    return LifecycleRunner(
        target.sender,
        target.url,
        transform=target.transform,
        headers=target.headers,
        target=target.name,
        limits=limits,
        delete_created=not target.builtin and not keep_threads,
        fetch=fetch,
    )


def fetch_name(target: Target, fetch: ClientFetch | None) -> str:
    return f"fetch {fetch.name}" if fetch is not None else target.transform_name


def refuse_unreachable(life: Lifecycle, target: Target, run: Redactor) -> None:
    """A :class:`TargetError` when no request of the session got any response."""
    network = [step for step in life.steps if not step.answered_locally]
    if network and all(step.capture.status is None for step in network):
        reason = network[0].capture.ending.message or "no response"
        raise TargetError(run.redact_text(f"cannot reach {target.url}: {reason}"))


@dataclass
class OpenRun:
    """An open target, the fetch between the client and it, and the run's redactor."""

    target: Target
    fetch: ClientFetch | None
    redactor: Redactor


@asynccontextmanager
async def open_run(
    spec: str,
    *,
    headers: dict[str, str] | None = None,
    transform: str | Transform | None = "default",
    loopback: bool = False,
    limits: Any = None,
    verify: bool = True,
    redactor: Redactor | None = None,
    fetch: ClientFetch | None = None,
    fetch_file: str | Path | None = None,
    token_env: str = DEFAULT_TOKEN_ENV,
    user_id: str | None = None,
) -> AsyncIterator[OpenRun]:
    """Open ``spec`` (a built-in name or a URL) with the client's fetch, for one run.

    One redactor per run: ``redactor`` (else the current one) plus the credential headers given,
    registered before anything is sent; errors raised inside come out redacted by it.
    ``fetch_file`` runs the user's own fetch (JavaScript or TypeScript) under Node between the
    client and the target (see docs/guides/your-fetch.md); its token is read from ``token_env``,
    and a built-in backend that issues tokens hands one over when that variable is not set.
    """
    run = (redactor or current_redactor()).with_secrets(request_secrets(spec, headers))
    try:
        async with (
            open_target(
                spec,
                headers=headers,
                transform=transform,
                loopback=loopback,
                limits=limits,
                verify=verify,
            ) as target,
            AsyncExitStack() as stack,
        ):
            if fetch_file is not None:
                # The user's own fetch, under Node, between the client and the target.
                env = dict(os.environ)
                if not env.get(token_env) and target.token:
                    env[token_env] = target.token
                if env.get(token_env):
                    run = run.with_secrets([env[token_env]])
                stack.enter_context(redacting(run))
                fetch = await stack.enter_async_context(
                    NodeFetch.open(
                        fetch_file,
                        token_env=token_env,
                        user_id=user_id or target.user_id or "",
                        env=env,
                    )
                )
            yield OpenRun(target, fetch, run)
    except ChatKitLabError as exc:
        safe = run.redact_text(str(exc))
        if safe == str(exc):
            raise
        raise type(exc)(safe) from None


async def diagnose(
    spec: str,
    *,
    headers: dict[str, str] | None = None,
    transform: str | Transform | None = "default",
    message: str = "Hello! What can you do?",
    second_message: str = "Thanks. One more thing?",
    loopback: bool = False,
    limits: Any = None,
    verify: bool = True,
    keep_threads: bool = False,
    redactor: Redactor | None = None,
    fetch: ClientFetch | None = None,
    progress: Callable[[str], None] | None = None,
    fetch_file: str | Path | None = None,
    token_env: str = DEFAULT_TOKEN_ENV,
    user_id: str | None = None,
    without_fetch: bool = False,
    save: str | Path | None = None,
) -> Diagnosis:
    """Diagnose a built-in backend (by name) or a ChatKit endpoint URL end to end: the message
    lifecycle (see :func:`~chatkit_lab.diagnosis.diagnose_scenarios` for the other scenarios).

    ``fetch_file`` runs the user's own fetch under Node between the client and the target
    (see :func:`open_run`); one redactor covers the run and every error it raises.
    ``without_fetch``: when a fetch or transform was in the path, play the same session again
    with it replaced by a header-only pass-through (:attr:`Diagnosis.counterfactual`).
    ``save``: a folder to save the run's captures in, redacted, one file each
    (:attr:`Diagnosis.saved`).
    """
    async with open_run(
        spec,
        headers=headers,
        transform=transform,
        loopback=loopback,
        limits=limits,
        verify=verify,
        redactor=redactor,
        fetch=fetch,
        fetch_file=fetch_file,
        token_env=token_env,
        user_id=user_id,
    ) as opened:
        run: dict[str, Any] = {
            "message": message,
            "second_message": second_message,
            "limits": limits,
            "keep_threads": keep_threads,
            "redactor": opened.redactor,
            "progress": progress,
        }
        diagnosis = await diagnose_target(opened.target, fetch=opened.fetch, **run)
        session = diagnosis.session
        if without_fetch and session is not None and session.fetch_in_path:
            from chatkit_lab.diagnosis._counterfactual import run_without_fetch

            if progress is not None:
                progress("the same session again, the fetch replaced by a pass-through ...")
            other = await run_without_fetch(
                opened.target, diagnosis.lifecycle, diagnosis.transform or "the fetch", **run
            )
            diagnosis.counterfactual = other
            if other is not None:
                fit_to_run_without_fetch(diagnosis.findings, other.fetch_is_the_cause, other.kept)
        if save is not None:
            from chatkit_lab.diagnosis._evidence import save_run

            save_run(diagnosis, save)
        return diagnosis
