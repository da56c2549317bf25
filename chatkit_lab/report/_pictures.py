"""What notebooks show: the screens of a diagnosis as a picture, and one table style.

:func:`screens_picture` draws a diagnosis's screens (*modelled*) as live HTML in a notebook;
:func:`readable` is the one table style every notebook uses (no row numbers, blank for missing
values, whole numbers without ``.0``, text escaped and wrapped between words instead of cut or
widening the table past the page).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

from chatkit_lab.diagnosis import Diagnosis
from chatkit_lab.report._screens import ScreensPicture, picture
from chatkit_lab.report._tables import redactor_for

WRAP = "white-space: normal; overflow-wrap: break-word; text-align: left; min-width: 8em"
"""How a long text column is shown: wrapped between words, left-aligned."""
TABLE = "table-layout: auto; max-width: 100%"
CELL = "vertical-align: top; white-space: normal; overflow-wrap: break-word; word-break: normal"
"""Every cell may wrap between words, so a wide table narrows to the page instead of scrolling."""


def screens_picture(diagnosis: Diagnosis, *, limit: int | None = None) -> ScreensPicture:
    """The screens of ``diagnosis``'s session as a strip of panes (redacted by its redactor).

    In a notebook it shows itself as HTML; ``str()`` of it is the terminal's compact form and
    ``.alt`` the same picture in words. ``limit`` keeps the first panes (up to the first loss).
    """
    from chatkit_lab.report._story import screens_of

    return picture(screens_of(diagnosis), redact=redactor_for(diagnosis).redact_text, limit=limit)


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
    from chatkit_lab.report._tables import redactor_for

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


__all__ = ["TABLE", "WRAP", "layers_by_target", "readable", "screens_picture", "wrapped"]
