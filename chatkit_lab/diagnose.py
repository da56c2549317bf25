"""Layered diagnosis: run every check over a lifecycle (or loose captures), name the first break.

Layers, in order: request, transport, framing, decoding, schema, ordering, rendering,
persistence. Each gets ``pass``, ``warn``, ``fail`` or ``skip``; the verdict is the first layer
that fails, with its first error finding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from chatkit_lab.capture._model import Capture
from chatkit_lab.checks._analysis import analyze_capture
from chatkit_lab.checks._exchange import (
    NON_STREAMING_TYPES,
    STREAMING_TYPES,
    check_framing,
    check_request,
    check_transport,
    reply_kind,
)
from chatkit_lab.checks._model import (
    LAYERS,
    Evidence,
    Finding,
    finding,
    findings_table,
    first_failure,
    layer_states,
)
from chatkit_lab.checks.persistence import Reload, diff_lifecycle, diff_reload, streamed_items
from chatkit_lab.client._lifecycle import Lifecycle, LifecycleRunner, Step
from chatkit_lab.client._transform import ClientRequest, Transform
from chatkit_lab.errors import TargetError
from chatkit_lab.redact._engine import redact_dataframe, redact_obj
from chatkit_lab.targets import Target, open_target


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
    skipped: list[str] = field(default_factory=list)
    """Checks that could not run, with the reason."""
    transform: str = ""

    @property
    def verdict(self) -> Finding | None:
        return first_failure(self.findings)

    @property
    def failed(self) -> bool:
        return self.verdict is not None

    def to_json(self, *, redact: bool = True) -> dict[str, Any]:
        """The CLI's ``--json`` object (secrets redacted unless ``redact=False``)."""
        verdict = self.verdict
        payload = {
            "target": self.target,
            "verdict": (
                {"layer": verdict.layer, "code": verdict.code, "summary": verdict.summary}
                if verdict
                else None
            ),
            "layers": dict(self.layers),
            "findings": [f.to_dict() for f in self.findings],
        }
        return redact_obj(payload) if redact else payload

    def layers_table(self) -> pd.DataFrame:
        """One row per layer: state, number of findings, the first finding's code."""
        rows = []
        for layer in LAYERS:
            mine = [f for f in self.findings if f.layer == layer]
            rows.append(
                {
                    "layer": layer,
                    "state": self.layers.get(layer, "skip"),
                    "errors": sum(f.severity == "error" for f in mine),
                    "warnings": sum(f.severity == "warning" for f in mine),
                    "first": mine[0].code if mine else "",
                }
            )
        return pd.DataFrame(rows)

    def findings_table(self) -> pd.DataFrame:
        """Every finding, one row each, in layer order (secrets redacted)."""
        return redact_dataframe(findings_table(self.findings))

    def summary_by_code(self) -> pd.DataFrame:
        """Findings grouped by code (count, first summary): readable when events repeat a fault."""
        table = self.findings_table()
        if table.empty:
            return pd.DataFrame(columns=["layer", "code", "severity", "count", "example", "fix"])
        grouped = (
            table.groupby(["layer", "code", "severity"], sort=False)
            .agg(count=("summary", "size"), example=("summary", "first"), fix=("fix", "first"))
            .reset_index()
        )
        return grouped

    def headline(self) -> str:
        """One line: the verdict or that every layer passes."""
        verdict = self.verdict
        if verdict is None:
            warned = [name for name, state in self.layers.items() if state == "warn"]
            extra = f" (warnings in {', '.join(warned)})" if warned else ""
            return f"{self.target}: every layer passes{extra}"
        return f"{self.target}: first broken layer is {verdict.layer} ({verdict.code}): " + (
            verdict.summary
        )


def _merge_repeated(findings: list[Finding]) -> list[Finding]:
    """Fold findings that repeat per exchange (a custom fetch rewriting every request) into one."""
    merged: list[Finding] = []
    seen: dict[str, Finding] = {}
    for item in findings:
        if item.code in ("request.rewritten", "request.answered_locally"):
            first = seen.get(item.code)
            if first is not None:
                first.evidence.detail.setdefault("also_in", []).append(item.evidence.capture)
                continue
            seen[item.code] = item
        merged.append(item)
    return merged


def evaluate_steps(steps: list[Step], diagnosis: Diagnosis) -> tuple[list[Finding], set[str]]:
    """Run the per-exchange layers over steps; return findings and the layers evaluated."""
    found: list[Finding] = []
    evaluated: set[str] = set()
    for step in steps:
        capture = step.capture
        if capture.meta.get("cleanup"):
            continue
        evaluated.add("request")
        client_body = step.client_request.body if step.wire_request is not None else None
        found.extend(check_request(capture, client_body))
        if step.answered_locally:
            continue
        evaluated.add("transport")
        transport, skipped = check_transport(capture, step.expects)
        found.extend(transport)
        diagnosis.skipped.extend(f"{capture.name}: {reason}" for reason in skipped)
        if capture.status is None or capture.status >= 300:
            continue
        if capture.meta.get("har", {}).get("body_missing"):
            continue
        if reply_kind(capture) != "stream" or step.expects == "json":
            continue
        evaluated.update(("framing", "decoding", "schema", "ordering", "rendering"))
        found.extend(check_framing(capture))
        analysis = analyze_capture(capture)
        diagnosis.analyses[capture.name] = analysis
        found.extend(analysis.findings)
    return found, evaluated


def _no_thread_id(life: Lifecycle) -> Finding | None:
    """A finding when threads.create got a 2xx stream that carried no thread id at all."""
    create = life.step("send: threads.create")
    if create is None or create.answered_locally or life.thread_id is not None:
        return None
    capture = create.capture
    if capture.status is None or capture.status >= 300 or reply_kind(capture) != "stream":
        return None
    return finding(
        "persistence.no_thread_id",
        f"the threads.create stream ({len(capture.events)} events) has no valid thread.created "
        "and no thread id in any payload: the client has no thread to load, so nothing "
        "survives a reload",
        Evidence(capture=capture.name, detail={"events": len(capture.events)}),
    )


def evaluate_lifecycle(life: Lifecycle, target: str = "", transform: str = "") -> Diagnosis:
    """Run every layer's checks over a finished lifecycle."""
    diagnosis = Diagnosis(target or life.target, lifecycle=life, transform=transform)
    diagnosis.captures = life.captures
    found, evaluated = evaluate_steps(life.steps, diagnosis)
    diagnosis.reloads = diff_lifecycle(life)
    if diagnosis.reloads:
        evaluated.add("persistence")
        for reload in diagnosis.reloads:
            found.extend(reload.findings)
    else:
        missing = _no_thread_id(life)
        if missing is not None:
            evaluated.add("persistence")
            found.append(missing)
        else:
            diagnosis.skipped.append("persistence: the thread was never loaded (no thread id)")
    diagnosis.findings = _merge_repeated(found)
    diagnosis.layers = layer_states(diagnosis.findings, evaluated)
    return diagnosis


async def diagnose_target(
    target: Target,
    *,
    message: str = "Hello! What can you do?",
    second_message: str = "Thanks. One more thing?",
    limits: Any = None,
    keep_threads: bool = False,
) -> Diagnosis:
    """Run the lifecycle against an open target and diagnose it.

    Threads created in a remote target are deleted at the end unless ``keep_threads``.
    """
    runner = LifecycleRunner(
        target.sender,
        target.url,
        transform=target.transform,
        headers=target.headers,
        target=target.name,
        limits=limits,
        delete_created=not target.builtin and not keep_threads,
    )
    life = await runner.run(message, second_message)
    network = [step for step in life.steps if not step.answered_locally]
    if network and all(step.capture.status is None for step in network):
        reason = network[0].capture.ending.message or "no response"
        raise TargetError(f"cannot reach {target.url}: {reason}")
    return evaluate_lifecycle(life, target.name, target.transform_name)


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
) -> Diagnosis:
    """Diagnose a built-in backend (by name) or a ChatKit endpoint URL end to end."""
    async with open_target(
        spec,
        headers=headers,
        transform=transform,
        loopback=loopback,
        limits=limits,
        verify=verify,
    ) as target:
        return await diagnose_target(
            target,
            message=message,
            second_message=second_message,
            limits=limits,
            keep_threads=keep_threads,
        )


def _client_type(capture: Capture) -> str | None:
    """What the client asked for: the type before a custom fetch rewrote it, when recorded."""
    client_type = capture.meta.get("client_type")
    return client_type if isinstance(client_type, str) else capture.request_type


def _expects(capture: Capture) -> str | None:
    kind = _client_type(capture)
    if kind in STREAMING_TYPES:
        return "stream"
    if kind in NON_STREAMING_TYPES:
        return "json"
    return None


def diagnose_captures(captures: list[Capture], target: str = "captures") -> Diagnosis:
    """Diagnose loose captures (a HAR import, proxy recordings, saved files) without a runner.

    The request type of each capture decides what reply it expects; a ``threads.get_by_id``
    capture is diffed against the streams recorded before it.
    """
    diagnosis = Diagnosis(target, captures=list(captures))
    steps = []
    for capture in captures:
        request = ClientRequest(
            capture.request.method,
            capture.request.url,
            dict(capture.request.headers),
            capture.request.body,
        )
        expects = _expects(capture)
        if expects is None and capture.status is not None and capture.status < 300:
            expects = "stream" if reply_kind(capture) == "stream" else "json"
        steps.append(
            Step(
                capture.name,
                _client_type(capture) or "",
                expects or "json",
                request,
                capture,
                None,
                bool(capture.meta.get("answered_locally")),
            )
        )
    found, evaluated = evaluate_steps(steps, diagnosis)
    streams: list[Capture] = []
    for step in steps:
        if step.expects == "stream" and reply_kind(step.capture) == "stream":
            streams.append(step.capture)
        elif step.client_type == "threads.get_by_id" and streams:
            reload = diff_reload(step.name, streamed_items(streams), step, None, [])
            diagnosis.reloads.append(reload)
            found.extend(reload.findings)
            evaluated.add("persistence")
    if not diagnosis.reloads:
        diagnosis.skipped.append("persistence: no threads.get_by_id after a stream was captured")
    diagnosis.findings = _merge_repeated(found)
    diagnosis.layers = layer_states(diagnosis.findings, evaluated)
    return diagnosis
