"""The report's plots: the layer grid and each target's event arrivals, as PNG files.

Titles are wrapped, never cut; legends sit outside the data; event numbers are whole numbers.
Every label is redacted and drawn as written (:func:`~chatkit_lab.report._inert.plot_text`).
Each file is written whole (a temporary file moved over the old one).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chatkit_lab.checks import LAYERS
from chatkit_lab.diagnosis import Diagnosis
from chatkit_lab.redact import Redactor, redactor_for
from chatkit_lab.report._inert import plot_text
from chatkit_lab.report._write import write_with

STATES = ("pass", "warn", "fail", "skip")
COLOURS = ("#4caf50", "#ffb300", "#e53935", "#bdbdbd")
MAX_STREAMS = 12
"""Most streams one arrivals plot draws (the rest are named in the title)."""


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _title(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width=width, break_on_hyphens=False)) or text


def _save(fig: Any, path: Path) -> Path:
    plt = _pyplot()
    try:
        return write_with(path, lambda temporary: fig.savefig(temporary, dpi=110, format="png"))
    finally:
        plt.close(fig)


def plot_layers(
    diagnoses: Sequence[Diagnosis], path: Path, redactor: Redactor | None = None
) -> Path:
    """A target × layer grid coloured by state, written to ``path`` (PNG)."""
    return _save(layers_figure(diagnoses, redactor), path)


def layers_figure(diagnoses: Sequence[Diagnosis], redactor: Redactor | None = None) -> Any:
    """The layer grid as a matplotlib figure (the caller closes it)."""
    from matplotlib.colors import ListedColormap

    plt = _pyplot()
    scrub = redactor or redactor_for(diagnoses)
    grid = [[STATES.index(d.layers.get(layer, "skip")) for layer in LAYERS] for d in diagnoses]
    names = [_title(plot_text(scrub.redact_text(d.target)), 48) for d in diagnoses]
    lines = sum(name.count("\n") + 1 for name in names)
    fig, ax = plt.subplots(figsize=(11, 0.3 * lines + 0.15 * len(diagnoses) + 1.6))
    ax.imshow(grid, cmap=ListedColormap(COLOURS), vmin=0, vmax=3, aspect="auto")
    ax.set_xticks(range(len(LAYERS)), LAYERS, rotation=30, ha="right")
    ax.set_yticks(range(len(diagnoses)), names, fontsize=8)
    for y, row in enumerate(grid):
        for x, value in enumerate(row):
            ax.text(x, y, STATES[value], ha="center", va="center", fontsize=8)
    ax.set_title(_title("Layer state per target: pass, warn, fail or skip", 70))
    fig.tight_layout()
    return fig


def plot_timeline(
    diagnosis: Diagnosis, path: Path, redactor: Redactor | None = None
) -> Path | None:
    """Event arrival times for each streamed capture of a diagnosis (None if nothing streamed).

    One step line per stream (event number over milliseconds since the request), an ``x`` on
    each event that is not a valid ChatKit event, the legend below the axes.
    """
    fig = timeline_figure(diagnosis, redactor)
    return None if fig is None else _save(fig, path)


def timeline_figure(diagnosis: Diagnosis, redactor: Redactor | None = None) -> Any | None:
    """The arrivals plot as a figure (``None``: nothing streamed; the caller closes it)."""
    from matplotlib.ticker import MaxNLocator

    streams = [c for c in diagnosis.captures if c.events and c.timing]
    if not streams:
        return None
    plt = _pyplot()
    scrub = redactor or redactor_for(diagnosis)
    shown = streams[:MAX_STREAMS]
    fig, ax = plt.subplots(figsize=(9, 4.2))
    marked = False
    for capture in shown:
        xs = [event.arrived_ns / 1e6 for event in capture.events]
        ys = list(range(len(xs)))
        ax.step(xs, ys, where="post", label=plot_text(scrub.redact_text(capture.name)), alpha=0.7)
        analysis = diagnosis.analyses.get(capture.name)
        results = getattr(analysis, "results", None) or []
        if len(results) == len(xs):
            bad = [(x, y) for x, y, r in zip(xs, ys, results, strict=True) if not r.ok]
            if bad:
                ax.scatter(
                    *zip(*bad, strict=True),
                    marker="x",
                    color="#e53935",
                    zorder=3,
                    label=None if marked else "not a valid ChatKit event",
                )
                marked = True
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("arrival (ms since the request was sent)")
    ax.set_ylabel("event number")
    title = f"{scrub.redact_text(diagnosis.target)}: when each event arrived"
    if len(streams) > len(shown):
        title += f" (first {len(shown)} of {len(streams)} streams)"
    ax.set_title(_title(plot_text(title), 80), fontsize=10)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    fig.tight_layout()
    return fig


__all__ = ["layers_figure", "plot_layers", "plot_timeline", "timeline_figure"]
