"""A capture made safe to save: every part of it redacted, the body across its chunk boundaries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from chatkit_lab.capture._model import Capture, Chunk
from chatkit_lab.redact import Redactor, current_redactor


def redact_capture(
    capture: Capture, *, extra: Iterable[str] = (), redactor: Redactor | None = None
) -> Capture:
    """A copy of ``capture`` safe to save: URL, headers, bodies, notes, meta all redacted.

    The response body is redacted as a whole and cut again at the original chunk boundaries
    (see :meth:`~chatkit_lab.redact.Redactor.redact_chunks`): chunk count, indices and arrival
    offsets are kept; a chunk's bytes may change length. ``redactor`` defaults to the current
    one; ``extra`` secrets are scrubbed too.
    """
    scrub = (redactor or current_redactor()).with_secrets(extra)
    request = replace(
        capture.request,
        url=scrub.redact_url(capture.request.url),
        headers=scrub.redact_headers(capture.request.headers),
        body=scrub.redact_bytes(capture.request.body),
    )
    bodies = scrub.redact_chunks([chunk.data for chunk in capture.chunks])
    chunks = [
        Chunk(chunk.index, chunk.offset_ns, data)
        for chunk, data in zip(capture.chunks, bodies, strict=True)
    ]
    return replace(
        capture,
        request=request,
        response_headers=scrub.redact_headers(capture.response_headers),
        chunks=chunks,
        ending=replace(capture.ending, message=scrub.redact_text(capture.ending.message)),
        label=scrub.redact_text(capture.label),
        target=scrub.redact_string(capture.target),
        notes=[scrub.redact_text(note) for note in capture.notes],
        meta=scrub.redact_obj(capture.meta),
    )
