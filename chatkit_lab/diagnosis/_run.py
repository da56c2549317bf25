"""Diagnosing a lifecycle: every layer's checks over each step, then the whole session."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
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
    ClientRequest,
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
from chatkit_lab.diagnosis._model import Counterfactual, Diagnosis
from chatkit_lab.errors import ChatKitLabError, TargetError
from chatkit_lab.redact import Redactor, current_redactor, redacting, run_redactor
from chatkit_lab.sources import Limits
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
        if capture.cleanup or capture.kit:
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


def begin_evaluation(
    life: Lifecycle, target: str, transform: str, redactor: Redactor | None = None
) -> tuple[Diagnosis, list[Finding], set[str]]:
    """A diagnosis of a finished session with its session model and the run's redactor (else
    the current one), and what the per-exchange layers found in it (with the layers they
    evaluated)."""
    diagnosis = Diagnosis(
        target or life.target,
        lifecycle=life,
        transform=transform,
        redactor=redactor or current_redactor(),
    )
    diagnosis.captures = life.captures
    diagnosis.session = build_session(
        life, fetch_in_path=transform not in ("", "none"), target=target or life.target
    )
    found, evaluated = evaluate_steps(life.steps, diagnosis)
    return diagnosis, found, evaluated


def evaluate_lifecycle(
    life: Lifecycle, target: str = "", transform: str = "", redactor: Redactor | None = None
) -> Diagnosis:
    """Run every layer's checks over a finished lifecycle (the diagnosis carries the run's
    ``redactor``, else the current one)."""
    diagnosis, found, evaluated = begin_evaluation(life, target, transform, redactor)
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


@dataclass(frozen=True)
class RunConfig:
    """One run's configuration, made once (by the command line, the API or a notebook) and read
    by everything the run does: opening the target, the client, the scenarios, saving.

    :func:`diagnose`, :func:`open_run`, :func:`~chatkit_lab.diagnosis.diagnose_scenarios`,
    :func:`diagnose_target` and :func:`~chatkit_lab.diagnosis.run_scenarios` take one (or its
    fields as keywords, from which they make one).
    """

    target: str = ""
    """A built-in name or a ChatKit endpoint URL (empty for a target opened elsewhere)."""
    headers: Mapping[str, str] | None = None
    transform: str | Transform | None = "default"
    loopback: bool = False
    """Run a built-in backend on 127.0.0.1 under uvicorn instead of in process."""
    limits: Limits | None = None
    verify: bool = True
    keep_threads: bool = False
    """Keep the threads created in a remote target (deleted at the end otherwise)."""
    redactor: Redactor | None = None
    """The run's redactor (else the current one), learning the credentials given."""
    fetch: ClientFetch | None = None
    fetch_file: str | Path | None = None
    """The user's own fetch (JavaScript or TypeScript), run under Node between the client and
    the target (see docs/guides/your-fetch.md); its token is read from ``token_env``."""
    token_env: str = DEFAULT_TOKEN_ENV
    user_id: str | None = None
    progress: Callable[[str], None] | None = None
    """Called with one line per finished step (the command line prints it on stderr)."""
    message: str = "Hello! What can you do?"
    second_message: str = "Thanks. One more thing?"
    without_fetch: bool = False
    """When a fetch or transform was in the path, play the same session again with it replaced
    by a header-only pass-through (:attr:`Diagnosis.counterfactual`)."""
    save: str | Path | None = None
    """A folder to save the run's captures in, redacted, one file each (:attr:`Diagnosis.saved`)."""
    prompts: Mapping[str, Mapping[str, str]] | None = None
    """A scenario's messages in the backend's words (``{"cancel": {"long": "..."}}``)."""
    upload_url: str | None = None
    """Where ChatKit would upload files directly (a built-in backend knows its own)."""
    sync_action: bool = False
    """Also send ``threads.sync_custom_action`` after a widget action (ChatKit.js does not)."""
    upload_type: str | None = None
    """The MIME type the attachments scenario uploads."""
    errors_upstream: str | None = None
    """Where the errors scenario serves a failing model API."""

    @classmethod
    def of(cls, target: str | RunConfig, **options: Any) -> RunConfig:
        """``target`` when it is a configuration already, else one made from the keywords."""
        if isinstance(target, RunConfig):
            return replace(target, **options) if options else target
        return cls(target, **options)


@dataclass
class OpenRun:
    """One run: its configuration, the open target, the fetch between the client and it, and
    the run's redactor."""

    target: Target
    fetch: ClientFetch | None
    redactor: Redactor
    config: RunConfig = field(default_factory=RunConfig)

    @classmethod
    def on(cls, target: Target, config: RunConfig) -> OpenRun:
        """A run on an open target; its redactor (the configuration's, else the current one)
        learns the target's credential headers."""
        scrub = run_redactor(target.url, target.headers, base=config.redactor)
        return cls(target, config.fetch, scrub, config)

    @property
    def fetch_name(self) -> str:
        fetch = self.fetch
        return f"fetch {fetch.name}" if fetch is not None else self.target.transform_name

    def runner(self, progress: Callable[[str], None] | None = None) -> LifecycleRunner:
        """A client for the target through the fetch (else the target's transform); threads
        created in a remote target are deleted at the end unless ``keep_threads``."""
        target = self.target
        return LifecycleRunner(
            target.sender,
            target.url,
            transform=target.transform,
            headers=target.headers,
            target=target.name,
            limits=self.config.limits,
            delete_created=not target.builtin and not self.config.keep_threads,
            fetch=self.fetch,
            progress=progress,
        )

    def refuse_unreachable(self, life: Lifecycle) -> None:
        """A :class:`TargetError` when no request of the session got any response."""
        network = [step for step in life.steps if not step.answered_locally]
        if network and all(step.capture.status is None for step in network):
            reason = network[0].capture.ending.message or "no response"
            raise TargetError(
                self.redactor.redact_text(f"cannot reach {self.target.url}: {reason}")
            )

    async def lifecycle(self) -> Diagnosis:
        """Play the message lifecycle and diagnose it, under the run's redactor (which the
        diagnosis carries)."""
        with redacting(self.redactor):
            runner = self.runner(self.config.progress)
            life = await runner.run(self.config.message, self.config.second_message)
            self.refuse_unreachable(life)
            return evaluate_lifecycle(life, self.target.name, self.fetch_name, self.redactor)

    async def without_fetch(self, life: Lifecycle, fetch_name: str) -> Counterfactual | None:
        """Play the same session with a header-only pass-through instead of the fetch (``None``
        when the run made no request that went on the wire)."""
        if not any(step.wire_request is not None for step in life.steps):
            return None
        kept = added_headers(life)
        plain = replace(
            self.target,
            transform=header_only(kept),
            transform_name="pass-through",
            headers=dict(self.target.headers),
        )
        other = OpenRun.on(plain, replace(self.config, fetch=None, redactor=self.redactor))
        return Counterfactual(fetch_name, sorted(kept), await other.lifecycle())


_NOT_CREDENTIALS = frozenset({"content-length", "host", "content-type", "accept", "connection"})


def added_headers(life: Lifecycle) -> dict[str, str]:
    """The headers the fetch added to ChatKit's request (by name; the first request that went
    on the wire decides), without the ones any transport sets itself."""
    for step in life.steps:
        wire = step.wire_request
        if wire is None or step.answered_locally:
            continue
        sent = {name.lower() for name in step.client_request.headers}
        return {
            name: value
            for name, value in wire.headers.items()
            if name.lower() not in sent and name.lower() not in _NOT_CREDENTIALS
        }
    return {}


def header_only(headers: dict[str, str]) -> Any:
    """A transform that adds ``headers`` to ChatKit's request and changes nothing else."""

    def pass_through(request: ClientRequest) -> ClientRequest:
        return ClientRequest(
            request.method, request.url, {**request.headers, **headers}, request.body
        )

    pass_through.__name__ = "pass-through"
    return pass_through


async def diagnose_target(
    target: Target, config: RunConfig | None = None, **options: Any
) -> Diagnosis:
    """Run the lifecycle against an open target and diagnose it (the :class:`RunConfig`, or
    its fields as keywords).

    Threads created in a remote target are deleted at the end unless ``keep_threads``. The run's
    redactor (``redactor``, else the current one) learns the target's credential headers before
    the first request and is current while the run lasts; the diagnosis carries it.
    """
    return await OpenRun.on(target, RunConfig.of(config or target.name, **options)).lifecycle()


@asynccontextmanager
async def open_run(target: str | RunConfig, **options: Any) -> AsyncIterator[OpenRun]:
    """Open a built-in name or a URL with the client's fetch, for one run (a :class:`RunConfig`,
    or the target and the configuration's fields as keywords).

    One redactor per run: ``redactor`` (else the current one) plus the credential headers given,
    registered before anything is sent; errors raised inside come out redacted by it.
    ``fetch_file`` runs the user's own fetch (JavaScript or TypeScript) under Node between the
    client and the target (see docs/guides/your-fetch.md); its token is read from ``token_env``,
    and a built-in backend that issues tokens hands one over when that variable is not set.
    """
    config = RunConfig.of(target, **options)
    headers = dict(config.headers) if config.headers is not None else None
    run = run_redactor(config.target, headers, base=config.redactor)
    fetch = config.fetch
    try:
        async with (
            open_target(
                config.target,
                headers=headers,
                transform=config.transform,
                loopback=config.loopback,
                limits=config.limits,
                verify=config.verify,
            ) as opened,
            AsyncExitStack() as stack,
        ):
            if config.fetch_file is not None:
                # The user's own fetch, under Node, between the client and the target.
                token_env = config.token_env
                env = dict(os.environ)
                if not env.get(token_env) and opened.token:
                    env[token_env] = opened.token
                if env.get(token_env):
                    run = run.with_secrets([env[token_env]])
                stack.enter_context(redacting(run))
                fetch = await stack.enter_async_context(
                    NodeFetch.open(
                        config.fetch_file,
                        token_env=token_env,
                        user_id=config.user_id or opened.user_id or "",
                        env=env,
                    )
                )
            yield OpenRun.on(opened, replace(config, fetch=fetch, redactor=run))
    except ChatKitLabError as exc:
        safe = run.redact_text(str(exc))
        if safe == str(exc):
            raise
        raise type(exc)(safe) from None


async def diagnose(target: str | RunConfig, **options: Any) -> Diagnosis:
    """Diagnose a built-in backend (by name) or a ChatKit endpoint URL end to end: the message
    lifecycle (see :func:`~chatkit_lab.diagnosis.diagnose_scenarios` for the other scenarios).

    Takes a :class:`RunConfig`, or the target and the configuration's fields as keywords:
    ``fetch_file`` runs the user's own fetch under Node between the client and the target
    (see :func:`open_run`); one redactor covers the run and every error it raises.
    ``without_fetch``: when a fetch or transform was in the path, play the same session again
    with it replaced by a header-only pass-through (:attr:`Diagnosis.counterfactual`).
    ``save``: a folder to save the run's captures in, redacted, one file each
    (:attr:`Diagnosis.saved`).
    """
    async with open_run(target, **options) as opened:
        config = opened.config
        diagnosis = await opened.lifecycle()
        session = diagnosis.session
        if config.without_fetch and session is not None and session.fetch_in_path:
            if config.progress is not None:
                config.progress("the same session again, the fetch replaced by a pass-through ...")
            other = await opened.without_fetch(
                diagnosis.lifecycle, diagnosis.transform or "the fetch"
            )
            diagnosis.counterfactual = other
            if other is not None:
                fit_to_run_without_fetch(diagnosis.findings, other.fetch_is_the_cause, other.kept)
        if config.save is not None:
            from chatkit_lab.diagnosis._evidence import save_run

            save_run(diagnosis, config.save)
        return diagnosis
