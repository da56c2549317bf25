"""The current redactor: the secrets of a run travel with its context, not with the process.

Each run (a diagnosis, a CLI command) makes its own :class:`Redactor` holding what the user
supplied and makes it current with :func:`redacting` for as long as it runs (a
:class:`contextvars.ContextVar`: every asyncio task started inside sees it, other runs do not).
What a run produces carries its redactor (``Diagnosis.redactor``), so what is shown or saved
later is redacted with the same secrets. :func:`register_secrets` adds secrets to the current
context's redactor (a new redactor: one already handed to a run never changes).

The module-level ``redact_*`` functions use the current redactor, plus any ``extra`` secrets.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from chatkit_lab.redact._redactor import Redactor
from chatkit_lab.redact._supplied import request_secrets

_EMPTY = Redactor()
_current: ContextVar[Redactor | None] = ContextVar("chatkit_lab_redactor", default=None)


def current_redactor() -> Redactor:
    """The redactor of the current context (one without literal secrets when none was set)."""
    return _current.get() or _EMPTY


@contextmanager
def redacting(redactor: Redactor) -> Iterator[Redactor]:
    """Make ``redactor`` current inside the ``with`` block (restored afterwards, even on error)."""
    token = _current.set(redactor)
    try:
        yield redactor
    finally:
        _current.reset(token)


def run_redactor(url: str | None, headers: Any = None, *, base: Redactor | None = None) -> Redactor:
    """The redactor of a run: ``base`` (default: the current one) holding every credential of
    the request the run makes (:func:`request_secrets` of its URL and headers), built before the
    first request is sent."""
    return (base or current_redactor()).with_secrets(request_secrets(url, headers))


def redactor_for(*owners: Any) -> Redactor:
    """The current redactor joined with the redactor each of ``owners`` carries (a diagnosis,
    a conformance; a collection of them is read item by item): every secret of every run shown.
    The one way what is shown learns the secrets of the runs it shows."""
    scrub = current_redactor()
    for owner in owners:
        for item in (owner,) if hasattr(owner, "redactor") else owner:
            own = getattr(item, "redactor", None)
            if isinstance(own, Redactor):
                scrub = scrub.with_secrets(own.secrets)
    return scrub


def register_secrets(values: Iterable[str]) -> None:
    """Scrub these literal secrets in this context from now on.

    They join every redaction the kit does in this context (and in tasks started from it),
    including the one :func:`save_captures` applies. Values shorter than
    :data:`MIN_EXTRA_LENGTH` are ignored. In a notebook, register in a cell of its own without
    top-level ``await`` (a cell that awaits runs in a copy of the context).
    """
    current = current_redactor()
    updated = current.with_secrets(values)
    if updated is not current:
        _current.set(updated)


def clear_registered_secrets() -> None:
    """Forget the secrets given to :func:`register_secrets` in this context."""
    _current.set(None)


def secrets_from_env(
    names: Iterable[str] | str, environ: Mapping[str, str] | None = None
) -> list[str]:
    """The values of the named environment variables that are set and not blank.

    Pass them to :func:`register_secrets` (or as ``extra=``) to scrub, say, the staging token
    the kit was given through ``CHATKIT_TOKEN`` wherever it shows up.
    """
    source = os.environ if environ is None else environ
    wanted = [names] if isinstance(names, str) else list(names)
    return [source[name] for name in wanted if source.get(name, "").strip()]


def _redactor(extra: Iterable[str]) -> Redactor:
    return current_redactor().with_secrets(extra)


def redact_text(text: str, *, extra: Iterable[str] = ()) -> str:
    """``text`` with every secret replaced by a marker (see :mod:`chatkit_lab.redact`)."""
    return _redactor(extra).redact_text(text)


def redact_bytes(data: bytes, *, extra: Iterable[str] = ()) -> bytes:
    """:func:`redact_text` over bytes, leaving bytes that are not UTF-8 untouched."""
    return _redactor(extra).redact_bytes(data)


def redact_chunks(chunks: Sequence[bytes], *, extra: Iterable[str] = ()) -> list[bytes]:
    """A chunked body redacted as a whole and cut again at the same boundaries."""
    return _redactor(extra).redact_chunks(chunks)


def redact_url(url: str, *, extra: Iterable[str] = ()) -> str:
    """A URL with its userinfo password, secret query/fragment parameters and tokens redacted."""
    return _redactor(extra).redact_url(url)


def redact_header_value(name: str, value: str, *, extra: Iterable[str] = ()) -> str:
    """One header value redacted (scheme, cookie names and cookie attributes kept)."""
    return _redactor(extra).redact_header_value(name, value)


def redact_headers(
    headers: Iterable[tuple[str, str]] | Mapping[str, str], *, extra: Iterable[str] = ()
) -> list[tuple[str, str]]:
    """Headers with credential values redacted and token-shaped strings removed elsewhere."""
    return _redactor(extra).redact_headers(headers)


def redact_obj(value: Any, *, extra: Iterable[str] = ()) -> Any:
    """A redacted copy of JSON-like data (and dataclasses), for reports and notebook outputs."""
    return _redactor(extra).redact_obj(value)
