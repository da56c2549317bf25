"""Literal secrets: the values a user supplied, found in every form they take, and in pieces.

A literal secret is looked for as it was given, percent-encoded (``quote`` and ``quote_plus``),
JSON-escaped (also with ``\\/``), and, when it is token-like, in pieces: a piece is the start or
the end of the secret standing on its own (nothing glued to it on either side), as left by a
text cut before it was redacted (``ghp_abc…``) or by a stream that sent the secret in two deltas
(``"delta":"ghp_abc"`` then ``"delta":"def…"``). Pieces shorter than :data:`MIN_PIECE`
characters are left as they are.

Literals are found with :meth:`str.find`, not one regular expression alternating between them
(whose cost grows with the number of secrets at every position); with many secrets, only those
whose first and last characters occur in the text are looked for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from urllib.parse import quote, quote_plus

from chatkit_lab.redact._shapes import tokenish

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
