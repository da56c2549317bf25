"""The report stage: diagnoses as markdown with tables and plots, and the tables notebooks show.

Every function here produces output already redacted (by the diagnoses' run redactors joined
with the current one); a caller never redacts by hand. Whatever came from a backend is shown as
inert text (:func:`md_text`, :func:`visible`), and files are written whole or not at all.
:func:`explain` gives the answer in plain words, for the report's first section and the terminal.
"""

from chatkit_lab.report._explain import LABELS, Explanation, Point, explain
from chatkit_lab.report._inert import md_code, md_fence, md_table, md_text, plot_text, visible
from chatkit_lab.report._investigation import (
    BUILTIN_RUNS,
    FIX_LADDER,
    INTRO,
    NOTEBOOKS,
    REPORT_SETUP,
    Run,
    run_all,
    run_investigation,
    run_notebooks,
)
from chatkit_lab.report._markdown import (
    CLIENT_MODEL_NOTE,
    answer_markdown,
    diagnosis_markdown,
    layers_matrix,
    report_markdown,
)
from chatkit_lab.report._plots import plot_layers, plot_timeline
from chatkit_lab.report._tables import (
    lifecycle_notes,
    lifecycle_table,
    redactor_for,
    reload_tables,
    transcripts,
    verdict_lines,
)
from chatkit_lab.report._terminal import terminal_answer
from chatkit_lab.report._write import ReportError, write_text

__all__ = [
    "terminal_answer",
    "BUILTIN_RUNS",
    "CLIENT_MODEL_NOTE",
    "FIX_LADDER",
    "INTRO",
    "LABELS",
    "NOTEBOOKS",
    "REPORT_SETUP",
    "Explanation",
    "Point",
    "ReportError",
    "Run",
    "answer_markdown",
    "diagnosis_markdown",
    "explain",
    "layers_matrix",
    "lifecycle_notes",
    "lifecycle_table",
    "md_code",
    "md_fence",
    "md_table",
    "md_text",
    "plot_layers",
    "plot_text",
    "plot_timeline",
    "redactor_for",
    "reload_tables",
    "report_markdown",
    "run_all",
    "run_investigation",
    "run_notebooks",
    "transcripts",
    "verdict_lines",
    "visible",
    "write_text",
]
