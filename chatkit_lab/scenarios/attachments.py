"""``attachments``: the user attaches files, sends them with a message, and removes one.

The SDK supports two upload strategies (ChatKit.js's ``composer.attachments.uploadStrategy``):

* *two-phase*: ``attachments.create`` ``{name, size, mime_type}`` answers with an
  ``Attachment`` whose ``upload_descriptor`` (``url``, ``method``, ``headers``) says where the
  client sends the bytes;
* *direct*: the client posts the file (``multipart/form-data``, field ``file``) to the page's
  ``uploadUrl`` and gets the ``Attachment`` back.

Then a message carries the attachment ids in ``input.attachments``; the SDK copies each
attachment onto the user message and saves it, so the reload shows the message with its files.
Removing a file from the composer sends ``attachments.delete`` (``{}``; the protocol offers no
read of an attachment, so the kit says the delete was accepted, never that the file is gone).
A backend without an attachment store refuses ``attachments.create`` (a 404, 405 or 501, or an
error that says so): the scenario is skipped. A backend that takes only some file types says so
in its refusal (``Only image attachments are supported``): the kit then uploads a small file of
that type (a 1x1 PNG for images), as a user would pick another file; ``upload_type`` chooses
the type up front.
The uploads themselves are sent by the kit straight to the URL the backend named, with the
headers you gave (whether ChatKit.js sends them through a custom ``fetch`` is not modelled).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from typing import Any

from chatkit_lab.checks import Evidence, Found, Skip, check
from chatkit_lab.client import ClientRequest, JsonReply, json_reply
from chatkit_lab.scenarios._base import (
    Fault,
    Reply,
    Scenario,
    ScenarioContext,
    Session,
    finished,
    reload_thread,
)

FILE = b"chatkit-lab attachment: three lines of plain text.\nline two\nline three\n"


def _png() -> bytes:
    """A valid 1x1 PNG (one grey pixel), made here rather than shipped."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x80")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


FILES: dict[str, tuple[str, bytes]] = {
    "text/plain": ("txt", FILE),
    "image/png": ("png", _png()),
    "application/pdf": (
        "pdf",
        b"%PDF-1.1\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]"
        b"/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",
    ),
}
"""The files the kit can upload, by MIME type: extension and bytes."""
ACCEPTS = (("image", "image/png"), ("png", "image/png"), ("pdf", "application/pdf"))
"""Words of a refusal that name the type the backend takes, and the type the kit then sends."""


def accepted_type(body: bytes, tried: str) -> str | None:
    """The MIME type a refusal of ``tried`` says the backend takes (``None``: it names none)."""
    text = body[:2000].decode("utf-8", "replace").lower()
    for word, mime in ACCEPTS:
        if word in text and mime != tried:
            return mime
    return None


BOUNDARY = "chatkit-lab-boundary-7d1f"
RELOAD = "reload"


def attachment_problem(value: Any) -> str | None:
    """Why ``value`` is not an SDK ``Attachment`` (``None`` when it is one)."""
    from chatkit.types import Attachment
    from pydantic import TypeAdapter, ValidationError

    try:
        TypeAdapter(Attachment).validate_python(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        return f"{where or 'the reply'}: {first.get('msg', 'invalid')}"
    return None


async def _upload(
    session: Session, name: str, method: str, url: str, body: bytes, headers: dict[str, str]
) -> Any:
    """Send an upload straight to ``url``; the JSON the client reads back (``None`` on error)."""
    runner = session.runner
    request = ClientRequest(method.upper(), url, {**runner.headers, **headers}, body)
    capture = await runner.sender.send_request(request, label=name, limits=runner.limits)
    capture.target = capture.target or runner.target
    session.facts.setdefault("uploads", []).append(
        {"name": name, "status": capture.status, "capture": capture.name, "url": url}
    )
    reply = json_reply(capture.status, capture.body)
    return reply.value if reply.ok else None


def _multipart(filename: str, data: bytes, mime: str = "text/plain") -> bytes:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{filename}"\r\nContent-Type: {mime}\r\n\r\n'
    ).encode()
    return head + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def _file_type(session: Session) -> str:
    chosen = session.upload_type or session.facts.get("file_type") or "text/plain"
    return chosen if chosen in FILES else "text/plain"


async def _two_phase(session: Session, stem: str) -> dict[str, Any] | None:
    mime = _file_type(session)
    step = await _create(session, stem, mime)
    network = step.network
    if not (isinstance(network, JsonReply) and network.ok) and session.upload_type is None:
        learned = accepted_type(step.capture.body, mime)
        if learned is not None:  # as a user picks a file the composer takes
            # the probe is the kit's own: a page would accept only those types in its
            # composer, so the refusal is no fault of the backend (its exchange is kept,
            # not judged)
            step.capture.kit = True
            session.facts["file_type"] = learned
            session.life.notes.append(
                f"attachments.create refused {mime} ({step.capture.status}); its error names "
                f"the type it takes, so the kit uploaded {learned} instead"
            )
            mime = learned
            step = await _create(session, stem, mime)
    status = step.capture.status
    if isinstance(status, int) and status >= 500:
        session.life.notes.append(
            f"attachments.create answered {status}, which does not say whether the backend has "
            "an attachment store (a skip needs that said): a UI with attachments on in "
            "its composer options shows the user a failed upload; a UI that leaves them off "
            "never sends attachments.create, and its users never meet this"
        )
    created = session.require_ok(step, "the backend has no attachment store")  # or stop
    extension, data = FILES[mime]
    filename = f"{stem}.{extension}"
    problem = attachment_problem(created)
    if problem is not None:
        session.facts.setdefault("bad_replies", []).append(
            {"capture": step.capture.name, "problem": problem}
        )
        return None
    descriptor = created.get("upload_descriptor")
    if isinstance(descriptor, dict) and isinstance(descriptor.get("url"), str):
        extra = descriptor.get("headers") if isinstance(descriptor.get("headers"), dict) else {}
        uploaded = await _upload(
            session,
            f"upload: {descriptor.get('method') or 'PUT'} ({filename})",
            str(descriptor.get("method") or "PUT"),
            descriptor["url"],
            data,
            {"content-type": mime, **{str(k): str(v) for k, v in extra.items()}},
        )
        if isinstance(uploaded, dict) and uploaded.get("id") == created["id"]:
            created = uploaded
    return created


async def _create(session: Session, stem: str, mime: str) -> Any:
    extension, data = FILES[mime]
    filename = f"{stem}.{extension}"
    params = {"name": filename, "size": len(data), "mime_type": mime}
    return await session.send(
        f"attach: attachments.create ({filename})", "attachments.create", params
    )


async def play(session: Session) -> None:
    sent = await _two_phase(session, "notes")
    if sent is None:
        return  # the reply was no attachment: schema.attachment_reply says why
    session.facts["two_phase"] = sent
    attached = [sent["id"]]
    if session.upload_url:
        mime = _file_type(session)
        extension, data = FILES[mime]
        direct = await _upload(
            session,
            f"upload: direct (direct.{extension})",
            "POST",
            session.upload_url,
            _multipart(f"direct.{extension}", data, mime),
            {"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
        )
        session.facts["direct"] = direct
        if isinstance(direct, dict) and isinstance(direct.get("id"), str):
            attached.append(direct["id"])
    else:
        session.life.notes.append(
            "the direct upload strategy was not tried: no upload URL is known for this "
            "backend (give --upload-url)"
        )
    create = await session.create_thread(session.prompt("ask"))
    thread_id = session.require_thread(create)
    message = await session.say(
        thread_id,
        session.prompt("describe"),
        "send: threads.add_user_message with files",
        attachments=attached,
    )
    sent_user = finished(message, "user_message")
    session.facts["attached"] = attached
    session.facts["user_message"] = sent_user[-1] if sent_user else None
    await reload_thread(session, thread_id, RELOAD)
    removed = await _two_phase(session, "removed")
    if removed is not None:
        deleted = await session.send(
            "remove: attachments.delete", "attachments.delete", {"attachment_id": removed["id"]}
        )
        session.facts["delete_accepted"] = deleted.ui_value is not None
        session.life.notes.append(
            "attachments.delete was "
            + ("accepted" if deleted.ui_value is not None else "refused")
            + " (the protocol offers no read of an attachment, so whether it is gone is not "
            "verified)"
        )


def attachments_dropped(method: str, item: dict[str, Any]) -> list[dict[str, Any]]:
    """``faulty:attachments``: user messages are saved without their attachments.

    The bug: a messages table with columns for the text (id, thread, role, text, time) and
    none for attachments, so a user message is written as its text alone. The upload works,
    the reply to the message sees the file (the server has the message in memory), and the
    attachment itself stays in the attachment store. What the user sees: after a reload their
    message shows no file.
    """
    if item.get("type") == "user_message" and item.get("attachments"):
        return [{**item, "attachments": []}]
    return [item]


SCENARIO = Scenario(
    name="attachments",
    title="Attach files",
    description="The client uploads a file the two-phase way (attachments.create, then the "
    "bytes to its upload URL) and, when an upload URL is known, the direct way; sends a message "
    "carrying both, reloads (the message must keep its files), and deletes an unsent one.",
    requests=(
        "attachments.create",
        "threads.create",
        "threads.add_user_message",
        "threads.get_by_id",
        "items.list",
        "attachments.delete",
    ),
    play=play,
    checks=__name__,
    prompts={"ask": "I will attach a file next.", "describe": "Describe the attached file."},
    replies={"describe": Reply("attachments", "{attachments}", with_files=True)},
    faulty=Fault(
        "the reference backend on a store that saves user messages without their attachments: "
        "on reload the message shows no file",
        writes=attachments_dropped,
    ),
)


# -- the checks ----------------------------------------------------------------------------


def _ids(item: dict[str, Any] | None) -> list[str]:
    files = item.get("attachments") if isinstance(item, dict) else None
    return [str(f.get("id")) for f in files or [] if isinstance(f, dict)]


@check(
    code="schema.attachment_reply",
    layer="schema",
    severity="error",
    description="attachments.create answers with an Attachment.",
    expectation="The reply validates as the SDK's Attachment (a file or image attachment with "
    "id, name, mime_type and, for two-phase uploads, an upload_descriptor).",
    fix="Return the Attachment your AttachmentStore.create_attachment made (ChatKitServer "
    "serialises it).",
)
def attachment_reply(ctx: ScenarioContext) -> Iterator[Found | Skip]:
    if "two_phase" not in ctx.facts and not ctx.facts.get("bad_replies"):
        yield Skip("attachments.create was not answered")
        return
    for bad in ctx.facts.get("bad_replies", []):
        yield Found(
            f"attachments.create's reply is not an Attachment ({bad['problem']}): the composer "
            "cannot show or send the file",
            Evidence(capture=bad["capture"]),
        )


@check(
    code="request.upload_failed",
    layer="request",
    severity="error",
    description="An upload to the URL the backend named (or the direct-upload URL) succeeds.",
    expectation="The two-phase upload to upload_descriptor.url, and the direct upload, answer "
    "2xx (the direct one with the Attachment JSON).",
    fix="Serve the upload URL you put in upload_descriptor (same method and headers), and the "
    "direct-upload endpoint ChatKit's uploadStrategy names.",
)
def upload_failed(ctx: ScenarioContext) -> Iterator[Found | Skip]:
    uploads = ctx.facts.get("uploads")
    if not uploads:
        yield Skip("nothing was uploaded")
        return
    for upload in uploads:
        if upload["status"] is None or upload["status"] >= 300:
            yield Found(
                f"{upload['name']} to {upload['url']} answered {upload['status'] or 'nothing'}: "
                "the file never reaches the backend",
                Evidence(capture=upload["capture"], detail={"status": upload["status"]}),
            )


@check(
    code="persistence.attachment_lost",
    layer="persistence",
    severity="error",
    description="A message sent with files keeps them: in the stream and after a reload.",
    expectation="The user message the stream finishes, and the one the reload shows, carry every "
    "attachment id sent in input.attachments.",
    fix="Load each input.attachments id (Store.load_attachment) onto the user message and save "
    "the message with them (ChatKitServer does); a Store must keep a user message's "
    "attachments field.",
)
def attachment_lost(ctx: ScenarioContext) -> Iterator[Found | Skip]:
    attached = ctx.facts.get("attached")
    reload = ctx.facts.get("reload")
    if not isinstance(attached, list) or not isinstance(reload, list):
        yield Skip("no message with files was sent")
        return
    streamed = ctx.facts.get("user_message")
    twin = None
    if isinstance(streamed, dict):
        twin = next((i for i in reload if str(i.get("id")) == str(streamed.get("id"))), None)
    for where, item in (("the streamed user message", streamed), ("the reloaded one", twin)):
        if item is None:
            continue
        missing = [a for a in attached if a not in _ids(item)]
        if missing:
            yield Found(
                f"{where} lacks attachment(s) {', '.join(missing)} sent with it: the user sees "
                "the message without its file",
                Evidence(
                    capture=ctx.facts.get("reload_capture"),
                    detail={"item_id": item.get("id"), "missing": missing},
                ),
            )
