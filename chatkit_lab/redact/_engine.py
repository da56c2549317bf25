"""Redaction: secrets never reach a saved capture, a report or a notebook output.

What is redacted, wherever text is saved or exported:

* credential headers: ``Authorization``, ``Proxy-Authorization``, ``Cookie``, ``Set-Cookie`` and
  any header whose name suggests a key, token, secret, session, password or signature
  (``X-Api-Key``, ``X-Auth-Token``, ``X-Session-Id``...). The auth scheme, cookie names and
  ``Set-Cookie`` attributes are kept;
* URL userinfo passwords and secret-looking query or fragment parameters (``token``, ``key``,
  ``api_key``, ``access_token``, ``sig``, ``signature``, ``code``, ``password``, ``jwt``,
  ``session``...), also inside free text and form bodies;
* token-shaped strings anywhere: JWTs (two or more parts), ``sk-`` keys (``sk-proj-...``), a few
  other well-known key formats, ``Bearer``/``Basic`` credentials, credential headers quoted in text
  (error messages, curl commands), and string values of secret-named JSON/dict fields
  (``"api_key": "..."``, ``'password': '...'``);
* literal secrets the user names (:class:`Redactor` ``extra=``, :func:`register_secrets`).

A redacted value keeps what tells tokens apart and nothing else: its last four characters (for
values of twelve characters or more, never for passwords) and, for a JWT, the header's ``alg``. In
text the marker reads ``[REDACTED jwt alg=HS256 …abcd]``; inside URLs it stays a valid query value:
``?token=REDACTED-jwt-HS256-abcd``. Placeholders that are findings in themselves (``Bearer
undefined``, ``"token": "null"``) are kept. Redaction is idempotent: markers are never redacted
again, and a text is re-scanned until no secret is left.

Bodies are redacted as a whole: :func:`redact_capture` joins a response's chunks, redacts the
joined body (so a token split across two chunks is still found) and cuts it again at the original
boundaries, mapped through the replacements (a replacement straddling a boundary goes wholly into
the chunk where it starts). Chunk count and arrival offsets are kept; bytes that are not UTF-8 are
kept as they are.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

if TYPE_CHECKING:
    import pandas as pd

    from chatkit_lab.capture._model import Capture

Style = Literal["text", "url"]
"""``text``: ``[REDACTED kind …tail]``; ``url``: ``REDACTED-kind-tail`` (no spaces or brackets)."""

MIN_EXTRA_LENGTH = 6
"""Literal secrets shorter than this are ignored: they would match ordinary text."""

_TAIL_LENGTH = 4
_TAIL_MIN_SECRET = 12
_SURROGATE = "surrogateescape"
_MAX_PASSES = 4

# -- names ----------------------------------------------------------------------------------

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")

_FIELD_NOUNS = frozenset(
    {
        "token",
        "secret",
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "apikey",
        "jwt",
        "signature",
        "credential",
        "credentials",
        "authorization",
        "cookie",
        "accesstoken",
        "refreshtoken",
        "idtoken",
        "authtoken",
        "bearertoken",
        "sessiontoken",
        "clientsecret",
        "privatekey",
        "secretkey",
        "accesskey",
        "sessionkey",
        "sessionid",
    }
)
_KEY_QUALIFIERS = frozenset(
    {
        "api",
        "secret",
        "private",
        "access",
        "auth",
        "session",
        "signing",
        "client",
        "encryption",
        "master",
        "service",
        "subscription",
        "license",
    }
)
_FIELD_ANYWHERE = frozenset({"password", "passwd", "apikey"})
_PARAM_WHOLE_NAMES = frozenset(
    {"code", "sig", "key", "sid", "auth", "session", "sessionid", "otp", "ticket"}
)
_CODE_QUALIFIERS = frozenset({"auth", "authorization", "oauth", "access", "device", "verification"})
_HEADER_PARTS = frozenset(
    {
        "authorization",
        "auth",
        "key",
        "apikey",
        "token",
        "secret",
        "password",
        "passwd",
        "pwd",
        "session",
        "sessionid",
        "signature",
        "sig",
        "cookie",
        "credential",
        "credentials",
        "jwt",
        "csrf",
        "xsrf",
    }
)
_HEADER_SUFFIXES = ("token", "secret", "password", "apikey", "signature", "sessionid")
_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key"}
)
_URL_HEADERS = frozenset({"location", "content-location", "referer", "referrer", "origin"})
_PLACEHOLDERS = frozenset(
    {"undefined", "null", "none", "nil", "nan", "true", "false", "[object object]", '""', "''"}
)
_AUTH_SCHEMES = frozenset(
    {"bearer", "basic", "token", "digest", "negotiate", "ntlm", "apikey", "key", "dpop", "hmac"}
)


def _name_parts(name: str) -> list[str]:
    return [part for part in _NON_ALNUM.split(_CAMEL.sub("_", name).lower()) if part]


def is_secret_field(name: str) -> bool:
    """Whether a JSON/dict field or assignment named ``name`` holds a secret value.

    The name's last word decides (``access_token``, ``apiKey``, ``client_secret``,
    ``OPENAI_API_KEY``), so ``token_type``, ``max_tokens`` or a widget's ``key`` are not secrets.
    """
    parts = _name_parts(name)
    if not parts:
        return False
    last = parts[-1]
    if last in _FIELD_NOUNS:
        return True
    if last == "key" and len(parts) > 1 and parts[-2] in _KEY_QUALIFIERS:
        return True
    return any(part in _FIELD_ANYWHERE for part in parts)


def is_secret_param(name: str) -> bool:
    """Whether a URL query/fragment parameter named ``name`` holds a secret value."""
    if is_secret_field(name):
        return True
    parts = _name_parts(name)
    if not parts:
        return False
    if "".join(parts) in _PARAM_WHOLE_NAMES or "session" in parts or parts[-1] == "sig":
        return True
    return parts[-1] == "code" and len(parts) > 1 and parts[-2] in _CODE_QUALIFIERS


def is_secret_header(name: str) -> bool:
    """Whether a header named ``name`` carries a credential (its value is redacted whole)."""
    lowered = name.strip().lower()
    if lowered in _SECRET_HEADERS:
        return True
    parts = _name_parts(lowered)
    return any(part in _HEADER_PARTS or part.endswith(_HEADER_SUFFIXES) for part in parts)


# -- token shapes ---------------------------------------------------------------------------

_TEXT_MARK = re.compile(r"\[REDACTED(?: [^\[\]\r\n]{0,80})?\]")
_URL_MARK = re.compile(r"REDACTED(?:-[A-Za-z0-9._~%-]*)?")

# Look-behinds sit after a literal first character so the scan can skip ahead quickly.
_JWT = re.compile(r"e[wy](?<![A-Za-z0-9_-]e[wy])[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){1,4}")
_JWT_HEADER_STARTS = (b'{"', b"{ ", b"{\n", b"{\r", b"{\t")
_SK = re.compile(r"sk-(?<![A-Za-z0-9_-]sk-)[A-Za-z0-9_-]{16,}")
_PREFIXED = re.compile(
    r"(?:gh(?<![A-Za-z0-9_+/-]gh)(?:[pousr]_[A-Za-z0-9]{30,}|ithub_pat_[A-Za-z0-9_]{30,})"
    r"|xox(?<![A-Za-z0-9_+/-]xox)[abposr]-[A-Za-z0-9-]{10,}"
    r"|AKIA(?<![A-Za-z0-9_+/-]AKIA)[0-9A-Z]{16}|AIza(?<![A-Za-z0-9_+/-]AIza)[0-9A-Za-z_-]{35})"
    r"(?![A-Za-z0-9_+/-])"
)
_BEARER_LOWER = re.compile(r"(?:bearer|basic)(?<![a-z0-9_-]bearer)(?<![a-z0-9_-]basic)[ \t]+")
"""Run on the ASCII-lowered text: ``Bearer``, ``bearer``, ``BEARER``, ``Basic``..."""
_CREDENTIAL = re.compile(r"[A-Za-z0-9._~+/-]{8,}=*")
_SECRET_WORD = re.compile(
    r"auth|key|token|secret|pass|pwd|session|sig|cookie|credential|jwt|csrf|xsrf"
    r"|code|sid|otp|ticket"
)
"""Every secret-looking name holds one of these: names are found from them (a fast scan)."""
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_HEADER_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")
_NAME_RUN = re.compile(r"[A-Za-z0-9_.-]*")
_HEADER_RUN = re.compile(r"[A-Za-z0-9-]*")
_MAX_NAME = 64
_FIELD_TAIL = re.compile(r"[ \t]*[:=][ \t]*(?P<vq>\\*[\"'])")
_HEADER_TAIL = re.compile(r"[ \t]*:[ \t]*(?P<value>[^\r\n\"'\\]*)")
_ASSIGN_TAIL = re.compile(
    r"(?:=|%3[Dd])[\"']?(?P<value>(?:(?!%26|%23|\\u0026)[^&\s#\"'<>\\;,()\[\]{}|^`])+)"
)
_ENCODED_LEAD = re.compile(r"(?:u0026|26|3[Ff]|23)")
_PLAIN_STRING = {
    '"': re.compile(r'(?:[^"\\\r\n]|\\.){0,4096}'),
    "'": re.compile(r"(?:[^'\\\r\n]|\\.){0,4096}"),
}
_USERINFO = re.compile(
    r"://(?<=[A-Za-z]://)(?P<user>[^\s:/?#@\[\]\"'<>]*):(?P<secret>[^\s/?#@\"'<>\[\]]+)@"
)
_CURL_USER = re.compile(r"-(?<!\S-)(?:u|-user)[ \t]+[\"']?[^\s:\"']+:(?P<secret>[^\s\"']+)")
_ASCII_LOWER = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"
)  # keeps every position, unlike str.lower()
_COOKIE_PAIR_HEADER = re.compile(r"(?P<name>[^=;\s]+)[ \t]*=[ \t]*(?P<value>[^;]*)")
_COOKIE_PAIR_TEXT = re.compile(r"(?P<name>[^=;\s]+)=(?P<value>[^;\s]*)")
_SCHEME_VALUE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9-]*)[ \t]+(?P<rest>\S.*)", re.S)
_FIRST_WORD = re.compile(r"\[object [A-Za-z]+\]|[^\s,;]+")  # JS: `Bearer ${obj}`
_URL_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
_ALG = re.compile(rb'"alg"\s*:\s*"([A-Za-z0-9+_.-]{1,20})"')
_SAFE_ALG = re.compile(r"[A-Za-z0-9+_.-]{1,20}")
_SAFE_TAIL = re.compile(r"[A-Za-z0-9._~+/=-]+")
_TRAILING_PUNCTUATION = ".,;:)"


def _b64url(segment: str) -> bytes | None:
    usable = segment[: len(segment) - 1] if len(segment) % 4 == 1 else segment
    try:
        return base64.urlsafe_b64decode(usable + "=" * (-len(usable) % 4))
    except (binascii.Error, ValueError):
        return None


def _is_jwt(token: str) -> bool:
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
    except (ValueError, UnicodeDecodeError):
        decoded = None
    alg = decoded.get("alg") if isinstance(decoded, dict) else None
    if alg is None:
        found = _ALG.search(header)
        alg = found.group(1).decode("ascii") if found else None
    return alg if isinstance(alg, str) and _SAFE_ALG.fullmatch(alg) else "?"


def _is_sk_key(token: str) -> bool:
    if not _SK.fullmatch(token):
        return False
    body = token[3:]
    return len(body) >= 32 or any(c.isdigit() or c.isupper() for c in body)


def _tokenish(value: str) -> bool:
    """Not a plain word: long, or holding a non-letter, or mixed case after the first letter."""
    return (
        len(value) >= 24
        or any(not c.isalpha() for c in value)
        or any(c.isupper() for c in value[1:])
    )


def _already_redacted(value: str) -> bool:
    return bool(_TEXT_MARK.search(value) or _URL_MARK.search(value))


def _not_a_secret(value: str) -> bool:
    """Empty, a placeholder worth seeing (``Bearer undefined`` is a finding) or already a marker."""
    return not value or value.lower() in _PLACEHOLDERS or _already_redacted(value)


def _tail(secret: str) -> str:
    if len(secret) < _TAIL_MIN_SECRET:
        return ""
    tail = secret[-_TAIL_LENGTH:]
    return tail if _SAFE_TAIL.fullmatch(tail) else ""


def _marker(secret: str, kind: str, style: Style) -> str:
    core = secret.strip()
    alg = ""
    if _JWT.fullmatch(core) and _is_jwt(core):
        kind, alg = "jwt", _jwt_alg(core)
    elif _is_sk_key(core):
        kind = "sk-key"
    elif _PREFIXED.fullmatch(core):
        kind = "key"
    tail = "" if kind == "password" else _tail(core)  # a password's tail narrows guessing
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
    if not token or _already_redacted(token):
        return token
    return _marker(token, "secret", style)


# -- spans ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    kind: str
    style: Style


def _strip_trailing(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1] in _TRAILING_PUNCTUATION:
        end -= 1
    return end


def _value_spans(value: str, offset: int, kind: str, style: Style, whole: bool) -> list[_Span]:
    """The secret part of a credential value: after a known auth scheme, else all of it.

    ``whole=False`` (a header quoted in text) takes one word only, so the prose after it stays.
    """
    stripped = value.strip()
    if _not_a_secret(stripped) or stripped.lower() in _AUTH_SCHEMES:
        return []
    lead = len(value) - len(value.lstrip())
    start = offset + lead
    scheme = _SCHEME_VALUE.fullmatch(stripped)
    if scheme and scheme.group("scheme").lower() in _AUTH_SCHEMES:
        start += scheme.start("rest")
        stripped = scheme.group("rest")
        kind = "token"
    if whole:
        end = len(stripped)
    else:
        word = _FIRST_WORD.match(stripped)
        end = _strip_trailing(stripped, 0, word.end()) if word else 0
    if _not_a_secret(stripped[:end]):
        return []
    return [_Span(start, start + end, kind, style)]


def _cookie_spans(value: str, offset: int, set_cookie: bool, in_text: bool) -> list[_Span]:
    if not in_text and "=" not in value:
        return _value_spans(value, offset, "cookie", "text", whole=True)
    pattern = _COOKIE_PAIR_TEXT if in_text else _COOKIE_PAIR_HEADER
    masked = value
    for start, end in _protected(value):  # an ``alg=`` inside a marker is not a cookie
        masked = masked[:start] + "#" * (end - start) + masked[end:]
    lead = len(masked) - len(masked.lstrip())
    # Set-Cookie: only the pair it opens with is the cookie; the rest are attributes.
    pairs = [pattern.match(masked, lead)] if set_cookie else pattern.finditer(masked)
    spans = []
    for pair in pairs:
        if pair is None:
            continue
        secret = value[pair.start("value") : pair.end("value")].rstrip()
        if not _not_a_secret(secret):
            start = offset + pair.start("value")
            spans.append(_Span(start, start + len(secret), "cookie", "text"))
    return spans


def _header_value_spans(name: str, value: str, offset: int, in_text: bool) -> list[_Span]:
    lowered = name.strip().lower()
    if lowered in ("cookie", "set-cookie"):
        return _cookie_spans(value, offset, lowered == "set-cookie", in_text)
    return _value_spans(value, offset, "secret", "text", whole=not in_text)


def _names(
    text: str, lowered: str, chars: frozenset[str], run: re.Pattern[str]
) -> list[tuple[int, int]]:
    """``(start, end)`` of each maximal name (made of ``chars``) holding a secret word."""
    found: list[tuple[int, int]] = []
    last_end = -1
    for hit in _SECRET_WORD.finditer(lowered):
        if hit.start() < last_end:
            continue
        start = hit.start()
        stop = max(0, start - _MAX_NAME)
        while start > stop and text[start - 1] in chars:
            start -= 1
        end = run.match(text, hit.end()).end()
        last_end = end
        if (start == stop and start and text[start - 1] in chars) or end - start > _MAX_NAME:
            continue  # too long to be a name
        found.append((start, end))
    return found


def _assign_spans(text: str, start: int, end: int) -> list[_Span]:
    """The value of ``name=value`` (a query or fragment parameter, a form field, an env line).

    Names like ``code`` or ``sig`` count only as URL parameters (after ``?``, ``&``, ``#``, ``;``
    or their encoded forms); clearly secret names (``password``, ``api_key``) count anywhere.
    """
    tail = _ASSIGN_TAIL.match(text, end)
    if tail is None:
        return []
    before = text[start - 1] if start else ""
    if before in ("%", "\\"):
        encoded = _ENCODED_LEAD.match(text, start)
        if encoded is None or not (before == "\\") == text.startswith("u", start):
            return []
        start, lead = encoded.end(), True
    else:
        lead = before in ("?", "&", "#", ";")
    name = text[start:end]
    if not name or not (name[0].isalpha() or name[0] == "_"):
        return []
    secret = is_secret_field(name) or (lead and is_secret_param(name))
    value = tail.group("value")
    if not secret or _already_redacted(name) or _already_redacted(value):
        return []
    return [_Span(tail.start("value"), tail.end("value"), "secret", "url")]


def _protected(text: str) -> list[tuple[int, int]]:
    """Where markers already are (merged, sorted): nothing inside them is redacted again."""
    found = sorted(
        [(m.start(), m.end()) for m in _TEXT_MARK.finditer(text)]
        + [(m.start(), m.end()) for m in _URL_MARK.finditer(text)]
    )
    merged: list[tuple[int, int]] = []
    for start, end in found:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _clip(span: _Span, protected: list[tuple[int, int]], starts: list[int]) -> _Span | None:
    """``span`` without any marker already in the text: redacting stays idempotent."""
    start, end = span.start, span.end
    where = bisect.bisect_right(starts, start) - 1
    if where >= 0 and protected[where][1] > start:
        start = protected[where][1]  # starts inside a marker: keep the part after it
    following = bisect.bisect_left(starts, start)
    if following < len(starts) and starts[following] < end:
        end = starts[following]  # runs into a marker: stop before it
    if end <= start:
        return None
    return span if (start, end) == (span.start, span.end) else replace(span, start=start, end=end)


def _merge(candidates: list[tuple[_Span, int]], protected: list[tuple[int, int]]) -> list[_Span]:
    """Non-overlapping spans: overlapping candidates are united (never partly kept)."""
    starts = [start for start, _ in protected]
    clipped = []
    for span, order in candidates:
        kept_span = _clip(span, protected, starts) if protected else span
        if kept_span is not None and kept_span.end > kept_span.start:
            clipped.append((kept_span, order))
    kept: list[_Span] = []
    for span, _ in sorted(clipped, key=lambda item: (item[0].start, -item[0].end, item[1])):
        if kept and span.start < kept[-1].end:
            last = kept[-1]
            if span.end > last.end:
                kept[-1] = _Span(last.start, span.end, "secret", last.style)
            continue
        kept.append(span)
    return kept


# -- the redactor ---------------------------------------------------------------------------


class Redactor:
    """Redacts secrets in text, bytes, URLs, headers, chunked bodies, JSON-like data and tables.

    ``extra``: literal secrets to scrub wherever they appear (also percent-encoded or JSON-escaped),
    e.g. a staging password or the token held in an environment variable (see
    :func:`secrets_from_env`). Values shorter than :data:`MIN_EXTRA_LENGTH` are ignored.
    """

    def __init__(self, extra: Iterable[str] = ()) -> None:
        literals: set[str] = set()
        for secret in extra:
            if not isinstance(secret, str) or len(secret.strip()) < MIN_EXTRA_LENGTH:
                continue
            literals.update({secret, quote(secret, safe=""), json.dumps(secret)[1:-1]})
        self.extra: tuple[str, ...] = tuple(sorted(literals, key=lambda s: (-len(s), s)))
        self._extra_re = (
            re.compile("|".join(re.escape(secret) for secret in self.extra)) if self.extra else None
        )

    # -- core ---------------------------------------------------------------------------

    def _candidates(self, text: str, style: Style) -> list[tuple[_Span, int]]:
        found: list[tuple[_Span, int]] = []

        def add(spans: Iterable[_Span], order: int) -> None:
            found.extend((span, order) for span in spans)

        lowered = text.translate(_ASCII_LOWER)
        for start, end in _names(text, lowered, _NAME_CHARS, _NAME_RUN):
            name = text[start:end]
            if name[0].isdigit() or name[0] in ".-" or _already_redacted(name):
                continue
            if is_secret_field(name):
                add(self._field_spans(text, start, end, style), 0)
            add(_assign_spans(text, start, end), 2)
        for start, end in _names(text, lowered, _HEADER_CHARS, _HEADER_RUN):
            name = text[start:end]
            name_lower = name.lower()
            tail = _HEADER_TAIL.match(text, end)
            if (
                tail
                and name[0].isalpha()
                and len(name) >= 2
                and (start == 0 or text[start - 1] != "_")
                and ("-" in name_lower or name_lower in ("authorization", "cookie"))
                and not _already_redacted(name)
                and not tail.group("value").startswith("//")
                and is_secret_header(name)
            ):
                add(_header_value_spans(name, tail.group("value"), tail.start("value"), True), 1)
        for pattern, kind in ((_USERINFO, "password"), (_CURL_USER, "password")):
            for match in pattern.finditer(text):
                if not _already_redacted(match.group("secret")):
                    add([_Span(match.start("secret"), match.end("secret"), kind, "url")], 3)
        for scheme in _BEARER_LOWER.finditer(lowered):
            credential = _CREDENTIAL.match(text, scheme.end())
            if credential is None:
                continue
            end = _strip_trailing(text, credential.start(), credential.end())
            secret = text[credential.start() : end]
            if _tokenish(secret) and not _already_redacted(secret):
                add([_Span(credential.start(), end, "token", style)], 4)
        for match in _JWT.finditer(text):
            end = match.end()
            while text[end - 1] == ".":
                end -= 1
            if _is_jwt(text[match.start() : end]):
                add([_Span(match.start(), end, "jwt", style)], 5)
        for match in _SK.finditer(text):
            if _is_sk_key(match.group()):
                add([_Span(match.start(), match.end(), "sk-key", style)], 6)
        for match in _PREFIXED.finditer(text):
            add([_Span(match.start(), match.end(), "key", style)], 7)
        if self._extra_re is not None:
            for match in self._extra_re.finditer(text):
                add([_Span(match.start(), match.end(), "secret", style)], 8)
        return found

    def _field_spans(self, text: str, start: int, end: int, style: Style) -> list[_Span]:
        """The value of ``"name": "value"`` (any quotes, escaped quotes, ``:`` or ``=``)."""
        name = text[start:end]
        opening = ""
        if start and text[start - 1] in "\"'":
            first = start - 1
            while first and text[first - 1] == "\\":
                first -= 1
            opening = text[first:start]
        tail = None
        if opening and text.startswith(opening, end):
            tail = _FIELD_TAIL.match(text, end + len(opening))
        if tail is None:
            tail = _FIELD_TAIL.match(text, end)
        if tail is None:
            return []
        quote_mark = tail.group("vq")
        value_start = tail.end()
        if len(quote_mark) == 1:
            value = _PLAIN_STRING[quote_mark].match(text, value_start)
            value_end = value.end() if value else value_start
            if not text.startswith(quote_mark, value_end):
                return []
        else:
            value_end = text.find(quote_mark, value_start, value_start + 4096)
            if value_end < 0 or "\n" in text[value_start:value_end]:
                return []
        value_text = text[value_start:value_end]
        lowered = name.lower()
        if lowered in ("cookie", "set-cookie"):
            return _cookie_spans(value_text, value_start, lowered == "set-cookie", False)
        kind = "password" if any("pass" in part for part in _name_parts(name)) else "secret"
        return _value_spans(value_text, value_start, kind, style, whole=True)

    def _spans(self, text: str, style: Style) -> list[_Span]:
        if not text:
            return []
        return _merge(self._candidates(text, style), _protected(text))

    def _redact_header_parts(self, name: str, value: str) -> str:
        for _ in range(_MAX_PASSES):
            spans = _header_value_spans(name, value, 0, False)
            merged = _merge([(span, 0) for span in spans], _protected(value))
            redacted = self.redact_text(self._apply(value, merged))
            if redacted == value:
                break
            value = redacted
        return value

    @staticmethod
    def _apply(text: str, spans: Sequence[_Span]) -> str:
        out: list[str] = []
        position = 0
        for span in spans:
            out.append(text[position : span.start])
            out.append(_marker(text[span.start : span.end], span.kind, span.style))
            position = span.end
        out.append(text[position:])
        return "".join(out)

    # -- text, bytes, urls --------------------------------------------------------------

    def _redact(self, text: str, style: Style) -> str:
        # A replacement can expose a secret its neighbour hid (a URL glued to a token): repeat
        # until nothing is left, which also makes redacting twice the same as redacting once.
        for _ in range(_MAX_PASSES):
            spans = self._spans(text, style)
            if not spans:
                break
            text = self._apply(text, spans)
        return text

    def redact_text(self, text: str) -> str:
        """``text`` with every secret replaced by a marker."""
        return self._redact(text, "text")

    def redact_url(self, url: str) -> str:
        """A URL with its userinfo password, secret parameters and tokens replaced.

        The rest of the URL is left byte for byte (nothing is re-encoded) and markers use the
        URL form (``?token=REDACTED-abcd``), so the result stays a usable URL.
        """
        return self._redact(url, "url")

    def redact_chunks(self, chunks: Sequence[bytes]) -> list[bytes]:
        """Redact a body received in pieces as one text, then cut it at the same boundaries.

        Each boundary is mapped through the replacements before it; a replacement straddling a
        boundary goes wholly into the piece where it starts (the next piece shrinks, possibly to
        nothing). Bytes that are not UTF-8 are kept as they are.
        """
        parts = [bytes(chunk) for chunk in chunks]
        for _ in range(_MAX_PASSES):
            redacted = self._redact_chunks_once(parts)
            if redacted is None:
                break
            parts = redacted
        return parts

    def _redact_chunks_once(self, parts: list[bytes]) -> list[bytes] | None:
        joined = b"".join(parts)
        if not joined:
            return None
        text = joined.decode("utf-8", errors=_SURROGATE)
        spans = self._spans(text, "text")
        if not spans:
            return None
        out = bytearray()
        starts: list[int] = []
        ends: list[tuple[int, int]] = []  # (old end, new end) of each replacement
        byte_pos = 0
        char_pos = 0
        for span in spans:
            byte_start = byte_pos + len(text[char_pos : span.start].encode("utf-8", _SURROGATE))
            byte_end = byte_start + len(text[span.start : span.end].encode("utf-8", _SURROGATE))
            out += joined[byte_pos:byte_start]
            out += _marker(text[span.start : span.end], span.kind, span.style).encode("utf-8")
            starts.append(byte_start)
            ends.append((byte_end, len(out)))
            byte_pos, char_pos = byte_end, span.end
        out += joined[byte_pos:]

        def moved(boundary: int) -> int:
            where = bisect.bisect_left(starts, boundary) - 1
            if where < 0:
                return boundary
            old_end, new_end = ends[where]
            return new_end if boundary < old_end else new_end + boundary - old_end

        pieces: list[bytes] = []
        old_boundary = 0
        new_boundary = 0
        for part in parts:
            old_boundary += len(part)
            cut = moved(old_boundary) if old_boundary < len(joined) else len(out)
            pieces.append(bytes(out[new_boundary:cut]))
            new_boundary = cut
        return pieces

    def redact_bytes(self, data: bytes) -> bytes:
        """:meth:`redact_text` over bytes; bytes that are not UTF-8 are kept as they are."""
        return self.redact_chunks([data])[0]

    # -- headers ------------------------------------------------------------------------

    def redact_header_value(self, name: str, value: str) -> str:
        """A credential header's value with the secret replaced.

        The auth scheme (``Bearer``, ``Basic``...), cookie names and ``Set-Cookie`` attributes
        are kept. A header that is not a credential only has token-shaped strings replaced.
        """
        if not is_secret_header(name):
            return self._ordinary_header(name, value)
        return self._redact_header_parts(name, value)

    def _ordinary_header(self, name: str, value: str) -> str:
        if name.strip().lower() in _URL_HEADERS:
            return self.redact_url(value)
        return self.redact_text(value)

    def redact_headers(
        self, headers: Iterable[tuple[str, str]] | Mapping[str, str]
    ) -> list[tuple[str, str]]:
        """Headers (pairs or a mapping) with credential values and token-shaped strings redacted."""
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        return [(name, self.redact_header_value(name, value)) for name, value in pairs]

    # -- structured data ----------------------------------------------------------------

    def redact_obj(self, value: Any) -> Any:
        """A redacted copy of JSON-like data (dicts, lists, tuples, strings, bytes).

        Strings are redacted as text (as URLs when they are one); values under a secret-named key
        (``password``, ``api_key``, ``Authorization``...) are redacted whole; dict keys, numbers,
        booleans and ``None`` are kept. DataFrames and Series inside are redacted too.
        """
        return self._obj(value, None)

    def _secret_key(self, key: Any) -> bool:
        if not isinstance(key, str):
            return False
        return is_secret_field(key) or (
            "-" in key and " " not in key.strip() and is_secret_header(key)
        )

    def _string(self, value: str) -> str:
        if _URL_LIKE.fullmatch(value):
            return self.redact_url(value)
        return self.redact_text(value)

    def _obj(self, value: Any, key: Any) -> Any:
        secret = self._secret_key(key)
        if isinstance(value, str):
            if secret:
                return self._redact_header_parts(key, value)
            return self._string(value)
        if isinstance(value, bytes | bytearray):
            return self.redact_bytes(bytes(value))
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int):
            return redact_token(str(value)) if secret else value
        if isinstance(value, Mapping):
            return {
                (self._string(k) if isinstance(k, str) else k): self._obj(v, k)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            if (
                len(value) == 2
                and all(isinstance(item, str) for item in value)
                and is_secret_header(value[0])
                and " " not in value[0].strip()
            ):
                items = [value[0], self.redact_header_value(value[0], value[1])]
            else:
                items = [self._obj(item, key) for item in value]
            if isinstance(value, list):
                return items
            return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
        if isinstance(value, set | frozenset):
            return type(value)(self._obj(item, key) for item in value)
        return self._pandas(value, key)

    def _pandas(self, value: Any, key: Any) -> Any:
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - pandas is a dependency
            return value
        if isinstance(value, pd.DataFrame):
            return self.redact_dataframe(value)
        if isinstance(value, pd.Series):
            return self._series(value, key)
        return value

    def _series(self, series: pd.Series, key: Any) -> pd.Series:
        import pandas as pd

        dtype = series.dtype
        if not (
            pd.api.types.is_object_dtype(dtype)
            or pd.api.types.is_string_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype)
        ):
            return series.copy()
        if isinstance(dtype, pd.CategoricalDtype):
            return series.map(lambda item: self._obj(item, key))
        values = [
            self._obj(item, key if self._secret_key(key) else label)
            for label, item in series.items()
        ]
        return pd.Series(values, index=series.index, name=series.name, dtype=dtype)

    def redact_dataframe(self, df: pd.DataFrame) -> pd.DataFrame:
        """A copy of ``df`` with every string cell redacted (index and columns kept).

        A column named like a secret (``password``, ``Authorization``...) is redacted whole, and
        in a headers table (``name``/``header`` and ``value`` columns) the values of credential
        headers are redacted as headers.
        """
        import pandas as pd

        if df.shape[1] == 0:
            return df.copy()
        columns = [self._series(df.iloc[:, i], df.columns[i]) for i in range(df.shape[1])]
        out = pd.concat(columns, axis=1)
        out.columns = df.columns
        lowered = {str(c).lower(): i for i, c in enumerate(df.columns)}
        name_at = lowered.get("name", lowered.get("header"))
        value_at = lowered.get("value")
        if name_at is not None and value_at is not None:
            for row in range(len(df)):
                name, value = df.iat[row, name_at], df.iat[row, value_at]
                if isinstance(name, str) and isinstance(value, str) and is_secret_header(name):
                    out.iat[row, value_at] = self.redact_header_value(name, value)
        return out

    # -- captures -----------------------------------------------------------------------

    def redact_capture(self, capture: Capture) -> Capture:
        """A copy of ``capture`` safe to save: URL, headers, bodies, notes, meta all redacted.

        The response body is redacted as a whole and cut again at the original chunk boundaries
        (see :meth:`redact_chunks`): chunk count, indices and arrival offsets are kept; a chunk's
        bytes may change length.
        """
        from chatkit_lab.capture._model import Chunk

        request = replace(
            capture.request,
            url=self.redact_url(capture.request.url),
            headers=self.redact_headers(capture.request.headers),
            body=self.redact_bytes(capture.request.body),
        )
        bodies = self.redact_chunks([chunk.data for chunk in capture.chunks])
        chunks = [
            Chunk(chunk.index, chunk.offset_ns, data)
            for chunk, data in zip(capture.chunks, bodies, strict=True)
        ]
        return replace(
            capture,
            request=request,
            response_headers=self.redact_headers(capture.response_headers),
            chunks=chunks,
            ending=replace(capture.ending, message=self.redact_text(capture.ending.message)),
            label=self.redact_text(capture.label),
            target=self._string(capture.target),
            notes=[self.redact_text(note) for note in capture.notes],
            meta=self.redact_obj(capture.meta),
        )


# -- module-level helpers -------------------------------------------------------------------

_registered: list[str] = []
_default = Redactor()


def register_secrets(values: Iterable[str]) -> None:
    """Scrub these literal secrets everywhere in this process from now on.

    They join every module-level redaction, including the one :func:`save_captures` applies.
    Values shorter than :data:`MIN_EXTRA_LENGTH` are ignored.
    """
    global _default
    _registered.extend(value for value in values if isinstance(value, str))
    _default = Redactor(_registered)


def clear_registered_secrets() -> None:
    """Forget the secrets given to :func:`register_secrets`."""
    global _default
    _registered.clear()
    _default = Redactor()


def secrets_from_env(
    names: Iterable[str] | str, environ: Mapping[str, str] | None = None
) -> list[str]:
    """The values of the named environment variables that are set and not blank.

    Pass them as ``extra=`` (or to :func:`register_secrets`) to scrub, say, the staging token the
    kit was given through ``CHATKIT_TOKEN`` wherever it shows up.
    """
    source = os.environ if environ is None else environ
    wanted = [names] if isinstance(names, str) else list(names)
    return [source[name] for name in wanted if source.get(name, "").strip()]


def _redactor(extra: Iterable[str]) -> Redactor:
    extra = list(extra)
    return Redactor([*_registered, *extra]) if extra else _default


def redact_text(text: str, *, extra: Iterable[str] = ()) -> str:
    """``text`` with every secret replaced by a marker (see the module docstring)."""
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
    """A redacted copy of JSON-like data, for reports and notebook outputs."""
    return _redactor(extra).redact_obj(value)


def redact_dataframe(df: pd.DataFrame, *, extra: Iterable[str] = ()) -> pd.DataFrame:
    """A copy of ``df`` with every string cell redacted."""
    return _redactor(extra).redact_dataframe(df)


def redact_capture(capture: Capture, *, extra: Iterable[str] = ()) -> Capture:
    """A copy of ``capture`` safe to save (see :meth:`Redactor.redact_capture`)."""
    return _redactor(extra).redact_capture(capture)
