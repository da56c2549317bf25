"""Credentials a user supplied: every form of each, to register before the first request.

A credential travels in more forms than the one it was given in: each cookie of a ``Cookie``
header is sent (and echoed) on its own; ``Authorization: Basic`` carries ``user:password`` in
base64, which a backend may decode and echo, password and all; a URL's userinfo becomes that same
header when the request is sent. :func:`header_secrets` and :func:`url_secrets` give every one of
these forms, so a redactor that holds them finds the credential whichever form leaks.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from urllib.parse import unquote, unquote_plus, urlsplit

from chatkit_lab.redact._names import is_secret_header, is_secret_param
from chatkit_lab.redact._shapes import JWT, PREFIXED, is_jwt, is_sk_key, tokenish
from chatkit_lab.redact._spans import Password

Headers = Mapping[str, str] | Iterable[tuple[str, str]]

_MAX_VALUE = 16_384
"""Longer header values are registered whole only (their parts are not searched for)."""


def _add(out: dict[str, None], *values: str) -> None:
    for value in values:
        stripped = value.strip()
        if stripped:  # a password stays one
            out.setdefault(Password(stripped) if isinstance(value, Password) else stripped)


def _unquoted(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _cookie_values(value: str, set_cookie: bool) -> list[str]:
    """Each cookie's value (``Set-Cookie``: the one it sets; its attributes are not secrets).

    A value that is a plain word (``theme=dark``, ``lang=english``) is left out unless the
    cookie's name says it is a secret: it would match ordinary text everywhere.
    """
    pairs = value.split(";")[:1] if set_cookie else value.split(";")
    values = []
    for pair in pairs:
        name, equals, cookie = pair.partition("=")
        raw = _unquoted(cookie)
        if equals and (tokenish(raw) or is_secret_param(name.strip())):
            values += [raw, unquote(raw)]
    return values


def _basic_forms(credential: str) -> list[str]:
    """``user:password`` decoded from a Basic credential, and the password alone."""
    token = credential.strip()
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
    except (binascii.Error, ValueError):
        return []
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        decoded = raw.decode("latin-1")
    _, colon, password = decoded.partition(":")
    return [Password(decoded), Password(password)] if colon else [decoded]


def credential_forms(name: str, value: str) -> list[str]:
    """The literal secrets in one credential header: the value and every part that leaks alone.

    ``Bearer abc`` gives ``Bearer abc`` and ``abc``; ``Cookie: a=V; b=W`` also gives ``V`` and
    ``W``; ``Basic dXNlcjpwdw==`` also gives ``user:pw`` and ``pw``. A header that is not a
    credential (:func:`is_secret_header`) gives nothing.
    """
    if not isinstance(name, str) or not isinstance(value, str) or not is_secret_header(name):
        return []
    out: dict[str, None] = {}
    whole = value.strip()
    _add(out, whole)
    if len(whole) > _MAX_VALUE:
        return list(out)
    lowered = name.strip().lower()
    if lowered in ("cookie", "set-cookie"):
        _add(out, *_cookie_values(whole, lowered == "set-cookie"))
        return list(out)
    scheme, _, credential = whole.partition(" ")
    credential = credential.strip()
    _add(out, credential, _unquoted(credential))
    if scheme.lower() == "basic":
        _add(out, *_basic_forms(credential))
    return list(out)


def header_secrets(headers: Headers | None) -> list[str]:
    """The literal secrets in headers a user supplied, to register before the first request.

    Every form of each credential header (:func:`credential_forms`): its whole value, the
    credential after its auth scheme, each cookie's value, the decoded ``user:password`` of
    Basic auth and the password alone. ``headers``: a mapping, ``(name, value)`` pairs or HAR
    header objects (``{"name": ..., "value": ...}``).
    """
    if not headers:
        return []
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, None] = {}
    for pair in pairs:
        if isinstance(pair, Mapping):  # HAR: {"name": ..., "value": ...}
            pair = (pair.get("name"), pair.get("value"))
        if isinstance(pair, tuple | list) and len(pair) == 2:
            _add(out, *credential_forms(pair[0], pair[1]))
    return list(out)


def _shaped(segment: str) -> bool:
    return bool(
        (JWT.fullmatch(segment) and is_jwt(segment))
        or is_sk_key(segment)
        or PREFIXED.fullmatch(segment)
    )


def url_secrets(url: str | None) -> list[str]:
    """The literal secrets in a URL a user supplied, to register before the first request.

    The userinfo (``user:password``, raw and percent-decoded), the password alone, the Basic
    credential a client sends for it (base64 of ``user:password``), the values of secret-named
    query and fragment parameters (``?token=...``), and token-shaped path segments.
    """
    if not isinstance(url, str) or not url.strip():
        return []
    out: dict[str, None] = {}
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # a malformed URL (an unclosed IPv6 bracket): nothing to take apart
        return []
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at and userinfo:
        user, colon, password = userinfo.partition(":")
        if colon and password:
            plain = f"{unquote(user)}:{unquote(password)}"
            basic = base64.b64encode(plain.encode("utf-8")).decode("ascii")
            forms = (userinfo, unquote(userinfo), password, unquote(password), plain)
            _add(out, *(Password(form) for form in forms), basic)
        else:
            _add(out, userinfo, unquote(userinfo))
    for part in (parts.query, parts.fragment):
        for pair in part.split("&"):
            name, equals, value = pair.partition("=")
            if equals and value and is_secret_param(unquote_plus(name)):
                _add(out, value, unquote_plus(value))
    for segment in parts.path.split("/"):
        for piece in {segment, unquote(segment)}:
            if _shaped(piece):
                _add(out, piece)
    return list(out)


def request_secrets(url: str | None, headers: Headers | None) -> list[str]:
    """:func:`url_secrets` and :func:`header_secrets` of one request, each value once."""
    return list(dict.fromkeys([*url_secrets(url), *header_secrets(headers)]))


def har_entry_secrets(entry: object) -> list[str]:
    """The credentials in one HAR entry: its request's URL and headers, its response's headers.

    Whatever the entry holds (a damaged entry gives what can be read of it).
    """
    if not isinstance(entry, Mapping):
        return []
    request, response = entry.get("request"), entry.get("response")
    found: list[str] = []
    if isinstance(request, Mapping):
        url, headers = request.get("url"), request.get("headers")
        found += url_secrets(url if isinstance(url, str) else None)
        found += header_secrets(headers if isinstance(headers, list) else None)
    if isinstance(response, Mapping):
        headers = response.get("headers")
        found += header_secrets(headers if isinstance(headers, list) else None)
    return list(dict.fromkeys(found))
