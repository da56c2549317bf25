"""Report: diagnoses to a markdown file with tables and plots, ready to paste into an issue.

Tables go through ``DataFrame.to_markdown`` (tabulate); plots are PNG files written next to the
report and linked relatively. Every piece of text passes through redaction before it is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from chatkit_lab.checks._model import LAYERS
from chatkit_lab.diagnose import Diagnosis
from chatkit_lab.redact._engine import redact_text

CLIENT_MODEL_NOTE = (
    "The client model is derived from the openai-chatkit server SDK's semantics and the protocol "
    "notes, not from ChatKit.js source (which is closed)."
)


def _md(table: pd.DataFrame, max_cell: int = 120) -> str:
    if table.empty:
        return "_(none)_"
    shown = table.copy()
    for column in shown.columns:
        shown[column] = shown[column].map(lambda v: _cell(v, max_cell))
    return shown.to_markdown(index=False)


def _cell(value: object, limit: int) -> object:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, str):
        text = value.replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= limit else text[: limit - 1] + "…"
    return value


def layers_matrix(diagnoses: Sequence[Diagnosis]) -> pd.DataFrame:
    """One row per target, one column per layer, plus the verdict."""
    rows = []
    for diagnosis in diagnoses:
        verdict = diagnosis.verdict
        row: dict[str, object] = {"target": diagnosis.target, "transform": diagnosis.transform}
        row.update({layer: diagnosis.layers.get(layer, "skip") for layer in LAYERS})
        row["verdict"] = f"{verdict.layer}: {verdict.code}" if verdict else "all pass"
        rows.append(row)
    return pd.DataFrame(rows)


def plot_layers(diagnoses: Sequence[Diagnosis], path: Path) -> Path:
    """A target × layer grid coloured by state."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    states = ["pass", "warn", "fail", "skip"]
    colours = ["#4caf50", "#ffb300", "#e53935", "#bdbdbd"]
    grid = [[states.index(d.layers.get(layer, "skip")) for layer in LAYERS] for d in diagnoses]
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(diagnoses) + 1.4))
    ax.imshow(grid, cmap=ListedColormap(colours), vmin=0, vmax=3, aspect="auto")
    ax.set_xticks(range(len(LAYERS)), LAYERS, rotation=30, ha="right")
    ax.set_yticks(range(len(diagnoses)), [redact_text(d.target) for d in diagnoses])
    for y, row in enumerate(grid):
        for x, value in enumerate(row):
            ax.text(x, y, states[value], ha="center", va="center", fontsize=8)
    ax.set_title("Layer states per target (first red cell from the left = verdict)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_timeline(diagnosis: Diagnosis, path: Path) -> Path | None:
    """Event arrival times for each streamed capture of a diagnosis (None if nothing streamed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    streams = [c for c in diagnosis.captures if c.events and c.timing]
    if not streams:
        return None
    fig, ax = plt.subplots(figsize=(8, 3))
    for capture in streams:
        analysis = diagnosis.analyses.get(capture.name)
        valid = None
        if analysis is not None:
            table = analysis.table()
            if "valid" in table:
                valid = list(table["valid"])
        xs = [event.arrived_ns / 1e6 for event in capture.events]
        ys = list(range(len(xs)))
        ax.step(xs, ys, where="post", label=redact_text(capture.name), alpha=0.6)
        if valid is not None and len(valid) == len(xs):
            bad = [(x, y) for x, y, ok in zip(xs, ys, valid, strict=True) if not ok]
            if bad:
                ax.scatter(*zip(*bad, strict=True), marker="x", color="#e53935", zorder=3)
    ax.set_xlabel("arrival (ms since request)")
    ax.set_ylabel("event #")
    ax.set_title(f"{redact_text(diagnosis.target)}: event arrivals (x = invalid ChatKit event)")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _slug(name: str) -> str:
    safe = redact_text(name).replace("REDACTED", "")
    slug = "".join(ch if ch.isalnum() else "_" for ch in safe).strip("_") or "target"
    return slug[:80]


def diagnosis_markdown(diagnosis: Diagnosis, plots_dir: Path | None, base: Path) -> str:
    """The section of the report for one target."""
    lines = [f"## {diagnosis.target}", ""]
    if diagnosis.transform and diagnosis.transform != "none":
        lines += [f"Client transform (custom fetch): `{diagnosis.transform}`", ""]
    verdict = diagnosis.verdict
    if verdict is None:
        lines += ["**Verdict:** every layer passes.", ""]
    else:
        lines += [
            f"**Verdict:** the first broken layer is **{verdict.layer}** (`{verdict.code}`): "
            f"{verdict.summary}",
            "",
            f"- Evidence: {verdict.evidence.describe()}",
            f"- Fix: {verdict.fix}",
            "",
        ]
    lines += ["### Layers", "", _md(diagnosis.layers_table()), ""]
    lines += ["### Findings by check", "", _md(diagnosis.summary_by_code()), ""]
    if diagnosis.lifecycle is not None:
        lines += ["### What the client did", "", _md(diagnosis.lifecycle.table()), ""]
        for note in diagnosis.lifecycle.notes:
            lines.append(f"- {note}")
        created = diagnosis.lifecycle.created_threads
        if created:
            deleted = diagnosis.lifecycle.deleted_threads
            lines.append(
                f"- threads created in the target: {', '.join(created)}"
                + (f"; deleted again at the end: {', '.join(deleted)}" if deleted else "")
            )
        lines.append("")
    for reload in diagnosis.reloads:
        lines += [f"### Stream vs {reload.name}", "", _md(reload.table()), ""]
    rendered = [
        (name, analysis)
        for name, analysis in diagnosis.analyses.items()
        if hasattr(analysis, "final")
    ]
    if rendered:
        lines += ["### What the client would render", "", f"_{CLIENT_MODEL_NOTE}_", ""]
        for name, analysis in rendered:
            transcript = analysis.final.transcript() or "(nothing)"
            lines += [f"After `{name}`:", "", "```text", transcript, "```", ""]
    if plots_dir is not None:
        plot = plot_timeline(diagnosis, plots_dir / f"timeline_{_slug(diagnosis.target)}.png")
        if plot is not None:
            lines += [f"![event arrivals for {diagnosis.target}]({plot.relative_to(base)})", ""]
    if diagnosis.skipped:
        lines += ["Checks skipped:", ""] + [f"- {reason}" for reason in diagnosis.skipped] + [""]
    return "\n".join(lines)


def report_markdown(
    diagnoses: Sequence[Diagnosis],
    path: str | Path,
    *,
    title: str = "ChatKit investigation",
    intro: str = "",
    plots: bool = True,
) -> Path:
    """Write the whole report (and its plots beside it); return the report's path."""
    target = Path(path)
    base = target.parent
    base.mkdir(parents=True, exist_ok=True)
    plots_dir = base / f"{target.stem}_plots" if plots else None
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"# {title}", "", f"_Generated by chatkit-lab on {stamp}._", ""]
    if intro:
        lines += [intro, ""]
    lines += ["## Verdicts", ""]
    for diagnosis in diagnoses:
        lines.append(f"- {diagnosis.headline()}")
    lines += ["", _md(layers_matrix(diagnoses)), ""]
    if plots_dir is not None and diagnoses:
        grid = plot_layers(diagnoses, plots_dir / "layers.png")
        lines += [f"![layer states per target]({grid.relative_to(base)})", ""]
    for diagnosis in diagnoses:
        lines.append(diagnosis_markdown(diagnosis, plots_dir, base))
    lines += ["---", "", f"_{CLIENT_MODEL_NOTE}_", ""]
    target.write_text(redact_text("\n".join(lines)), encoding="utf-8")
    return target
