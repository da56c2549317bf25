"""Progress on stderr: in a terminal one line that rewrites itself and is cleared when done.

The first line is written at once, before anything heavy is imported (the command answers within
a fraction of a second); ``rich`` takes over from the next step with a transient status line.
When stderr is not a terminal (``--progress`` into a pipe or a file), every step is its own line.
Every line is redacted and made visible by the caller (:func:`chatkit_lab.cli._io.safe`).
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

_STATE: dict[str, Any] = {"live": None, "console": None, "plain": False}


def width() -> int:
    """The output's width: ``COLUMNS`` when set, else the terminal's, else 80."""
    value = os.environ.get("COLUMNS", "")
    if value.isdigit() and int(value) >= 20:
        return int(value)
    if sys.stdout.isatty():
        return max(20, shutil.get_terminal_size((80, 24)).columns)
    return 80


def height() -> int | None:
    """Lines the default answer may take: a terminal's height less two, else 22."""
    value = os.environ.get("LINES", "")
    if value.isdigit() and int(value) >= 10:
        return int(value) - 2
    if sys.stdout.isatty():
        return max(10, shutil.get_terminal_size((80, 24)).lines - 2)
    return 22


def _fit(line: str, columns: int) -> str:
    """One status line, shortened between words to fit the terminal (a status never wraps)."""
    line = " ".join(line.split())
    if len(line) < columns:
        return line
    head = line[: columns - 2]
    space = head.rfind(" ")
    return (head[:space] if space > columns // 3 else head) + " …"


def show(line: str) -> None:
    """Show one progress line (already safe to print)."""
    if not sys.stderr.isatty():
        sys.stderr.write(f"  {line}\n")
        sys.stderr.flush()
        return
    columns = shutil.get_terminal_size((80, 24)).columns
    if _STATE["live"] is None and not _STATE["plain"]:
        # the first line: written at once, before rich is imported
        sys.stderr.write(_fit(line, columns) + "\r")
        sys.stderr.flush()
        _STATE["plain"] = True
        return
    if _STATE["live"] is None:
        from rich.console import Console
        from rich.control import Control
        from rich.live import Live
        from rich.segment import ControlType

        console = Console(stderr=True, highlight=False, markup=False, emoji=False)
        console.control(Control((ControlType.ERASE_IN_LINE, 2)))
        live = Live(console=console, transient=True, auto_refresh=False)
        live.start()
        _STATE["live"], _STATE["console"] = live, console
    from rich.text import Text

    _STATE["live"].update(Text(_fit(line, columns), no_wrap=True), refresh=True)


def wrap(text: str, columns: int | None = None) -> str:
    """``text`` wrapped between words (by ``rich``) to the output's width, for a message on
    stderr that a terminal would otherwise break anywhere."""
    import io

    from rich.console import Console
    from rich.text import Text

    buffer = io.StringIO()
    columns = columns or shutil.get_terminal_size((80, 24)).columns
    Console(file=buffer, width=columns, color_system=None, soft_wrap=False).print(
        Text(text), overflow="fold", crop=False
    )
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines())


def done() -> None:
    """Clear the progress line (a terminal) before the answer is printed."""
    live = _STATE["live"]
    if live is not None:
        live.stop()
        _STATE["live"] = None
    elif _STATE["plain"]:
        sys.stderr.write("\r\x1b[2K")
        sys.stderr.flush()
    _STATE["plain"] = False


__all__ = ["done", "height", "show", "width", "wrap"]
