"""The report stage: diagnoses as markdown with tables and plots, and the tables notebooks show.

Every function here produces output already redacted (by the diagnoses' run redactors joined
with the current one); a caller never redacts by hand. Whatever came from a backend is shown as
inert text (:func:`md_text`, :func:`visible`), and files are written whole or not at all.
:func:`explain` gives the answer in plain words, for the report's first section and the terminal.

Names load from their module on first use, so that a command which needs one of them (the
notebook runner, say) does not import the plotting and table machinery of the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "compare": "chatkit_lab.report._tables",
    "summary_by_code": "chatkit_lab.report._tables",
    "findings_table": "chatkit_lab.report._tables",
    "table": "chatkit_lab.report._tables",
    "checks_table": "chatkit_lab.report._catalogue",
    "CLIENT_MODEL_NOTE": "chatkit_lab.report._markdown",
    "Explanation": "chatkit_lab.report._explain",
    "LABELS": "chatkit_lab.report._explain",
    "Point": "chatkit_lab.report._explain",
    "ReportError": "chatkit_lab.report._write",
    "destination": "chatkit_lab.report._write",
    "Suite": "chatkit_lab.report._conformance",
    "answer_markdown": "chatkit_lab.report._markdown",
    "conformance_lines": "chatkit_lab.report._conformance",
    "conformance_markdown": "chatkit_lab.report._conformance",
    "diagnosis_markdown": "chatkit_lab.report._markdown",
    "explain": "chatkit_lab.report._explain",
    "layers_matrix": "chatkit_lab.report._markdown",
    "lifecycle_notes": "chatkit_lab.report._tables",
    "lifecycle_table": "chatkit_lab.report._tables",
    "md_code": "chatkit_lab.report._inert",
    "md_fence": "chatkit_lab.report._inert",
    "md_table": "chatkit_lab.report._inert",
    "md_text": "chatkit_lab.report._inert",
    "plot_layers": "chatkit_lab.report._plots",
    "plot_text": "chatkit_lab.report._inert",
    "plot_timeline": "chatkit_lab.report._plots",
    "redactor_for": "chatkit_lab.redact",
    "reload_tables": "chatkit_lab.report._tables",
    "report_markdown": "chatkit_lab.report._markdown",
    "suite_markdown": "chatkit_lab.report._conformance",
    "terminal_answer": "chatkit_lab.report._terminal",
    "transcripts": "chatkit_lab.report._tables",
    "verdict_lines": "chatkit_lab.report._markdown",
    "visible": "chatkit_lab.report._inert",
    "write_conformance_report": "chatkit_lab.report._conformance",
    "write_text": "chatkit_lab.report._write",
    "junit_xml": "chatkit_lab.report._junit",
    "catalogue_lines": "chatkit_lab.report._catalogue",
    "catalogue_markdown": "chatkit_lab.report._catalogue",
    "write_junit": "chatkit_lab.report._junit",
    "ScreensPicture": "chatkit_lab.report._screens",
    "screens_picture": "chatkit_lab.report._screens",
    "screens_svg": "chatkit_lab.report._screens",
    "screens_alt": "chatkit_lab.report._screens",
    "screens_html": "chatkit_lab.report._screens",
    "screens_strip": "chatkit_lab.report._screens",
    "readable": "chatkit_lab.report._tables",
    "evidence_words": "chatkit_lab.report._explain",
    "wrapped": "chatkit_lab.report._tables",
    "layers_by_target": "chatkit_lab.report._tables",
}

__all__ = [
    "compare",
    "summary_by_code",
    "findings_table",
    "table",
    "checks_table",
    "CLIENT_MODEL_NOTE",
    "Explanation",
    "LABELS",
    "Point",
    "ReportError",
    "destination",
    "Suite",
    "answer_markdown",
    "conformance_lines",
    "conformance_markdown",
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
    "suite_markdown",
    "terminal_answer",
    "transcripts",
    "verdict_lines",
    "visible",
    "write_conformance_report",
    "write_text",
    "junit_xml",
    "catalogue_lines",
    "catalogue_markdown",
    "write_junit",
    "ScreensPicture",
    "screens_picture",
    "screens_svg",
    "screens_alt",
    "screens_html",
    "screens_strip",
    "readable",
    "evidence_words",
    "wrapped",
    "layers_by_target",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'chatkit_lab.report' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


if TYPE_CHECKING:
    from chatkit_lab.redact import redactor_for
    from chatkit_lab.report._catalogue import catalogue_lines, catalogue_markdown, checks_table
    from chatkit_lab.report._conformance import (
        Suite,
        conformance_lines,
        conformance_markdown,
        suite_markdown,
        write_conformance_report,
    )
    from chatkit_lab.report._explain import (
        LABELS,
        Explanation,
        Point,
        evidence_words,
        explain,
    )
    from chatkit_lab.report._inert import (
        md_code,
        md_fence,
        md_table,
        md_text,
        plot_text,
        visible,
    )
    from chatkit_lab.report._junit import junit_xml, write_junit
    from chatkit_lab.report._markdown import (
        CLIENT_MODEL_NOTE,
        answer_markdown,
        diagnosis_markdown,
        layers_matrix,
        report_markdown,
        verdict_lines,
    )
    from chatkit_lab.report._plots import (
        plot_layers,
        plot_timeline,
    )
    from chatkit_lab.report._screens import (
        ScreensPicture,
        screens_alt,
        screens_html,
        screens_picture,
        screens_strip,
        screens_svg,
    )
    from chatkit_lab.report._tables import (
        compare,
        findings_table,
        layers_by_target,
        lifecycle_notes,
        lifecycle_table,
        readable,
        reload_tables,
        summary_by_code,
        table,
        transcripts,
        wrapped,
    )
    from chatkit_lab.report._terminal import (
        terminal_answer,
    )
    from chatkit_lab.report._write import (
        ReportError,
        destination,
        write_text,
    )
