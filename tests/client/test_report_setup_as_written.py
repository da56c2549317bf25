"""The report's setup with its fetch run as written (JavaScript, under Node): the timeline shows
the message appear on send and vanish after the thread load, and the verdict names the {}."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chatkit_lab import diagnose
from chatkit_lab.client import timeline

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "samples" / "chatprovider_fetch.mjs"
needs_node = pytest.mark.skipif(
    shutil.which("node") is None, reason="node is not installed: the user's fetch cannot run"
)


@needs_node
async def test_the_message_appears_on_send_and_is_gone_after_the_thread_load() -> None:
    diagnosis = await diagnose("legacy:attempt3", fetch_file=SAMPLE)
    life = diagnosis.lifecycle
    assert life is not None and life.thread_id_set_by_fetch
    strip = timeline(life)
    first = strip.screens[0]
    assert first.moment == "after send" and first.messages == ["user: Hello! What can you do?"]
    loss = strip.first_loss
    assert loss is not None and loss.moment == "after the thread load"
    assert loss.lost == ("Hello! What can you do?",)


@needs_node
async def test_the_verdict_s_evidence_names_the_empty_object_the_load_produced() -> None:
    diagnosis = await diagnose("legacy:attempt3", fetch_file=SAMPLE)
    verdict = diagnosis.verdict
    assert verdict is not None and verdict.code == "request.rewritten"
    got = verdict.evidence.detail["what_chatkit_got"]
    assert got["threads.get_by_id"].startswith("{}")
    assert "the thread load (threads.get_by_id) came back as an event stream" in verdict.summary
    assert "so ChatKit got an empty object {}" in verdict.summary
    turns = [f for f in diagnosis.findings if f.code == "request.load_ran_a_turn"]
    assert turns and turns[0].evidence.detail["count"] >= 2


@needs_node
async def test_cleanup_through_a_rewriting_fetch_is_never_claimed(tmp_path: Path) -> None:
    # A remote-style run (delete_created) against the report's backend: the kit deletes
    # directly, the legacy backend cannot, and the diagnosis says the thread is still there.
    from chatkit_lab.client import LifecycleRunner, NodeFetch
    from chatkit_lab.diagnosis import evaluate_lifecycle
    from chatkit_lab.targets import open_target

    async with open_target("legacy:attempt3", transform="none") as target:
        env = {"CHATKIT_TOKEN": target.token or "", "PATH": str(Path(shutil.which("node")).parent)}
        async with NodeFetch.open(SAMPLE, user_id=target.user_id or "", env=env) as fetch:
            runner = LifecycleRunner(target.sender, target.url, fetch=fetch, delete_created=True)
            life = await runner.run()
    assert life.created_threads and life.deleted_threads == []
    codes = {f.code for f in evaluate_lifecycle(life).findings}
    assert "persistence.cleanup_not_confirmed" in codes
