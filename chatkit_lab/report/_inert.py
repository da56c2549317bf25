"""Text from a backend, made inert: it can fill a cell or a sentence, never change the report.

Everything a report shows may hold what a backend chose to send (assistant text, ids, event
types, excerpts, header values). Before it reaches markdown it goes through one of these:

- :func:`visible`: control characters, lone surrogates, bidi overrides and line separators become
  visible escapes (``\\x1b``, ``\\udc80``, ``\\u202e``), so neither a terminal nor a markdown
  renderer sees them, and the text always encodes as UTF-8;
- :func:`md_text`: inline text; every character that could start markdown or HTML (emphasis,
  code spans, links and images, raw HTML, entities, table pipes, headings, list markers, math) is
  escaped, and a newline cannot end the line it is on;
- :func:`md_code`: an inline code span with a fence longer than any backtick run inside;
- :func:`md_fence`: a fenced block that no line of the text can close;
- :func:`md_table`: a pipe table whose cells are :func:`md_text`, cut after redaction;
- :func:`plot_text`: a label matplotlib draws as it is (no mathtext).

Redact first, then make visible, then cut, then escape: a cut never splits a secret or an escape.
:func:`inert` does all four in that order and is the one way a value from a backend enters the
report's markdown: running text, a table cell (:func:`cell`) or an id in a code span.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from chatkit_lab.redact import shorten

CELL_LIMIT = 120
"""Longest text in a markdown table cell (cut after redaction)."""
MAX_ROWS = 60
"""Most rows a report table shows; the rest are counted in a line below it."""

_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    "\ufeff\ud800-\udfff]"
)
_BREAKS = re.compile("[\t\n]")


def _escape(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, *, newlines: bool = False) -> str:
    """``text`` with every character a terminal or renderer would act on shown as an escape.

    Tabs and newlines are kept with ``newlines=True`` (a fenced block), else shown as ``\\t`` and
    ``\\n``; a carriage return is always shown (markdown would end the line there).
    """
    shown = _INVISIBLE.sub(_escape, text)
    if not newlines:
        shown = _BREAKS.sub(lambda m: "\\t" if m.group() == "\t" else "\\n", shown)
    return shown


_SPECIAL = re.compile(r"[\\`*\[\]|~$<&]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_ENTITIES = {"<": "&lt;", "&": "&amp;"}
_LINE_START = re.compile(r"^(?:[-+=>#]|\d+[.)])")
_CLOSING_HASHES = re.compile(r"(?:(?<=\s)|^)#+$")


def _md_escape(found: re.Match[str]) -> str:
    char = found.group()
    return _ENTITIES.get(char) or "\\" + char


def md_text(text: object) -> str:
    """``text`` as inert inline markdown on one line: what it says is all it can do."""
    shown = visible(str(text)).strip()
    shown = _SPECIAL.sub(_md_escape, shown)
    start = _LINE_START.match(shown)
    if start is not None:  # would open a list or a setext heading right after a list marker
        head = start.group()
        shown = head[:-1] + "\\" + head[-1] + shown[len(head) :]
    # a trailing run of # would close a heading the text is in
    return _CLOSING_HASHES.sub(lambda m: "\\" + m.group(), shown)


def md_code(text: object) -> str:
    """``text`` as an inline code span (on one line) that nothing inside can close."""
    shown = visible(str(text))
    if not shown:
        return "` `"
    runs = [len(run) for run in re.findall("`+", shown)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if shown.startswith(("`", " ")) or shown.endswith(("`", " ")) else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


def md_fence(text: str, info: str = "text") -> list[str]:
    """``text`` as the lines of a fenced block that no line of it can close."""
    shown = visible(text, newlines=True)
    runs = [len(run) for run in re.findall("`+", shown)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return [f"{fence}{info}", *shown.split("\n"), fence]


def plot_text(text: object) -> str:
    """A plot label drawn exactly as written (matplotlib would typeset ``$...$`` as maths)."""
    return visible(str(text)).replace("$", r"\$")


def inert(
    value: object,
    *,
    redact: Callable[[str], str] | None = None,
    limit: int | None = None,
    code: bool = False,
) -> str:
    """A backend value as inert markdown: redacted (by ``redact``), made :func:`visible`, cut
    to ``limit`` characters, then escaped as inline text (:func:`md_text`) or, with
    ``code=True``, put in a code span nothing inside can close (:func:`md_code`)."""
    text = str(value)
    if redact is not None:
        text = redact(text)
    shown = visible(text)
    if limit is not None:
        shown = shorten(shown, limit)
    return md_code(shown) if code else md_text(shown)


def cell(value: object, limit: int | None = CELL_LIMIT) -> str:
    """One table cell: empty for nothing, whole numbers without ``.0``, text cut and escaped."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return ""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number):
            return ""
        if number.is_integer() and abs(number) < 1e15:
            return str(int(number))
        return f"{number:.6g}"
    return inert(value, limit=limit)


class Raw(str):
    """A cell already written as markdown by the report itself (not backend text)."""


def md_table(
    rows: Sequence[Mapping[str, Any]] | Any,
    columns: Sequence[str] | None = None,
    *,
    limit: int | None = CELL_LIMIT,
    max_rows: int = MAX_ROWS,
    what: str = "rows",
) -> list[str]:
    """A GitHub pipe table, every cell inert (a :class:`Raw` cell is kept as it is).

    ``rows`` is a list of mappings or a DataFrame (already redacted by the caller). More than
    ``max_rows`` rows are cut, and a line below the table says how many were left out.
    """
    records = _records(rows)
    if columns is None:
        columns = list(getattr(rows, "columns", [])) or list(records[0] if records else [])
    if not records:
        return ["_(none)_"]
    shown = records[:max_rows]
    body = [[_cell(record.get(name), limit) for name in columns] for record in shown]
    header = [md_text(name) for name in columns]
    widths = [max(3, len(h), *(len(row[i]) for row in body)) for i, h in enumerate(header)]
    widths = [min(width, (limit or 120) + 20) for width in widths]
    numeric = [all(_is_number(r.get(name)) for r in shown) for name in columns]

    def line(cells: Iterable[str], header: bool = False) -> str:
        padded = [
            c.rjust(w) if num and not header else c.ljust(w)
            for c, w, num in zip(cells, widths, numeric, strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = [
        ("-" * (w - 1) + ":") if num else "-" * w for w, num in zip(widths, numeric, strict=True)
    ]
    out = [line(header, True), line(rule, True), *(line(row) for row in body)]
    if len(records) > max_rows:
        out += ["", f"_{len(records) - max_rows} more {what} not shown._"]
    return out


def _records(rows: Any) -> list[Mapping[str, Any]]:
    to_dict = getattr(rows, "to_dict", None)
    if callable(to_dict):
        return list(to_dict("records"))
    return list(rows)


def _cell(value: object, limit: int | None) -> str:
    if isinstance(value, Raw):
        return str(value)
    return cell(value, limit)


def _is_number(value: object) -> bool:
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return False
    return isinstance(value, numbers.Real)


__all__ = [
    "CELL_LIMIT",
    "MAX_ROWS",
    "Raw",
    "cell",
    "inert",
    "md_code",
    "md_fence",
    "md_table",
    "md_text",
    "plot_text",
    "visible",
]
