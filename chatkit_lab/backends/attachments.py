"""Attachments for the reference backend: an in-memory ``AttachmentStore`` and its upload routes.

SDK behaviour (``chatkit`` 1.6: ``server.py``, ``store.py``, ``types.py``):

* ``attachments.create`` ``{name, size, mime_type}``: ``ChatKitServer`` calls
  ``AttachmentStore.create_attachment``, saves what it returns with ``Store.save_attachment``
  and answers with it as JSON. Its ``upload_descriptor`` (``url``, ``method`` ``POST``/``PUT``,
  ``headers``) tells the client where to send the bytes (the "two-phase" strategy); the SDK
  says it should be ``None`` once the upload is done, and for direct uploads;
* ``attachments.delete``: ``AttachmentStore.delete_attachment``, then
  ``Store.delete_attachment``; the answer is ``{}``;
* a message's ``input.attachments`` ids are loaded with ``Store.load_attachment``, copied onto
  the user message with the thread id and saved again;
* the default ``ThreadItemConverter`` raises on attachments: a server converts them itself.

The upload routes are not in the SDK. Its guide says a direct-upload endpoint (ChatKit.js
``uploadStrategy: {type: "direct", uploadUrl}``) takes ``multipart/form-data`` with a ``file``
field, stores the bytes, saves the ``Attachment`` with ``Store.save_attachment`` and returns the
``Attachment`` JSON; for two-phase, the client sends the bytes to the descriptor's URL.

What the reference chooses: bytes live in memory, at most ``max_bytes`` (5 MiB) per file,
``max_files`` files and ``max_total_bytes`` in all (oldest dropped first); the two-phase
descriptor is ``PUT`` to :data:`UPLOAD_PATH` on the same app (an absolute URL built from the
request's base URL) and takes the raw bytes (a multipart body with a ``file`` field, or a
``POST``, is accepted too) and answers 200 with the attachment, now without a descriptor;
direct uploads are ``POST`` to :data:`DIRECT_UPLOAD_PATH`. Bodies over the bound get 413,
unknown ids 404, a form without ``file`` 400. Images get a ``preview_url`` served from memory.
"""

from __future__ import annotations

import base64
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chatkit.agents import ThreadItemConverter
from chatkit.server import ChatKitServer
from chatkit.store import AttachmentStore, NotFoundError
from chatkit.types import (
    Attachment,
    AttachmentCreateParams,
    AttachmentUploadDescriptor,
    FileAttachment,
    ImageAttachment,
)
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from openai.types.responses import (
    ResponseInputContentParam,
    ResponseInputImageParam,
    ResponseInputTextParam,
)
from starlette.datastructures import UploadFile

from chatkit_lab.errors import ChatKitLabError

__all__ = [
    "DIRECT_UPLOAD_PATH",
    "MAX_UPLOAD_BYTES",
    "UPLOAD_PATH",
    "AttachmentConverter",
    "MemoryAttachmentStore",
    "StoredFile",
    "UploadTooLargeError",
    "add_upload_routes",
    "describe_attachment",
    "request_context",
]

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
"""The largest file the reference accepts (declared in ``attachments.create`` or sent)."""

UPLOAD_PATH = "/chatkit/uploads/{attachment_id}"
"""The two-phase upload route (``PUT`` the bytes), a template on the attachment id."""

PREVIEW_PATH = UPLOAD_PATH + "/preview"
"""Where an image attachment's bytes are served back (its ``preview_url``)."""

DIRECT_UPLOAD_PATH = "/chatkit/files"
"""The direct-upload route (``POST`` multipart with a ``file`` field)."""

MULTIPART_OVERHEAD = 64 * 1024
"""Room for the multipart boundaries and headers around a file of ``max_bytes``."""

TEXT_PREVIEW_CHARS = 200
"""How much of a text file a description quotes."""


class UploadTooLargeError(ChatKitLabError):
    """A file (declared or sent) is over the attachment store's bound."""


@dataclass
class StoredFile:
    """One attachment's name, type, declared size and bytes (``None`` until uploaded)."""

    name: str
    mime_type: str
    declared_size: int
    data: bytes | None = None


def request_context(request: Request) -> dict[str, Any]:
    """The per-request context the reference passes to the SDK: headers and base URL."""
    return {"headers": dict(request.headers), "base_url": str(request.base_url)}


class MemoryAttachmentStore(AttachmentStore[Any]):
    """Attachment bytes in memory, bounded per file, in count and in total."""

    def __init__(
        self,
        *,
        max_bytes: int = MAX_UPLOAD_BYTES,
        max_files: int = 64,
        max_total_bytes: int = 32 * 1024 * 1024,
        upload_path: str = UPLOAD_PATH,
        preview_path: str = PREVIEW_PATH,
        base_url: str = "http://127.0.0.1",
    ) -> None:
        self.max_bytes = max(int(max_bytes), 1)
        self.max_files = max(int(max_files), 1)
        self.max_total_bytes = max(int(max_total_bytes), self.max_bytes)
        self.upload_path = upload_path
        self.preview_path = preview_path
        self.base_url = base_url
        self._files: OrderedDict[str, StoredFile] = OrderedDict()

    def __contains__(self, attachment_id: object) -> bool:
        return attachment_id in self._files

    def __len__(self) -> int:
        return len(self._files)

    @property
    def total_bytes(self) -> int:
        return sum(len(f.data) for f in self._files.values() if f.data is not None)

    def file(self, attachment_id: str) -> StoredFile | None:
        """What is stored for ``attachment_id`` (``None`` if unknown)."""
        return self._files.get(attachment_id)

    def check_size(self, size: int) -> None:
        if size > self.max_bytes:
            raise UploadTooLargeError(
                f"{size} bytes is over this backend's limit of {self.max_bytes} bytes"
            )

    def url(self, template: str, attachment_id: str, context: Any) -> str:
        """``template`` for ``attachment_id`` as an absolute URL on the requesting app."""
        base = context.get("base_url") if isinstance(context, Mapping) else None
        root = base if isinstance(base, str) and base else self.base_url
        return root.rstrip("/") + template.format(attachment_id=attachment_id)

    def _keep(self, attachment_id: str, stored: StoredFile) -> None:
        self._files.pop(attachment_id, None)
        self._files[attachment_id] = stored
        while len(self._files) > self.max_files or self.total_bytes > self.max_total_bytes:
            oldest = next(iter(self._files))
            if oldest == attachment_id:
                break
            del self._files[oldest]

    def _attachment(
        self,
        attachment_id: str,
        stored: StoredFile,
        context: Any,
        descriptor: AttachmentUploadDescriptor | None,
    ) -> Attachment:
        if stored.mime_type.startswith("image/"):
            return ImageAttachment(
                id=attachment_id,
                name=stored.name,
                mime_type=stored.mime_type,
                upload_descriptor=descriptor,
                preview_url=self.url(self.preview_path, attachment_id, context),  # type: ignore[arg-type]
            )
        return FileAttachment(
            id=attachment_id,
            name=stored.name,
            mime_type=stored.mime_type,
            upload_descriptor=descriptor,
        )

    async def create_attachment(self, input: AttachmentCreateParams, context: Any) -> Attachment:
        """Two-phase, step one: remember the file, answer with where to ``PUT`` its bytes."""
        self.check_size(input.size)
        attachment_id = self.generate_attachment_id(input.mime_type, context)
        stored = StoredFile(input.name[:255], input.mime_type[:255], max(input.size, 0))
        self._keep(attachment_id, stored)
        descriptor = AttachmentUploadDescriptor(
            url=self.url(self.upload_path, attachment_id, context),  # type: ignore[arg-type]
            method="PUT",
            headers={},
        )
        return self._attachment(attachment_id, stored, context, descriptor)

    def store_bytes(self, attachment_id: str, data: bytes) -> StoredFile:
        """Two-phase, step two: keep the uploaded bytes of a created attachment."""
        stored = self._files.get(attachment_id)
        if stored is None:
            raise NotFoundError(f"attachment {attachment_id!r} not found")
        self.check_size(len(data))
        stored.data = bytes(data)
        self._keep(attachment_id, stored)
        return stored

    def add_upload(self, name: str, mime_type: str, data: bytes, context: Any) -> Attachment:
        """A direct upload: keep the bytes and return the new attachment (no descriptor)."""
        self.check_size(len(data))
        attachment_id = self.generate_attachment_id(mime_type, context)
        stored = StoredFile(name[:255] or "upload", mime_type[:255], len(data), bytes(data))
        self._keep(attachment_id, stored)
        return self._attachment(attachment_id, stored, context, None)

    async def delete_attachment(self, attachment_id: str, context: Any) -> None:
        self._files.pop(attachment_id, None)


def describe_attachment(attachment: Attachment, stored: StoredFile | None) -> str:
    """One line about an attachment: name, type, size, and the start of a text file."""
    if stored is None or stored.data is None:
        return f'"{attachment.name}" ({attachment.mime_type}, not uploaded)'
    line = f'"{attachment.name}" ({attachment.mime_type}, {len(stored.data)} bytes)'
    if attachment.mime_type.startswith("text/"):
        text = stored.data[: TEXT_PREVIEW_CHARS * 4].decode("utf-8", errors="replace")
        text = " ".join(text.split())[:TEXT_PREVIEW_CHARS]
        line += f' starting "{text}"'
    return line


class AttachmentConverter(ThreadItemConverter):
    """The SDK's converter, plus attachments: images as data URLs, other files described."""

    def __init__(self, attachments: AttachmentStore[Any] | None) -> None:
        self.attachments = attachments

    def stored(self, attachment_id: str) -> StoredFile | None:
        if isinstance(self.attachments, MemoryAttachmentStore):
            return self.attachments.file(attachment_id)
        return None

    async def attachment_to_message_content(
        self, attachment: Attachment
    ) -> ResponseInputContentParam:
        stored = self.stored(attachment.id)
        if isinstance(attachment, ImageAttachment) and stored is not None and stored.data:
            encoded = base64.b64encode(stored.data).decode("ascii")
            return ResponseInputImageParam(
                type="input_image",
                detail="auto",
                image_url=f"data:{attachment.mime_type};base64,{encoded}",
            )
        text = "The user attached " + describe_attachment(attachment, stored) + "."
        return ResponseInputTextParam(type="input_text", text=text)


# -- routes --------------------------------------------------------------------------------


def _error(status: int, error: str, detail: str) -> JSONResponse:
    # ChatKit.js's host script shows a failed request's JSON ``message`` (else the status text)
    body = {"error": error, "detail": detail, "message": detail}
    return JSONResponse(body, status_code=status)


def _attachment_json(attachment: Attachment) -> Response:
    body = attachment.model_dump_json(
        by_alias=True, exclude_none=True, context={"exclude_metadata": True}
    )
    return Response(content=body, media_type="application/json")


async def read_bounded(request: Request, limit: int) -> bytes:
    """The request body, refusing (``UploadTooLargeError``) more than ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise UploadTooLargeError(f"the body is {declared} bytes, over the limit of {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise UploadTooLargeError(f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


async def form_file(request: Request, body: bytes) -> tuple[str, str, bytes] | None:
    """(file name, content type, bytes) of the ``file`` field of a multipart ``body``."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    form = await Request(request.scope, receive).form(max_files=4, max_fields=16)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            return None
        data = await upload.read()
        return upload.filename or "upload", upload.content_type or "application/octet-stream", data
    finally:
        await form.close()


def add_upload_routes(
    app: FastAPI,
    server: ChatKitServer[Any],
    attachments: MemoryAttachmentStore,
    *,
    direct_upload_path: str = DIRECT_UPLOAD_PATH,
) -> None:
    """Add the two-phase upload, direct upload and preview routes; name them on ``app.state``."""
    app.state.attachment_store = attachments
    app.state.upload_path = attachments.upload_path
    app.state.direct_upload_path = direct_upload_path
    multipart_limit = attachments.max_bytes + MULTIPART_OVERHEAD

    @app.api_route(attachments.upload_path, methods=["PUT", "POST"])
    async def upload(attachment_id: str, request: Request) -> Response:
        if attachment_id not in attachments:
            return _error(404, "not found", f"no attachment {attachment_id!r} awaits an upload")
        context = request_context(request)
        try:
            created = await server.store.load_attachment(attachment_id, context)
        except NotFoundError as exc:
            return _error(404, "not found", str(exc))
        try:
            if _is_multipart(request):
                found = await form_file(request, await read_bounded(request, multipart_limit))
                if found is None:
                    return _error(400, "bad upload", "a multipart upload needs a 'file' field")
                data = found[2]
            else:
                data = await read_bounded(request, attachments.max_bytes)
            attachments.store_bytes(attachment_id, data)
        except UploadTooLargeError as exc:
            return _error(413, "too large", str(exc))
        except NotFoundError as exc:  # dropped from memory meanwhile
            return _error(404, "not found", str(exc))
        uploaded = created.model_copy(update={"upload_descriptor": None})
        await server.store.save_attachment(uploaded, context)
        return _attachment_json(uploaded)

    @app.post(direct_upload_path)
    async def direct_upload(request: Request) -> Response:
        if not _is_multipart(request):
            return _error(400, "bad upload", "send multipart/form-data with a 'file' field")
        try:
            found = await form_file(request, await read_bounded(request, multipart_limit))
            if found is None:
                return _error(400, "bad upload", "a multipart upload needs a 'file' field")
            context = request_context(request)
            attachment = attachments.add_upload(*found, context)
        except UploadTooLargeError as exc:
            return _error(413, "too large", str(exc))
        await server.store.save_attachment(attachment, context)
        return _attachment_json(attachment)

    @app.get(attachments.preview_path)
    async def preview(attachment_id: str) -> Response:
        stored = attachments.file(attachment_id)
        if stored is None or stored.data is None:
            return _error(404, "not found", f"no uploaded attachment {attachment_id!r}")
        return Response(content=stored.data, media_type=stored.mime_type)
