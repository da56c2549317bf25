"""What the credential tests plant: the secrets, and streams and HARs that carry them.

Every value here is made up for the tests (``PLANTED...``, well-known token formats filled with
nonsense); a stream built here holds the secret in its assistant text, sent in two deltas.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from hostile_servers import sse, valid_events

from chatkit_lab import Capture
from chatkit_lab.capture import RequestRecord

COOKIE_A = "PLANTEDcookieA-7f6e5d4c3b2a19"
COOKIE_B = "PLANTEDcookieB-0a1b2c3d4e5f66"
BASIC_USER = "planted-user"
BASIC_PASSWORD = "PLANTEDpassw0rd-91x82y73z"
BEARER = "PLANTEDopaqueBearer-55aa66bb77cc"
API_KEY = "PLANTEDapiKey-0099887766ff"
BASIC = base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode()

PREFIXED_TOKENS = {
    "github_pat": "github_pat_11ABCDEFG0a1b2c3d4e5f6g7_h8i9j0k1l2m3n4o5p6q7r8s9t0u1v2w3x4y5z6",
    "ghp": "ghp_" + "R4nd0mGitHubT0kenAbCdEfGhIjKlMnOpQr",
    "gho": "gho_" + "0AuthT0kenAbCdEfGhIjKlMnOpQrStUvWx",
    "ghs": "ghs_" + "Serv3rT0kenAbCdEfGhIjKlMnOpQrStUvW",
    "xoxb": "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "xoxp": "xoxp-123456789012-1234567890123-ZyXwVuTsRqPoNmLkJiHgFeDc",
    "xoxa": "xoxa-2-123456789012-AbCdEfGhIjKlMnOp",
    "xoxs": "xoxs-123456789012-AbCdEfGhIjKlMnOpQr",
    "aws": "AKIAQ3EXAMPLE7PLANTD",
    "anthropic": "sk-ant-api03-PLANTEDanthropicKey0123456789-AbCdEfGhIjKl",
}


def envelope(request_type: str = "threads.create") -> bytes:
    params = {"input": {"content": [{"type": "input_text", "text": "hi"}], "attachments": []}}
    return json.dumps({"type": request_type, "params": params}).encode()


def stream_capture(
    events: list[dict[str, Any]], url: str = "http://127.0.0.1:9/chatkit"
) -> Capture:
    """A ``threads.create`` capture whose body is these events, one chunk each."""
    capture = Capture(
        request=RequestRecord("POST", url, [("content-type", "application/json")], envelope()),
        status=200,
    )
    capture.response_headers = [("content-type", "text/event-stream")]
    for number, event in enumerate(events):
        capture.add_chunk(sse(event), number * 1_000_000)
    return capture


def har_file(tmp_path: Path) -> Path:
    """A one-entry HAR whose request carries the credentials and whose reply echoes them."""
    echoed = f"you sent {BEARER} and {COOKIE_A} and {API_KEY} ."
    body = b"".join(sse(event) for event in valid_events(echoed)).decode()
    entry = {
        "startedDateTime": "2026-02-11T10:00:00.000Z",
        "time": 12,
        "_resourceType": "fetch",
        "request": {
            "method": "POST",
            "url": "https://staging.example/chatkit",
            "httpVersion": "HTTP/1.1",
            "headers": [
                {"name": "Authorization", "value": f"Bearer {BEARER}"},
                {"name": "Cookie", "value": f"a={COOKIE_A}; theme=dark"},
                {"name": "X-Api-Key", "value": API_KEY},
                {"name": "Content-Type", "value": "application/json"},
            ],
            "cookies": [{"name": "a", "value": COOKIE_A}],
            "queryString": [],
            "postData": {"mimeType": "application/json", "text": envelope().decode()},
            "headersSize": -1,
            "bodySize": -1,
        },
        "response": {
            "status": 200,
            "statusText": "OK",
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": "Content-Type", "value": "text/event-stream"}],
            "cookies": [],
            "content": {"size": len(body), "mimeType": "text/event-stream", "text": body},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
        },
        "cache": {},
        "timings": {"send": 1, "wait": 5, "receive": 6},
    }
    har = {
        "log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": [entry]}
    }
    path = tmp_path / "in" / "session.har"
    path.parent.mkdir()
    path.write_text(json.dumps(har))
    return path


HAR_SECRETS = {"bearer": BEARER, "cookie": COOKIE_A, "api key": API_KEY}


def split_reply(secret: str) -> list[dict[str, Any]]:
    """A stream whose two deltas each hold half of ``secret`` (schema-invalid, so every delta
    event is quoted as evidence)."""
    events = valid_events(f"ab {secret} cd")
    for event in events:
        if event["type"] == "thread.item.updated":
            event["update"]["content_index"] = "zero"
    deltas = [e["update"]["delta"] for e in events if e["type"] == "thread.item.updated"]
    assert len(deltas) == 2 and all(secret not in delta for delta in deltas)
    return events
