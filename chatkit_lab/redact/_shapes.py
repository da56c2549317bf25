"""Token shapes and markers: what a secret looks like, and what it is replaced with.

A redacted value keeps what tells tokens apart and nothing else: its last four characters (for
values of twelve characters or more, never for passwords) and, for a JWT, the header's ``alg``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Literal
from urllib.parse import quote

from chatkit_lab.redact._names import PLACEHOLDERS
from chatkit_lab.redact._prefixed import PREFIXED

Style = Literal["text", "url"]
"""``text``: ``[REDACTED kind …tail]``; ``url``: ``REDACTED-kind-tail`` (no spaces or brackets)."""

_TAIL_LENGTH = 4
_TAIL_MIN_SECRET = 12

TEXT_MARK = re.compile(r"\[REDACTED(?: [^\[\]\r\n]{0,80})?\]")
URL_MARK = re.compile(r"REDACTED(?:-[A-Za-z0-9._~%-]*)?")

# Look-behinds sit after a literal first character so the scan can skip ahead quickly.
JWT = re.compile(r"e[wy](?<![A-Za-z0-9_-]e[wy])[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){1,4}")
_JWT_HEADER_STARTS = (b'{"', b"{ ", b"{\n", b"{\r", b"{\t")
SK = re.compile(r"sk-(?<![A-Za-z0-9_-]sk-)[A-Za-z0-9_-]{16,}")
_ALG = re.compile(rb'"alg"\s*:\s*"([A-Za-z0-9+_.-]{1,20})"')
_SAFE_ALG = re.compile(r"[A-Za-z0-9+_.-]{1,20}")
_SAFE_TAIL = re.compile(r"[A-Za-z0-9._~+/=-]+")


def _b64url(segment: str) -> bytes | None:
    usable = segment[: len(segment) - 1] if len(segment) % 4 == 1 else segment
    try:
        return base64.urlsafe_b64decode(usable + "=" * (-len(usable) % 4))
    except (binascii.Error, ValueError):
        return None


def is_jwt(token: str) -> bool:
    """Whether a JWT-shaped string really is one (its header decodes to a JSON object)."""
    segments = token.split(".")
    if len(segments) < 2 or len(segments[0]) < 10:
        return False
    head = _b64url(segments[0][:8])
    if head is None or not head.startswith(_JWT_HEADER_STARTS):
        return False
    rest = segments[1:]
    if len(rest) == 1:
        payload = _b64url(rest[0][:8])
        return len(rest[0]) >= 8 and payload is not None and payload.startswith(b"{")
    return sum(len(segment) for segment in rest) >= 8


def _jwt_alg(token: str) -> str:
    header = _b64url(token.split(".", 1)[0]) or b""
    try:
        decoded = json.loads(header)
    except (ValueError, UnicodeDecodeError, RecursionError):
        decoded = None
    alg = decoded.get("alg") if isinstance(decoded, dict) else None
    if alg is None:
        found = _ALG.search(header)
        alg = found.group(1).decode("ascii") if found else None
    return alg if isinstance(alg, str) and _SAFE_ALG.fullmatch(alg) else "?"


def is_sk_key(token: str) -> bool:
    """Whether an ``sk-`` string is a key (long, or holding digits or capitals), not a word."""
    if not SK.fullmatch(token):
        return False
    body = token[3:]
    return len(body) >= 32 or any(c.isdigit() or c.isupper() for c in body)


def tokenish(value: str) -> bool:
    """Not a plain word: long, or holding a non-letter, or mixed case after the first letter."""
    return (
        len(value) >= 24
        or any(not c.isalpha() for c in value)
        or any(c.isupper() for c in value[1:])
    )


def already_redacted(value: str) -> bool:
    """Whether ``value`` holds a marker."""
    return bool(TEXT_MARK.search(value) or URL_MARK.search(value))


def not_a_secret(value: str) -> bool:
    """Empty, a placeholder worth seeing (``Bearer undefined`` is a finding) or already a marker."""
    return not value or value.lower() in PLACEHOLDERS or already_redacted(value)


def _tail(secret: str) -> str:
    if len(secret) < _TAIL_MIN_SECRET:
        return ""
    tail = secret[-_TAIL_LENGTH:]
    return tail if _SAFE_TAIL.fullmatch(tail) else ""


def marker(secret: str, kind: str, style: Style) -> str:
    """The stand-in for ``secret``: its kind (found again from its shape) and its tail."""
    core = secret.strip()
    alg = ""
    if kind == "part":  # a piece of a secret: its shape says nothing more
        pass
    elif JWT.fullmatch(core) and is_jwt(core):
        kind, alg = "jwt", _jwt_alg(core)
    elif is_sk_key(core):
        kind = "sk-key"
    elif PREFIXED.fullmatch(core):
        kind = "key"
    # A password's tail narrows guessing; a part's tail is the middle of a secret.
    tail = "" if kind in ("password", "part") else _tail(core)
    if style == "url":
        words = ["REDACTED"]
        if kind != "secret":
            words.append(kind)
        if alg and alg != "?":
            words.append(alg)
        if tail:
            words.append(quote(tail, safe="-._~"))
        return "-".join(words)
    label = f"{kind} alg={alg}" if alg else kind
    return f"[REDACTED {label} …{tail}]" if tail else f"[REDACTED {label}]"


def redact_token(token: str, *, style: Style = "text") -> str:
    """A stand-in for one secret value that keeps its kind and last four characters.

    ``[REDACTED jwt alg=HS256 …abcd]``, ``[REDACTED sk-key …abcd]``, ``[REDACTED secret]``
    (values under twelve characters keep no tail); ``style="url"`` gives ``REDACTED-...``.
    A value that is already a marker is returned unchanged.
    """
    if not token or already_redacted(token):
        return token
    return marker(token, "secret", style)
