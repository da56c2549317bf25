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
from chatkit_lab.client import Screen, Step
from chatkit_lab.diagnosis import Diagnosis
from chatkit_lab.redact import Redactor
from chatkit_lab.report._evidence import words_of
from chatkit_lab.report._inert import MAX_ROWS, Raw, inert, md_table
from chatkit_lab.report._session import _id, _say, retries, session, wire
from chatkit_lab.report._story import screens_of

EXAMPLES = 2
"""Distinct example summaries a findings row shows (the count says how many there are)."""
WHERE = 3
"""Captures a findings row names (the rest are counted)."""


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
        # a phrase, never a Python repr: lists "a, b and N more", mappings "k: v; k: v"
        parts.append(f"{_say(scrub, str(key).replace('_', ' '))}: {_say(scrub, words_of(value))}")
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
    screens = screens_of(diagnosis)
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
                "on screen (modelled)": Raw(_on_screen(screen, scrub)),
            }
        )
    lines = ["### What the user sees, screen by screen", ""]
    lines += md_table(rows, limit=160, what="screens")
    lines += ["", "What reached ChatKit at each screen (fact):", ""]
    for number, screen in enumerate(screens.screens[:MAX_ROWS], start=1):
        lines.append(f"{number}. {_say(scrub, screen.step)}: {_say(scrub, screen.fact)}")
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
    told: list[str] = []
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
            }
        )
        said = " / ".join(_say(scrub, text) for text in examples[:EXAMPLES])
        if len(examples) > EXAMPLES:
            said += f" (and {len(examples) - EXAMPLES} other kinds)"
        told.append(f"- `{code}`: {said}" + (f" _(seen in {place})_" if place else ""))
    lines += md_table(rows, max_rows=MAX_ROWS, what="codes")
    lines += ["", "What each code found (first examples):", "", *told[:MAX_ROWS]]
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
                "threads.delete": wire(step) if step is not None else "not sent",
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
