"""Token shapes and markers: what a secret looks like, and what it is replaced with.

A redacted value keeps what tells tokens apart and nothing else: its last four characters (for
values of twelve characters or more, never for passwords) and, for a JWT, the header's ``alg``.

Prefixed key formats are tokens whose first characters say what they are (``ghp_``,
``xoxb-``): a scan only runs the families whose prefix is in the text (a substring test costs
next to nothing), so a long body without any of them is not searched letter by letter. A prefix
counts when nothing glues it to the text before (``/`` does not glue: ``/cb/ghp_.../x`` holds a
token).

:func:`shorten` is the kit's one text shortener, for excerpts and table cells. Shorten only
text that is already redacted: a cut applied to raw text can split a token so that the piece
left no longer looks like one. The cut never falls inside a redaction marker, so a shortened
excerpt still says what was removed.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from functools import lru_cache
from typing import Literal
from urllib.parse import quote

from chatkit_lab.redact._names import PLACEHOLDERS

_B = r"[A-Za-z0-9_+-]"
"""A character that glues a prefix to the text before or after it."""
GLUE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+-")

_FAMILIES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("gh",), rf"gh(?<!{_B}gh)[pousr]_[A-Za-z0-9]{{30,}}"),
    (("github_pat_",), rf"github_pat_(?<!{_B}github_pat_)[A-Za-z0-9_]{{30,}}"),
    (("xox", "xapp-"), rf"x(?<!{_B}x)(?:ox[abposr]-[A-Za-z0-9-]{{10,}}|app-[A-Za-z0-9-]{{20,}})"),
    (("AKIA", "ASIA", "AIza"), rf"A(?<!{_B}A)(?:(?:KIA|SIA)[0-9A-Z]{{16}}|Iza[0-9A-Za-z_-]{{35}})"),
    (("glpat-",), rf"glpat-(?<!{_B}glpat-)[0-9A-Za-z_-]{{20,}}"),
    (("npm_",), rf"npm_(?<!{_B}npm_)[A-Za-z0-9]{{36}}"),
    (("hf_",), rf"hf_(?<!{_B}hf_)[A-Za-z0-9]{{30,}}"),
    (("k_live_", "k_test_"), rf"[sr]k_(?<!{_B}[sr]k_)(?:live|test)_[0-9A-Za-z]{{16,}}"),
    (("pypi-",), rf"pypi-(?<!{_B}pypi-)AgE[A-Za-z0-9_-]{{50,}}"),
)
_END = rf"(?!{_B})"

PREFIXED = re.compile("(?:" + "|".join(pattern for _, pattern in _FAMILIES) + ")" + _END)
"""Well-known prefixed key formats: GitHub (``ghp_``, ``gho_``, ``ghu_``, ``ghs_``, ``ghr_``,
``github_pat_``), Slack (``xoxb-``, ``xoxp-``, ``xoxa-``, ``xoxs-``, ``xapp-``), AWS access key
ids (``AKIA``, ``ASIA``), Google (``AIza``), GitLab (``glpat-``), npm (``npm_``), Hugging Face
(``hf_``), Stripe (``sk_live_``, ``rk_test_``...) and PyPI (``pypi-``). ``sk-`` keys (OpenAI's
``sk-proj-``, Anthropic's ``sk-ant-``) are found by their own pattern."""

_TRUNCATED = re.compile(
    r"(?:gh[pousr]_|github_pat_|xox[abposr]-|xapp-|AKIA|ASIA|AIza|glpat-|npm_|hf_"
    r"|[sr]k_(?:live|test)_|pypi-|sk-|eyJ)[A-Za-z0-9_-]{4,}"
)
_ELLIPSIS = re.compile(r"…|\.\.\.")
_RUN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_MAX_RUN = 4096


@lru_cache(maxsize=64)
def _scanner(families: tuple[int, ...]) -> re.Pattern[str]:
    return re.compile("(?:" + "|".join(_FAMILIES[i][1] for i in families) + ")" + _END)


def prefixed_spans(text: str) -> list[tuple[int, int]]:
    """Where the prefixed tokens in ``text`` are."""
    present = tuple(
        number
        for number, (needles, _) in enumerate(_FAMILIES)
        if any(needle in text for needle in needles)
    )
    if not present:
        return []
    return [(found.start(), found.end()) for found in _scanner(present).finditer(text)]


def truncated_spans(text: str) -> list[tuple[int, int]]:
    """The start of a shaped token cut off right before an ellipsis (``ghp_abc…``).

    What is left of a token that a text was shortened through before it was redacted; it counts
    when nothing glues it to the text before it.
    """
    if "…" not in text and "..." not in text:
        return []
    found = []
    for ellipsis in _ELLIPSIS.finditer(text):
        end = ellipsis.start()
        start = end
        while start > 0 and end - start < _MAX_RUN and text[start - 1] in _RUN:
            start -= 1
        if end - start < 7 or (start and text[start - 1] in GLUE):
            continue
        if _TRUNCATED.fullmatch(text, start, end):
            found.append((start, end))
    return found


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


ELLIPSIS = "…"
_LONGEST_MARK = 128
"""Markers are shorter than this (``[REDACTED `` + at most 80 characters + ``]``)."""


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in ``…`` when it was cut.

    A marker (``[REDACTED jwt alg=HS256 …abcd]``, ``REDACTED-jwt-HS256-abcd``) that would be cut
    is left out whole instead.
    """
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    cut = limit - len(ELLIPSIS)
    window = max(0, cut - _LONGEST_MARK)
    for pattern in (TEXT_MARK, URL_MARK):
        for found in pattern.finditer(text, window, cut + _LONGEST_MARK):
            if found.start() < cut < found.end():
                cut = found.start()
    return text[:cut] + ELLIPSIS
