"""What notebooks show: the screens of a diagnosis as a picture, and one table style.

:func:`screens_picture` draws a diagnosis's screens (*modelled*) as live HTML in a notebook;
:func:`readable` is the one table style every notebook uses (no row numbers, blank for missing
values, whole numbers without ``.0``, text escaped and wrapped between words instead of cut or
widening the table past the page).
"""

from __future__ import annotations

from typing import Any

from chatkit_lab.diagnosis import Diagnosis
from chatkit_lab.report._screens import ScreensPicture, picture
from chatkit_lab.report._tables import redactor_for

WRAP = "white-space: normal; overflow-wrap: break-word; text-align: left; min-width: 8em"
"""How a long text column is shown: wrapped between words, left-aligned."""
TABLE = "table-layout: auto; max-width: 100%"


def screens_picture(diagnosis: Diagnosis, *, limit: int | None = None) -> ScreensPicture:
    """The screens of ``diagnosis``'s session as a strip of panes (redacted by its redactor).

    In a notebook it shows itself as HTML; ``str()`` of it is the terminal's compact form and
    ``.alt`` the same picture in words. ``limit`` keeps the first panes (up to the first loss).
    """
    from chatkit_lab.client import Timeline, timeline

    life = diagnosis.lifecycle
    screens = timeline(life) if life is not None else Timeline()
    return picture(screens, redact=redactor_for(diagnosis).redact_text, limit=limit)


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
            if frame[column].dtype == object
            and frame[column].map(lambda value: len(str(value))).max() > 24
        )
    styler = frame.style.hide(axis="index").format(na_rep="", precision=1, escape="html")
    styler = styler.set_table_styles(
        [
            {"selector": "", "props": TABLE},
            {"selector": "td", "props": "vertical-align: top"},
            {"selector": "th", "props": "text-align: left"},
        ]
    )
    columns = {column: [{"selector": "", "props": WRAP}] for column in wrap}
    return styler.set_table_styles(columns, overwrite=False)


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


__all__ = ["TABLE", "WRAP", "readable", "screens_picture", "wrapped"]
