"""The same scenario code against a URL: the reference served by uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio

from chatkit_lab import LoopbackServer, diagnose_scenarios
from chatkit_lab.backends import reference_app
from chatkit_lab.report import table


def test_every_scenario_passes_against_the_reference_reached_by_url() -> None:
    with LoopbackServer(reference_app()) as server:
        url = server.url + "/chatkit"
        conformance = asyncio.run(
            diagnose_scenarios(url, "all", upload_url=server.url + "/chatkit/files")
        )
    states = {result.name: result.state for result in conformance.results}
    assert states == dict.fromkeys(states, "pass"), table(conformance).to_string()
    cancel = conformance.result("cancel")
    assert cancel is not None
    stopped = cancel.diagnosis.lifecycle.step("send: threads.create")
    assert stopped is not None and stopped.capture.ending.state == "stopped"
    assert stopped.capture.transport == "http"
    attachments = conformance.result("attachments")
    assert attachments is not None and len(attachments.facts["attached"]) == 2


def test_threads_a_url_run_creates_are_deleted_and_confirmed_gone() -> None:
    app = reference_app()
    with LoopbackServer(app) as server:
        conformance = asyncio.run(diagnose_scenarios(server.url + "/chatkit", "retry,widget"))
        left = asyncio.run(app.state.store.load_threads(100, None, "desc", {}))
    assert [r.state for r in conformance.results] == ["pass", "pass"]
    assert left.data == []
    for result in conformance.results:
        life = result.diagnosis.lifecycle
        assert life.created_threads and set(life.created_threads) <= set(life.deleted_threads)
