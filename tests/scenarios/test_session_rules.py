"""Scenarios judged across the session, against backends that are legal variants of the reference.

A backend that takes only images is not "without an attachment store"; a refusal that does not
say the feature is missing is no skip; widget actions the page handles are never posted;
``threads.sync_custom_action`` is sent only when asked for.
"""

from __future__ import annotations

import json
from typing import Any

from chatkit.store import AttachmentCreateParams
from chatkit.types import Attachment
from typer.testing import CliRunner

from chatkit_lab.backends import reference_app
from chatkit_lab.backends.attachments import MemoryAttachmentStore
from chatkit_lab.cli import app as cli
from chatkit_lab.diagnosis import run_scenarios
from chatkit_lab.redact import current_redactor
from chatkit_lab.scenarios import not_offered_evidence, resolve_scenarios
from chatkit_lab.scenarios.widget import first_action
from chatkit_lab.targets import open_app_target


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), terminal_width=80)
    return result.exit_code, result.stdout, result.stderr


class ImagesOnly(MemoryAttachmentStore):
    """An attachment store that takes images only and says so, as many hosted backends do."""

    async def create_attachment(self, input: AttachmentCreateParams, context: Any) -> Attachment:
        if not input.mime_type.startswith("image/"):
            raise ValueError("Only image attachments are supported")
        return await super().create_attachment(input, context)


async def attachments_against(app: Any, **options: Any) -> Any:
    async with open_app_target(app, "/chatkit", name="variant") as target:
        conformance = await run_scenarios(
            target,
            resolve_scenarios("attachments"),
            redactor=current_redactor(),
            upload_url=None,
            **options,
        )
    found = conformance.result("attachments")
    assert found is not None
    return found


async def test_a_backend_that_takes_only_images_gets_a_png_and_passes_attachments() -> None:
    found = await attachments_against(reference_app(attachment_store=ImagesOnly()))
    assert found.state == "pass", found.reason
    notes = " ".join(found.diagnosis.lifecycle.notes)
    assert "image/png" in notes and "refused text/plain" in notes
    assert found.facts["two_phase"]["mime_type"] == "image/png"


async def test_the_upload_type_option_sends_that_type_from_the_start() -> None:
    found = await attachments_against(
        reference_app(attachment_store=ImagesOnly()), upload_type="image/png"
    )
    assert found.state == "pass", found.reason
    assert not any("refused" in note for note in found.diagnosis.lifecycle.notes)


class NoStoreBehindABare500(MemoryAttachmentStore):
    """A backend with no attachment store whose route answers the SDK's error with a bare 500,
    as a public sample does (its UI has no attachments)."""

    async def create_attachment(self, input: AttachmentCreateParams, context: Any) -> Attachment:
        raise RuntimeError("AttachmentStore is missing")


async def test_a_bare_500_on_attachments_fails_and_a_ui_without_uploads_never_sees_it() -> None:
    found = await attachments_against(reference_app(attachment_store=NoStoreBehindABare500()))
    assert found.state == "fail", found.reason  # nothing says the feature is missing: no skip
    assert found.diagnosis.verdict is not None
    assert found.diagnosis.verdict.code == "request.http_error"
    notes = " ".join(found.diagnosis.lifecycle.notes)
    assert "does not say whether the backend has an attachment store" in notes
    assert "never sends attachments.create" in notes


def test_only_a_refusal_that_says_so_is_evidence_that_a_feature_is_missing() -> None:
    assert not_offered_evidence(404, b"") == "HTTP 404"
    assert not_offered_evidence(501, b"Not Implemented") == "HTTP 501: 'Not Implemented'"
    said = not_offered_evidence(500, b'{"error": "AttachmentStore is not configured."}')
    assert said is not None and "not configured" in said
    assert not_offered_evidence(500, b"Internal Server Error") is None
    assert not_offered_evidence(400, b'{"detail": "Only image attachments are supported"}') is None
    assert not_offered_evidence(200, b"not supported") is None


def test_a_widget_action_the_page_handles_is_never_the_one_pressed() -> None:
    card = {
        "type": "Card",
        "children": [
            {"type": "Button", "onClickAction": {"type": "copy", "handler": "client"}},
            {"type": "Button", "onClickAction": {"type": "weather.refresh", "payload": {}}},
        ],
    }
    assert first_action(card) == {"type": "weather.refresh", "payload": {}}
    card["children"].pop()
    assert first_action(card) is None


def test_the_command_line_sends_the_non_streaming_action_only_with_sync_action() -> None:
    code, plain, err = run("diagnose", "reference", "--scenario", "widget", "--json")
    assert code == 0, plain + err
    code, asked, err = run(
        "diagnose", "reference", "--scenario", "widget", "--sync-action", "--json"
    )
    assert code == 0, asked + err
    (without,) = json.loads(plain)["scenarios"]
    (with_sync,) = json.loads(asked)["scenarios"]
    assert with_sync["state"] == without["state"] == "pass"
    assert with_sync["requests"] == without["requests"] + 1


def test_the_command_line_refuses_an_upload_type_it_cannot_make() -> None:
    code, out, err = run(
        "diagnose", "reference", "--scenario", "attachments", "--upload-type", "video/mp4"
    )
    assert code == 2
    assert "--upload-type" in out + err
