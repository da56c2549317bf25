"""The main job: the investigation end to end on the built-in backends.

Diagnoses the reference backend and the three legacy attempts from the report (each behind the
report's custom fetch), then the fix ladder: the smallest set of changes that makes the client
render and keep the messages, applied one at a time. Writes the markdown report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from chatkit_lab.diagnose import Diagnosis, diagnose

REPORT_SETUP = "legacy:attempt3"
"""The report's current setup: attempt 3 (Responses-style events) behind its custom fetch."""


@dataclass(frozen=True)
class Run:
    """One diagnosis to run: a built-in target through a transform, with a caption."""

    target: str
    transform: str
    caption: str


BUILTIN_RUNS: tuple[Run, ...] = (
    Run("reference", "none", "reference ChatKitServer, no custom fetch"),
    Run("legacy:attempt1", "legacy-fetch", "report attempt 1 (thread.item.*) + report's fetch"),
    Run("legacy:attempt2", "legacy-fetch", "report attempt 2 (thread.message.*) + report's fetch"),
    Run("legacy:attempt3", "legacy-fetch", "report attempt 3 (response.*) + report's fetch"),
)

FIX_LADDER: tuple[Run, ...] = (
    Run(REPORT_SETUP, "legacy-fetch", "as reported: Responses-style backend + rewriting fetch"),
    Run(REPORT_SETUP, "legacy-auth", "fix 1 only: the fetch adds the JWT and rewrites nothing"),
    Run("reference", "legacy-fetch", "fix 2 only: ChatKitServer backend, rewriting fetch kept"),
    Run("reference", "legacy-auth", "fix 1 + fix 2: ChatKitServer backend, header-only fetch"),
)


async def run_all(
    runs: tuple[Run, ...] | list[Run], *, loopback: bool = False, progress: bool = True, **kw: Any
) -> list[Diagnosis]:
    """Diagnose each run in turn (a progress bar in notebooks and terminals)."""
    results = []
    for run in tqdm(runs, desc="diagnosing", disable=not progress, leave=False):
        diagnosis = await diagnose(run.target, transform=run.transform, loopback=loopback, **kw)
        diagnosis.target = f"{run.target} + {run.transform}"
        diagnosis.transform = run.transform
        results.append(diagnosis)
    return results


INTRO = (
    "The report's team saw a blank ChatKit UI and messages vanishing after every stream, with "
    "three different event formats. chatkit-lab plays the ChatKit client against re-creations "
    "of their backend (its three formats, its request shape, its JWT auth) behind their custom "
    "fetch, and against the reference `ChatKitServer`, captures every exchange byte for byte, "
    "and names the first layer where the conversation breaks."
)


async def run_investigation(out: str | Path, *, loopback: bool = False) -> Path:
    """Diagnose every built-in backend and the fix ladder; write the report to ``out``."""
    from chatkit_lab.report._markdown import report_markdown

    builtins = await run_all(BUILTIN_RUNS, loopback=loopback)
    ladder = await run_all(FIX_LADDER, loopback=loopback)
    for diagnosis, run in zip(ladder, FIX_LADDER, strict=True):
        diagnosis.target = f"{run.caption}"
    return report_markdown(
        builtins + ladder,
        out,
        title="ChatKit investigation: why the UI stays blank",
        intro=INTRO
        + "\n\nThe last four sections are the fix ladder: the report's setup, then each fix "
        "alone, then both together.",
    )


NOTEBOOKS: tuple[str, ...] = (
    "01_framing",
    "02_events_and_ordering",
    "03_store_behaviour",
    "04_pinpoint",
    "05_staging",
    "06_export",
)


def run_notebooks(
    notebooks_dir: str | Path, out: str | Path, executed_dir: str | Path
) -> list[Path]:
    """Execute every notebook headless (papermill), top to bottom; 06 writes the report to ``out``.

    The executed copies (with outputs, already redacted by the notebooks) go to ``executed_dir``;
    05 saves its captures under ``executed_dir/captures``. Raises ``ChatKitLabError`` naming the
    notebook and cell that failed.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from chatkit_lab.errors import ChatKitLabError

    source = Path(notebooks_dir).resolve()
    target = Path(executed_dir).resolve()
    target.mkdir(parents=True, exist_ok=True)
    parameters = {
        "05_staging": {"out_dir": str(target / "captures")},
        "06_export": {"report_path": str(Path(out).resolve())},
    }
    written = []
    for name in tqdm(NOTEBOOKS, desc="notebooks", leave=False):
        executed = target / f"{name}.ipynb"
        try:
            papermill.execute_notebook(
                str(source / f"{name}.ipynb"),
                str(executed),
                parameters=parameters.get(name, {}),
                cwd=str(source),
                kernel_name="python3",
                progress_bar=False,
            )
        except PapermillExecutionError as exc:
            raise ChatKitLabError(
                f"notebook {name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
            ) from None
        except FileNotFoundError as exc:
            raise ChatKitLabError(f"notebook {name} not found ({exc})") from None
        written.append(executed)
    return written
