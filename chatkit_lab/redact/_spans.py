"""Spans: where the secrets in a text are, found by name, by shape and by literal value.

Names (``"api_key": "..."``, ``Authorization: ...``, ``?token=...``) point at the value after
them; shapes (JWTs, ``sk-`` keys, ``Bearer`` credentials, URL userinfo) are found anywhere; the
literal secrets a user gave are found wherever they appear. Overlapping candidates are united,
and nothing inside a marker already in the text is redacted again.

A literal secret is looked for as it was given, percent-encoded (``quote`` and ``quote_plus``),
JSON-escaped (also with ``\\/``), and, when it is token-like, in pieces: a piece is the start or
the end of the secret standing on its own (nothing glued to it on either side), as left by a
text cut before it was redacted (``ghp_abc…``) or by a stream that sent the secret in two deltas
(``"delta":"ghp_abc"`` then ``"delta":"def…"``). Pieces shorter than :data:`MIN_PIECE`
characters are left as they are. Literals are found with :meth:`str.find`, not one regular
expression alternating between them (whose cost grows with the number of secrets at every
position); with many secrets, only those whose first and last characters occur in the text are
looked for.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from urllib.parse import quote, quote_plus

from chatkit_lab.redact._names import (
    AUTH_SCHEMES,
    CREDENTIAL_HEADERS,
    is_secret_field,
    is_secret_header,
    is_secret_param,
    name_parts,
)
from chatkit_lab.redact._shapes import (
    JWT,
    SK,
    TEXT_MARK,
    URL_MARK,
    Style,
    already_redacted,
    is_jwt,
    is_sk_key,
    not_a_secret,
    prefixed_spans,
    tokenish,
    truncated_spans,
)

MIN_PIECE = 6
"""The shortest start or end of a secret redacted on its own."""
MAX_PIECE_SECRET = 4096
"""Secrets longer than this are looked for whole only (pieces of them are not)."""
_INDEX_FROM = 48
"""From this many strings to look for, a text is first cut into windows (see :meth:`find`)."""
_INDEX_TEXT_MAX = 65_536
"""Longer texts are searched for every secret (their windows would cost more than that)."""
_GLUED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+/=-")
"""Characters that would make a piece part of a longer word rather than a piece standing alone."""


class Password(str):
    """A literal secret that is a password (or holds one): its marker keeps no tail."""

    __slots__ = ()


def literal_forms(secret: str) -> set[str]:
    """``secret`` as given, percent-encoded and JSON-escaped."""
    escaped = json.dumps(secret)[1:-1]
    return {
        secret,
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        escaped,
        escaped.replace("/", "\\/"),
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }


def _index(forms: Iterable[str], anchor: Callable[[str], str]) -> dict[str, list[str]]:
    index: dict[str, list[str]] = {}
    for form in forms:
        index.setdefault(anchor(form), []).append(form)
    return index


def _lookup(index: dict[str, list[str]], windows: set[str]) -> list[str]:
    return [form for window in windows & index.keys() for form in index[window]]


def _occurrences(text: str, needle: str) -> Iterator[int]:
    start = text.find(needle)
    while start >= 0:
        yield start
        start = text.find(needle, start + 1)


def _alone(text: str, start: int, end: int) -> bool:
    return (start == 0 or text[start - 1] not in _GLUED) and (
        end == len(text) or text[end] not in _GLUED
    )


class Literals:
    """Where a set of literal secrets (and pieces of them) are in a text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        forms: set[str] = set()
        pieces: set[str] = set()
        passwords: set[str] = set()
        for secret in secrets:
            these = literal_forms(secret)
            forms |= these
            if isinstance(secret, Password):
                passwords |= these
            if (
                tokenish(secret)
                and " " not in secret.strip()
                and len(secret) > MIN_PIECE
                and len(secret) <= MAX_PIECE_SECRET
            ):
                pieces |= these
        self.forms: tuple[str, ...] = tuple(sorted(forms, key=lambda s: (-len(s), s)))
        self._passwords = frozenset(passwords)
        self._pieces = tuple(sorted(p for p in pieces if len(p) > MIN_PIECE))
        self._indexed = len(self.forms) + 2 * len(self._pieces) > _INDEX_FROM
        self._starts = _index(self.forms, lambda form: form[:MIN_PIECE])
        self._piece_starts = _index(self._pieces, lambda form: form[:MIN_PIECE])
        self._piece_ends = _index(self._pieces, lambda form: form[-MIN_PIECE:])

    def __bool__(self) -> bool:
        return bool(self.forms)

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """``(start, end, kind)`` of every occurrence (they may overlap): ``secret``,
        ``password``, or ``part`` for a piece.

        With many secrets, a text of moderate size is first cut into its 6-character windows
        and only the secrets that start and end with one of them (a piece: that starts or ends
        with one) are looked for.
        """
        forms: Iterable[str] = self.forms
        heads: Iterable[str] = self._pieces
        tails: Iterable[str] = self._pieces
        if self._indexed and len(text) <= _INDEX_TEXT_MAX:
            windows = {text[i : i + MIN_PIECE] for i in range(len(text) - MIN_PIECE + 1)}
            forms = [f for f in _lookup(self._starts, windows) if f[-MIN_PIECE:] in windows]
            heads = _lookup(self._piece_starts, windows)
            tails = _lookup(self._piece_ends, windows)
        found: list[tuple[int, int, str]] = []
        find = text.find
        for form in forms:
            start = find(form)
            while start >= 0:
                kind = "password" if form in self._passwords else "secret"
                found.append((start, start + len(form), kind))
                start = find(form, start + 1)
        for form in heads:
            if form[:MIN_PIECE] in text:
                found.extend(self._heads(text, form))
        for form in tails:
            if form[-MIN_PIECE:] in text:
                found.extend(self._tails(text, form))
        return found

    @staticmethod
    def _heads(text: str, form: str) -> Iterator[tuple[int, int, str]]:
        """The start of ``form`` standing alone (cut after at least :data:`MIN_PIECE` chars)."""
        for start in _occurrences(text, form[:MIN_PIECE]):
            if start and text[start - 1] in _GLUED:
                continue
            length = MIN_PIECE
            limit = min(len(form), len(text) - start)
            while length < limit and text[start + length] == form[length]:
                length += 1
            if length < len(form) and _alone(text, start, start + length):
                yield start, start + length, "part"

    @staticmethod
    def _tails(text: str, form: str) -> Iterator[tuple[int, int, str]]:
        """The end of ``form`` standing alone (at least :data:`MIN_PIECE` chars of it)."""
        for start in _occurrences(text, form[-MIN_PIECE:]):
            end = start + MIN_PIECE
            if end < len(text) and text[end] in _GLUED:
                continue
            length = MIN_PIECE
            limit = min(len(form), end)
            while length < limit and text[end - length - 1] == form[-length - 1]:
                length += 1
            if length < len(form) and _alone(text, end - length, end):
                yield end - length, end, "part"


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
_TRAILING_PUNCTUATION = ".,;:)"


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str
    style: Style


def _strip_trailing(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1] in _TRAILING_PUNCTUATION:
        end -= 1
    return end


def _value_spans(value: str, offset: int, kind: str, style: Style, whole: bool) -> list[Span]:
    """The secret part of a credential value: after a known auth scheme, else all of it.

    ``whole=False`` (a header quoted in text) takes one word only, so the prose after it stays.
    """
    stripped = value.strip()
    if not_a_secret(stripped) or stripped.lower() in AUTH_SCHEMES:
        return []
    lead = len(value) - len(value.lstrip())
    start = offset + lead
    scheme = _SCHEME_VALUE.fullmatch(stripped)
    if scheme and scheme.group("scheme").lower() in AUTH_SCHEMES:
        start += scheme.start("rest")
        stripped = scheme.group("rest")
        kind = "token"
    if whole:
        end = len(stripped)
    else:
        word = _FIRST_WORD.match(stripped)
        end = _strip_trailing(stripped, 0, word.end()) if word else 0
    if not_a_secret(stripped[:end]):
        return []
    return [Span(start, start + end, kind, style)]


def _cookie_spans(value: str, offset: int, set_cookie: bool, in_text: bool) -> list[Span]:
    if not in_text and "=" not in value:
        return _value_spans(value, offset, "cookie", "text", whole=True)
    pattern = _COOKIE_PAIR_TEXT if in_text else _COOKIE_PAIR_HEADER
    masked = value
    for start, end in marker_ranges(value):  # an ``alg=`` inside a marker is not a cookie
        masked = masked[:start] + "#" * (end - start) + masked[end:]
    lead = len(masked) - len(masked.lstrip())
    # Set-Cookie: only the pair it opens with is the cookie; the rest are attributes.
    pairs = [pattern.match(masked, lead)] if set_cookie else pattern.finditer(masked)
    spans = []
    for pair in pairs:
        if pair is None:
            continue
        secret = value[pair.start("value") : pair.end("value")].rstrip()
        if not not_a_secret(secret):
            start = offset + pair.start("value")
            spans.append(Span(start, start + len(secret), "cookie", "text"))
    return spans


def header_value_spans(name: str, value: str, offset: int, in_text: bool) -> list[Span]:
    """The secret in a header's value; ``in_text``: a header quoted in running text.

    In running text only the first word can be the value, and, for a name that merely looks
    like a credential header (``legacy-auth``, ``x-session-note``), only a word shaped like a
    credential (after an auth scheme, or :func:`tokenish`): prose such as ``legacy-auth: first
    broken layer`` is no header line. The credential headers themselves (``Authorization``,
    ``Cookie``, ``X-Api-Key``...) keep their first word whatever it looks like.
    """
    lowered = name.strip().lower()
    if lowered in ("cookie", "set-cookie"):
        return _cookie_spans(value, offset, lowered == "set-cookie", in_text)
    spans = _value_spans(value, offset, "secret", "text", whole=not in_text)
    if not in_text or lowered in CREDENTIAL_HEADERS:
        return spans
    return [
        span
        for span in spans
        if span.kind == "token" or tokenish(value[span.start - offset : span.end - offset])
    ]


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


def _assign_spans(text: str, start: int, end: int) -> list[Span]:
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
    if not secret or already_redacted(name) or already_redacted(value):
        return []
    return [Span(tail.start("value"), tail.end("value"), "secret", "url")]


def marker_ranges(text: str) -> list[tuple[int, int]]:
    """Where markers already are (merged, sorted): nothing inside them is redacted again."""
    found = sorted(
        [(m.start(), m.end()) for m in TEXT_MARK.finditer(text)]
        + [(m.start(), m.end()) for m in URL_MARK.finditer(text)]
    )
    merged: list[tuple[int, int]] = []
    for start, end in found:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _clip(span: Span, protected: list[tuple[int, int]], starts: list[int]) -> Span | None:
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


def merge(candidates: list[tuple[Span, int]], protected: list[tuple[int, int]]) -> list[Span]:
    """Non-overlapping spans: overlapping candidates are united (never partly kept)."""
    starts = [start for start, _ in protected]
    clipped = []
    for span, order in candidates:
        kept_span = _clip(span, protected, starts) if protected else span
        if kept_span is not None and kept_span.end > kept_span.start:
            clipped.append((kept_span, order))
    kept: list[Span] = []
    for span, _ in sorted(clipped, key=lambda item: (item[0].start, -item[0].end, item[1])):
        if kept and span.start < kept[-1].end:
            last = kept[-1]
            if span.end > last.end:
                kept[-1] = Span(last.start, span.end, "secret", last.style)
            continue
        kept.append(span)
    return kept


def _candidates(text: str, style: Style, literals: Literals | None) -> list[tuple[Span, int]]:
    found: list[tuple[Span, int]] = []

    def add(spans: Iterable[Span], order: int) -> None:
        found.extend((span, order) for span in spans)

    lowered = text.translate(_ASCII_LOWER)
    for start, end in _names(text, lowered, _NAME_CHARS, _NAME_RUN):
        name = text[start:end]
        if name[0].isdigit() or name[0] in ".-" or already_redacted(name):
            continue
        if is_secret_field(name):
            add(_field_spans(text, start, end, style), 0)
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
            and not already_redacted(name)
            and not tail.group("value").startswith("//")
            and is_secret_header(name)
        ):
            add(header_value_spans(name, tail.group("value"), tail.start("value"), True), 1)
    for pattern, kind in ((_USERINFO, "password"), (_CURL_USER, "password")):
        for match in pattern.finditer(text):
            if not already_redacted(match.group("secret")):
                add([Span(match.start("secret"), match.end("secret"), kind, "url")], 3)
    for scheme in _BEARER_LOWER.finditer(lowered):
        credential = _CREDENTIAL.match(text, scheme.end())
        if credential is None:
            continue
        end = _strip_trailing(text, credential.start(), credential.end())
        secret = text[credential.start() : end]
        if tokenish(secret) and not already_redacted(secret):
            add([Span(credential.start(), end, "token", style)], 4)
    for match in JWT.finditer(text):
        end = match.end()
        while text[end - 1] == ".":
            end -= 1
        if is_jwt(text[match.start() : end]):
            add([Span(match.start(), end, "jwt", style)], 5)
    for match in SK.finditer(text):
        if is_sk_key(match.group()):
            add([Span(match.start(), match.end(), "sk-key", style)], 6)
    add((Span(start, end, "key", style) for start, end in prefixed_spans(text)), 7)
    add((Span(start, end, "part", style) for start, end in truncated_spans(text)), 8)
    if literals:
        for start, end, kind in literals.find(text):
            add([Span(start, end, kind, style)], 9)
    return found


def _field_spans(text: str, start: int, end: int, style: Style) -> list[Span]:
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
    kind = "password" if any("pass" in part for part in name_parts(name)) else "secret"
    return _value_spans(value_text, value_start, kind, style, whole=True)


def find_spans(text: str, style: Style, literals: Literals | None) -> list[Span]:
    """Where the secrets in ``text`` are: sorted, non-overlapping, never inside a marker."""
    if not text:
        return []
    return merge(_candidates(text, style, literals), marker_ranges(text))
