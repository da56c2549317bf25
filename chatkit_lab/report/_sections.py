"""The parts of one target's section: each a list of markdown lines, every value inert.

The screens the user sees, the findings grouped by code, what the client did, the retries and
what they left in the store, the loads that became chat turns, the cleanup, the one
stream-vs-reload table and the skipped checks. Everything is redacted by the caller's redactor
first and made inert (:mod:`chatkit_lab.report._inert`) before it is cut into a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chatkit_lab.checks import LAYERS, Finding
from chatkit_lab.client import Lifecycle, Screen, Step, StreamOpen, timeline
from chatkit_lab.diagnosis import Diagnosis
from chatkit_lab.redact import Redactor
from chatkit_lab.report._inert import MAX_ROWS, Raw, inert, md_table

EXAMPLES = 2
"""Distinct example summaries a findings row shows (the count says how many there are)."""
WHERE = 3
"""Captures a findings row names (the rest are counted)."""


def _say(scrub: Redactor, text: object, limit: int | None = None) -> str:
    """Backend-touched text as inert markdown: redacted, made visible, cut, escaped."""
    return inert(text, redact=scrub.redact_text, limit=limit)


def _id(scrub: Redactor, text: object) -> str:
    """An id from the backend in running text: redacted, cut, in an inert code span."""
    return inert(text, redact=scrub.redact_text, limit=40, code=True)


# -- the verdict -----------------------------------------------------------------------------


def evidence_line(finding: Finding, scrub: Redactor) -> str:
    """Where a finding was seen, inert: capture, event, bytes, details, the excerpt in code."""
    evidence = scrub.redact_obj(finding.evidence)
    parts: list[str] = []
    if evidence.capture:
        parts.append(f"capture {_say(scrub, evidence.capture)}")
    if evidence.event_index is not None:
        parts.append(f"event {evidence.event_index}")
    if evidence.frame_index is not None and evidence.event_index is None:
        parts.append(f"frame {evidence.frame_index}")
    if evidence.byte_range is not None:
        parts.append(f"bytes {evidence.byte_range[0]}..{evidence.byte_range[1]}")
    for key, value in list(evidence.detail.items())[:8]:
        if isinstance(value, list | tuple):
            names = [str(item) for item in value]
            value = ", ".join(names[:WHERE]) + (
                f" and {len(names) - WHERE} more" if len(names) > WHERE else ""
            )
        parts.append(f"{_say(scrub, key)}: {_say(scrub, value, 160)}")
    if evidence.excerpt:
        parts.append(inert(evidence.excerpt, redact=scrub.redact_text, limit=160, code=True))
    return "; ".join(parts) or "(no capture)"


def verdict_block(diagnosis: Diagnosis, scrub: Redactor) -> list[str]:
    """The verdict as markdown: the first broken layer, its evidence and its whole fix."""
    verdict = diagnosis.verdict
    if verdict is None:
        warned = [layer for layer in LAYERS if diagnosis.layers.get(layer) == "warn"]
        extra = f" (warnings in {', '.join(warned)})" if warned else ""
        return [f"**Verdict:** every layer passes{extra}.", ""]
    return [
        f"**Verdict:** the first broken layer is **{verdict.layer}** (`{verdict.code}`): "
        f"{_say(scrub, verdict.summary)}",
        "",
        f"- Evidence: {evidence_line(verdict, scrub)}",
        f"- Fix: {_say(scrub, verdict.fix)}",
        "",
    ]


# -- what the user sees ----------------------------------------------------------------------


def _on_screen(screen: Screen, scrub: Redactor) -> str:
    parts = [
        f"{_say(scrub, item.role)}: {_say(scrub, item.text or '(empty)', 60)}"
        for item in screen.items[:6]
    ]
    if len(screen.items) > 6:
        parts.append(f"and {len(screen.items) - 6} more")
    if screen.loading:
        parts.append("(loading dots)")
    if screen.error:
        parts.append(f"(error: {_say(scrub, screen.error, 80)})")
    shown = " · ".join(parts) if parts else "**(blank)**"
    if screen.lost:
        gone = ", ".join(f"“{_say(scrub, text, 40)}”" for text in screen.lost[:3])
        shown += f" (gone: {gone})"
    return shown


def strip(diagnosis: Diagnosis, scrub: Redactor) -> list[str]:
    """The UI timeline as a strip of screens, the first one that loses a message marked."""
    life = diagnosis.lifecycle
    if life is None:
        return []
    screens = timeline(life)
    if not screens.screens:
        return []
    first = screens.first_loss
    rows = []
    for number, screen in enumerate(screens.screens, start=1):
        moment = inert(screen.moment)
        if screen is first:
            moment += " **⚠ first loss**"
        rows.append(
            {
                "screen": number,
                "moment": Raw(moment),
                "step": scrub.redact_text(screen.step),
                "on screen (modelled)": Raw(_on_screen(screen, scrub)),
                "what reached ChatKit (fact)": scrub.redact_text(screen.fact),
            }
        )
    lines = ["### What the user sees, screen by screen", ""]
    lines += md_table(rows, limit=160, what="screens")
    if first is None:
        lines += ["", "No screen loses a message the previous one showed."]
    return lines + [""]


# -- findings --------------------------------------------------------------------------------


def findings_by_code(diagnosis: Diagnosis, scrub: Redactor) -> list[str]:
    """One row per finding code (count, first examples, where), then every fix in full."""
    groups: dict[str, list[Finding]] = {}
    for item in sorted(diagnosis.findings, key=lambda f: LAYERS.index(f.layer)):
        groups.setdefault(item.code, []).append(item)
    lines = ["### Findings by code", ""]
    if not groups:
        return lines + ["_(none)_", ""]
    rows = []
    for code, items in groups.items():
        examples = list(dict.fromkeys(scrub.redact_text(item.summary) for item in items))
        where = list(
            dict.fromkeys(item.evidence.capture or "" for item in items if item.evidence.capture)
        )
        place = ", ".join(_say(scrub, name, 40) for name in where[:WHERE])
        if len(where) > WHERE:
            place += f" and {len(where) - WHERE} more"
        rows.append(
            {
                "layer": items[0].layer,
                "code": code,
                "severity": items[0].severity,
                "count": len(items),
                "first examples": Raw(
                    " / ".join(_say(scrub, text, 110) for text in examples[:EXAMPLES])
                    + (
                        f" (and {len(examples) - EXAMPLES} other kinds)"
                        if len(examples) > EXAMPLES
                        else ""
                    )
                ),
                "seen in": Raw(place),
            }
        )
    lines += md_table(rows, max_rows=MAX_ROWS, what="codes")
    fixes: dict[str, list[str]] = {}
    for code, items in groups.items():
        if items[0].fix and items[0].severity != "info":
            fixes.setdefault(items[0].fix, []).append(code)
    if fixes:
        lines += ["", "Fixes, in full:", ""]
        for fix, codes in fixes.items():
            lines.append(f"- {', '.join(f'`{c}`' for c in codes)}: {_say(scrub, fix)}")
    return lines + [""]


# -- the session -----------------------------------------------------------------------------


def _is_cleanup_note(note: str) -> bool:
    return "delete" in note.lower()


def session(diagnosis: Diagnosis, scrub: Redactor) -> list[str]:
    """What the client did: one row per request, and the session's notes (cleanup aside)."""
    life = diagnosis.lifecycle
    if life is None:
        return []
    lines = ["### What the client did", ""]
    lines += md_table(scrub.redact_dataframe(life.table()), limit=80, what="steps")
    notes = [note for note in life.notes if not _is_cleanup_note(note)]
    if notes:
        lines.append("")
        lines += [f"- {_say(scrub, note, 400)}" for note in notes[:20]]
    return lines + [""]


def _wire(step: Step) -> str:
    capture = step.capture
    if capture.status is None:
        return "no response"
    return f"HTTP {capture.status} {capture.content_type or 'no content type'}"


def retries(diagnosis: Diagnosis, scrub: Redactor) -> list[str]:
    """Each retry the host script made, and what the store audit found after them."""
    life = diagnosis.lifecycle
    if life is None or not life.retries:
        return []
    rows = []
    for step in life.retries:
        wait = step.retry_wait_s
        verdict = step.network.reason if isinstance(step.network, StreamOpen) else ""
        rows.append(
            {
                "attempt": step.attempt + 1,
                "step": step.name,
                "ChatKit waits (s)": f"{wait[0]:g}–{wait[1]:g}" if wait else "",
                "reply": _wire(step),
                "host script's verdict (fact)": verdict,
            }
        )
    lines = [
        "### Retries",
        "",
        f"ChatKit's host script re-sent a request {len(life.retries)} time(s) because its open "
        "check failed; the kit made the same retries against the target (waits compressed).",
        "",
        *md_table([scrub.redact_obj(row) for row in rows], what="retries"),
        "",
        _store_audit(life, scrub),
    ]
    return lines + [""]


def _store_audit(life: Lifecycle, scrub: Redactor) -> str:
    audit = life.store_audit
    if not audit:
        return (
            "The kit could not list what the retries left in the target's store "
            "(see the notes above)."
        )
    new = [str(thread) for thread in audit.get("new_threads", [])]
    counts: dict[str, Any] = audit.get("user_messages", {}) or {}
    saved = sum(int(n) for n in counts.values() if isinstance(n, int))
    attempts = audit.get("attempts", 0)
    names = ", ".join(_id(scrub, thread) for thread in new[:5])
    more = f" and {len(new) - 5} more" if len(new) > 5 else ""
    text = (
        f"Store audit after {attempts} attempt(s): {len(new)} new thread(s) in the target"
        + (f" ({names}{more})" if new else "")
        + f", holding the user message {saved} time(s) in all."
    )
    if len(new) > 1 or saved > 1:
        text += " Every retry saved the message again: the store holds duplicates."
    return text


def turns(diagnosis: Diagnosis, scrub: Redactor) -> list[str]:
    """The requests that were not sends but made the target run a chat turn (a count)."""
    life = diagnosis.lifecycle
    if life is None or not life.turns_for_non_sends:
        return []
    ran = life.turns_for_non_sends
    names = ", ".join(_say(scrub, step.name, 60) for step in ran[:8])
    more = f" and {len(ran) - 8} more" if len(ran) > 8 else ""
    asked = sum(1 for step in life.steps if not step.capture.meta.get("cleanup"))
    return [
        "### Loads that became chat turns",
        "",
        f"{len(ran)} request(s) that were not sends (of the {asked} ChatKit made) made the target "
        f"run a chat turn, answered with an event stream: {names}{more}.",
        "",
    ]


def _deleted_thread(step: Step) -> str | None:
    payload = step.client_request.json
    params = payload.get("params") if isinstance(payload, dict) else None
    thread = params.get("thread_id") if isinstance(params, dict) else None
    return str(thread) if thread is not None else None


def cleanup(diagnosis: Diagnosis, scrub: Redactor) -> list[str]:
    """The threads this session created, and whether each was deleted (confirmed by a load)."""
    life = diagnosis.lifecycle
    if life is None:
        return []
    created = list(dict.fromkeys(life.created_threads))
    lines = ["### Cleanup", ""]
    if not created:
        return lines + ["This session created no thread in the target.", ""]
    deletes = {
        _deleted_thread(step): step for step in life.steps if step.capture.meta.get("cleanup")
    }
    if not deletes:
        names = ", ".join(_id(scrub, thread) for thread in created[:10])
        if len(created) > 10:
            names += f" and {len(created) - 10} more"
        return lines + [
            f"Threads this session created: {names}. The kit sent no threads.delete: it deletes "
            "only in a remote target, and not with --keep-threads (a built-in backend is "
            "discarded with the run).",
            "",
        ]
    rows = []
    for thread in created[:MAX_ROWS]:
        step = deletes.get(thread)
        gone = thread in life.deleted_threads
        rows.append(
            {
                "thread": scrub.redact_text(thread),
                "threads.delete": _wire(step) if step is not None else "not sent",
                "deleted": Raw(
                    "yes, a load confirmed it is gone" if gone else "**no**: delete it by hand"
                ),
            }
        )
    kept = [thread for thread in created if thread not in life.deleted_threads]
    lines += md_table(rows, what="threads")
    if kept:
        lines += ["", f"{len(kept)} thread(s) are still in the target."]
    return lines + [""]


def reload_table(diagnosis: Diagnosis, scrub: Redactor) -> list[str]:
    """One stream-vs-reload table: the last load point (it covers every streamed item)."""
    if not diagnosis.reloads:
        return []
    last = diagnosis.reloads[-1]
    earlier = [reload.name for reload in diagnosis.reloads[:-1]]
    lines = ["### Stream vs reload", ""]
    lines.append(
        f"What streamed, beside what the last thread load ({_say(scrub, last.name)}) returned."
    )
    if earlier:
        names = ", ".join(_say(scrub, name) for name in earlier[:5])
        lines[-1] += f" The earlier load points ({names}) are checked too; see the findings."
    lines.append("")
    lines += md_table(scrub.redact_dataframe(last.table()), limit=60, what="items")
    return lines + [""]


def skipped(diagnosis: Diagnosis, scrub: Redactor) -> list[str]:
    """Checks that could not run, grouped by reason (a count and the first capture)."""
    if not diagnosis.skipped:
        return []
    groups: dict[tuple[str, str], list[Any]] = {}
    for item in diagnosis.skipped:
        groups.setdefault((item.code or item.layer, item.reason), []).append(item)
    lines = ["Checks skipped:", ""]
    for (what, reason), items in list(groups.items())[:20]:
        first = next((i.capture for i in items if i.capture), None)
        where = (
            f" ({len(items)}×, first in {_say(scrub, first, 60)})"
            if first
            else (f" ({len(items)}×)" if len(items) > 1 else "")
        )
        lines.append(f"- {_say(scrub, what)}: {_say(scrub, reason, 300)}{where}")
    if len(groups) > 20:
        lines.append(f"- and {len(groups) - 20} other reasons")
    return lines + [""]


def section_parts(diagnosis: Diagnosis, scrub: Redactor) -> Sequence[list[str]]:
    """Every part of a target's section after its verdict, in reading order."""
    return (
        strip(diagnosis, scrub),
        findings_by_code(diagnosis, scrub),
        session(diagnosis, scrub),
        retries(diagnosis, scrub),
        turns(diagnosis, scrub),
        cleanup(diagnosis, scrub),
        reload_table(diagnosis, scrub),
    )


__all__ = [
    "cleanup",
    "evidence_line",
    "findings_by_code",
    "reload_table",
    "retries",
    "section_parts",
    "session",
    "skipped",
    "strip",
    "turns",
    "verdict_block",
]
