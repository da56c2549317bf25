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

from ._diagnose import Diagnosis, diagnose

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
    from ._report import report_markdown

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
