"""A published Node ChatKit backend (``chatkit-node-backend-sdk``), run offline, model scripted.

``node/server.mjs`` serves the package's README server on 127.0.0.1 (its route, an in-memory
store as the README's store sketch, a scripted @openai/agents model; tracing off). The locked
packages are installed with ``npm ci`` (``node/package-lock.json``) the first time. The kit
reaches it by URL, as it would a user's backend. Each grade asserted here was checked against
the package's code and what ChatKit's client then shows (docs/guides/third-party-backends.md).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatkit_lab.diagnosis import Conformance, ScenarioResult, diagnose_scenarios

PROJECT = Path(__file__).resolve().parent / "node"
START_TIMEOUT_S = 20.0
INSTALL_TIMEOUT_S = 240.0


def _install() -> None:
    if (PROJECT / "node_modules" / "chatkit-node-backend-sdk").is_dir():
        return
    npm = shutil.which("npm")
    assert npm is not None, "npm is needed to install the Node backend"
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
        cwd=PROJECT,
        check=True,
        capture_output=True,
        timeout=INSTALL_TIMEOUT_S,
    )


class NodeBackend:
    """``node server.mjs`` on a free loopback port, ended (by its pid) when done."""

    def __init__(self) -> None:
        node = shutil.which("node")
        assert node is not None
        self.process = subprocess.Popen(
            [node, "server.mjs", "0"],
            cwd=PROJECT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # the server prints one line when it listens
        assert line.startswith("listening "), line
        assert time.monotonic() < deadline
        self.url = f"http://127.0.0.1:{int(line.split()[1])}/chatkit"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


@pytest.fixture(scope="module")
def installed() -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the Node backend cannot run here")
    _install()


BUT_ATTACHMENTS = "messages,cancel,retry,client-tool,widget,workflow,history,errors"


def run_all(scenarios: str, keep_threads: bool) -> tuple[Conformance, bool]:
    """The scenarios against a fresh server; whether the server was still up afterwards."""
    backend = NodeBackend()
    try:
        conformance = asyncio.run(
            diagnose_scenarios(backend.url, scenarios, keep_threads=keep_threads)
        )
        time.sleep(0.2)  # a crash on the last request ends the process a moment later
        return conformance, backend.alive
    finally:
        backend.stop()


@pytest.fixture(scope="module")
def with_clean_up(installed: None) -> Iterator[tuple[Conformance, bool]]:
    yield run_all("all", keep_threads=False)


@pytest.fixture(scope="module")
def kept(installed: None) -> Iterator[tuple[Conformance, bool]]:
    # without the kit's clean-up (and without attachments, which end the process too)
    yield run_all(BUT_ATTACHMENTS, keep_threads=True)


def result(conformance: Conformance, name: str) -> ScenarioResult:
    found = conformance.result(name)
    assert found is not None, f"{name} did not run"
    return found


def codes(found: ScenarioResult) -> set[str]:
    return {f.code for f in found.diagnosis.findings if f.severity == "error"}


def test_a_load_of_a_deleted_thread_ends_the_node_process_and_the_rest_is_not_run(
    with_clean_up: tuple[Conformance, bool],
) -> None:
    # The store throws NotFoundError; the README's route does not catch it; Node ends the
    # process on the unhandled rejection. The kit's clean-up load after its delete triggers it.
    conformance, alive = with_clean_up
    assert not alive
    states = [r.state for r in conformance.results]
    stopped = next(r for r in conformance.results if "stopped answering" in r.reason)
    assert stopped.state == "fail"
    assert "cleanup check: threads.get_by_id" in stopped.reason
    later = states[states.index("fail", 1) + 1 :] if "fail" in states[1:] else []
    assert later and all(state == "not run" for state in later), states
    assert "skip" not in states  # never blamed on a missing feature
    notes = " ".join(result(conformance, "messages").diagnosis.lifecycle.notes)
    assert "a load confirmed it" not in notes  # no clean not-found: not said to be deleted


def test_the_node_sdk_saves_each_reply_twice_so_a_reload_shows_it_twice(
    kept: tuple[Conformance, bool],
) -> None:
    # streamAgentResponse calls store.addThreadItem for the reply and yields its
    # thread.item.done, which ChatKitServer saves again; the README's store inserts.
    conformance, _ = kept
    found = result(conformance, "messages")
    assert found.state == "fail", found.reason
    assert found.diagnosis.verdict is not None
    assert found.diagnosis.verdict.code == "persistence.duplicate_item"


def test_the_node_backend_streams_its_replies_in_order(kept: tuple[Conformance, bool]) -> None:
    conformance, _ = kept
    for name in ("messages", "retry", "history"):
        found = result(conformance, name)
        ordering = {c for c in codes(found) if c.startswith(("ordering.", "schema.", "framing."))}
        assert ordering == set(), (name, ordering)


def test_the_node_backend_offers_no_tools_widgets_or_workflows_and_is_skipped_there(
    kept: tuple[Conformance, bool],
) -> None:
    conformance, _ = kept
    for name in ("client-tool", "widget", "workflow"):
        found = result(conformance, name)
        assert found.state in ("skip", "fail"), (name, found.reason)
        if found.state == "fail":  # only for the duplicated reply, never for the feature
            assert found.diagnosis.verdict is not None
            assert found.diagnosis.verdict.code == "persistence.duplicate_item", found.reason


def test_the_node_backend_saves_a_stopped_reply_twice_and_dies_on_a_deleted_threads_load(
    kept: tuple[Conformance, bool],
) -> None:
    conformance, alive = kept
    cancel = result(conformance, "cancel")  # the reply is saved twice here too
    assert cancel.state == "fail", cancel.reason
    assert cancel.diagnosis.verdict is not None
    assert cancel.diagnosis.verdict.code == "persistence.cancel_partial_twice"
    history = result(conformance, "history")  # a load of the thread it had just deleted
    assert not alive
    assert history.state == "fail"
    assert "stopped answering" in history.reason and "threads.delete" in history.reason
    assert result(conformance, "errors").state == "not run"


def test_an_upload_without_an_attachment_store_ends_the_node_process(installed: None) -> None:
    conformance, alive = run_all("attachments", keep_threads=True)
    assert not alive
    found = result(conformance, "attachments")
    assert found.state == "fail"
    assert "stopped answering" in found.reason and "attachments.create" in found.reason
