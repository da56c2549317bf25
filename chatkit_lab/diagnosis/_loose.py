"""Diagnosing loose captures: a HAR import, proxy recordings, saved files."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

from chatkit_lab.capture import Capture
from chatkit_lab.checks import (
    Skipped,
    diff_reload,
    layer_states,
    reply_kind,
    streamed_items,
)
from chatkit_lab.client import Lifecycle
from chatkit_lab.client.protocol import NON_STREAMING_TYPES, STREAMING_TYPES
from chatkit_lab.client.session import build_session, recorded_step
from chatkit_lab.diagnosis._fixes import fit_fixes
from chatkit_lab.diagnosis._model import Diagnosis
from chatkit_lab.diagnosis._run import _merge_repeated, evaluate_steps
from chatkit_lab.errors import TargetError
from chatkit_lab.redact import Redactor, current_redactor
from chatkit_lab.sources import FileSource, is_capture_path, read_captures
from chatkit_lab.targets import is_url, registry, target_names


def _expects(capture: Capture) -> str | None:
    kind = capture.client_type or capture.request_type  # what the client asked, when recorded
    if kind in STREAMING_TYPES:
        return "stream"
    if kind in NON_STREAMING_TYPES:
        return "json"
    return None


def diagnose_captures(
    captures: list[Capture], target: str = "captures", redactor: Redactor | None = None
) -> Diagnosis:
    """Diagnose loose captures (a HAR import, proxy recordings, saved files) without a runner;
    the diagnosis carries ``redactor`` (else the current one).

    The request type of each capture decides what reply it expects; a ``threads.get_by_id``
    capture is diffed against the streams recorded before it.
    """
    diagnosis = Diagnosis(target, captures=list(captures), redactor=redactor or current_redactor())
    steps = []
    for capture in captures:
        expects = _expects(capture)
        if expects is None and capture.status is not None and capture.status < 300:
            expects = "stream" if reply_kind(capture) == "stream" else "json"
        steps.append(recorded_step(capture, expects or "json"))
    # The session model, read from the recording: what the host script did with each reply
    # (fact), the screens (modelled), and which requests on the wire were not ChatKit's.
    diagnosis.session = build_session(Lifecycle(target, steps), recorded=True, target=target)
    found, evaluated = evaluate_steps(steps, diagnosis)
    # Streams are compared only with reloads of their own thread (a recording may hold many).
    streams: dict[str | None, list[Capture]] = {}
    for step in steps:
        thread = thread_of(step.capture)
        if step.expects == "stream" and reply_kind(step.capture) == "stream":
            streams.setdefault(thread, []).append(step.capture)
        elif step.client_type == "threads.get_by_id":
            mine = streams.get(thread) or (streams.get(None) if thread is None else None)
            if not mine:
                continue
            reload = diff_reload(step.name, streamed_items(mine), step, None, [])
            diagnosis.reloads.append(reload)
            found.extend(reload.findings)
            evaluated.add("persistence")
    if not diagnosis.reloads:
        diagnosis.skipped.append(
            Skipped("persistence", "no threads.get_by_id after a stream was captured")
        )
    diagnosis.findings = _merge_repeated(found)
    fit_fixes(diagnosis.findings, diagnosis.captures, diagnosis.session)
    diagnosis.layers = layer_states(diagnosis.findings, evaluated)
    return diagnosis


def thread_of(capture: Capture) -> str | None:
    """The thread a capture belongs to: the request's ``thread_id``, else the one its stream
    announces (``thread.created``), else ``None``."""
    payload = capture.request.json
    params = payload.get("params") if isinstance(payload, dict) else None
    if isinstance(params, dict) and isinstance(params.get("thread_id"), str | int):
        return str(params["thread_id"])
    if capture.is_event_stream:
        for event in capture.events[:50]:
            data = event.payload
            if isinstance(data, dict) and data.get("type") == "thread.created":
                thread = data.get("thread")
                if isinstance(thread, dict) and isinstance(thread.get("id"), str | int):
                    return str(thread["id"])
    return None


class SourceSpec(NamedTuple):
    """What a source spec names: recorded files, read, or a target to play the client against."""

    kind: Literal["files", "target"]
    source: FileSource | str
    """The :class:`~chatkit_lab.sources.FileSource` read (``files``), or the spec (``target``)."""


def diagnose_source(spec: str, **options: Any) -> SourceSpec:
    """What ``spec`` names, and how to diagnose it: ``("files", FileSource)`` for a HAR file, a
    capture file, a recording folder or any registered source
    (:func:`~chatkit_lab.sources.register_source`); ``("target", spec)`` for a built-in name or
    a URL. The plugins are loaded before a path is read, so a source an installed plugin adds
    (:meth:`~chatkit_lab.targets.Registry.add_source`) reads its files.

    Raises :class:`~chatkit_lab.errors.TargetError` naming what ``spec`` is not.
    """
    if is_url(spec):
        return SourceSpec("target", spec)
    if is_capture_path(spec):
        registry()
        return SourceSpec("files", read_captures(spec, **options))
    names = target_names()
    if spec in names:
        return SourceSpec("target", spec)
    raise TargetError(
        f"unknown target {spec!r}: not a built-in name ({', '.join(names)}), not an http(s) "
        "URL, and not an existing HAR file, capture file or recording folder"
    )
