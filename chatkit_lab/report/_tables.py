"""What notebooks show, redacted: the tables and lines of a diagnosis, and one table style.

The data models (a lifecycle, a diagnosis, a conformance) stay plain data; their tables are
made here, the one place pandas is used. :func:`table` gives the table of any of them
(:func:`functools.singledispatch`): a :class:`~chatkit_lab.client.Lifecycle` one row per
request, a :class:`~chatkit_lab.diagnosis.Diagnosis` one row per layer, a
:class:`~chatkit_lab.diagnosis.Conformance` one row per scenario, a list of conformances side by
side (:func:`compare`); :func:`findings_table` and :func:`summary_by_code` show a diagnosis's
findings, :func:`checks_table` the check catalogue.

Each function here redacts with the diagnosis's own redactor (the secrets its run was given)
joined with the current one, so a notebook displays them as they are: it never redacts by hand.
:func:`readable` is the one table style every notebook uses (no row numbers, blank for missing
values, whole numbers without ``.0``, text escaped and wrapped between words instead of cut or
widening the table past the page); :func:`wrapped` wraps printed text the same way.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from functools import singledispatch
from typing import Any

import pandas as pd

from chatkit_lab.checks import LAYERS
from chatkit_lab.checks import findings_table as _findings_rows
from chatkit_lab.client import Lifecycle, body_shape, path_of
from chatkit_lab.diagnosis import Conformance, Diagnosis
from chatkit_lab.redact import Redactor, current_redactor, redactor_for


@singledispatch
def table(value: Any) -> pd.DataFrame:
    """The table of ``value``, redacted by the secrets of its run joined with the current ones:
    a lifecycle (one row per request: what the client sent, what went on the wire, what came
    back), a diagnosis (one row per layer: state, errors, warnings, the first finding's code),
    a conformance (one row per scenario: state, the failing layer and check, and why) or a list
    of conformances (:func:`compare`)."""
    raise TypeError(f"no table for {type(value).__name__}")


@table.register
def _(life: Lifecycle) -> pd.DataFrame:
    rows = []
    for number, step in enumerate(life.steps, start=1):
        capture = step.capture
        request = capture.request
        rows.append(
            {
                "step": number,
                "name": step.name,
                "client_sends": step.client_type,
                "on_the_wire": (
                    "answered locally"
                    if step.answered_locally
                    else f"{request.method} {path_of(request.url)} "
                    f"{capture.request_type or body_shape(request.body)}"
                ),
                "status": capture.status,
                "content_type": capture.content_type or None,
                "expects": step.expects,
                "events": len(capture.events) if capture.is_event_stream else None,
                "bytes": capture.size,
                "ended": capture.ending.state,
            }
        )
    return current_redactor().redact_dataframe(pd.DataFrame(rows))


@table.register
def _(diagnosis: Diagnosis) -> pd.DataFrame:
    rows = []
    for layer in LAYERS:
        mine = [f for f in diagnosis.findings if f.layer == layer]
        rows.append(
            {
                "layer": layer,
                "state": diagnosis.layers.get(layer, "skip"),
                "errors": sum(f.severity == "error" for f in mine),
                "warnings": sum(f.severity == "warning" for f in mine),
                "first": mine[0].code if mine else "",
            }
        )
    return pd.DataFrame(rows)


@table.register
def _(conformance: Conformance) -> pd.DataFrame:
    rows = []
    for result in conformance.results:
        verdict = result.diagnosis.verdict if result.state == "fail" else None
        rows.append(
            {
                "scenario": result.name,
                "state": result.state,
                "layer": verdict.layer if verdict is not None else "",
                "check": verdict.code if verdict is not None else "",
                "why": result.reason,
            }
        )
    shown = pd.DataFrame(rows, columns=["scenario", "state", "layer", "check", "why"])
    shown["why"] = shown["why"].map(conformance.redactor.redact_text)
    return shown


@table.register
def _(conformances: list) -> pd.DataFrame:  # type: ignore[type-arg]
    return compare(conformances)


def compare(conformances: Sequence[Conformance]) -> pd.DataFrame:
    """Targets side by side: one row per scenario, one column per target (its state, and the
    failing check when it fails): the reference beside a team's backend, at a glance."""
    names: list[str] = []
    for conformance in conformances:
        for result in conformance.results:
            if result.name not in names:
                names.append(result.name)
    rows = []
    for name in names:
        row: dict[str, str] = {"scenario": name}
        for conformance in conformances:
            result = conformance.result(name)
            if result is None:
                row[conformance.target] = ""
                continue
            verdict = result.diagnosis.verdict
            cell = result.state
            if result.state == "fail" and verdict is not None:
                cell += f" ({verdict.code})"
            row[conformance.target] = cell
        rows.append(row)
    return pd.DataFrame(rows, columns=["scenario", *[c.target for c in conformances]])


def findings_table(diagnosis: Diagnosis) -> pd.DataFrame:
    """Every finding, one row each, in layer order (secrets redacted, then shortened)."""
    return _findings_rows(diagnosis.redactor.redact_obj(diagnosis.findings))


def summary_by_code(diagnosis: Diagnosis) -> pd.DataFrame:
    """Findings grouped by code (count, first summary): readable when events repeat a fault."""
    shown = findings_table(diagnosis)
    if shown.empty:
        return pd.DataFrame(columns=["layer", "code", "severity", "count", "example", "fix"])
    return (
        shown.groupby(["layer", "code", "severity"], sort=False)
        .agg(count=("summary", "size"), example=("summary", "first"), fix=("fix", "first"))
        .reset_index()
    )


def lifecycle_table(diagnosis: Diagnosis, redactor: Redactor | None = None) -> pd.DataFrame:
    """One row per request of the client session (empty when the diagnosis ran no session)."""
    if diagnosis.lifecycle is None:
        return pd.DataFrame()
    return (redactor or redactor_for(diagnosis)).redact_dataframe(table(diagnosis.lifecycle))


def lifecycle_notes(diagnosis: Diagnosis, redactor: Redactor | None = None) -> list[str]:
    """What the session noted, and which threads it created (and deleted) in the target."""
    life = diagnosis.lifecycle
    if life is None:
        return []
    lines = list(life.notes)
    if life.created_threads:
        deleted = life.deleted_threads
        lines.append(
            f"threads created in the target: {', '.join(life.created_threads)}"
            + (f"; deleted again at the end: {', '.join(deleted)}" if deleted else "")
        )
    scrub = redactor or redactor_for(diagnosis)
    return [scrub.redact_text(line) for line in lines]


def reload_tables(
    diagnosis: Diagnosis, redactor: Redactor | None = None
) -> list[tuple[str, pd.DataFrame]]:
    """``(name, table)`` per reload: what streamed against what the reload returned."""
    scrub = redactor or redactor_for(diagnosis)
    return [
        (scrub.redact_text(reload.name), scrub.redact_dataframe(reload.table()))
        for reload in diagnosis.reloads
    ]


def transcripts(diagnosis: Diagnosis, redactor: Redactor | None = None) -> list[tuple[str, str]]:
    """``(capture, text)``: what the client would render after each analysed stream."""
    scrub = redactor or redactor_for(diagnosis)
    out = []
    for name, analysis in diagnosis.analyses.items():
        final = getattr(analysis, "final", None)
        if final is None:
            continue
        out.append((scrub.redact_text(name), scrub.redact_text(final.transcript() or "(nothing)")))
    return out


WRAP = "white-space: normal; overflow-wrap: break-word; text-align: left; min-width: 8em"
"""How a long text column is shown: wrapped between words, left-aligned."""
TABLE = "table-layout: auto; max-width: 100%"
CELL = "vertical-align: top; white-space: normal; overflow-wrap: break-word; word-break: normal"
"""Every cell may wrap between words, so a wide table narrows to the page instead of scrolling."""


_BREAKS = re.compile(r"(?<=[/._:=&?,-])(?=[^\s/._:=&?,-])")
"""After these marks a long token may break (``transport.expected_json_got_stream``, a URL)."""


def _cell(value: Any) -> str:
    """A cell's text escaped, with break opportunities (``<wbr>``) after ``/ . _ : = & ? , -``,
    so a long identifier wraps at its parts instead of widening the table or being cut."""
    if isinstance(value, float):
        return f"{value:.1f}" if value == value else ""
    text = html.escape(str(value), quote=False)
    return _BREAKS.sub("<wbr>", text) if len(text) > 8 else text


def _is_text(series: Any) -> bool:
    import pandas as pd

    return series.dtype == object or pd.api.types.is_string_dtype(series)


def readable(frame: Any, wrap: tuple[str, ...] | None = None) -> Any:
    """``frame`` as a table for reading (a pandas ``Styler``).

    No row numbers, blank where a value is missing, whole numbers without ``.0``, text escaped;
    the ``wrap`` columns (default: every text column) wrap between words and are left-aligned,
    so the table fits the page instead of being cut or scrolled.
    """
    import pandas as pd

    frame = frame.copy()
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_float_dtype(series) and series.dropna().apply(float.is_integer).all():
            frame[column] = series.astype("Int64")
    if wrap is None:
        wrap = tuple(
            column
            for column in frame.columns
            if _is_text(frame[column])
            and frame[column].map(lambda value: len(str(value))).max() > 24
        )
    styler = frame.style.hide(axis="index").format(_cell, na_rep="", precision=1)
    styler = styler.format_index(_cell, axis=1)
    styler = styler.set_table_styles(
        [
            {"selector": "", "props": TABLE},
            {"selector": "td", "props": CELL},
            {"selector": "th", "props": CELL + "; text-align: left"},
        ]
    )
    columns = {
        column: [{"selector": "", "props": WRAP if column in wrap else "text-align: left"}]
        for column in frame.columns
        if column in wrap or _is_text(frame[column])
    }
    return styler.set_table_styles(columns, overwrite=False)


def layers_by_target(diagnoses: Sequence[Diagnosis], names: Sequence[str] | None = None) -> Any:
    """One row per layer and one column per target (``names``, default each target), the last
    row the verdict: the layer matrix turned so that it stays narrow for any number of layers
    (a page holds a few targets side by side far better than eight layers and a verdict)."""
    import pandas as pd

    from chatkit_lab.checks import LAYERS
    from chatkit_lab.redact import redactor_for

    scrub = redactor_for(list(diagnoses))
    labels = list(names) if names is not None else [d.target for d in diagnoses]
    columns: dict[str, list[str]] = {}
    for label, diagnosis in zip(labels, diagnoses, strict=True):
        verdict = diagnosis.verdict
        states = [diagnosis.layers.get(layer, "skip") for layer in LAYERS]
        columns[scrub.redact_text(label)] = [*states, verdict.code if verdict else "all pass"]
    return pd.DataFrame({"layer": [*LAYERS, "verdict"], **columns})


def wrapped(text: str, width: int = 96, indent: int = 0) -> str:
    """``text`` wrapped between words (by ``rich``) to ``width`` columns, each paragraph kept;
    later lines of a paragraph indented by ``indent`` spaces. For printing in a notebook, whose
    output area would otherwise break a long line anywhere, even inside a word."""
    from rich.padding import Padding
    from rich.text import Text

    from chatkit_lab.report._terminal import render

    out: list[str] = []
    for paragraph in text.split("\n"):
        lines = render([Text(paragraph)], width)
        if indent and len(lines) > 1:
            rest = paragraph[len(lines[0]) :].strip()
            lines = [lines[0], *render([Padding(Text(rest), (0, 0, 0, indent))], width)]
        out += lines or [""]
    return "\n".join(out)
