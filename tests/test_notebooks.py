"""The notebooks: they run top to bottom, stay in sync with their .py twins, and leak nothing.

Every notebook is executed once per session, when a test first needs it, with papermill (kernel
``python3``, working directory ``notebooks/``); files they write go to a temporary directory
through their parameters, never into the repository.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat
import papermill
import pytest

from chatkit_lab import LoopbackServer, load_captures
from chatkit_lab.backends import reference_app

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = (
    "01_framing",
    "02_events_and_ordering",
    "03_store_behaviour",
    "04_pinpoint",
    "05_staging",
    "06_export",
    "07_scenarios",
)
CELL_TIMEOUT_S = 120
JWT = re.compile(r"eyJ[\w-]{8,}\.[\w-]{8,}")


@dataclass
class Run:
    name: str
    output: Path
    seconds: float
    workdir: Path
    error: BaseException | None = None

    def notebook(self) -> nbformat.NotebookNode:
        return nbformat.read(self.output, as_version=4)


def execute(name: str, output: Path, parameters: dict[str, object] | None = None) -> float:
    """Run one notebook with papermill; return the wall time in seconds."""
    started = time.perf_counter()
    papermill.execute_notebook(
        str(NOTEBOOK_DIR / f"{name}.ipynb"),
        str(output),
        parameters=parameters or {},
        kernel_name="python3",
        cwd=str(NOTEBOOK_DIR),
        execution_timeout=CELL_TIMEOUT_S,
        progress_bar=False,
        log_output=False,
    )
    return time.perf_counter() - started


def outputs_text(notebook: nbformat.NotebookNode) -> str:
    """Every output of every code cell, as one string."""
    return "\n".join(
        json.dumps(cell.get("outputs", [])) for cell in notebook.cells if cell.cell_type == "code"
    )


class Runs:
    """Each notebook executed once, when a test first asks for it, with its defaults; files
    written under a temporary dir. (Selecting tests with ``-k 07`` runs only that notebook.)"""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.done: dict[str, Run] = {}
        self.parameters: dict[str, dict[str, object]] = {
            "05_staging": {"out_dir": str(base / "staging")},
            "06_export": {"report_path": str(base / "reports" / "investigation.md")},
        }

    def __getitem__(self, name: str) -> Run:
        if name not in self.done:
            output = self.base / f"{name}.out.ipynb"
            run = Run(name, output, 0.0, self.base)
            try:
                run.seconds = execute(name, output, self.parameters.get(name))
            except Exception as exc:  # reported by the test for this notebook
                run.error = exc
            self.done[name] = run
        return self.done[name]

    def all(self) -> dict[str, Run]:
        return {name: self[name] for name in NOTEBOOKS}


MARKER = re.compile(r"\[REDACTED ([a-z-]+)")
PLANTED = {"05_staging": {"jwt", "token", "secret"}}
"""Marker kinds a notebook may show: what it plants (every other notebook: the report's JWT)."""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """The notebook runs of this module, executed on first use."""
    return Runs(tmp_path_factory.mktemp("notebooks"))


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_notebook_runs_top_to_bottom_without_an_error(runs: Runs, name: str) -> None:
    run = runs[name]
    if run.error is not None:
        pytest.fail(f"{name} failed:\n{run.error}")
    notebook = run.notebook()
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
    print(f"{name}: {run.seconds:.1f} s")


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_notebook_shows_output_and_no_credential(runs: Runs, name: str) -> None:
    run = runs[name]
    if run.error is not None:
        pytest.skip("the notebook did not run")
    text = outputs_text(run.notebook())
    assert len(text) > 1000, "an executed notebook should have visible outputs"
    assert not JWT.search(text), "a JWT made it into the outputs unredacted"
    assert "Bearer ey" not in text
    # prose is never redacted: a marker stands only for what the notebooks plant (the report's
    # fetch sends a JWT as a bearer token; notebook 05 registers the staging token)
    kinds = {found.group(1) for found in MARKER.finditer(text)}
    assert kinds <= PLANTED.get(name, {"jwt", "token"}), f"{name}: {sorted(kinds)}"


@pytest.mark.timeout(1200)
def test_every_notebook_stays_within_a_generous_time_budget(runs: Runs) -> None:
    # The target is under 15 s each on an idle machine; the bound here only catches runaways.
    times = {name: round(run.seconds, 1) for name, run in runs.all().items() if run.error is None}
    print(times)
    assert all(seconds < 90 for seconds in times.values()), times


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_notebook_is_committed_without_outputs(name: str) -> None:
    notebook = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: a code cell has outputs"
            assert cell.execution_count is None, f"{name}: a code cell has an execution count"
    assert notebook.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_notebook_is_paired_with_a_percent_script_in_sync(name: str) -> None:
    ipynb = jupytext.read(NOTEBOOK_DIR / f"{name}.ipynb")
    script = jupytext.read(NOTEBOOK_DIR / f"{name}.py")
    assert ipynb.metadata["jupytext"]["formats"] == "ipynb,py:percent"
    assert script.metadata["jupytext"]["formats"] == "ipynb,py:percent"
    first_line = (NOTEBOOK_DIR / f"{name}.py").read_text(encoding="utf-8").splitlines()[0]
    assert first_line == "# ---", "the script should carry jupytext's header"

    def cells(notebook: nbformat.NotebookNode) -> list[tuple[str, str, list[str]]]:
        return [
            (cell.cell_type, cell.source.strip(), sorted(cell.metadata.get("tags", [])))
            for cell in notebook.cells
        ]

    assert cells(ipynb) == cells(script)


def test_the_staging_notebook_declares_its_papermill_parameters() -> None:
    notebook = nbformat.read(NOTEBOOK_DIR / "05_staging.ipynb", as_version=4)
    tagged = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1
    values: dict[str, object] = {}
    exec(tagged[0].source, values)  # plain assignments only
    assert values["target_url"] == ""
    assert values["token_env"] == "CHATKIT_TOKEN"
    assert values["transform"] == "none"
    assert isinstance(values["message"], str) and values["message"]
    assert values["keep_threads"] is False
    assert values["out_dir"] == "data/captures/staging"


@pytest.mark.timeout(1200)
def test_the_export_notebook_writes_a_report_with_the_verdict_evidence_and_plots(
    runs: Runs,
) -> None:
    run = runs["06_export"]
    if run.error is not None:
        pytest.fail(f"06_export failed:\n{run.error}")
    report = run.workdir / "reports" / "investigation.md"
    text = report.read_text(encoding="utf-8")
    verdict = [
        line for line in text.splitlines() if re.match(r"(- |\d+\. )legacy:attempt3 \+ ", line)
    ]
    assert verdict and "first broken layer is request (request.rewritten)" in verdict[0]
    section = text.split("## legacy:attempt3 + legacy-fetch", 1)[1].split("\n## ", 1)[0]
    assert "**Verdict:** the first broken layer is **request**" in section
    assert "- Evidence: capture send: threads.create" in section
    assert "- Fix: " in section
    plots = report.parent / "investigation_plots"
    pngs = sorted(plots.glob("*.png"))
    assert (plots / "layers.png") in pngs and len(pngs) >= 2
    for png in pngs:
        assert png.read_bytes().startswith(b"\x89PNG")
        assert f"investigation_plots/{png.name}" in text
    assert not JWT.search(text)


@pytest.mark.timeout(300)
def test_the_staging_notebook_diagnoses_a_given_url_and_saves_redacted_captures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "staging-token-for-the-notebook-test-7f3a"
    monkeypatch.setenv("CHATKIT_LAB_TEST_TOKEN", token)
    out_dir = tmp_path / "captures"
    output = tmp_path / "out.ipynb"
    with LoopbackServer(reference_app()) as server:
        url = f"{server.url}/chatkit"
        execute(
            "05_staging",
            output,
            {"target_url": url, "token_env": "CHATKIT_LAB_TEST_TOKEN", "out_dir": str(out_dir)},
        )
    notebook = nbformat.read(output, as_version=4)
    text = outputs_text(notebook)
    assert token not in text
    assert "every layer passes" in text
    assert url.split("//", 1)[1] in text, "the notebook should name the target it diagnosed"

    saved = sorted(out_dir.glob("*_captures.jsonl"))
    assert len(saved) == 1
    for path in out_dir.iterdir():
        assert token not in path.read_text(encoding="utf-8")
    captures = load_captures(saved[0])
    assert {c.request_type for c in captures} >= {"threads.create", "threads.get_by_id"}
    for capture in captures:
        authorization = capture.request.header("authorization")
        assert authorization is not None and "REDACTED" in authorization
    summary = json.loads(next(out_dir.glob("*_diagnosis.json")).read_text(encoding="utf-8"))
    assert summary["verdict"] is None


@pytest.mark.timeout(1200)
def test_notebook_07_shows_a_stopped_reply_kept_by_the_reference_and_lost_by_the_docs_route(
    runs: Runs,
) -> None:
    run = runs["07_scenarios"]
    if run.error is not None:
        pytest.fail(f"07_scenarios failed:\n{run.error}")
    text = outputs_text(run.notebook())
    assert "the client stopped after 3 text deltas" in text
    assert "- **reference**: cancel **pass**" in text
    assert "`StreamingResponse` route): cancel **fail**" in text
    assert "persistence.cancel_partial_lost" in text
    assert "no, never returned" in text, "the store log should show the SDK's cancelled save"


@pytest.mark.timeout(1200)
def test_notebooks_02_to_04_show_the_same_screens_as_the_command_line(runs: Runs) -> None:
    """The message shows on send and no reply follows, in every walkthrough and on the terminal
    alike: each renders the screens of its run's session model."""
    for name in ("02_events_and_ordering", "03_store_behaviour"):
        run = runs[name]
        if run.error is not None:
            pytest.skip(f"{name} did not run")
        text = outputs_text(run.notebook())
        assert "(loading dots)" in text, name  # the screen after send: the message and the dots
        assert "the UI would render nothing" not in text, name
    pinpoint = runs["04_pinpoint"]
    if pinpoint.error is not None:
        pytest.skip("04_pinpoint did not run")
    text = outputs_text(pinpoint.notebook())
    assert "reply shown after the first send" in text and "(loading dots)" in text
