"""Report: diagnoses to a markdown file with tables and plots, ready to paste into an issue.

The report leads with the answer ("What is wrong and what to change": the plain-words
:func:`~chatkit_lab.report._explain.explain` of the lead diagnosis), then the fix ladder, the
verdict of every target and the layer matrix, one note on what is fact and what is modelled,
and a section per target without repetition (the screens, the findings grouped by code with
their fixes in full, what the client did, retries, loads that became chat turns, cleanup, one
stream-vs-reload table, the arrivals plot).

Nothing a backend sends can change the report's structure: every value from a capture, a
finding or a target goes through :mod:`chatkit_lab.report._inert`. Everything is redacted by
the diagnoses' run redactors joined with the current one, before anything is cut, and the whole
text once more before it is written. Files are written whole or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from chatkit_lab.checks import LAYERS
from chatkit_lab.diagnosis import Diagnosis
from chatkit_lab.redact import Redactor
from chatkit_lab.report._conformance import Suite, suite_markdown
from chatkit_lab.report._explain import FACT, MODELLED, Point, explain
from chatkit_lab.report._inert import inert, md_table, visible
from chatkit_lab.report._plots import plot_layers, plot_timeline
from chatkit_lab.report._sections import section_parts, skipped, verdict_block
from chatkit_lab.report._tables import redactor_for, shown_table
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
    return shown_table(pd.DataFrame(rows), redactor_for(diagnoses))


def _slug(name: str, redactor: Redactor) -> str:
    safe = redactor.redact_text(name).replace("REDACTED", "")
    slug = "".join(ch if ch.isascii() and ch.isalnum() else "_" for ch in safe).strip("_")
    return (slug or "target")[:80]


def _short_verdict(diagnosis: Diagnosis) -> str:
    verdict = diagnosis.verdict
    if verdict is None:
        warned = [layer for layer in LAYERS if diagnosis.layers.get(layer) == "warn"]
        return "every layer passes" + (f" (warnings in {', '.join(warned)})" if warned else "")
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
    from chatkit_lab.report._pictures import screens_picture
    from chatkit_lab.report._svg import screens_svg

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
    lines += ["", *md_table(redactor.redact_dataframe(matrix), limit=60, what="targets"), ""]
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
    lines += verdict_block(diagnosis, scrub)
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


__all__ = [
    "CLIENT_MODEL_NOTE",
    "answer_markdown",
    "diagnosis_markdown",
    "ladder_markdown",
    "layers_matrix",
    "plot_layers",
    "plot_timeline",
    "report_markdown",
    "verdicts_markdown",
]
