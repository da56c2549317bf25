"""Report: diagnoses to a markdown file with tables and plots, ready to paste into an issue.

The report leads with the answer ("What is wrong and what to change": the plain-words
:func:`~chatkit_lab.report._explain.explain` of the lead diagnosis), then the fix ladder, the
verdict of every target and the layer matrix, one note on what is fact and what is modelled,
and a section per target without repetition: its verdict, the screens the user sees, the
findings grouped by code with their fixes in full, what the client did, the host script's
retries and what they left in the store, loads that became chat turns, cleanup, one
stream-vs-reload table, the arrivals plot and the skipped checks.

Nothing a backend sends can change the report's structure: every value from a capture, a
finding or a target goes through :func:`~chatkit_lab.report._inert.inert` (tables through
:func:`~chatkit_lab.report._inert.md_table`, the one table writer). Everything is redacted by the
diagnoses' run redactors joined with the current one, before anything is cut, and the whole
text once more before it is written. Long text goes in a list below its table, so the tables
stay narrow enough for a 980 px page. Files are written whole or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from chatkit_lab.checks import LAYERS, Finding
from chatkit_lab.client import Lifecycle, Screen, Step, StreamOpen
from chatkit_lab.diagnosis import Diagnosis
from chatkit_lab.redact import Redactor, redactor_for
from chatkit_lab.report._conformance import Suite, suite_markdown
from chatkit_lab.report._explain import (
    FACT,
    MODELLED,
    Point,
    evidence_parts,
    explain,
    passes,
    screens_of,
)
from chatkit_lab.report._inert import MAX_ROWS, Raw, inert, md_table, visible
from chatkit_lab.report._plots import plot_layers, plot_timeline
from chatkit_lab.report._tables import _reload_frame, redact_dataframe, table
from chatkit_lab.report._write import destination, write_text

CLIENT_MODEL_NOTE = (
    "What ChatKit's host script does with each reply (its SSE parser, its JSON fallback to {}, "
    "its retries) is fact, read from the public host script; what the closed UI iframe draws "
    "is modelled from the openai-chatkit server SDK's semantics and the protocol notes. Screens "
    "and renderings are marked (modelled) below."
)


def layers_matrix(diagnoses: Sequence[Diagnosis]) -> pd.DataFrame:
    """One row per target, one column per layer, plus the verdict (redacted)."""
    rows = []
    for diagnosis in diagnoses:
        verdict = diagnosis.verdict
        row: dict[str, object] = {"target": diagnosis.target, "transform": diagnosis.transform}
        row.update({layer: diagnosis.layers.get(layer, "skip") for layer in LAYERS})
        row["verdict"] = f"{verdict.layer}: {verdict.code}" if verdict else "all pass"
        rows.append(row)
    return redact_dataframe(pd.DataFrame(rows), redactor_for(diagnoses))


def _slug(name: str, redactor: Redactor) -> str:
    safe = redactor.redact_text(name).replace("REDACTED", "")
    slug = "".join(ch if ch.isascii() and ch.isalnum() else "_" for ch in safe).strip("_")
    return (slug or "target")[:80]


def _short_verdict(diagnosis: Diagnosis) -> str:
    verdict = diagnosis.verdict
    if verdict is None:
        return passes(diagnosis)
    return f"first broken layer is {verdict.layer} ({verdict.code})"


def _key(diagnosis: Diagnosis) -> tuple[str, str]:
    life = diagnosis.lifecycle
    return (life.target if life is not None else diagnosis.target, diagnosis.transform)


# -- the answer ------------------------------------------------------------------------------


FIX_GUIDE = "docs/guides/fix-the-report.md"
"""The guide that walks through the smallest fix, step by step (linked from the answer)."""


def answer_markdown(
    lead: Diagnosis,
    others: Sequence[Diagnosis] = (),
    redactor: Redactor | None = None,
    *,
    asked: str = "",
    picture: Sequence[str] = (),
    guide: str | None = FIX_GUIDE,
) -> list[str]:
    """The first section: the setup asked about, its verdict, the picture of what the user sees,
    the fix (and the guide), then the rest of the explanation, each point with its evidence.

    ``asked`` says which setup this is (``the setup the team reported``); ``picture`` is the
    markdown of the screens' image; ``guide`` a link to the fix guide (``None``: none).
    """
    scrub = redactor or redactor_for([lead, *others])
    said = explain(lead, scrub)
    about = f" ({inert(asked)})" if asked else ""
    lines = [
        "## What is wrong and what to change",
        "",
        f"For **{inert(said.target)}**{about}:",
        "",
    ]

    def point_line(label: str, point: Point) -> str:
        text = inert(point.text)
        if point is said.verdict and said.why is not None:  # the verdict and its cause, once
            text = f"{inert(point.text.rstrip('.'))}: {inert(said.why.text)}"
        pointer = f" _({inert(point.pointer)})_" if point.evidence else ""
        return f"- **{inert(label)}:** {text}{pointer}"

    points = dict(
        said.points(("verdict", "sees", "fix", "without_fetch", "blank", "vanish", "not_cause"))
    )
    labelled = {point: label for label, point in points.items()}
    first = [p for p in (said.verdict, said.sees) if p is not None and p in labelled]
    lines += [point_line(labelled[p], p) for p in first]
    if picture:
        lines += ["", *picture, ""]
    if said.fix is not None:
        link = f" Step by step: [{FIX_GUIDE}]({guide})." if guide else ""
        lines.append(point_line(labelled[said.fix], said.fix) + link)
    if said.without_fetch is not None:
        lines.append(point_line(labelled[said.without_fetch], said.without_fetch))
    rest = [p for p in (said.blank, said.vanish, said.not_cause) if p is not None]
    if rest:
        lines += ["", "Why, in more detail:", ""]
        lines += [point_line(labelled[p], p) for p in rest]
    lines += [
        "",
        f"_Points marked (modelled) are {inert(MODELLED.split(': ', 1)[1])}; the others are "
        f"{inert(FACT)}._",
        "",
    ]
    failing = [d for d in others if d.failed]
    if others:
        lines += [
            f"Of the {len(others)} other target(s), {len(failing)} fail; each section below "
            "starts with its own verdict.",
            "",
        ]
    return lines


def _guide(base: Path) -> str:
    """The fix guide's path relative to the report's folder (in a checkout), else its name."""
    import os

    checkout = Path(__file__).resolve().parents[2]
    guide = checkout / FIX_GUIDE
    folder = base.resolve()
    if not guide.is_file() or not folder.is_relative_to(checkout):
        return FIX_GUIDE  # a report outside the checkout names the guide by its path in it
    return Path(os.path.relpath(guide, folder)).as_posix()


def screens_image(diagnosis: Diagnosis, folder: Path, base: Path, redactor: Redactor) -> list[str]:
    """The screens of ``diagnosis`` as an SVG image in ``folder`` (modelled); its markdown,
    with alt text that says what the picture shows."""
    from chatkit_lab.report._screens import screens_picture, screens_svg

    shown = screens_picture(diagnosis)
    if not shown.panes:
        return []
    path = folder / f"screens_{_slug(diagnosis.target, redactor)}.svg"
    folder.mkdir(parents=True, exist_ok=True)
    write_text(path, screens_svg(shown))
    alt = inert(shown.alt)
    return [
        f"![{alt}]({path.relative_to(base).as_posix()})",
        "",
        "_The screens above are modelled: what the closed UI iframe would draw from what "
        "reached ChatKit; the first loss is outlined in red._",
    ]


def ladder_markdown(
    ladder: Sequence[Diagnosis], detailed: Sequence[Diagnosis], redactor: Redactor
) -> list[str]:
    """The fix ladder: each change, its verdict and its failing layers; where it first passes."""
    if not ladder:
        return []
    by_key = {_key(d): d for d in detailed}
    rows = []
    told: list[str] = []
    for number, diagnosis in enumerate(ladder, start=1):
        failing = [layer for layer in LAYERS if diagnosis.layers.get(layer) == "fail"]
        same = by_key.get(_key(diagnosis))
        rows.append(
            {
                "step": number,
                "change": redactor.redact_text(diagnosis.target),
                "first failure": diagnosis.verdict.code if diagnosis.verdict else "none: passes",
            }
        )
        where = f"the section {inert(redactor.redact_text(same.target))}" if same else "below"
        told.append(
            f"{number}. {inert(_short_verdict(diagnosis))}; failing layers: "
            f"{', '.join(failing) or 'none'} (detail: {where})"
        )
    lines = ["## The fix ladder", ""]
    lines.append(
        "The report's setup, then each fix alone, then together; a step passes when no layer fails."
    )
    lines += ["", *md_table(rows, limit=None, what="steps"), "", *told, ""]
    passing = next((d for d in ladder if not d.failed), None)
    if passing is None:
        lines.append("No step of the ladder passes every layer.")
    else:
        at = ladder.index(passing) + 1
        change = inert(redactor.redact_text(passing.target))
        lines.append(f"Every layer passes from step {at}: {change}.")
    return lines + [""]


def verdicts_markdown(
    diagnoses: Sequence[Diagnosis], plots_dir: Path | None, base: Path, redactor: Redactor
) -> list[str]:
    """One line per target (its verdict in short), the layer matrix and the layer grid."""
    lines = ["## Verdicts", ""]
    for number, diagnosis in enumerate(diagnoses, start=1):
        lines.append(
            f"{number}. {inert(redactor.redact_text(diagnosis.target))}: "
            f"{inert(_short_verdict(diagnosis))}"
        )
    # each target by its number in the list above: the layers are the columns that matter
    matrix = layers_matrix(diagnoses).drop(columns=["verdict", "transform", "target"])
    matrix.insert(0, "target", range(1, len(diagnoses) + 1))
    lines += ["", *md_table(redact_dataframe(matrix, redactor), limit=60, what="targets"), ""]
    if plots_dir is not None and diagnoses:
        grid = plot_layers(diagnoses, plots_dir / "layers.png", redactor)
        lines += [f"![layer states per target]({grid.relative_to(base).as_posix()})", ""]
    return lines


# -- one target ------------------------------------------------------------------------------


def diagnosis_markdown(
    diagnosis: Diagnosis, plots_dir: Path | None, base: Path, redactor: Redactor | None = None
) -> str:
    """The section of the report for one target (redacted, every value inert)."""
    scrub = redactor or redactor_for(diagnosis)
    target = inert(diagnosis.target, redact=scrub.redact_text)
    lines = [f"## {target}", ""]
    if diagnosis.transform and diagnosis.transform != "none":
        transform = inert(diagnosis.transform, redact=scrub.redact_text)
        lines += [f"Client transform (custom fetch): {transform}", ""]
    lines += verdict_lines(diagnosis, scrub)
    for part in section_parts(diagnosis, scrub):
        lines += part
    if plots_dir is not None:
        plot = plot_timeline(
            diagnosis, plots_dir / f"timeline_{_slug(diagnosis.target, scrub)}.png", scrub
        )
        if plot is not None:
            lines += [f"![event arrivals for {target}]({plot.relative_to(base).as_posix()})", ""]
    lines += skipped(diagnosis, scrub)
    return scrub.redact_text("\n".join(lines))


def _lead(diagnoses: Sequence[Diagnosis], lead: Diagnosis | None) -> Diagnosis | None:
    if lead is not None:
        return lead
    return next((d for d in diagnoses if d.failed), diagnoses[0] if diagnoses else None)


def report_markdown(
    diagnoses: Sequence[Diagnosis],
    path: str | Path,
    *,
    title: str = "ChatKit investigation",
    intro: str = "",
    plots: bool = True,
    lead: Diagnosis | None = None,
    ladder: Sequence[Diagnosis] = (),
    suite: Suite | None = None,
    asked: str = "",
) -> Path:
    """Write the whole report (and its plots beside it); return the report's path.

    ``lead`` is the diagnosis the first section explains (default: the first that fails);
    ``ladder`` the fix ladder's diagnoses, in order (a step that repeats a target of
    ``diagnoses`` is not detailed twice). ``intro`` is the caller's own markdown. ``suite``
    (:func:`chatkit_lab.investigation.run_suite`) adds the conformance section after the ladder;
    ``asked`` names the lead's setup in the first line (``the setup the team reported``).
    Redacted with every diagnosis's run redactor joined with the current one; the file is
    written whole or not at all (:class:`~chatkit_lab.report.ReportError` for a bad ``path``).
    """
    target = destination(path)
    everything = [*diagnoses, *ladder]
    if lead is not None and lead in diagnoses:
        diagnoses = [lead, *(d for d in diagnoses if d is not lead)]  # the setup asked about first
    scrub = redactor_for(everything)
    base = target.parent
    plots_dir = base / f"{target.stem}_plots" if plots else None
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"# {inert(title)}", "", f"_Generated by chatkit-lab on {stamp}._", ""]
    chosen = _lead(everything, lead)
    if chosen is not None:
        others = [d for d in diagnoses if d is not chosen]
        picture = screens_image(chosen, plots_dir, base, scrub) if plots_dir is not None else []
        lines += answer_markdown(
            chosen, others, scrub, asked=asked, picture=picture, guide=_guide(base)
        )
    known = {_key(d) for d in diagnoses}
    extra = [d for d in ladder if _key(d) not in known]
    lines += ladder_markdown(ladder, diagnoses, scrub)
    if suite is not None:
        lines += suite_markdown(suite)
    lines += verdicts_markdown(everything, plots_dir, base, scrub)
    lines += ["## About this report", ""]
    if intro:
        lines += [intro, ""]
    lines += [CLIENT_MODEL_NOTE, ""]
    for diagnosis in [*diagnoses, *extra]:
        lines.append(diagnosis_markdown(diagnosis, plots_dir, base, scrub))
    return write_text(target, visible(scrub.redact_text("\n".join(lines)), newlines=True))


EXAMPLES = 2
"""Distinct example summaries a findings row shows (the count says how many there are)."""
WHERE = 3
"""Captures a findings row names (the rest are counted)."""


# -- the verdict -----------------------------------------------------------------------------


def evidence_line(finding: Finding, scrub: Redactor) -> str:
    """Where a finding was seen, inert: capture, event, bytes, details, the excerpt in code."""
    evidence = scrub.redact_obj(finding.evidence)
    parts = [inert(part) for part in evidence_parts(evidence, scrub.redact_text, limit=160)]
    if evidence.excerpt:
        parts.append(inert(evidence.excerpt, redact=scrub.redact_text, limit=160, code=True))
    return "; ".join(parts) or "(no capture)"


def verdict_lines(diagnosis: Diagnosis, redactor: Redactor | None = None) -> list[str]:
    """The verdict as markdown lines: the first broken layer, its evidence and its whole fix.

    Every value is redacted (before any excerpt is cut) and inert markdown.
    """
    scrub = redactor or redactor_for(diagnosis)
    verdict = diagnosis.verdict
    if verdict is None:
        return [f"**Verdict:** {passes(diagnosis)}.", ""]
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
    asked = sum(1 for step in life.steps if not step.capture.cleanup)
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
    deletes = {_deleted_thread(step): step for step in life.steps if step.capture.cleanup}
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
    lines += md_table(redact_dataframe(_reload_frame(last), scrub), limit=60, what="items")
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
    steps = redact_dataframe(table(life), scrub)
    rows = []
    wire: dict[str, list[str]] = {}
    for row in steps.to_dict("records"):
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
