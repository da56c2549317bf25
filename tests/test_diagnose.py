"""Issue 5 acceptance: the diagnosis names the first broken layer, with evidence.

The built-in targets run in process; the reference backend also runs once on loopback. Planted
faults are otherwise correct reference backends with one fault each (a faulty store from
``chatkit_lab.backends.faults`` or an ASGI wrapper from ``faulty_servers``).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from faulty_servers import buffering, corrupting, hanging

from chatkit_lab.backends import (
    DropAssistantStore,
    RenamingStore,
    ReversedOrderStore,
    reference_app,
)
from chatkit_lab.checks._model import LAYERS
from chatkit_lab.diagnosis import (
    Diagnosis,
    RunConfig,
    diagnose,
    diagnose_captures,
    diagnose_target,
)
from chatkit_lab.sources import Limits
from chatkit_lab.targets import open_app_target

ALL_PASS = dict.fromkeys(LAYERS, "pass")


async def diagnose_app(app: Any, name: str, limits: Limits | None = None) -> Diagnosis:
    async with open_app_target(app, "/chatkit", name=name) as target:
        return await diagnose_target(target, limits=limits)


def codes(diagnosis: Diagnosis) -> set[str]:
    return {f.code for f in diagnosis.findings}


def assert_verdict(diagnosis: Diagnosis, layer: str, code: str) -> None:
    verdict = diagnosis.verdict
    assert verdict is not None, diagnosis.headline()
    assert (verdict.layer, verdict.code) == (layer, code), diagnosis.headline()
    assert diagnosis.layers[layer] == "fail"
    below = LAYERS[: LAYERS.index(layer)]
    assert {name: diagnosis.layers[name] for name in below} == dict.fromkeys(below, "pass")
    assert diagnosis.to_json()["verdict"]["code"] == code


# -- the reference backend -------------------------------------------------------------------


async def test_the_reference_backend_passes_every_layer() -> None:
    diagnosis = await diagnose("reference")
    assert diagnosis.layers == ALL_PASS
    assert diagnosis.verdict is None and not diagnosis.failed
    assert [f for f in diagnosis.findings if f.severity != "info"] == []
    assert diagnosis.headline() == "reference: every layer passes"
    assert len(diagnosis.reloads) == 2 and all(not r.findings for r in diagnosis.reloads)
    payload = json.loads(json.dumps(diagnosis.to_json()))
    assert payload["verdict"] is None and payload["layers"] == ALL_PASS


async def test_one_run_configuration_and_typed_step_lookup() -> None:
    config = RunConfig("reference", message="Hi there")
    diagnosis = await diagnose(config)
    send = diagnosis.step("threads.create")
    assert send is diagnosis.lifecycle.step("send: threads.create")
    assert diagnosis.step("threads.get_by_id", "reload").name == "reload: threads.get_by_id"
    assert diagnosis.analysis("threads.create") is diagnosis.analyses[send.capture.name]
    with pytest.raises(KeyError):
        diagnosis.step("threads.create", "reload")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.message = "changed"  # type: ignore[misc]


async def test_the_reference_backend_passes_every_layer_on_loopback() -> None:
    diagnosis = await diagnose("reference", loopback=True)
    assert diagnosis.layers == ALL_PASS
    assert diagnosis.verdict is None
    assert {c.transport for c in diagnosis.captures} == {"http"}
    assert all(c.request.url.startswith("http://127.0.0.1:") for c in diagnosis.captures)


# -- the report's backend behind the report's custom fetch -----------------------------------


async def _legacy(attempt: int) -> Diagnosis:
    diagnosis = await diagnose(f"legacy:attempt{attempt}")
    assert diagnosis.transform == "legacy-fetch"  # the default for the legacy targets
    assert_verdict(diagnosis, "request", "request.rewritten")
    # why nothing renders: the events are another protocol's dialect, so the UI draws nothing
    assert {"schema.foreign_protocol", "rendering.nothing_rendered"} <= codes(diagnosis)
    assert diagnosis.layers["schema"] == "fail" and diagnosis.layers["rendering"] == "fail"
    return diagnosis


@pytest.mark.parametrize("attempt", [1, 3])
async def test_each_legacy_attempt_explains_the_blank_ui_and_the_broken_reload(
    attempt: int,
) -> None:
    diagnosis = await _legacy(attempt)
    # why reloading breaks: the custom fetch turns threads.get_by_id into a chat request
    found = codes(diagnosis)
    assert {"transport.expected_json_got_stream", "persistence.reload_failed"} <= found
    assert diagnosis.layers["transport"] == "fail"
    assert diagnosis.layers["persistence"] == "fail"
    rewritten = next(f for f in diagnosis.findings if f.code == "request.rewritten")
    assert "threads.get_by_id" in {
        f.evidence.capture.split(": ")[-1]
        for f in diagnosis.findings
        if f.code == "transport.expected_json_got_stream"
    }
    # the rewrite is reported once, with every other rewritten exchange listed beside it
    assert "load: threads.get_by_id" in rewritten.evidence.detail["also_in"]
    failed = [f for f in diagnosis.findings if f.code == "persistence.reload_failed"]
    assert all("an event stream" in f.summary for f in failed)


async def test_legacy_attempt2_explains_the_blank_ui_and_why_there_is_nothing_to_reload() -> None:
    # Attempt 2 (Assistants-style events) carries no thread id at all, so the client never gets
    # as far as threads.get_by_id: the reload breaks earlier than the custom fetch.
    diagnosis = await _legacy(2)
    assert "schema.missing_type" in codes(diagnosis)
    assert "persistence.no_thread_id" in codes(diagnosis)
    assert diagnosis.layers["persistence"] == "fail"
    assert diagnosis.lifecycle is not None
    assert diagnosis.lifecycle.step("load: threads.get_by_id") is None


async def test_a_legacy_attempt_without_the_custom_fetch_fails_at_the_request() -> None:
    bare = await diagnose("legacy:attempt3", transform="none")
    assert_verdict(bare, "request", "request.http_error")
    assert bare.verdict is not None and "401" in bare.verdict.summary
    with_auth = await diagnose("legacy:attempt3", transform="legacy-auth")
    assert_verdict(with_auth, "request", "request.http_error")
    assert with_auth.verdict is not None and "422" in with_auth.verdict.summary
    assert "persistence.no_thread_id" not in codes(bare) | codes(with_auth)


# -- planted faults --------------------------------------------------------------------------


async def test_a_store_that_returns_items_in_the_wrong_order_fails_at_persistence() -> None:
    diagnosis = await diagnose_app(reference_app(store=ReversedOrderStore()), "reversed")
    assert_verdict(diagnosis, "persistence", "persistence.changed_order")


async def test_a_store_that_drops_the_assistant_message_fails_at_persistence() -> None:
    diagnosis = await diagnose_app(reference_app(store=DropAssistantStore()), "drops")
    assert_verdict(diagnosis, "persistence", "persistence.missing_item")
    missing = [f for f in diagnosis.findings if f.code == "persistence.missing_item"]
    assert all("assistant_message" in f.summary for f in missing)


async def test_ids_that_change_between_stream_and_reload_fail_at_persistence() -> None:
    diagnosis = await diagnose_app(reference_app(store=RenamingStore()), "renames")
    assert_verdict(diagnosis, "persistence", "persistence.changed_id")
    assert "persistence.missing_item" not in codes(diagnosis)


async def test_a_server_that_buffers_the_whole_stream_gets_a_transport_warning_with_timings() -> (
    None
):
    diagnosis = await diagnose_app(buffering(reference_app(delay_s=0.05)), "buffered")
    assert diagnosis.layers["transport"] == "warn"
    assert diagnosis.layers["request"] == "pass"
    assert diagnosis.verdict is None  # buffering is a warning: the UI fills in at the end
    buffered = [f for f in diagnosis.findings if f.code == "transport.buffered"]
    assert buffered and all(f.severity == "warning" for f in buffered)
    detail = buffered[0].evidence.detail
    assert {"first_event_ms", "last_event_ms", "spread_ms", "duration_ms", "events"} <= set(detail)
    assert detail["duration_ms"] >= 100
    assert detail["first_event_ms"] >= 0.9 * detail["duration_ms"]
    assert "warnings in transport" in diagnosis.headline()


async def test_the_same_reference_streaming_unbuffered_gets_no_buffering_warning() -> None:
    diagnosis = await diagnose_app(reference_app(delay_s=0.01), "streamed")
    assert "transport.buffered" not in codes(diagnosis)
    assert diagnosis.layers == ALL_PASS


async def test_invalid_json_in_one_frame_fails_at_decoding() -> None:
    diagnosis = await diagnose_app(corrupting(reference_app()), "corrupt")
    assert_verdict(diagnosis, "decoding", "decoding.not_json")


async def test_a_stream_that_never_ends_times_out_and_keeps_what_arrived() -> None:
    diagnosis = await diagnose_app(hanging(reference_app(), chunks=3), "hangs", Limits(total_s=1))
    assert_verdict(diagnosis, "transport", "transport.incomplete")
    incomplete = [f for f in diagnosis.findings if f.code == "transport.incomplete"]
    assert incomplete[0].evidence.detail["ended"] == "timeout"
    assert incomplete[0].evidence.detail["chunks_kept"] == 3
    assert diagnosis.lifecycle is not None
    create = diagnosis.lifecycle.step("send: threads.create")
    assert create is not None
    assert create.capture.ending.state == "timeout"
    assert len(create.capture.chunks) == 3 and create.capture.events


# -- loose captures --------------------------------------------------------------------------


async def test_loose_captures_of_the_legacy_session_give_the_same_reload_failure() -> None:
    live = await diagnose("legacy:attempt3")
    loose = diagnose_captures(live.captures, target="saved")
    assert "persistence.reload_failed" in codes(loose)
    assert "transport.expected_json_got_stream" in codes(loose)
    assert loose.layers["persistence"] == "fail"
