"""Redaction: secrets never reach a saved capture, a report or a notebook output.

What is redacted: credential headers (``Authorization``, ``Cookie``, ``Set-Cookie``,
``Proxy-Authorization``, ``X-Api-Key`` and other ``*-key``/``*-token``/``*-secret`` headers),
secret-looking URL query parameters, and token-shaped strings anywhere in bodies and text (JWTs,
``sk-`` keys, bearer tokens). A redacted value keeps enough to tell tokens apart (its last four
characters, a JWT's ``alg``), never the secret itself.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

if TYPE_CHECKING:
    from ._capture import Capture

_SECRET_HEADERS = {
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
    "openai-api-key",
}
_SECRET_HEADER_PARTS = ("key", "token", "secret", "password", "auth", "session", "signature")
_SECRET_QUERY_PARTS = (
    "key",
    "token",
    "secret",
    "password",
    "passwd",
    "auth",
    "session",
    "signature",
    "sig",
    "code",
    "jwt",
    "credential",
)

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_SK = re.compile(r"\bsk-[A-Za-z0-9_-]{16,}")
_BEARER = re.compile(r"(?i)\b(bearer)\s+([A-Za-z0-9._~+/=-]{8,})")
_REDACTED = re.compile(r"\[REDACTED[^\]]*\]")


def _tail(secret: str) -> str:
    return secret[-4:] if len(secret) >= 12 else ""


def _jwt_alg(token: str) -> str:
    header = token.split(".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, UnicodeDecodeError):
        return "?"
    alg = decoded.get("alg") if isinstance(decoded, dict) else None
    return str(alg) if isinstance(alg, str) and alg.isalnum() and len(alg) <= 10 else "?"


def _mark(kind: str, secret: str) -> str:
    tail = _tail(secret)
    return f"[REDACTED {kind}…{tail}]" if tail else f"[REDACTED {kind}]"


def redact_token(token: str) -> str:
    """A stand-in for one secret value that keeps its kind and last four characters."""
    if _REDACTED.fullmatch(token):
        return token
    if _JWT.fullmatch(token):
        return _mark(f"jwt alg={_jwt_alg(token)}", token)
    if _SK.fullmatch(token):
        return _mark("sk-key", token)
    return _mark("secret", token)


def redact_text(text: str) -> str:
    """Replace every token-shaped string (JWT, ``sk-`` key, bearer token) in free text."""
    text = _BEARER.sub(lambda m: f"{m.group(1)} {redact_token(m.group(2))}", text)
    text = _JWT.sub(lambda m: redact_token(m.group(0)), text)
    return _SK.sub(lambda m: redact_token(m.group(0)), text)


def redact_bytes(data: bytes) -> bytes:
    """:func:`redact_text` over bytes, leaving undecodable bytes untouched."""
    if not data:
        return data
    text = data.decode("utf-8", errors="surrogateescape")
    redacted = redact_text(text)
    if redacted == text:
        return data
    return redacted.encode("utf-8", errors="surrogateescape")


def is_secret_header(name: str) -> bool:
    lowered = name.lower()
    return lowered in _SECRET_HEADERS or any(part in lowered for part in _SECRET_HEADER_PARTS)


def redact_header_value(name: str, value: str) -> str:
    """A credential header's value with the secret replaced (scheme and cookie names kept)."""
    lowered = name.lower()
    if lowered in ("cookie", "set-cookie"):
        parts = []
        for part in value.split(";"):
            key, eq, secret = part.partition("=")
            if eq and lowered == "cookie" or (eq and not parts):
                parts.append(f"{key}={redact_token(secret.strip())}")
            else:
                parts.append(part)
        return ";".join(parts)
    scheme, space, secret = value.partition(" ")
    if space and scheme.lower() in ("bearer", "basic", "token", "digest"):
        return f"{scheme} {redact_token(secret.strip())}"
    return redact_token(value)


def redact_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Headers with credential values redacted and token-shaped strings removed elsewhere."""
    out = []
    for name, value in headers:
        if is_secret_header(name):
            out.append((name, redact_header_value(name, value)))
        else:
            out.append((name, redact_text(value)))
    return out


def redact_url(url: str) -> str:
    """A URL with secret-looking query parameters and userinfo passwords redacted."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:[REDACTED]@{host}" if ":" in userinfo else netloc
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        redacted = [
            (k, redact_token(v) if any(p in k.lower() for p in _SECRET_QUERY_PARTS) and v else v)
            for k, v in pairs
        ]
        query = urlencode(redacted, safe="[]… =")
    return redact_text(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))


def redact_capture(capture: Capture) -> Capture:
    """A copy of ``capture`` safe to save: headers, URL, request body and chunks redacted.

    Chunk boundaries and arrival times are kept; a chunk's bytes may change length.
    """
    from ._capture import Chunk

    request = replace(
        capture.request,
        url=redact_url(capture.request.url),
        headers=redact_headers(capture.request.headers),
        body=redact_bytes(capture.request.body),
    )
    chunks = [Chunk(c.index, c.offset_ns, redact_bytes(c.data)) for c in capture.chunks]
    meta = json.loads(redact_text(json.dumps(capture.meta)))
    return replace(
        capture,
        request=request,
        response_headers=redact_headers(capture.response_headers),
        chunks=chunks,
        ending=replace(capture.ending, message=redact_text(capture.ending.message)),
        target=redact_url(capture.target) if "://" in capture.target else capture.target,
        notes=[redact_text(note) for note in capture.notes],
        meta=meta,
    )
