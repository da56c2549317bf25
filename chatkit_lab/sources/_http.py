"""The HTTP source: real HTTP through httpx, reading the body as it arrives.

The request asks for what the kit can decode (httpx's ``Accept-Encoding``: ``gzip, deflate,
br``) and the body is decoded piece by piece as it arrives, as a browser's ``fetch`` decodes it
before ChatKit reads it; ``Content-Encoding`` stays in the recorded headers (see
:mod:`chatkit_lab.sources._encoding` for how a capture stores a decoded body). TLS
verification is on, and redirects are recorded rather than followed by default.
With ``follow_redirects=True`` each hop is taken the way a browser's ``fetch`` takes it (method
and body rewritten for 301/302/303, credentials never carried to another origin) and listed in
``capture.redirects``.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Any

import httpx

from chatkit_lab.capture import Capture, Ending, RequestRecord
from chatkit_lab.redact import is_secret_header
from chatkit_lab.sources._base import (
    DEFAULT_LIMITS,
    BaseTransport,
    BodyLike,
    HeadersLike,
    Limits,
    header_list,
    http_ending,
    httpx_timeout,
    join_url,
    origin,
    over_size,
    over_total,
    request_capture,
    stopped,
)
from chatkit_lab.sources._encoding import DecodingRecorder


def _merge_headers(
    base: list[tuple[str, str]], extra: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """``extra`` replaces same-named (case-insensitive) headers of ``base``."""
    names = {name.lower() for name, _ in extra}
    return [(k, v) for k, v in base if k.lower() not in names] + extra


class HTTPTransport(BaseTransport):
    """Real HTTP through httpx, decoding the body (as a browser does) as it arrives."""

    name = "http"

    def __init__(
        self,
        base_url: str | None = None,
        headers: HeadersLike = None,
        limits: Limits | None = None,
        verify: bool | str | ssl.SSLContext = True,
        follow_redirects: bool = False,
        *,
        target: str | None = None,
        max_redirects: int = 10,
        trust_env: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/") if base_url else None
        self.headers = header_list(headers)
        self.limits = limits or DEFAULT_LIMITS
        self.verify = verify
        self.follow_redirects = follow_redirects
        self.target = target
        self.max_redirects = max_redirects
        self.trust_env = trust_env

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: HeadersLike = None,
        body: BodyLike = None,
        label: str = "",
        limits: Limits | None = None,
    ) -> Capture:
        """Send one request; the returned capture's ``ending`` says how it went."""
        limits = limits or self.limits
        method = method.upper()
        full_url = join_url(self.base_url, url)
        capture = request_capture(
            method,
            full_url,
            _merge_headers(list(self.headers), header_list(headers)),
            body,
            label=label,
            target=self.target if self.target is not None else origin(full_url),
            transport=self.name,
        )
        data = capture.request.body
        started = time.monotonic_ns()
        try:
            async with httpx.AsyncClient(
                timeout=httpx_timeout(limits),
                verify=self.verify,
                follow_redirects=False,
                trust_env=self.trust_env,
            ) as client:
                # Building the client (TLS context, certificate store) takes tens of ms: the
                # clock starts when the request is about to go out, not before.
                started = time.monotonic_ns()
                async with asyncio.timeout(limits.total_s):
                    await self._exchange(client, capture, method, full_url, data, limits, started)
        except TimeoutError:
            capture.ending = over_total(limits, len(capture.chunks), time.monotonic_ns() - started)
        except httpx.InvalidURL as exc:
            capture.ending = Ending("error", f"invalid URL {full_url!r}: {exc}", 0)
        except (httpx.HTTPError, OSError, ValueError) as exc:
            capture.ending = http_ending(exc, capture, limits, time.monotonic_ns() - started)
        return capture

    async def _exchange(
        self,
        client: httpx.AsyncClient,
        capture: Capture,
        method: str,
        url: str,
        data: bytes,
        limits: Limits,
        started: int,
    ) -> None:
        headers = list(capture.request.headers)
        redirects: list[dict[str, Any]] = []
        while True:
            client.cookies.clear()
            request = client.build_request(method, url, headers=headers, content=data)
            capture.request = RequestRecord(
                request.method,
                str(request.url),
                [(k, v) for k, v in request.headers.multi_items()],
                data,
            )
            response = await client.send(request, stream=True)
            try:
                capture.status = response.status_code
                capture.response_headers = list(response.headers.multi_items())
                capture.headers_ns = time.monotonic_ns() - started
                location = response.headers.get("location")
                if self.follow_redirects and response.is_redirect and location:
                    if len(redirects) >= self.max_redirects:
                        capture.redirects = redirects
                        await _read_body(response, capture, limits, started)
                        capture.notes.append(
                            f"stopped following redirects after {self.max_redirects}"
                        )
                        return
                    next_url = str(response.url.join(location))
                    hop = {"status": response.status_code, "url": url, "location": next_url}
                    method, data, headers = _redirected(
                        response.status_code, method, data, headers, url, next_url, capture
                    )
                    redirects.append(hop)
                    url = next_url
                    continue
                capture.redirects = redirects
                await _read_body(response, capture, limits, started)
                return
            finally:
                await response.aclose()


async def _read_body(
    response: httpx.Response, capture: Capture, limits: Limits, started: int
) -> None:
    """Read the body as it arrives, each raw piece decoded (when it names a
    ``Content-Encoding``) into a chunk at its arrival time."""
    recorder = DecodingRecorder(capture, limits.max_bytes)
    watch = limits.stop.watch() if limits.stop is not None else None
    try:
        async for piece in response.aiter_raw():
            if not piece:
                continue
            now = time.monotonic_ns() - started
            kept = len(capture.chunks)
            if not recorder.add(piece, now):
                if recorder.error is None:
                    capture.ending = over_size(limits, now)
                return
            decoded = b"".join(chunk.data for chunk in capture.chunks[kept:])
            if watch is not None and watch.feed(decoded):
                capture.ending = stopped(limits, now)
                return
        capture.ending = Ending("complete", "", time.monotonic_ns() - started)
    finally:
        recorder.close()


def _redirected(
    status: int,
    method: str,
    data: bytes,
    headers: list[tuple[str, str]],
    url: str,
    next_url: str,
    capture: Capture,
) -> tuple[str, bytes, list[tuple[str, str]]]:
    """The next hop's method, body and headers, as a browser's fetch would send them."""
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method, data = "GET", b""
        headers = [
            (k, v)
            for k, v in headers
            if k.lower() not in ("content-type", "content-length", "transfer-encoding")
        ]
    if origin(next_url).lower() != origin(url).lower():
        dropped = sorted({k for k, _ in headers if is_secret_header(k)})
        headers = [(k, v) for k, v in headers if not is_secret_header(k)]
        if dropped:
            capture.notes.append(
                f"redirect to another origin ({origin(next_url)}): credentials not forwarded "
                f"({', '.join(dropped)})"
            )
    return method, data, headers
