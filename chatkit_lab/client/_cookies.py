"""The cookies a browser keeps for the API's origin, sent back on the session's later requests.

Fact (the protocol notes): ChatKit's host script performs every request with the page's
``fetch``; under fetch's default ``credentials: "same-origin"`` an ``api.url`` on the page's own
origin gets the page's cookies, and the browser stores any ``Set-Cookie`` its replies carry. A
backend that keeps its sessions (and so its threads) by cookie works in a browser; a client
that keeps no cookies meets a fresh session on every request. :class:`CookieSender` wraps the
runner's transport with one jar for the API's origin (the standard library's cookie rules, as
httpx applies them: domain, path, expiry), so every request of the session, through the user's
fetch or the kit's own, carries what the browser would send. A ``Cookie`` header the user gave
is left as it is. Cookie values are secrets: capture headers redact them by name, and the jar's
values are never printed (``names()`` lists names only).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from chatkit_lab.capture import Capture
from chatkit_lab.sources import ClientRequest, Limits

__all__ = ["CookieSender"]

MAX_COOKIES = 64
"""Cookies the jar keeps at most (a browser keeps more; a session needs a few)."""


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return (parts.scheme.lower(), (parts.hostname or "").lower(), parts.port)


class CookieSender:
    """A transport that keeps the cookies of the API's origin and sends them back."""

    def __init__(self, inner: Any, api_url: str) -> None:
        self.inner = inner
        self.api_url = api_url
        self.jar = httpx.Cookies()

    def names(self) -> list[str]:
        """The names of the cookies kept (never their values)."""
        return sorted({cookie.name for cookie in self.jar.jar})

    def _same_origin(self, url: str) -> bool:
        return _origin(url) == _origin(self.api_url)

    async def send_request(
        self, request: ClientRequest, *, label: str = "", limits: Limits | None = None
    ) -> Capture:
        same = self._same_origin(request.url)
        sent = request
        if same and len(self.jar.jar) and not any(k.lower() == "cookie" for k in request.headers):
            probe = httpx.Request(request.method, request.url)
            self.jar.set_cookie_header(probe)
            header = probe.headers.get("cookie")
            if header:
                sent = ClientRequest(
                    request.method, request.url, {**request.headers, "cookie": header}, request.body
                )
        capture = await self.inner.send_request(sent, label=label, limits=limits)
        if same and capture.status is not None:
            self._keep(request.url, capture)
        return capture

    def _keep(self, url: str, capture: Capture) -> None:
        set_cookies = [
            (key, value) for key, value in capture.response_headers if key.lower() == "set-cookie"
        ]
        if not set_cookies:
            return
        try:
            response = httpx.Response(
                capture.status or 200,
                headers=set_cookies,
                request=httpx.Request(capture.request.method, url),
            )
            self.jar.extract_cookies(response)
        except (ValueError, httpx.HTTPError):  # a malformed header is one a browser ignores
            return
        if len(self.jar.jar) > MAX_COOKIES:
            for cookie in list(self.jar.jar)[: len(self.jar.jar) - MAX_COOKIES]:
                self.jar.jar.clear(cookie.domain, cookie.path, cookie.name)

    def __getattr__(self, name: str) -> Any:  # the wrapped transport's other attributes
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)
