"""What notebooks show, redacted: the tables and lines of a diagnosis, and one table style.

The data models (a lifecycle, a diagnosis, a conformance) stay plain data; their tables are
made here, the one place pandas is used. :func:`table` gives the table of any of them
(:func:`functools.singledispatch`): a :class:`~chatkit_lab.client.Lifecycle` one row per
request, a :class:`~chatkit_lab.diagnosis.Diagnosis` one row per layer, a
:class:`~chatkit_lab.diagnosis.Conformance` one row per scenario, a list of conformances side by
side (:func:`compare`), a stream's :class:`~chatkit_lab.checks.EventAnalysis` one row per event,
a :class:`~chatkit_lab.checks.Reload` the streamed items beside the reloaded ones, a
:class:`~chatkit_lab.sources.HarImport` one row per HAR entry, any other list one row per item
(dicts or dataclasses, such as a recording store's ``rows()``); :func:`findings_table` and
:func:`summary_by_code` show findings, :func:`chunks_table`, :func:`messages_table` and
:func:`events_table` a capture's chunks, messages and events.

Each function here redacts with the diagnosis's own redactor (the secrets its run was given)
joined with the current one (:func:`redact_dataframe`), so a notebook displays them as they
are: it never redacts by hand. Cells are cut only after, so a shortened one never holds part of
a secret.

:func:`readable` is the one table style every notebook uses (no row numbers, blank for missing
values, whole numbers without ``.0``, text escaped and wrapped between words instead of cut or
widening the table past the page); :func:`wrapped` wraps printed text the same way.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from functools import singledispatch
from typing import Any

import pandas as pd

from chatkit_lab.capture import Capture
from chatkit_lab.checks import LAYERS, EventAnalysis, Finding, Reload
from chatkit_lab.client import Lifecycle, body_shape, path_of
from chatkit_lab.diagnosis import Conformance, Diagnosis
from chatkit_lab.redact import Redactor, current_redactor, redactor_for, shorten
from chatkit_lab.sources import HarImport
from chatkit_lab.sse import Message


def redact_dataframe(frame: pd.DataFrame, redactor: Redactor | None = None) -> pd.DataFrame:
    """A copy of ``frame`` with every string cell redacted (index and columns kept), by
    ``redactor`` or the current one (:meth:`~chatkit_lab.redact.Redactor.redact_columns`).

    A column named like a secret (``password``, ``Authorization``...) is redacted whole, and
    in a headers table (``name``/``header`` and ``value`` columns) the values of credential
    headers are redacted as headers; columns that hold no text are kept as they are.
    """
    out = frame.copy()
    text = [i for i in range(frame.shape[1]) if _holds_text(frame.iloc[:, i])]
    if not text:
        return out
    names = [frame.columns[i] for i in text]
    cells = [frame.iloc[:, i].tolist() for i in text]
    redacted = (redactor or current_redactor()).redact_columns(names, cells, list(frame.index))
    for i, values in zip(text, redacted, strict=True):
        out.isetitem(i, _like(frame.iloc[:, i], values))
    return out


def _holds_text(column: pd.Series) -> bool:
    dtype = column.dtype
    return (
        pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    )


def _like(column: pd.Series, values: list[Any]) -> pd.Series:
    """``values`` as a series shaped like ``column`` (its index, name and type)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return pd.Series(values, index=column.index, name=column.name).astype("category")
    return pd.Series(values, index=column.index, name=column.name, dtype=column.dtype)


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
    return redact_dataframe(pd.DataFrame(rows))


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
def _(rows: list) -> pd.DataFrame:  # type: ignore[type-arg]
    if rows and all(isinstance(row, Conformance) for row in rows):
        return compare(rows)
    return redact_dataframe(pd.DataFrame(rows))


ANALYSIS_COLUMNS = [
    "index",
    "time_ms",
    "type",
    "dialect",
    "valid",
    "errors",
    "should_be",
    "item_id",
    "ui_items_after",
    "sse_event",
]


@table.register
def _(analysis: EventAnalysis) -> pd.DataFrame:
    """One row per event: when, what, which dialect, valid or why not, what it should be
    (every text cell through the analysis's :meth:`~chatkit_lab.checks.EventAnalysis.redaction`)."""
    shown = analysis.redaction()

    def text(value: str | None) -> str | None:
        return shown(value) if isinstance(value, str) else value

    ui_items = analysis.ui_items
    if ui_items is None:
        ui_items = [len(state.visible_items) for state in analysis.states]
    rows = [
        {
            "index": event.index,
            "time_ms": event.arrived_ns / 1e6 if analysis.timing else None,
            "type": text(event.type),
            "dialect": verdict.dialect,
            "valid": result.ok,
            "errors": shown("; ".join(result.messages)),
            "should_be": text(verdict.should_be),
            "item_id": text(_item_id(event.payload)),
            "ui_items_after": items,
            "sse_event": text(event.sse_event),
        }
        for event, result, verdict, items in zip(
            analysis.events, analysis.results, analysis.verdicts, ui_items, strict=True
        )
    ]
    return pd.DataFrame(rows, columns=ANALYSIS_COLUMNS)


def _item_id(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return None
    item = payload.get("item")
    if isinstance(item, dict) and isinstance(item.get("id"), str):
        return item["id"]
    for key in ("item_id", "id"):
        if isinstance(payload.get(key), str):
            return payload[key]
    return None


@table.register
def _(reload: Reload) -> pd.DataFrame:
    """Streamed items beside what the reload returned, row by row."""
    return redact_dataframe(_reload_frame(reload))


def _reload_frame(reload: Reload) -> pd.DataFrame:
    reloaded = {view.id: view for view in reload.thread_items or []}
    rows = []
    for view in reload.streamed:
        back = reloaded.get(view.id)
        rows.append(
            {
                "streamed_id": view.id,
                "type": view.type,
                "streamed_text": view.text[:60],
                "reload_position": back.position if back else None,
                "reload_text": back.text[:60] if back else None,
                "same": bool(back and back.text == view.text and back.type == view.type),
            }
        )
    streamed_ids = {view.id for view in reload.streamed}
    for view in reload.thread_items or []:
        if view.id not in streamed_ids:
            rows.append(
                {
                    "streamed_id": None,
                    "type": view.type,
                    "streamed_text": None,
                    "reload_position": view.position,
                    "reload_text": view.text[:60],
                    "same": False,
                    "reload_id": view.id,
                }
            )
    return pd.DataFrame(rows)


@table.register
def _(imported: HarImport) -> pd.DataFrame:
    """One row per HAR entry: what it was, and whether it was imported, skipped or failed."""
    rows: dict[int, dict[str, Any]] = {}
    for capture in imported.captures:
        index = capture.meta["har"]["entry"]
        rows[index] = {
            "entry": index,
            "started": capture.started_at,
            "method": capture.request.method,
            "url": capture.request.url,
            "status": capture.status,
            "content_type": capture.content_type,
            "request": capture.request_type or "",
            "bytes": capture.size,
            "events": len(capture.events) if capture.is_event_stream else None,
            "capture": capture.id,
            "outcome": "imported",
            "problems": "",
        }
    for skip in imported.skipped:
        rows.setdefault(skip.entry, _blank_entry(skip.entry, skip.url))
        rows[skip.entry]["outcome"] = f"skipped: {skip.reason}"
    for problem in imported.problems:
        if problem.entry is None:
            continue
        row = rows.setdefault(problem.entry, _blank_entry(problem.entry, problem.url))
        row["problems"] = "; ".join(filter(None, [row["problems"], problem.message]))
    columns = list(_blank_entry(0, ""))  # a row of every column, in order
    frame = pd.DataFrame([rows[key] for key in sorted(rows)], columns=columns)
    for column in ("entry", "status", "bytes", "events"):
        frame[column] = frame[column].astype("Int64")
    return redact_dataframe(frame)


def _blank_entry(entry: int, url: str) -> dict[str, Any]:
    return {
        "entry": entry,
        "started": "",
        "method": "",
        "url": url,
        "status": None,
        "content_type": "",
        "request": "",
        "bytes": None,
        "events": None,
        "capture": "",
        "outcome": "not imported",
        "problems": "",
    }


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


FINDING_COLUMNS = ["layer", "code", "severity", "summary", "evidence", "fix"]


def findings_table(of: Diagnosis | EventAnalysis) -> pd.DataFrame:
    """Every finding of a diagnosis or of one stream's analysis, one row each, in layer order
    (secrets redacted, then the evidence shortened to one readable line)."""
    if isinstance(of, EventAnalysis):
        return _findings_frame(of.findings, of.redaction())
    return _findings_frame(of.redactor.redact_obj(of.findings))


def _findings_frame(
    findings: list[Finding], redact: Callable[[str], str] | None = None
) -> pd.DataFrame:
    keep: Callable[[str], str] = redact if redact is not None else str
    rows = [
        {
            "layer": f.layer,
            "code": f.code,
            "severity": f.severity,
            "summary": keep(f.summary),
            "evidence": keep(f.evidence.describe(redact)),
            "fix": f.fix,
        }
        for f in sorted(findings, key=lambda f: LAYERS.index(f.layer))
    ]
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


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
    return redact_dataframe(table(diagnosis.lifecycle), redactor or redactor_for(diagnosis))


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
        (scrub.redact_text(reload.name), redact_dataframe(_reload_frame(reload), scrub))
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


# -- a capture: its chunks, the messages ChatKit's parser dispatched, their events -----------

PREVIEW_LIMIT = 60
DATA_LIMIT = 80

CHUNK_COLUMNS = ["chunk", "arrived_ms", "gap_ms", "bytes", "preview"]
MESSAGE_COLUMNS = [
    "message",
    "bytes",
    "chunk",
    "arrived_ms",
    "event",
    "id",
    "retry",
    "dispatched",
    "data",
    "notes",
]
EVENT_COLUMNS = ["event", "frame", "arrived_ms", "sse_event", "type", "decode_error", "data"]


def one_line(text: str) -> str:
    """``text`` with its line breaks shown as ``\\r`` and ``\\n``, for a table cell."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _scrubbed(table: pd.DataFrame, redactor: Redactor | None, limits: dict[str, int]) -> Any:
    out = redact_dataframe(table, redactor)
    for column, limit in limits.items():
        out[column] = [
            shorten(one_line(value), limit) if isinstance(value, str) else value
            for value in out[column]
        ]
    return out


def chunks_table(capture: Capture, redactor: Redactor | None = None) -> pd.DataFrame:
    """One row per chunk: arrival offset, gap since the previous chunk, size, preview."""
    scrub = redactor or current_redactor()
    previews = scrub.redact_chunks([chunk.data for chunk in capture.chunks])
    rows = []
    previous = 0
    for chunk, shown in zip(capture.chunks, previews, strict=True):
        rows.append(
            {
                "chunk": chunk.index,
                "arrived_ms": chunk.offset_ns / 1e6 if capture.timing else None,
                "gap_ms": (chunk.offset_ns - previous) / 1e6 if capture.timing else None,
                "bytes": len(chunk.data),
                "preview": shorten(
                    one_line(shown.decode("utf-8", errors="replace")), PREVIEW_LIMIT
                ),
            }
        )
        previous = chunk.offset_ns
    return pd.DataFrame(rows, columns=CHUNK_COLUMNS)


def messages_table(capture: Capture, redactor: Redactor | None = None) -> pd.DataFrame:
    """One row per message ChatKit's parser dispatched: byte range, chunk, arrival, fields, notes.

    Bytes left at the end without a blank line after them are a last row, never dispatched.
    """
    dispatch = capture.dispatch
    rows = []
    for message in capture.messages:
        rows.append(_message_row(message, capture.timing, dispatched=True))
    if dispatch.unterminated is not None:
        row = _message_row(dispatch.unterminated, capture.timing, dispatched=False)
        row["notes"] = "; ".join([*dispatch.tail_notes, *dispatch.unterminated.notes])
        rows.append(row)
    table = pd.DataFrame(rows, columns=MESSAGE_COLUMNS)
    return _scrubbed(table, redactor, {"data": DATA_LIMIT})


def _message_row(message: Message, timing: bool, *, dispatched: bool) -> dict[str, Any]:
    return {
        "message": message.index,
        "bytes": f"{message.start}..{message.end}",
        "chunk": message.chunk,
        "arrived_ms": message.arrived_ns / 1e6 if timing and dispatched else None,
        "event": message.event,
        "id": message.id,
        "retry": message.retry,
        "dispatched": dispatched,
        "data": message.data,
        "notes": "; ".join(message.notes),
    }


def events_table(capture: Capture, redactor: Redactor | None = None) -> pd.DataFrame:
    """One row per dispatched event: arrival, SSE name, JSON ``type``, decode error."""
    rows = []
    for event in capture.events:
        rows.append(
            {
                "event": event.index,
                "frame": event.frame_index,
                "arrived_ms": event.arrived_ns / 1e6 if capture.timing else None,
                "sse_event": event.sse_event,
                "type": event.type,
                "decode_error": event.decode_error,
                "data": event.data,
            }
        )
    table = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    return _scrubbed(table, redactor, {"data": DATA_LIMIT})


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
    return series.dtype == object or pd.api.types.is_string_dtype(series)


def readable(frame: Any, wrap: tuple[str, ...] | None = None) -> Any:
    """``frame`` as a table for reading (a pandas ``Styler``).

    No row numbers, blank where a value is missing, whole numbers without ``.0``, text escaped;
    the ``wrap`` columns (default: every text column) wrap between words and are left-aligned,
    so the table fits the page instead of being cut or scrolled.
    """
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
