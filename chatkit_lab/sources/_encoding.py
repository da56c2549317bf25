"""Content decoding: the body as a browser's ``fetch`` hands it to ChatKit.

A browser asks for compressed replies (``Accept-Encoding``) and undoes ``Content-Encoding``
before any script reads the body; ChatKit's host script never sees compressed bytes. The kit's
HTTP source asks for what it can decode (httpx's ``Accept-Encoding``: ``gzip, deflate, br``,
``br`` because the ``brotli`` package is installed) and decodes the same way. A coding a
browser knows but the kit does not decode (``zstd``) is a finding, not a wrong verdict.

How a capture stores a decoded body (the rule every source follows):

* ``chunks`` hold the *decoded* body, so messages, events and JSON bodies read what the browser's
  reader would. Each raw piece is decoded as it arrives (incrementally, with zlib's
  ``decompressobj``), and what it yields becomes one chunk at that piece's arrival time, so
  the timing of the raw stream is kept (a piece that yields nothing adds no chunk);
* the response headers stay as they came: ``Content-Encoding`` still says the body was sent
  encoded (the transport layer warns about a compressed event stream);
* ``capture.content_encoding`` says what was done: ``{"coding": "gzip", "decoded": true,
  "raw_bytes": ..., "raw_pieces": ...}``, plus ``"error"`` when the body could not be decoded
  (then the chunks hold what decoded before the failure and the capture ends in ``error``, as
  the browser's read of the body fails) and ``"notes"`` for oddities (bytes after the end of
  the compressed data, a compressed stream cut short).

A capture without it whose headers name an encoding holds the raw bytes: a proxy
recording (the proxy relays raw bytes and records them as relayed), an in-process capture, or
a capture saved before the kit decoded bodies. :func:`decode_capture` gives the decoded copy of
such a capture; captures read from files go through it, so old files stay readable and
diagnose as the decoded exchange. A HAR holds bodies already decoded by the browser: the HAR
source marks them decoded.

Output is bounded (``max_bytes``): a small compressed body that expands without end (a
"zip bomb") stops at the bound like any other over-long body.
"""

from __future__ import annotations

import zlib
from typing import Any

import brotli

from chatkit_lab.capture import Capture, Ending
from chatkit_lab.sources._base import DEFAULT_LIMITS, add_within

__all__ = [
    "ACCEPT_ENCODING",
    "DECODABLE",
    "BodyDecoder",
    "DecodingError",
    "decode_capture",
    "encoding_info",
]

DECODABLE: tuple[str, ...] = ("gzip", "x-gzip", "deflate", "br")
"""The content codings the kit decodes (zlib, and the ``brotli`` package for ``br``)."""
ACCEPT_ENCODING = ", ".join(coding for coding in DECODABLE if coding != "x-gzip")
"""What the kit's HTTP source asks for: exactly what it can decode."""

BROWSER_CODINGS = frozenset({"gzip", "x-gzip", "deflate", "br", "zstd"})
"""Codings a current browser decodes; any other name makes it pass the body through raw."""

_PIECE = 64 * 1024
"""Most compressed bytes handed to zlib at once (keeps each step's output bounded)."""


class DecodingError(Exception):
    """The body is not what its ``Content-Encoding`` says (the browser's read fails too)."""


def codings_of(header: str | None) -> list[str]:
    """The codings a ``Content-Encoding`` value names, in the order they were applied."""
    if not header:
        return []
    names = [part.strip().lower() for part in header.split(",")]
    return [name for name in names if name and name != "identity"]


class _Zlib:
    """One zlib-family decoder step: gzip (members one after the other) or deflate.

    "deflate" is meant to be zlib-wrapped, but servers also send raw deflate; browsers accept
    both, telling them apart by the two-byte zlib header, and so does this step. Bytes after
    the end of the compressed data are ignored (and counted), as browsers ignore them.
    """

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self.gzip = coding in ("gzip", "x-gzip")
        self._object: Any = None
        self._head = b""
        """The first bytes of a member, until there are two to look at."""
        self.fed = 0
        self.members = 0
        self.finished = False
        self.trailing = 0

    def _start(self, data: bytes) -> bytes | None:
        """Open the next member on ``data``; ``None`` while fewer than two bytes are known."""
        data = self._head + data
        if len(data) < 2:
            self._head = data
            return None
        self._head = b""
        if self.gzip:
            if self.members and data[:2] != b"\x1f\x8b":
                self.finished = True  # not another member: bytes after the end
                self.trailing += len(data)
                return b""
            self._object = zlib.decompressobj(16 + zlib.MAX_WBITS)
        else:
            cmf, flg = data[0], data[1]
            wrapped = cmf & 0x0F == 8 and (cmf * 256 + flg) % 31 == 0
            self._object = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        self.members += 1
        return data

    def feed(self, data: bytes, room: int) -> bytes:
        self.fed += len(data)
        if self.finished:
            self.trailing += len(data)
            return b""
        out: list[bytes] = []
        produced = 0
        try:
            while data and not self.finished:
                if self._object is None:
                    started = self._start(data)
                    if not started:
                        break
                    data = started
                piece = self._object.decompress(data, max(room - produced, 0) + 1)
                out.append(piece)
                produced += len(piece)
                if produced > room:
                    break
                data = self._object.unconsumed_tail
                if self._object.eof:
                    data = self._object.unused_data
                    self._object = None
                    if not self.gzip:
                        self.finished = True
                        self.trailing += len(data)
        except zlib.error as exc:
            raise DecodingError(_zlib_words(self.coding, exc)) from None
        return b"".join(out)

    def close(self) -> list[str]:
        notes: list[str] = []
        if self._object is not None or (self._head and not self.members):
            notes.append(f"the {self.coding} data ended before its end marker")
        if self.trailing:
            notes.append(f"{self.trailing} byte(s) after the end of the {self.coding} data ignored")
        return notes


class _Brotli:
    """The ``br`` decoder step (the brotli package), its output bounded like zlib's."""

    def __init__(self) -> None:
        self.coding = "br"
        self._object = brotli.Decompressor()
        self.fed = 0

    def feed(self, data: bytes, room: int) -> bytes:
        self.fed += len(data)
        out: list[bytes] = []
        produced = 0
        try:
            piece = self._object.process(data, output_buffer_limit=room + 1)
            while True:
                out.append(piece)
                produced += len(piece)
                if produced > room or not piece or self._object.can_accept_more_data():
                    break
                piece = self._object.process(b"", output_buffer_limit=room - produced + 1)
        except brotli.error as exc:
            raise DecodingError(f"not br (brotli) data ({exc})") from None
        return b"".join(out)

    def close(self) -> list[str]:
        if self.fed and not self._object.is_finished():
            return ["the br data ended before its end marker"]
        return []


def _zlib_words(coding: str, exc: zlib.error) -> str:
    reason = str(exc).removeprefix("Error -3 while decompressing data: ")
    return f"not {coding} data ({reason})"


class BodyDecoder:
    """Undo a response's ``Content-Encoding`` piece by piece, within ``max_bytes`` of output.

    ``feed(raw)`` returns the decoded bytes this piece completes (often none for the first
    piece of a gzip body), raising :class:`DecodingError` when the data is not what the header
    says. ``over_limit`` turns ``True`` once the output would pass ``max_bytes``; what
    ``feed`` returned up to then fits. ``active`` is ``False`` when there is nothing to undo
    (no header, ``identity``, or a coding a browser does not know, which it passes through).
    """

    def __init__(self, content_encoding: str | None, max_bytes: int) -> None:
        self.header = (content_encoding or "").strip()
        self.codings = codings_of(content_encoding)
        self.max_bytes = max_bytes
        self.raw_bytes = 0
        self.raw_pieces = 0
        self.produced = 0
        self.over_limit = False
        self.notes: list[str] = []
        self.unsupported: str | None = None
        unknown = [name for name in self.codings if name not in BROWSER_CODINGS]
        if unknown:
            self.notes.append(
                f"Content-Encoding {self.header!r} names a coding a browser does not know "
                f"({', '.join(unknown)}): it passes the body through undecoded, and so does the kit"
            )
            self.codings = []
        missing = [name for name in self.codings if name not in DECODABLE]
        if missing:
            self.unsupported = missing[0]
        self._steps: list[_Zlib | _Brotli] = (
            [] if missing else [_step(name) for name in reversed(self.codings)]
        )

    @property
    def active(self) -> bool:
        """Whether the body needs decoding at all."""
        return bool(self.codings)

    @property
    def coding(self) -> str:
        return ", ".join(self.codings)

    def feed(self, raw: bytes) -> bytes:
        """The decoded bytes ``raw`` completes (``raw`` itself when nothing is to be undone)."""
        self.raw_bytes += len(raw)
        self.raw_pieces += 1
        if not self.codings:
            return raw
        if self.unsupported is not None:
            raise DecodingError(
                f"the body is {self.unsupported}-encoded, which this kit cannot decode "
                "(a browser can)"
            )
        out: list[bytes] = []
        for start in range(0, len(raw), _PIECE):
            data = raw[start : start + _PIECE]
            room = self.max_bytes - self.produced
            last = len(self._steps) - 1
            for position, step in enumerate(self._steps):
                data = step.feed(data, room)
                if len(data) > room and position < last:
                    self.over_limit = True  # past the bound before the last step: keep none
                    break
                if not data:
                    break
            if self.over_limit:
                break
            if len(data) > room:
                out.append(data[:room])
                self.produced = self.max_bytes
                self.over_limit = True
                break
            out.append(data)
            self.produced += len(data)
        return b"".join(out)

    def close(self) -> list[str]:
        """Notes on how the encoded data ended (cut short, bytes after its end)."""
        for step in self._steps:
            self.notes.extend(step.close())
        return self.notes

    def info(self, error: str | None = None) -> dict[str, Any]:
        """What goes in ``capture.content_encoding``."""
        out: dict[str, Any] = {
            "coding": self.coding or self.header,
            "decoded": self.active and error is None,
            "raw_bytes": self.raw_bytes,
            "raw_pieces": self.raw_pieces,
        }
        if error is not None:
            out["error"] = error
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def _step(coding: str) -> _Zlib | _Brotli:
    if coding == "br":
        return _Brotli()
    return _Zlib(coding)


def encoding_info(capture: Capture) -> dict[str, Any] | None:
    """``capture.content_encoding`` when a source decoded (or tried to) the body."""
    return capture.content_encoding


def decoding_failed(message: str, at_ns: int | None) -> Ending:
    """The ending of an exchange whose body could not be decoded."""
    return Ending(
        "error",
        f"content decoding failed: {message}; a browser's read of the body fails the same way",
        at_ns,
    )


class DecodingRecorder:
    """Decode raw pieces into a capture's chunks as they arrive (for the network sources); a
    body with nothing to undo is kept as it comes.

    ``add`` returns ``False`` once the capture is to stop growing: decoding failed (the
    capture's ending then says so) or the decoded or the raw body passed ``max_bytes`` (the
    caller ends it at the size limit, :attr:`over_limit`). ``capture.content_encoding`` is
    kept current after every piece, so an exchange cut by a timeout still says what arrived.
    """

    def __init__(self, capture: Capture, max_bytes: int) -> None:
        self.capture = capture
        self.max_bytes = max_bytes
        self.decoder = BodyDecoder(capture.header("content-encoding"), max_bytes)
        self.error: str | None = None
        self.over_limit = False
        self.passthrough = not self.decoder.active and self.decoder.unsupported is None
        """Nothing to undo: pieces become chunks as they are."""
        self._info: dict[str, Any] | None = None
        if not self.passthrough or self.decoder.notes:
            self._info = capture.content_encoding = self.decoder.info()

    def add(self, raw: bytes, at_ns: int) -> bool:
        """Decode one raw piece into a chunk (none when it completes no output)."""
        if self.error is not None or self.over_limit:
            return False
        if self.passthrough:  # kept as it came, up to max_bytes
            _, fits = add_within(self.capture, raw, at_ns, self.max_bytes)
            self.over_limit = not fits
            return fits
        decoder = self.decoder
        try:
            data = decoder.feed(raw)
        except DecodingError as exc:
            self.error = str(exc)
            self._info = self.capture.content_encoding = decoder.info(self.error)
            self.capture.ending = decoding_failed(self.error, at_ns)
            return False
        if data:
            self.capture.add_chunk(data, at_ns)
        info = self._info
        if info is not None:
            info["raw_bytes"] = decoder.raw_bytes
            info["raw_pieces"] = decoder.raw_pieces
        if decoder.over_limit or decoder.raw_bytes > self.max_bytes:
            self.over_limit = True
            return False
        return True

    def close(self) -> None:
        """Note how the encoded data ended, in the capture's ``content_encoding``."""
        if self._info is None:
            return
        if self.error is None:
            self.decoder.close()
        self._info = self.capture.content_encoding = self.decoder.info(self.error)


def decode_capture(capture: Capture, max_bytes: int | None = None) -> Capture:
    """The capture with its body decoded when it holds raw encoded bytes; else ``capture``.

    Raw means: the headers name a coding and no source recorded decoding it (no
    ``content_encoding``), and it is not a HAR import (HAR bodies are saved decoded):
    a proxy recording, an in-process capture, or a capture saved before the kit decoded bodies.
    The copy keeps every chunk's arrival time and ends at the size limit past ``max_bytes``
    decoded bytes (by default the larger of the default limit and eight times the raw size);
    the original is left as it was.
    """
    if encoding_info(capture) is not None or capture.transport == "har":
        return capture
    if capture.meta.get("source") == "har":
        return capture
    probe = BodyDecoder(capture.header("content-encoding"), 0)
    if not probe.active and probe.unsupported is None:
        return capture
    bound = max_bytes if max_bytes is not None else max(DEFAULT_LIMITS.max_bytes, 8 * capture.size)
    copy = capture.copy(chunks=[], meta=dict(capture.meta), notes=list(capture.notes))
    recorder = DecodingRecorder(copy, bound)
    for chunk in capture.chunks:
        if not recorder.add(chunk.data, chunk.offset_ns):
            break
    recorder.close()
    if recorder.over_limit:
        at = copy.chunks[-1].offset_ns if copy.chunks else capture.headers_ns
        copy.ending = Ending("limit", f"stopped after {bound} decoded bytes (max_bytes limit)", at)
    copy.notes.append("body decoded by the kit from the raw bytes recorded")
    return copy
