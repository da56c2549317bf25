"""The report stage: diagnoses as markdown with tables and plots, and the tables notebooks show.

Every function here produces output already redacted (by the diagnoses' run redactors joined
with the current one); a caller never redacts by hand. Whatever came from a backend is shown as
inert text (:func:`md_text`, :func:`visible`), and files are written whole or not at all.
:func:`explain` gives the answer in plain words, for the report's first section and the terminal;
:func:`table` and its companions give the tables a notebook shows.
"""

from __future__ import annotations

from chatkit_lab.redact import redactor_for
from chatkit_lab.report._catalogue import catalogue_lines, catalogue_markdown, checks_table
from chatkit_lab.report._conformance import (
    Suite,
    conformance_lines,
    conformance_markdown,
    junit_xml,
    suite_markdown,
    write_conformance_report,
    write_junit,
)
from chatkit_lab.report._explain import LABELS, Explanation, Point, evidence_words, explain
from chatkit_lab.report._inert import md_code, md_fence, md_table, md_text, plot_text, visible
from chatkit_lab.report._markdown import (
    CLIENT_MODEL_NOTE,
    answer_markdown,
    diagnosis_markdown,
    layers_matrix,
    report_markdown,
    verdict_lines,
)
from chatkit_lab.report._plots import plot_layers, plot_timeline
from chatkit_lab.report._screens import (
    ScreensPicture,
    screens_alt,
    screens_html,
    screens_picture,
    screens_strip,
    screens_svg,
)
from chatkit_lab.report._tables import (
    chunks_table,
    compare,
    events_table,
    findings_table,
    layers_by_target,
    lifecycle_notes,
    lifecycle_table,
    messages_table,
    readable,
    redact_dataframe,
    reload_tables,
    summary_by_code,
    table,
    transcripts,
    wrapped,
)
from chatkit_lab.report._terminal import terminal_answer
from chatkit_lab.report._write import ReportError, destination, write_text

__all__ = [
    "CLIENT_MODEL_NOTE",
    "Explanation",
    "LABELS",
    "Point",
    "ReportError",
    "ScreensPicture",
    "Suite",
    "answer_markdown",
    "catalogue_lines",
    "catalogue_markdown",
    "checks_table",
    "chunks_table",
    "compare",
    "conformance_lines",
    "conformance_markdown",
    "destination",
    "diagnosis_markdown",
    "events_table",
    "evidence_words",
    "explain",
    "findings_table",
    "junit_xml",
    "layers_by_target",
    "layers_matrix",
    "lifecycle_notes",
    "lifecycle_table",
    "md_code",
    "md_fence",
    "md_table",
    "md_text",
    "messages_table",
    "plot_layers",
    "plot_text",
    "plot_timeline",
    "readable",
    "redact_dataframe",
    "redactor_for",
    "reload_tables",
    "report_markdown",
    "screens_alt",
    "screens_html",
    "screens_picture",
    "screens_strip",
    "screens_svg",
    "suite_markdown",
    "summary_by_code",
    "table",
    "terminal_answer",
    "transcripts",
    "verdict_lines",
    "visible",
    "wrapped",
    "write_conformance_report",
    "write_junit",
    "write_text",
]
