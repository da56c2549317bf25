"""The session's parts of a target's section: what the client did, and the host script's retries.

Every value is redacted by the caller's redactor and made inert before it is cut into a table;
long text goes in a list below its table, so the tables stay narrow enough for a 980 px page.
"""

from __future__ import annotations

from typing import Any

from chatkit_lab.client import Lifecycle, Step, StreamOpen
from chatkit_lab.diagnosis import Diagnosis
from chatkit_lab.redact import Redactor
from chatkit_lab.report._inert import MAX_ROWS, inert, md_table


def _say(scrub: Redactor, text: object, limit: int | None = None) -> str:
    """Backend-touched text as inert markdown: redacted, made visible, cut, escaped."""
    return inert(text, redact=scrub.redact_text, limit=limit)


def _id(scrub: Redactor, text: object) -> str:
    """An id from the backend in running text: redacted, cut, in an inert code span."""
    return inert(text, redact=scrub.redact_text, limit=40, code=True)


def _is_cleanup_note(note: str) -> bool:
    return "delete" in note.lower()


def session(diagnosis: Diagnosis, scrub: Redactor) -> list[str]:
    """What the client did: one row per request, and the session's notes (cleanup aside)."""
    life = diagnosis.lifecycle
    if life is None:
        return []
    lines = ["### What the client did", ""]
    table = scrub.redact_dataframe(life.table())
    rows = []
    wire: dict[str, list[str]] = {}
    for row in table.to_dict("records"):
        status = row.get("status")
        reply = " ".join(
            str(part) for part in (_whole(status), row.get("content_type")) if _present(part)
        )
        rows.append(
            {
                "step": row.get("step"),
                "name": row.get("name"),
                "reply": reply or "none",
                "expects": row.get("expects"),
                "events": row.get("events"),
                "ended": row.get("ended"),
            }
        )
        if row.get("on_the_wire") and row.get("on_the_wire") != row.get("client_sends"):
            wire.setdefault(str(row["on_the_wire"]), []).append(str(row.get("step")))
    lines += md_table(rows, limit=80, what="steps")
    if wire:
        lines += [
            "",
            "On the wire (what the target received, where it differs from ChatKit's request type):",
            "",
        ]
        for sent, steps in list(wire.items())[:MAX_ROWS]:
            label = "step" if len(steps) == 1 else "steps"
            lines.append(f"- {label} {', '.join(steps)}: {_say(scrub, sent, 200)}")
    notes = [note for note in life.notes if not _is_cleanup_note(note)]
    if notes:
        lines.append("")
        lines += [f"- {_say(scrub, note, 400)}" for note in notes[:20]]
    return lines + [""]


def _present(value: object) -> bool:
    return value is not None and value == value and value != ""  # NaN != NaN


def _whole(value: object) -> object:
    return int(value) if isinstance(value, float) and value == value else value


def wire(step: Step) -> str:
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
    verdicts: list[str] = []
    for step in life.retries:
        wait = step.retry_wait_s
        verdict = step.network.reason if isinstance(step.network, StreamOpen) else ""
        rows.append(
            {
                "attempt": step.attempt + 1,
                "step": step.name,
                "ChatKit waits (s)": f"{wait[0]:g}–{wait[1]:g}" if wait else "",
                "reply": wire(step),
            }
        )
        if verdict:
            verdicts.append(f"- attempt {step.attempt + 1}: {_say(scrub, verdict, 300)}")
    lines = [
        "### Retries",
        "",
        f"ChatKit's host script re-sent a request {len(life.retries)} time(s) because its open "
        "check failed; the kit made the same retries against the target (waits compressed).",
        "",
        *md_table([scrub.redact_obj(row) for row in rows], what="retries"),
        "",
        *(
            ["The host script's verdict on each attempt (fact):", "", *verdicts[:MAX_ROWS], ""]
            if verdicts
            else []
        ),
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


__all__ = ["retries", "session", "wire"]
