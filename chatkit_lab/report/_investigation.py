"""The main job: the investigation end to end on the built-in backends.

Diagnoses the reference backend and the three legacy attempts from the report (each behind the
report's custom fetch), then the fix ladder: the smallest set of changes that makes the client
render and keep the messages, applied one at a time. Writes the markdown report.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from chatkit_lab.diagnosis import Diagnosis, diagnose

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
    """Diagnose every built-in backend and the fix ladder; write the report to ``out``.

    The report's first section explains the report's setup (attempt 3 behind its fetch). A bad
    ``out`` (a directory, say) is refused before anything runs.
    """
    from chatkit_lab.report._markdown import report_markdown
    from chatkit_lab.report._write import destination

    destination(out)
    builtins = await run_all(BUILTIN_RUNS, loopback=loopback)
    ladder = await run_all(FIX_LADDER, loopback=loopback)
    for diagnosis, run in zip(ladder, FIX_LADDER, strict=True):
        diagnosis.target = f"{run.caption}"
    setup = next(
        (
            diagnosis
            for diagnosis, run in zip(builtins, BUILTIN_RUNS, strict=True)
            if (run.target, run.transform) == (REPORT_SETUP, FIX_LADDER[0].transform)
        ),
        None,
    )
    return report_markdown(
        builtins,
        out,
        title="ChatKit investigation: why the UI stays blank",
        intro=INTRO,
        lead=setup,
        ladder=ladder,
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

    The executed copies (with outputs, redacted by the kit functions that produced them) go to
    ``executed_dir``; 05 saves its captures under ``executed_dir/captures``. Raises
    ``ChatKitLabError`` naming the notebook and cell that failed.
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

    def execute(name: str) -> Path:
        executed = target / f"{name}.ipynb"
        try:
            papermill.execute_notebook(
                str(source / f"{name}.ipynb"),
                str(executed),
                parameters=parameters.get(name, {}),
                cwd=str(source),
                kernel_name="python3",
                progress_bar=False,
                kernel_manager_class=_ipc_kernel_manager(),
            )
        except PapermillExecutionError as exc:
            raise ChatKitLabError(
                f"notebook {name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
            ) from None
        except FileNotFoundError as exc:
            raise ChatKitLabError(f"notebook {name} not found ({exc})") from None
        return executed

    # The notebooks are independent: two at a time, one per core of a small machine.
    with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        futures = [pool.submit(execute, name) for name in NOTEBOOKS]
        for future in tqdm(
            as_completed(futures), total=len(futures), desc="notebooks", leave=False
        ):
            future.result()
    written = [future.result() for future in futures]
    return written


def _ipc_kernel_manager() -> type:
    """A kernel manager whose kernels talk over IPC sockets in a temporary folder.

    Over TCP without CurveZMQ keys every kernel logs "Kernel is running over TCP without
    encryption"; IPC is what that warning asks for, and it keeps the kernels off the network.
    """
    import tempfile
    import uuid

    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class IPCKernelManager(AsyncKernelManager):
        @default("transport")
        def _default_transport(self) -> str:
            return "ipc"

        @default("ip")
        def _default_ip(self) -> str:
            return os.path.join(tempfile.gettempdir(), f"chatkit-lab-kernel-{uuid.uuid4().hex}")

    return IPCKernelManager
