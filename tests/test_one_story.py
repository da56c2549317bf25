"""Nothing one output says contradicts another: every built-in target, and the session faults
users met on backends nobody here wrote (see ``one_story.py`` for what is checked)."""

from __future__ import annotations

from typing import Any

import pytest
from one_story import assert_one_story, every_text, not_cause_layers
from session_servers import (
    loads_as_stream_options,
    node_crash_on_load,
    progress_and_notice_only,
    store_crash_on_load,
    title_case_stream,
)

from chatkit_lab.backends import reference_app
from chatkit_lab.diagnosis import Diagnosis, diagnose, diagnose_target
from chatkit_lab.targets import open_app_target, target_names

TARGETS = list(target_names())


async def diagnose_app(app: Any, name: str) -> Diagnosis:
    async with open_app_target(app, "/chatkit", name=name) as target:
        return await diagnose_target(target)


@pytest.mark.parametrize("name", TARGETS)
async def test_every_built_in_target_tells_one_story(name: str) -> None:
    assert_one_story(await diagnose(name))


async def test_a_title_case_event_stream_content_type_is_the_transport_cause() -> None:
    diagnosis = await diagnose_app(title_case_stream(reference_app(store="memory")), "title")
    assert_one_story(diagnosis)
    verdict = diagnosis.verdict
    assert verdict is not None and verdict.code == "transport.stream_refused"
    assert "Text/Event-Stream" in verdict.summary
    assert "transport" not in not_cause_layers(diagnosis)
    # the stream held a thread.created; ChatKit never read it: no claim that it had none
    assert "persistence.no_thread_id" not in {f.code for f in diagnosis.findings}


async def test_loads_answered_with_only_stream_options_are_no_chat_turn_and_name_no_fetch() -> None:
    diagnosis = await diagnose_app(loads_as_stream_options(reference_app(store="memory")), "opts")
    assert_one_story(diagnosis)
    text = every_text(diagnosis)
    assert "became a chat turn" not in text and "custom fetch" not in text
    verdict = diagnosis.verdict
    assert verdict is not None and verdict.code == "transport.expected_json_got_stream"
    assert "no turn" in verdict.fix


async def test_a_turn_of_only_progress_and_an_info_notice_does_not_pass() -> None:
    diagnosis = await diagnose_app(progress_and_notice_only(reference_app(store="memory")), "np")
    assert_one_story(diagnosis)
    verdict = diagnosis.verdict
    assert verdict is not None and verdict.code == "rendering.no_assistant_text"
    assert diagnosis.session is not None and diagnosis.session.departure is not None
    assert diagnosis.session.departure.kind == "no reply"


async def test_a_store_crash_on_load_gets_a_fix_from_its_traceback_not_the_envelope() -> None:
    diagnosis = await diagnose_app(store_crash_on_load(reference_app(store="memory")), "crash")
    assert_one_story(diagnosis)
    verdict = diagnosis.verdict
    assert verdict is not None and verdict.code == "request.http_error"
    assert "no such table: threads" in verdict.fix
    assert "other request(s) of this run got 2xx" in verdict.fix
    assert "envelope {type, params, metadata}" not in verdict.fix
    assert "load_thread" in verdict.fix  # a Python backend: the Store method behind the load


async def test_a_node_backend_is_not_told_to_use_the_python_sdk() -> None:
    diagnosis = await diagnose_app(node_crash_on_load(reference_app(store="memory")), "node")
    assert_one_story(diagnosis)
    verdict = diagnosis.verdict
    assert verdict is not None and verdict.code == "request.http_error"
    assert "Cannot read properties of undefined" in verdict.fix
    assert "ChatKitServer" not in verdict.fix and "Store's" not in verdict.fix
