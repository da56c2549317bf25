"""What every source shares: the request it sends, its bounds, and how a failure is worded.

A source sends one request and records the exchange byte for byte as a :class:`Capture`. It
never raises for a network fault: a refused connection, a timeout, a reset or a crashing app ends
up in ``capture.ending`` (``status`` stays ``None`` when no response head arrived). Chunk offsets
are monotonic nanoseconds from the moment the request was sent.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import httpx

from chatkit_lab.capture import Capture, Ending, RequestRecord

HeadersLike = Mapping[str, str] | Sequence[tuple[str, str]] | None
BodyLike = bytes | bytearray | str | None

_MiB = 1024 * 1024


@dataclass
class ClientRequest:
    """A request as a ChatKit client (or a transform) sends it."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def __repr__(self) -> str:
        # bounded (logs, task descriptions): the body by its size only
        return f"ClientRequest({self.method} {self.url[:200]}, {len(self.body)} body bytes)"

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None

    @classmethod
    def chatkit(
        cls, url: str, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> ClientRequest:
        """The POST ChatKit.js sends for one envelope ``{"type", "params", "metadata"}``."""
        merged = {"content-type": "application/json", "accept": "text/event-stream, */*"}
        merged.update(headers or {})
        body = json.dumps(payload, separators=(",", ":")).encode()
        return cls("POST", url, merged, body)


@dataclass(frozen=True)
class Limits:
    """Bounds on one exchange. Hitting one ends the capture; what arrived so far is kept."""

    connect_s: float = 5.0
    """Time allowed to open the connection (HTTP only)."""
    read_s: float = 15.0
    """Longest silence allowed while waiting for the response head or the next chunk."""
    total_s: float = 30.0
    """Longest the whole exchange may take, from sending the request to the last byte."""
    max_bytes: int = 32 * _MiB
    """Most body bytes kept; the capture ends with state ``limit`` past this. A compressed body
    is bounded both ways: its decoded bytes (what is kept) and the raw bytes read."""
    stop: StopReading | None = None
    """Stop reading on purpose once this is reached (the stop button); the capture ends with
    state ``stopped`` and the connection is closed, as a client that aborts its request does."""


@dataclass(frozen=True)
class StopReading:
    """The client stops reading once ``marker`` has arrived ``count`` times in the body.

    ChatKit's stop button aborts the streaming request; the server sees the connection close.
    Counting a marker (for example the text-delta update type) in the bytes as they arrive stops
    after the first few deltas whatever the chunking, including a marker split across chunks.
    """

    marker: bytes
    count: int = 1
    reason: str = "the client stopped reading (the stop button)"

    def __post_init__(self) -> None:
        if not self.marker or self.count < 1:
            raise ValueError("StopReading needs a non-empty marker and a count of at least 1")

    def watch(self) -> StopWatch:
        """A counter for one exchange."""
        return StopWatch(self)


class StopWatch:
    """Counts :class:`StopReading`'s marker in one body's chunks, in bounded memory."""

    def __init__(self, rule: StopReading) -> None:
        self.rule = rule
        self.seen = 0
        self._tail = b""

    def feed(self, chunk: bytes) -> bool:
        """Add a chunk; ``True`` once the marker has arrived often enough."""
        marker = self.rule.marker
        window = self._tail + chunk
        self.seen += window.count(marker)
        # Keep what may start a marker the next chunk completes: the bytes after the last
        # counted one, at most one byte short of a marker (so none is counted twice, even a
        # marker that overlaps itself).
        last = window.rfind(marker)
        rest = window[last + len(marker) :] if last >= 0 else window
        self._tail = rest[-(len(marker) - 1) :] if len(marker) > 1 else b""
        return self.seen >= self.rule.count


DEFAULT_LIMITS = Limits()


@runtime_checkable
class Transport(Protocol):
    """Something that sends one request and returns the recorded exchange."""

    name: str

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: HeadersLike = None,
        body: BodyLike = None,
        label: str = "",
        limits: Limits | None = None,
    ) -> Capture: ...

    async def send_request(
        self, request: ClientRequest, *, label: str = "", limits: Limits | None = None
    ) -> Capture: ...


class BaseTransport:
    """A transport's ``send_request``, written once on top of its ``send`` (which a subclass
    defines, as :class:`Transport` declares it)."""

    name = "transport"

    async def send_request(
        self, request: ClientRequest, *, label: str = "", limits: Limits | None = None
    ) -> Capture:
        """Send a :class:`ClientRequest` (for example the output of a client transform)."""
        return await self.send(  # type: ignore[attr-defined]
            request.method,
            request.url,
            headers=request.headers,
            body=request.body,
            label=label,
            limits=limits,
        )


# -- small shared helpers ----------------------------------------------------------------------


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while many long-lived objects are built.

    Importing a large HAR builds a few containers per entry and frees none of them, so the
    collector runs full collections over an ever larger heap without finding anything (half
    the parse time on a HAR of 70,000 entries). Nothing built there forms reference cycles;
    the collector is switched back on (if it was on) on the way out.
    """
    was_enabled = gc.isenabled()
    if was_enabled:
        gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def header_list(headers: HeadersLike) -> list[tuple[str, str]]:
    """Headers given as a mapping or as pairs, as a list of string pairs."""
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return [(str(k), str(v)) for k, v in headers.items()]
    return [(str(k), str(v)) for k, v in headers]


FRAMING_HEADERS = ("content-length", "host", "transfer-encoding")
"""Request headers a caller never sets: the client computes them from the URL and the body. A
browser's ``fetch`` drops them (forbidden request headers); given by hand they break the request
(a ``Content-Length`` that disagrees with the body, a ``Host`` naming another site)."""


def request_capture(
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    body: BodyLike,
    *,
    label: str,
    target: str,
    transport: str,
) -> Capture:
    """The capture of a request about to be sent: text bodies as UTF-8, and
    :data:`FRAMING_HEADERS` dropped (and noted), as a browser's ``fetch`` drops them."""
    kept = [(k, v) for k, v in headers if k.strip().lower() not in FRAMING_HEADERS]
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")
    capture = Capture(
        request=RequestRecord(method.upper(), url, kept, data),
        label=label,
        target=target,
        transport=transport,
    )
    dropped = sorted({k.strip().lower() for k, _ in headers} & set(FRAMING_HEADERS))
    if dropped:
        capture.notes.append(
            f"request header(s) {', '.join(dropped)} dropped, as a browser's fetch drops them: "
            "the client sets them from the URL and the body"
        )
    return capture


def add_within(capture: Capture, data: bytes, at_ns: int, max_bytes: int) -> tuple[bytes, bool]:
    """Add what of ``data`` fits within ``max_bytes`` of body as one chunk (none when nothing
    fits); what was added, and whether all of ``data`` fitted."""
    room = max(max_bytes - capture.size, 0)
    kept = data[:room] if len(data) > room else data
    if kept:
        capture.add_chunk(kept, at_ns)
    return kept, len(kept) == len(data)


def join_url(base_url: str | None, url: str) -> str:
    """``url`` if absolute, else appended to ``base_url`` (its path prefix kept, like httpx)."""
    if not base_url or urlsplit(url).scheme:
        return url
    if not url:
        return base_url
    if url.startswith(("?", "#")):
        return base_url + url
    return base_url + "/" + url.lstrip("/")


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` (``url`` itself when it has no scheme)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme else url


def seconds(value: float) -> str:
    """A duration for messages: ``2.5 s``."""
    return f"{value:g} s"


def latin1(value: Any) -> str:
    """An ASGI header name or value (bytes) as text."""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("latin-1")
    return str(value)


# -- how an exchange ended ---------------------------------------------------------------------


def over_total(limits: Limits, chunks: int, at: int) -> Ending:
    """The ending of an exchange cut by the total limit."""
    return Ending(
        "timeout",
        f"exchange still running after {seconds(limits.total_s)} (total limit); "
        f"kept {chunks} chunks",
        at,
    )


def over_read(limits: Limits, head_arrived: bool, chunks: int, at: int) -> Ending:
    """The ending of an exchange cut by the read limit (silence for too long)."""
    waiting = "no further chunk" if head_arrived else "no response head"
    return Ending(
        "timeout",
        f"{waiting} for {seconds(limits.read_s)} (read limit); kept {chunks} chunks",
        at,
    )


def stopped(limits: Limits, at: int) -> Ending:
    """The ending of an exchange the client stopped reading on purpose."""
    reason = limits.stop.reason if limits.stop is not None else "the client stopped reading"
    return Ending("stopped", reason, at)


def over_size(limits: Limits, at: int) -> Ending:
    """The ending of an exchange that reached ``max_bytes``."""
    return Ending("limit", f"stopped after {limits.max_bytes} bytes (max_bytes limit)", at)


def unsendable(exc: Exception, url: str) -> str:
    """Why a request could not be put on the wire (a header value the encoding cannot carry)."""
    if isinstance(exc, UnicodeEncodeError):
        bad = exc.object[exc.start : exc.end]
        if exc.encoding.replace("-", "") == "latin1":
            why = "not a single-byte (ISO-8859-1) character; a browser's fetch refuses it too"
        else:
            why = f"not {exc.encoding} text, which header values must be on this transport"
        return f"cannot send to {url!r}: a request header holds {bad!r}, {why}"
    return f"cannot send to {url!r}: {exc}"


def _underlying(exc: BaseException) -> str:
    """The first informative message down an exception's cause chain.

    httpx reports a reset as an empty ``ReadError`` whose root cause is the OS error.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        if current is not exc and str(current):
            return f"{type(current).__name__}: {current}"
        current = current.__cause__ or current.__context__
    return ""


def http_ending(exc: BaseException, capture: Capture, limits: Limits, at: int) -> Ending:
    """How an httpx exchange ended, from the exception it raised (worded for a person)."""
    url = capture.request.url
    where = origin(url)
    text = str(exc) or _underlying(exc) or type(exc).__name__
    lowered = text.lower()
    if isinstance(exc, httpx.ConnectTimeout):
        return Ending(
            "timeout",
            f"cannot connect to {where}: no connection within {seconds(limits.connect_s)} "
            "(connect limit)",
            at,
        )
    if isinstance(exc, httpx.ConnectError):
        if "refused" in lowered or "all connection attempts failed" in lowered:
            reason = "connection refused"
        elif "certificate" in lowered or "ssl" in lowered or "tls" in lowered:
            reason = f"TLS handshake failed ({text})"
        elif "name" in lowered and ("resolution" in lowered or "known" in lowered):
            reason = f"host name does not resolve ({text})"
        else:
            reason = text
        return Ending("error", f"cannot connect to {where}: {reason}", at)
    if isinstance(exc, httpx.ReadTimeout | httpx.PoolTimeout | httpx.WriteTimeout):
        return over_read(limits, capture.status is not None, len(capture.chunks), at)
    if isinstance(exc, httpx.RemoteProtocolError):
        if capture.status is None and ("disconnect" in lowered or "closed" in lowered):
            return Ending("reset", f"{where} closed the connection without a response: {text}", at)
        if capture.status is None:
            return Ending("error", f"{where} did not answer with HTTP: {text}", at)
        if "incomplete" in lowered or "peer closed" in lowered or "closed" in lowered:
            return Ending("reset", f"connection closed before the response ended: {text}", at)
        return Ending("error", f"HTTP protocol error: {text}", at)
    if isinstance(exc, httpx.ReadError | httpx.WriteError | ConnectionError):
        return Ending("reset", f"connection to {where} broken: {text}", at)
    if isinstance(exc, httpx.UnsupportedProtocol):
        return Ending("error", f"cannot send to {url!r}: {text}", at)
    if isinstance(exc, UnicodeEncodeError) and capture.status is None:
        return Ending("error", unsendable(exc, url), at)
    return Ending("error", f"{type(exc).__name__}: {text}", at)


def httpx_timeout(limits: Limits) -> httpx.Timeout:
    """The httpx timeouts for ``limits`` (the total limit is enforced by the caller)."""
    return httpx.Timeout(
        connect=limits.connect_s, read=limits.read_s, write=limits.read_s, pool=limits.connect_s
    )
