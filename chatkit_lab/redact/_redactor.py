"""The redactor: one object that holds a run's literal secrets and redacts every kind of value.

Text, URLs, bytes, bodies received in pieces, headers, JSON-like data, dataclasses and the
columns of a table all go through the same spans (:mod:`chatkit_lab.redact._spans`). A
:class:`Redactor` is immutable: :meth:`Redactor.with_secrets` gives a new one holding more
secrets, so a redactor handed to one run never changes under another.

The chunk-boundary engine: a body is redacted as a whole, so a token split across two chunks
is still found, and cut again at the original boundaries, mapped through the replacements: a
replacement straddling a boundary goes wholly into the piece where it starts (the next piece
shrinks, possibly to nothing). Piece count is kept; bytes that are not UTF-8 are kept as they
are.

Secrets a stream sent in pieces: a streamed reply arrives as deltas, each in its own event
(``"delta":"ghp_abc"`` then ``"delta":"def…"``), so no single event, excerpt or table cell
holds the whole token. Before redacting a body, a JSON-like object or a table, the redactor
joins the ``delta`` string values it holds, in order, looks for secrets in the joined text, and
learns those that span two deltas or more: as literal secrets, whose pieces are then redacted
wherever they stand alone.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from chatkit_lab.redact._names import URL_HEADERS, is_secret_field, is_secret_header
from chatkit_lab.redact._shapes import Style, already_redacted, marker, redact_token
from chatkit_lab.redact._spans import (
    Literals,
    Span,
    find_spans,
    header_value_spans,
    marker_ranges,
    merge,
)

_DELTA = re.compile(r'"(?:[A-Za-z]+_)?delta"[ \t]*:[ \t]*"((?:[^"\\\r\n]|\\.){1,65536})"')
"""A JSON ``delta`` field (``delta``, ``text_delta``...) holding a string."""
_WORD = "delta"
_MAX_TEXTS = 100_000
"""The most strings of one object looked at (the rest is redacted, not learned from)."""


def split_secrets(text: str, spans_of: Callable[[str], list[Span]]) -> list[str]:
    """The secrets that span two ``delta`` values or more in ``text`` (each once, in order)."""
    if _WORD not in text:
        return []
    values: list[str] = _DELTA.findall(text)
    if len(values) < 2:
        return []
    ends: list[int] = []
    total = 0
    for value in values:
        total += len(value)
        ends.append(total)
    joined = "".join(values)
    found: dict[str, None] = {}
    for span in spans_of(joined):
        if span.kind == "part":
            continue
        first = bisect.bisect_right(ends, span.start)
        if first < len(ends) and ends[first] < span.end:  # it runs past the end of a delta
            found.setdefault(joined[span.start : span.end].strip())
    return [value for value in found if value]


def texts_in(value: Any) -> Iterator[str]:
    """The strings inside JSON-like data and dataclasses that mention deltas."""
    stack = [value]
    seen = 0
    while stack and seen < _MAX_TEXTS:
        item = stack.pop()
        seen += 1
        if isinstance(item, str):
            if _WORD in item:
                yield item
        elif isinstance(item, bytes | bytearray):
            if _WORD.encode() in item:
                yield bytes(item).decode("utf-8", "replace")
        elif isinstance(item, Mapping):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(reversed(list(item)))
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            stack.extend(reversed([getattr(item, f.name, None) for f in dataclasses.fields(item)]))


def _text(cell: Any) -> bool:
    return isinstance(cell, str | bytes)


SURROGATE = "surrogateescape"
"""How bodies are decoded for redaction: bytes that are not UTF-8 survive the round trip."""


def apply_spans(text: str, spans: Sequence[Span]) -> str:
    """``text`` with each span (sorted, non-overlapping) replaced by its marker."""
    out: list[str] = []
    position = 0
    for span in spans:
        out.append(text[position : span.start])
        out.append(marker(text[span.start : span.end], span.kind, span.style))
        position = span.end
    out.append(text[position:])
    return "".join(out)


def redact_pieces_once(
    parts: list[bytes], spans_of: Callable[[str], list[Span]]
) -> list[bytes] | None:
    """One pass over the joined pieces; ``None`` when there was nothing to replace."""
    joined = b"".join(parts)
    if not joined:
        return None
    text = joined.decode("utf-8", errors=SURROGATE)
    spans = spans_of(text)
    if not spans:
        return None
    out = bytearray()
    starts: list[int] = []
    ends: list[tuple[int, int]] = []  # (old end, new end) of each replacement
    byte_pos = 0
    char_pos = 0
    for span in spans:
        byte_start = byte_pos + len(text[char_pos : span.start].encode("utf-8", SURROGATE))
        byte_end = byte_start + len(text[span.start : span.end].encode("utf-8", SURROGATE))
        out += joined[byte_pos:byte_start]
        out += marker(text[span.start : span.end], span.kind, span.style).encode("utf-8")
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


MIN_EXTRA_LENGTH = 6
"""Literal secrets shorter than this are ignored: they would match ordinary text."""
MAX_SECRETS = 256
"""The most literal secrets one redactor holds (a hostile HAR could carry thousands)."""

_MAX_PASSES = 4
_URL_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


class Redactor:
    """Redacts secrets in text, bytes, URLs, headers, chunked bodies, JSON-like data and tables.

    ``extra``: literal secrets to scrub wherever they appear (also percent-encoded or JSON-escaped),
    e.g. a staging password or the token held in an environment variable (see
    :func:`secrets_from_env`). Values shorter than :data:`MIN_EXTRA_LENGTH` are ignored.
    """

    def __init__(self, extra: Iterable[str] = ()) -> None:
        given: dict[str, None] = {}
        for secret in extra:
            if len(given) >= MAX_SECRETS:
                break
            if isinstance(secret, str) and len(secret.strip()) >= MIN_EXTRA_LENGTH:
                given.setdefault(secret)
        self._given: tuple[str, ...] = tuple(given)
        self._known = frozenset(given)
        self._literals = Literals(self._given)
        self.extra: tuple[str, ...] = self._literals.forms
        """Every form looked for: the secrets as given, percent-encoded and JSON-escaped."""

    def __repr__(self) -> str:  # never the secrets themselves
        return f"<Redactor with {len(self._given)} literal secret(s)>"

    @property
    def secrets(self) -> tuple[str, ...]:
        """The literal secrets this redactor scrubs, as they were given."""
        return self._given

    def with_secrets(self, values: Iterable[str]) -> Redactor:
        """A redactor scrubbing these literal secrets too (``self`` when none of them is new).

        A redactor holds at most :data:`MAX_SECRETS` literal secrets (every redaction looks for
        each of them): past that, new ones are ignored.
        """
        new = [
            value
            for value in values
            if isinstance(value, str)
            and len(value.strip()) >= MIN_EXTRA_LENGTH
            and value not in self._known
        ]
        if not new or len(self._given) >= MAX_SECRETS:
            return self
        return Redactor([*self._given, *new])

    def secrets_in(self, text: str) -> list[str]:
        """The secrets found in ``text`` (by shape, by name or given), each once, in order.

        Register them (:meth:`with_secrets`) to redact the pieces of a secret that a text was
        built from: a token a stream sent in two deltas is whole only in the joined text, and
        once known, each delta's excerpt loses its piece of it.
        """
        found: dict[str, None] = {}
        for span in self._spans(text, "text"):
            value = text[span.start : span.end].strip()
            if span.kind != "part" and not already_redacted(value):
                found.setdefault(value)
        return list(found)

    def learned(self, text: str) -> Redactor:
        """A redactor that also knows the secrets ``text``'s deltas hold between them.

        A token a stream sent in two deltas is whole only once they are joined: the secrets that
        span two ``delta`` values of ``text`` are added (``self`` when there are none), so each
        piece is redacted where it stands alone. Bodies, JSON-like data and tables are redacted
        this way by themselves; call it to redact separate excerpts of one stream alike.
        """
        return self.with_secrets(split_secrets(text, lambda joined: self._spans(joined, "text")))

    # -- text, bytes, urls --------------------------------------------------------------

    def _spans(self, text: str, style: Style) -> list[Span]:
        return find_spans(text, style, self._literals)

    def _redact(self, text: str, style: Style) -> str:
        scrub = self.learned(text)
        # A replacement can expose a secret its neighbour hid (a URL glued to a token): repeat
        # until nothing is left, which also makes redacting twice the same as redacting once.
        for _ in range(_MAX_PASSES):
            spans = scrub._spans(text, style)
            if not spans:
                break
            text = apply_spans(text, spans)
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

    def redact_string(self, value: str) -> str:
        """A string redacted as a URL when it is one (markers stay URL-safe), else as text."""
        if _URL_LIKE.fullmatch(value):
            return self.redact_url(value)
        return self.redact_text(value)

    def redact_chunks(self, chunks: Sequence[bytes]) -> list[bytes]:
        """Redact a body received in pieces as one text, then cut it at the same boundaries.

        Each boundary is mapped through the replacements before it; a replacement straddling a
        boundary goes wholly into the piece where it starts (the next piece shrinks, possibly to
        nothing). Bytes that are not UTF-8 are kept as they are.
        """
        parts = [bytes(chunk) for chunk in chunks]
        scrub = self.learned(b"".join(parts).decode("utf-8", errors=SURROGATE))
        for _ in range(_MAX_PASSES):
            redacted = redact_pieces_once(parts, lambda text: scrub._spans(text, "text"))
            if redacted is None:
                break
            parts = redacted
        return parts

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
        if name.strip().lower() in URL_HEADERS:
            return self.redact_url(value)
        return self.redact_text(value)

    def _redact_header_parts(self, name: str, value: str) -> str:
        for _ in range(_MAX_PASSES):
            spans = header_value_spans(name, value, 0, False)
            merged = merge([(span, 0) for span in spans], marker_ranges(value))
            redacted = self.redact_text(apply_spans(value, merged))
            if redacted == value:
                break
            value = redacted
        return value

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
        booleans and ``None`` are kept. Dataclass instances are redacted too (a copy with every
        field redacted, a field's name acting as its key).
        A secret split across the ``delta`` strings it holds is redacted piece by piece.
        """
        return self.learned("\n".join(texts_in(value)))._obj(value, None)

    def _secret_key(self, key: Any) -> bool:
        if not isinstance(key, str):
            return False
        return is_secret_field(key) or (
            "-" in key and " " not in key.strip() and is_secret_header(key)
        )

    def _obj(self, value: Any, key: Any) -> Any:
        secret = self._secret_key(key)
        if isinstance(value, str):
            if secret:
                return self._redact_header_parts(key, value)
            return self.redact_string(value)
        if isinstance(value, bytes | bytearray):
            return self.redact_bytes(bytes(value))
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int):
            return redact_token(str(value)) if secret else value
        if isinstance(value, Mapping):
            return {
                (self.redact_string(k) if isinstance(k, str) else k): self._obj(v, k)
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
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self._dataclass(value)
        return value

    def _dataclass(self, value: Any) -> Any:
        changes = {
            item.name: self._obj(getattr(value, item.name), item.name)
            for item in dataclasses.fields(value)
            if item.init
        }
        try:
            return dataclasses.replace(value, **changes)
        except (TypeError, ValueError):  # a dataclass whose fields refuse redacted values
            return self._obj(dataclasses.asdict(value), None)

    def redact_columns(
        self, names: Sequence[Any], columns: Sequence[Sequence[Any]], labels: Sequence[Any]
    ) -> list[list[Any]]:
        """A table's columns (``names``, each a list of cells; ``labels`` the row labels) with
        every string cell redacted, for whoever shows a table (the report stage's tables).

        A column named like a secret (``password``, ``Authorization``...) is redacted whole; any
        other cell as :meth:`redact_obj` would under its row's label; in a headers table
        (``name``/``header`` and ``value`` columns) the values of credential headers are redacted
        as headers. A secret split across the ``delta`` strings of the cells, read row by row,
        is redacted piece by piece.
        """
        texts = [cell for row in zip(*columns, strict=True) for cell in row if _text(cell)]
        learned = self.learned("\n".join(texts_in(texts)))
        if learned is not self:
            return learned.redact_columns(names, columns, labels)
        out = [
            [
                self._obj(cell, name if self._secret_key(name) else label)
                for label, cell in zip(labels, column, strict=True)
            ]
            for name, column in zip(names, columns, strict=True)
        ]
        lowered = {str(name).lower(): i for i, name in enumerate(names)}
        name_at = lowered.get("name", lowered.get("header"))
        value_at = lowered.get("value")
        if name_at is not None and value_at is not None:
            pairs = zip(columns[name_at], columns[value_at], strict=True)
            for row, (name, value) in enumerate(pairs):
                if isinstance(name, str) and isinstance(value, str) and is_secret_header(name):
                    out[value_at][row] = self.redact_header_value(name, value)
        return out
