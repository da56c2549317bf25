"""The case study: the investigation end to end on the built-in backends.

Diagnoses the reference backend and the three legacy attempts from the report (each behind the
report's custom fetch), then the fix ladder: the smallest set of changes that makes the client
render and keep the messages, applied one at a time, and the conformance suite (the reference
and each faulty variant). Writes the markdown report, or runs the notebooks that tell the same
story. A stage of its own above the report: it orchestrates runs and hands them to
:func:`chatkit_lab.report.report_markdown`.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

if TYPE_CHECKING:
    from chatkit_lab.diagnosis import Diagnosis
    from chatkit_lab.report import Suite

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
    from chatkit_lab.diagnosis import diagnose

    results = []
    for run in tqdm(runs, desc="diagnosing", disable=not progress, leave=False):
        diagnosis = await diagnose(run.target, transform=run.transform, loopback=loopback, **kw)
        diagnosis.target = f"{run.target} + {run.transform}"
        diagnosis.transform = run.transform
        results.append(diagnosis)
    return results


async def run_suite(*, loopback: bool = False) -> Suite:
    """Grade ``reference`` on every scenario and each registered ``faulty:<scenario>`` on its
    own (the test suite runs each variant on every scenario, and checks it fails only its own)."""
    from chatkit_lab.diagnosis import diagnose_scenarios
    from chatkit_lab.report import Suite
    from chatkit_lab.scenarios import scenarios
    from chatkit_lab.targets import target_names

    reference = await diagnose_scenarios("reference", "all", loopback=loopback)
    known = set(target_names())
    variants = [
        await diagnose_scenarios(f"faulty:{name}", name, loopback=loopback)
        for name in scenarios()
        if f"faulty:{name}" in known
    ]
    return Suite(reference, variants)


INTRO = (
    "The report's team saw a blank ChatKit UI and messages vanishing after every stream, with "
    "three different event formats. chatkit-lab plays the ChatKit client against re-creations "
    "of their backend (its three formats, its request shape, its JWT auth) behind their custom "
    "fetch, and against the reference `ChatKitServer`, captures every exchange byte for byte, "
    "and names the first layer where the conversation breaks."
)


async def run_investigation(out: str | Path, *, loopback: bool = False) -> Path:
    """Diagnose every built-in backend, the fix ladder and the conformance suite; write the report
    to ``out``.

    The report's first section explains the report's setup (attempt 3 behind its fetch). A bad
    ``out`` (a directory, say) is refused before anything runs.
    """
    from chatkit_lab.report import destination, report_markdown

    destination(out)
    builtins = await run_all(BUILTIN_RUNS, loopback=loopback)
    ladder = await run_all(FIX_LADDER, loopback=loopback)
    for diagnosis, run in zip(ladder, FIX_LADDER, strict=True):
        diagnosis.target = f"{run.caption}"
    suite = await run_suite(loopback=loopback)
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
        suite=suite,
        asked="the setup the team reported: their third attempt behind their custom fetch",
    )


NOTEBOOKS: tuple[str, ...] = (
    "01_framing",
    "02_events_and_ordering",
    "03_store_behaviour",
    "04_pinpoint",
    "05_staging",
    "06_export",
    "07_scenarios",
)


def run_notebooks(
    notebooks_dir: str | Path, out: str | Path, executed_dir: str | Path
) -> list[Path]:
    """Execute every notebook headless (papermill), top to bottom; 06 writes the report to ``out``.

    The executed copies (with outputs, redacted by the kit functions that produced them) go to
    ``executed_dir``; 05 saves its captures under ``executed_dir/captures``. Raises
    ``ChatKitLabError`` naming the notebook and cell that failed, or the notebook whose cell
    ran longer than ``CELL_TIMEOUT_S`` or whose kernel died; the notebooks not started by then
    are not started.

    The notebooks are independent: two at a time, one per core of a small machine, each in a
    fresh kernel whose working directory is ``notebooks_dir``. The kernels share their compiled
    bytecode (:func:`_shared_bytecode`) and skip the slow part of their teardown
    (``_FREEZE_AT_EXIT``).
    """
    from chatkit_lab.errors import ChatKitLabError

    source = Path(notebooks_dir).resolve()
    target = Path(executed_dir).resolve()
    target.mkdir(parents=True, exist_ok=True)
    parameters = {
        "05_staging": {"out_dir": str(target / "captures")},
        "06_export": {"report_path": str(Path(out).resolve())},
    }
    order = [name for name in _FIRST if name in NOTEBOOKS]
    order += [name for name in NOTEBOOKS if name not in order]
    with _shared_bytecode() as env:
        import papermill
        from nbclient.exceptions import CellTimeoutError, DeadKernelError
        from papermill.exceptions import PapermillExecutionError

        manager = _kernel_manager(env)

        def execute(name: str) -> Path:
            executed = target / f"{name}.ipynb"
            try:
                papermill.execute_notebook(
                    str(source / f"{name}.ipynb"),
                    str(executed),
                    parameters=parameters.get(name, {}),
                    kernel_name="python3",
                    progress_bar=False,
                    execution_timeout=CELL_TIMEOUT_S,
                    kernel_manager_class=manager,
                    # The kernel's working directory. papermill's own ``cwd`` would change
                    # the working directory of this whole process, from two threads at once.
                    resources={"metadata": {"path": str(source)}},
                    extra_arguments=[_FREEZE_AT_EXIT],
                )
            except PapermillExecutionError as exc:
                raise ChatKitLabError(
                    f"notebook {name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
                ) from None
            except CellTimeoutError:
                raise ChatKitLabError(
                    f"notebook {name}: a cell ran longer than {CELL_TIMEOUT_S} s"
                ) from None
            except DeadKernelError as exc:
                raise ChatKitLabError(f"notebook {name}: the kernel died ({exc})") from None
            except FileNotFoundError as exc:
                raise ChatKitLabError(f"notebook {name} not found ({exc})") from None
            return executed

        with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
            futures = {name: pool.submit(execute, name) for name in order}
            done = as_completed(futures.values())
            try:
                for future in tqdm(done, total=len(futures), desc="notebooks", leave=False):
                    future.result()
            except BaseException:
                for future in futures.values():
                    future.cancel()
                raise
    return [futures[name].result() for name in NOTEBOOKS]


CELL_TIMEOUT_S = 300
"""The longest one notebook cell may run (each takes seconds)."""

_FIRST: tuple[str, ...] = ("06_export", "01_framing", "07_scenarios", "05_staging")
"""The notebooks started first, longest first, the rest following in order: with two lanes,
whichever is free takes the next, so the lanes end close together. 06 and 01 also import the
most (both plot), so the kernels after them find that code compiled (:func:`_shared_bytecode`)."""

_FREEZE_LINE = "if True: __import__('atexit').register(__import__('gc').freeze)"
_FREEZE_AT_EXIT = f'--IPKernelApp.exec_lines=["{_FREEZE_LINE}"]'
"""A kernel start-up option: the kernel freezes its heap once its exit handlers have run.

Tearing down a kernel that has imported ChatKit, the Agents SDK and pandas spends two seconds
or more in garbage collection over objects that are about to go anyway; jupyter_client waits
2.5 s for it and then sends SIGTERM. Frozen objects are left out of collection, so the kernel
exits at once after its exit handlers (temporary stores removed and the like) have run. The
line runs outside the notebook's history and binds no name in it; it takes the place of any
``exec_lines`` of the user's kernel configuration, which a headless run has no use for."""


@contextmanager
def _shared_bytecode() -> Iterator[dict[str, str | None]]:
    """The environment changes under which the kernels share their compiled bytecode.

    Where ``PYTHONDONTWRITEBYTECODE`` is set and the installed packages have no compiled
    bytecode, every kernel would compile the same few thousand modules (ChatKit, the Agents
    SDK, the OpenAI client, pandas, matplotlib) from source, most of a kernel's work. Then the
    kernels write and read their bytecode in a temporary folder instead
    (``PYTHONPYCACHEPREFIX``), removed when the notebooks are done: nothing is written next to
    a source file or kept, which is what the setting asks for, and the kernels after the first
    two find that code compiled. Anywhere else the kernels' environment is left as it is.
    """
    asked = os.environ.get("PYTHONDONTWRITEBYTECODE") and not os.environ.get("PYTHONPYCACHEPREFIX")
    if not asked or _has_bytecode("chatkit"):
        yield {}
        return
    with tempfile.TemporaryDirectory(prefix="chatkit-lab-bytecode-") as cache:
        yield {"PYTHONPYCACHEPREFIX": cache, "PYTHONDONTWRITEBYTECODE": None}


def _with(env: dict[str, str | None], base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (this process's environment) with ``env`` applied (``None`` removes a name)."""
    result = dict(os.environ if base is None else base)
    for name, value in env.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def _has_bytecode(package: str) -> bool:
    """Whether ``package`` (not imported) has compiled bytecode beside its source."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return False
    return os.path.exists(importlib.util.cache_from_source(spec.origin))


def _kernel_manager(env: dict[str, str | None]) -> type:
    """A kernel manager for the notebook kernels: IPC sockets, and ``env`` applied at launch.

    Over TCP without CurveZMQ keys every kernel logs "Kernel is running over TCP without
    encryption"; IPC is what that warning asks for, and it keeps the kernels off the network.
    ``env`` sets (or, for ``None``, removes) variables in each kernel's environment.
    """
    import uuid

    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class NotebookKernelManager(AsyncKernelManager):
        @default("transport")
        def _default_transport(self) -> str:
            return "ipc"

        @default("ip")
        def _default_ip(self) -> str:
            return os.path.join(tempfile.gettempdir(), f"chatkit-lab-kernel-{uuid.uuid4().hex}")

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            kw["env"] = _with(env, kw.get("env"))
            await super()._async_launch_kernel(kernel_cmd, **kw)

    return NotebookKernelManager
