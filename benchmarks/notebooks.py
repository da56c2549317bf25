"""Benchmark 5: wall time to execute every notebook headless.

Each ``notebooks/*.ipynb`` is executed with nbclient in a fresh kernel, with the notebooks
folder as working directory, one after the other. The baseline is an empty notebook executed
the same way: the cost of starting and stopping a kernel, which every notebook pays once.
"""

from __future__ import annotations

import time
from pathlib import Path

from ._common import BenchResult, Metric

NAME = "notebooks"
TITLE = "Executing the notebooks headless"
TARGET_S = 60.0
"""All notebooks together: under this many seconds."""
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CELL_TIMEOUT_S = 600


def _execute(notebook: object, directory: Path) -> None:
    from nbclient import NotebookClient

    client = NotebookClient(
        notebook,  # type: ignore[arg-type]
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(directory)}},
    )
    client.execute()


def _empty_notebook() -> object:
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_code_cell("pass"))
    return notebook


def run(quick: bool = False, *, directory: Path | None = None) -> BenchResult:
    """Run the benchmark over ``directory`` (the repository's ``notebooks/`` by default).

    ``quick`` changes nothing here: a notebook cannot be run at a smaller size.
    """
    import nbformat

    directory = directory if directory is not None else NOTEBOOKS
    paths = sorted(directory.glob("*.ipynb")) if directory.is_dir() else []
    result = BenchResult(NAME, TITLE, params={"notebooks": [path.name for path in paths]})
    if not paths:
        result.skipped = "no notebooks"
        result.notes.append(f"no notebooks in {directory.name}/")
        return result

    started = time.perf_counter()
    _execute(_empty_notebook(), directory)
    baseline = time.perf_counter() - started

    total = 0.0
    failed: list[str] = []
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        started = time.perf_counter()
        try:
            _execute(notebook, directory)
        except Exception as exc:  # a failing notebook is reported, not fatal
            failed.append(f"{path.name} ({type(exc).__name__})")
        elapsed = time.perf_counter() - started
        total += elapsed
        result.metrics.append(Metric(f"{path.name}", elapsed, "s", baseline=baseline))
    result.metrics.insert(0, Metric("empty notebook (kernel start)", baseline, "s"))
    result.metrics.append(
        Metric(
            f"all {len(paths)} notebooks",
            total,
            "s",
            target=TARGET_S,
            baseline=baseline * len(paths),
        )
    )
    result.metrics.append(
        Metric("all notebooks less kernel starts", total - baseline * len(paths), "s")
    )
    if failed:
        result.notes.append("failed: " + ", ".join(failed))
    return result
