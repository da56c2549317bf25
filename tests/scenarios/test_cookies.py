"""The kit keeps the cookies a browser keeps for the API's origin, as ChatKit.js's fetch does.

A backend that keeps each user's threads per session cookie works in a browser (same-origin
``api.url``: the page's fetch stores ``Set-Cookie`` and sends the cookie back); the kit's client
does the same, so such a backend passes ``history``. The cookie never reaches a saved capture
or a report unredacted.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from chatkit_lab.backends import reference_app
from chatkit_lab.capture import Capture, RequestRecord, redact_capture
from chatkit_lab.client import CookieSender
from chatkit_lab.diagnosis import run_scenarios
from chatkit_lab.redact import current_redactor
from chatkit_lab.scenarios import resolve_scenarios
from chatkit_lab.sources import ClientRequest
from chatkit_lab.targets import open_app_target

COOKIE = "chatkit_session"


class PerSessionBackend:
    """The reference backend, one store per session cookie: a request without the cookie
    starts a new session (and gets ``Set-Cookie``), as many hosted backends keep users apart."""

    def __init__(self) -> None:
        self.sessions: dict[str, Any] = {}
        self.new_sessions = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        cookies = dict(scope.get("headers") or [])
        raw = cookies.get(b"cookie", b"").decode()
        sid = next(
            (part.split("=", 1)[1] for part in raw.split("; ") if part.startswith(f"{COOKIE}=")),
            None,
        )
        fresh = sid is None or sid not in self.sessions
        if fresh:
            sid = secrets.token_hex(16)
            self.sessions[sid] = reference_app()
            self.new_sessions += 1
        assert sid is not None
        app = self.sessions[sid]

        async def send_with_cookie(message: Any) -> None:
            if fresh and message["type"] == "http.response.start":
                cookie = f"{COOKIE}={sid}; Path=/; HttpOnly; SameSite=Lax".encode()
                message = {**message, "headers": [*message["headers"], (b"set-cookie", cookie)]}
            await send(message)

        await app(scope, receive, send_with_cookie)


async def test_a_backend_that_keeps_threads_per_session_cookie_passes_history() -> None:
    backend = PerSessionBackend()
    async with open_app_target(backend, "/chatkit", name="per-session") as target:
        conformance = await run_scenarios(
            target, resolve_scenarios("history"), redactor=current_redactor()
        )
    result = conformance.result("history")
    assert result is not None
    assert result.state == "pass", result.reason
    assert backend.new_sessions == 1  # every later request came back with the cookie
    steps = result.diagnosis.lifecycle.steps if result.diagnosis.lifecycle else []
    later = [s.capture for s in steps[1:]]
    assert later and all(any(k.lower() == "cookie" for k, _ in c.request.headers) for c in later)


class Recorder:
    def __init__(self, set_cookie: str | None = None) -> None:
        self.seen: list[ClientRequest] = []
        self.set_cookie = set_cookie

    async def send_request(self, request: ClientRequest, *, label: str = "", limits: Any = None):
        self.seen.append(request)
        headers = [("content-type", "application/json")]
        if self.set_cookie:
            headers.append(("set-cookie", self.set_cookie))
        made = Capture(
            request=RequestRecord(
                request.method, request.url, list(request.headers.items()), request.body
            ),
            status=200,
            response_headers=headers,
        )
        made.add_chunk(b"{}", 1)
        return made


async def test_the_cookie_goes_back_to_the_api_origin_only_and_never_over_a_users_own() -> None:
    inner = Recorder("sid=s3cr3t-value; Path=/")
    sender = CookieSender(inner, "http://api.test/chatkit")
    await sender.send_request(ClientRequest("POST", "http://api.test/chatkit"))
    await sender.send_request(ClientRequest("POST", "http://api.test/chatkit"))
    await sender.send_request(ClientRequest("PUT", "http://files.other.test/upload"))
    given = ClientRequest("POST", "http://api.test/chatkit", {"Cookie": "mine=1"})
    await sender.send_request(given)
    sent = [r.headers for r in inner.seen]
    assert "cookie" not in sent[0]
    assert sent[1]["cookie"] == "sid=s3cr3t-value"
    assert "cookie" not in sent[2]  # another origin: a same-origin fetch sends nothing there
    assert sent[3] == {"Cookie": "mine=1"}
    assert sender.names() == ["sid"]


async def test_a_kept_cookie_is_redacted_in_a_saved_capture() -> None:
    inner = Recorder("sid=s3cr3t-value; Path=/")
    sender = CookieSender(inner, "http://api.test/chatkit")
    await sender.send_request(ClientRequest("POST", "http://api.test/chatkit"))
    second = await sender.send_request(ClientRequest("POST", "http://api.test/chatkit"))
    saved = json.dumps(
        {
            "request": redact_capture(second).request.headers,
            "response": redact_capture(second).response_headers,
        }
    )
    assert "s3cr3t-value" not in saved
    assert "sid" in saved  # the cookie's name is kept, its value is not
