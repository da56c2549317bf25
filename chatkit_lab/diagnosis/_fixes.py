"""Fixes from the evidence: one code can get different fixes for different causes.

A check's declared fix is the general answer. Here it is fitted to what the run shows: the
status and the body the backend returned (its error message, a traceback's last line), the
request type, what the other requests of the same run did, whether a custom fetch was in the
path, and the backend's language where it shows (a response header, a traceback's shape).
Every fitted fix says which evidence it rests on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from chatkit_lab.capture import Capture
from chatkit_lab.checks import Finding
from chatkit_lab.checks.request import body_message
from chatkit_lab.client.protocol import STREAMING_TYPES
from chatkit_lab.client.session import SessionModel

__all__ = ["backend_language", "fit_fixes", "fit_to_run_without_fetch"]

_PYTHON_ONLY = re.compile(
    r"ChatKitServer|openai-chatkit|StreamingResponse|StreamingResult|NonStreamingResult|"
    r"chatkit\.agents|respond\(\)|media_type=|ThreadItem\w*Event|AssistantMessageContent"
)
_STORE_METHOD = {
    "threads.get_by_id": "load_thread and load_thread_items",
    "items.list": "load_thread_items",
    "threads.list": "load_threads",
    "threads.update": "save_thread",
    "threads.delete": "delete_thread",
    "threads.create": "save_thread and add_thread_item, and respond()",
    "threads.add_user_message": "add_thread_item and respond()",
    "threads.retry_after_item": "delete_thread_item and respond()",
}
"""Which of the Python SDK's Store methods (and ``respond``) a request type runs."""
_MAX_SCAN = 64 * 1024
_ATTACHMENT_TYPES = frozenset({"attachments.create", "attachments.delete"})


def backend_language(captures: Iterable[Capture]) -> tuple[str, str] | None:
    """``(language, evidence)`` where the replies show the backend's stack, else ``None``."""
    for capture in captures:
        powered = (capture.header("x-powered-by") or "").lower()
        server = (capture.header("server") or "").lower()
        body = capture.body[:_MAX_SCAN].decode("utf-8", errors="replace")
        if "express" in powered or "next.js" in powered or "node" in server:
            return "node", f"X-Powered-By: {capture.header('x-powered-by') or server}"
        if re.search(r"^\s+at .+\.(?:m?js|ts):\d+:\d+\)?$", body, re.MULTILINE):
            return "node", "a JavaScript stack trace in a reply"
        if "Traceback (most recent call last)" in body:
            return "python", "a Python traceback in a reply"
        if any(name in server for name in ("uvicorn", "hypercorn", "gunicorn", "daphne")):
            return "python", f"Server: {capture.header('server')}"
    return None


def _ok_elsewhere(session: SessionModel | None, capture: str) -> int:
    if session is None:
        return 0
    return sum(
        1
        for item in session.exchanges
        if item.step != capture and item.status is not None and 200 <= item.status < 300
    )


def _http_error_fix(
    finding: Finding,
    capture: Capture,
    session: SessionModel | None,
    language: tuple[str, str] | None,
) -> str | None:
    status = capture.status or 0
    kind = capture.client_type or capture.request_type or "this request"
    said = body_message(capture)
    quoted = f": “{said}”" if said else ""
    others = _ok_elsewhere(session, finding.evidence.capture or "")
    if status in (401, 403):
        return (
            f"The backend refused the credentials of {kind} with HTTP {status}{quoted}: send the "
            "header it expects (the token your fetch adds, or -H 'Authorization: Bearer …' "
            "here), and check that the token is valid for this user."
        )
    if status in (404, 405, 501) and not others:
        return (
            f"Nothing at this URL accepts ChatKit's POST (HTTP {status}{quoted}): point api.url "
            "at the endpoint that serves the ChatKit protocol."
        )
    if status in (404, 405, 501):
        return (
            f"The backend answers other ChatKit requests but not {kind} (HTTP {status}{quoted}): "
            f"add a handler for {kind}."
        )
    if status >= 500 and others:
        where = f"the handler for {kind}"
        if language is not None and language[0] == "python":
            method = _STORE_METHOD.get(str(kind))
            if method:
                where += f" (with ChatKitServer, your Store's {method})"
        text = (
            f"The backend crashed on {kind} (HTTP {status}{quoted}), while {others} other "
            f"request(s) of this run got 2xx: the URL, the envelope and the credentials are "
            f"fine. Fix {where}; the server log holds the full error."
        )
        if kind in STREAMING_TYPES:
            text += (
                " When a turn fails, answer 200 with an event stream that carries an error "
                "event instead: ChatKit re-sends a streaming request whose open fails up to five "
                "times, with the same body."
            )
        return text
    if status >= 500 and kind in _ATTACHMENT_TYPES:
        text = (
            f"The backend failed on {kind} (HTTP {status}{quoted}). The server log names the "
            "exception."
        )
        if language is None or language[0] == "python":
            text += (
                " With ChatKitServer, this is what a server without an attachment store does: "
                "the SDK raises “AttachmentStore is not configured”; pass attachment_store= "
                "to the server."
            )
        return text + (
            " If your ChatKit options leave attachments off, the UI never sends this request "
            "and users never meet it."
        )
    if status >= 500 and session is not None and len(session.exchanges) > 1:
        return (
            f"Every request failed; {kind} got HTTP {status}{quoted}. Read the server log for "
            "the exception; if the backend expects another body, serve ChatKit's envelope "
            "{type, params, metadata} at this URL."
        )
    if status >= 500:
        return (
            f"The backend failed on {kind} (HTTP {status}{quoted}), the only request of this "
            "session. Read the server log for the exception; if the backend expects another "
            "body, serve ChatKit's envelope {type, params, metadata} at this URL."
        )
    return None


def _for_language(fix: str, language: tuple[str, str] | None) -> str:
    """A fix naming Python SDK pieces, rewritten for a backend that is not Python."""
    if language is None or language[0] == "python" or not _PYTHON_ONLY.search(fix):
        return fix
    text = re.sub(
        r"\s*\([^()]*\)", lambda m: "" if _PYTHON_ONLY.search(m.group(0)) else m.group(0), fix
    )
    parts = [part for part in re.split(r"(?<=[;.:])\s+", text) if not _PYTHON_ONLY.search(part)]
    kept = " ".join(parts).strip().rstrip(";:,")
    kept = kept or "Emit the ChatKit protocol's events and replies."
    if not kept.endswith("."):
        kept += "."
    return (
        f"{kept} Your backend is {language[0].capitalize()} ({language[1]}): write these events "
        "from your own handler as the ChatKit protocol defines them."
    )


def _name_the_stop(findings: list[Finding], session: SessionModel | None) -> None:
    """A request that got no response after earlier ones were answered: the backend stopped
    answering, and the finding names the request before it (what it may have died on)."""
    if session is None:
        return
    before: dict[str, str] = {}
    previous = None
    for item in session.exchanges:
        if not item.answered and previous is not None:
            before[item.step] = previous
        elif item.answered and item.host_did != "answered by the custom fetch":
            status = f"HTTP {item.status}" if item.status is not None else "answered"
            kind = f"{item.client_type}, " if item.client_type else ""
            previous = f"{item.step} ({kind}{status})"
    for finding in findings:
        last = before.get(finding.evidence.capture or "")
        if finding.code != "transport.no_response" or last is None:
            continue
        finding.summary = f"the backend stopped answering after {last}: {finding.summary}"
        finding.evidence.detail["after"] = last
        finding.fix = (
            f"The backend answered until {last} and then stopped (refused, reset or no reply): "
            "look in its log for a crash or restart on that request or right after it, and "
            "keep it running under a supervisor; nothing after this point could be judged."
        )


def _cleanup_fix(session: SessionModel, language: tuple[str, str] | None) -> str | None:
    """When the delete was accepted but the load that checked it crashed, the fault is the
    load's answer for a missing thread, not the delete."""
    unclean = [
        note
        for note in session.lifecycle.notes
        if "did not answer not-found cleanly (HTTP 5" in note
    ]
    if not unclean:
        return None
    text = (
        "threads.delete was accepted, but the load that checked the deleted thread failed with "
        "a server error instead of a not-found, so the kit cannot confirm it is gone. Answer a "
        "load of a missing thread with HTTP 404 (a UI that still holds the thread's id then "
        "gets a clean not-found instead of a crash)."
    )
    if language is None or language[0] == "python":
        text += (
            " With ChatKitServer, the store's NotFoundError reaches your route uncaught: catch "
            "it there and answer 404."
        )
    return text


def fit_fixes(
    findings: list[Finding], captures: list[Capture], session: SessionModel | None
) -> None:
    """Fit each finding's fix to the evidence of its run (in place)."""
    by_name = {capture.name: capture for capture in captures}
    language = backend_language(captures)
    _name_the_stop(findings, session)
    for finding in findings:
        capture = by_name.get(finding.evidence.capture or "")
        fitted: str | None = None
        if finding.code == "request.http_error" and capture is not None:
            fitted = _http_error_fix(finding, capture, session, language)
        elif finding.code == "request.load_ran_a_turn" and session is not None:
            fitted = (
                "Let the custom fetch pass every request through as ChatKit sent it (adding "
                "headers only): it turns this load into a chat message, so the backend runs a "
                "new, paid turn that also stores an empty user message."
                if session.fetch_in_path
                else "Route every ChatKit request type to its own handler: the backend answers "
                "this load by running a chat turn (a new, paid turn that also stores an empty "
                "user message) instead of returning the thread as JSON."
            )
        elif finding.code == "transport.expected_json_got_stream" and capture is not None:
            from chatkit_lab.client.session import carries_turn

            if not carries_turn(capture):
                fitted = (
                    "Answer this request type with its JSON reply (the thread, the page of "
                    "items): the backend answers it with an event stream that holds no turn, "
                    "which ChatKit's host script hands the UI as {}."
                )
        elif finding.code == "persistence.cleanup_not_confirmed" and session is not None:
            fitted = _cleanup_fix(session, language)
        if fitted is not None:
            finding.fix = fitted
        finding.fix = _for_language(finding.fix, language)


def fit_to_run_without_fetch(findings: list[Finding], fetch_alone: bool, kept: list[str]) -> None:
    """Once the same session ran without the fetch: when it passed, a rewrite's fix is the
    fetch alone (the backend already serves ChatKit)."""
    if not fetch_alone:
        return
    headers = ", ".join(kept) if kept else "no header"
    for finding in findings:
        if finding.code in (
            "request.rewritten",
            "request.answered_locally",
            "request.fetch_threw",
            "request.load_ran_a_turn",
        ):
            finding.fix = (
                f"Make the custom fetch add {headers} and pass ChatKit's request through "
                "unchanged: the same session without its rewrites passes every layer on this "
                "backend, so the backend needs no change."
            )
