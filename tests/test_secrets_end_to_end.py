"""Planted secrets never reach a written file: capture, save, export, CLI output and proxy.

One loopback backend echoes every credential it is sent back into its headers and its event
stream (a JWT split across two chunks on purpose). The kit then captures it directly and through
the recording proxy, saves, exports a report, and prints CLI JSON; every file written is searched
for every planted secret and for any 8-character piece of one.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from typer.testing import CliRunner

from chatkit_lab import (
    HTTPTransport,
    LoopbackServer,
    RecordingProxy,
    diagnose_captures,
    report_markdown,
)
from chatkit_lab.cli import app as cli_app

SIGNING_KEY = "planted-signing-key-for-tests-only-0123456789"
JWT = jwt.encode({"sub": "planted-user", "scope": "staging"}, SIGNING_KEY, "HS256")
SK_KEY = "sk-proj-PLANTEDkey0123456789abcdefXYZ"
COOKIE = "PLANTEDcookieValue9f8e7d6c5b4a"
API_KEY = "PLANTEDapiKey-1a2b3c4d5e6f7g8h"
QUERY_TOKEN = "PLANTEDqueryToken77aa88bb99cc"
BEARER_OPAQUE = "PLANTEDopaqueBearer0011223344"
SECRETS = {
    "jwt": JWT,
    "sk": SK_KEY,
    "cookie": COOKIE,
    "api_key": API_KEY,
    "query": QUERY_TOKEN,
    "opaque": BEARER_OPAQUE,
}


def _event(payload: dict[str, object]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


async def _echo(request: Request) -> Response:
    body = await request.body()
    seen = {
        "authorization": request.headers.get("authorization", ""),
        "cookie": request.headers.get("cookie", ""),
        "x-api-key": request.headers.get("x-api-key", ""),
        "query": str(request.url.query),
        "body": body.decode("utf-8", "replace"),
    }
    notice = _event({"type": "notice", "level": "info", "message": json.dumps(seen)})
    leak = _event(
        {"type": "notice", "level": "info", "message": f"token {JWT} and key {SK_KEY} leaked"}
    )
    cut = leak.index(JWT.encode()) + len(JWT) // 2

    async def stream() -> AsyncIterator[bytes]:
        yield notice
        yield leak[:cut]
        await asyncio.sleep(0.01)
        yield leak[cut:]

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"set-cookie": f"session={COOKIE}; Path=/; HttpOnly", "x-echo-key": API_KEY},
    )


def _backend() -> Starlette:
    return Starlette(routes=[Route("/chatkit", _echo, methods=["POST"])])


def _headers() -> dict[str, str]:
    return {
        "authorization": f"Bearer {JWT}",
        "cookie": f"session={COOKIE}; theme=dark",
        "x-api-key": API_KEY,
        "proxy-authorization": f"Bearer {BEARER_OPAQUE}",
    }


def _body() -> bytes:
    return json.dumps(
        {
            "type": "threads.create",
            "params": {"input": {"content": [{"type": "input_text", "text": f"use {SK_KEY}"}]}},
            "metadata": {"api_key": API_KEY, "note": f"Bearer {BEARER_OPAQUE}"},
        }
    ).encode()


def _leaks(text: str) -> list[str]:
    found = []
    for name, secret in SECRETS.items():
        pieces = {secret} | {secret[i : i + 8] for i in range(8, len(secret) - 8, 4)}
        # JWT header and payload parts are base64 of ordinary JSON shared by every JWT; the
        # signature and anything distinctive must be gone.
        if name == "jwt":
            pieces = {secret, secret.split(".")[1], secret.split(".")[2]}
        found += [f"{name}: {piece!r}" for piece in pieces if piece in text]
    return found


def _all_written(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): path.read_bytes().decode("utf-8", "replace")
        for path in root.rglob("*")
        if path.is_file() and path.suffix != ".png"
    }


async def test_no_planted_secret_reaches_any_saved_capture_report_or_proxy_recording(
    tmp_path: Path,
) -> None:
    with LoopbackServer(_backend()) as backend:
        url = f"{backend.url}/chatkit?access_token={QUERY_TOKEN}&theme=dark"
        capture = await HTTPTransport().send(
            "POST", url, headers=_headers(), body=_body(), label="direct"
        )
        assert JWT in capture.body.decode(), "the backend must really echo the secrets back"
        assert len(capture.chunks) >= 2
        capture.save(tmp_path / "captures" / "direct.jsonl")
        diagnosis = diagnose_captures([capture], target=url)
        report_markdown([diagnosis], tmp_path / "reports" / "report.md")
        (tmp_path / "reports" / "diagnosis.json").write_text(
            json.dumps(diagnosis.to_json(), default=str)
        )

        proxy = RecordingProxy(backend.url, out_dir=tmp_path / "proxy")
        with LoopbackServer(proxy.app) as front:
            async with httpx.AsyncClient(timeout=10) as client:
                reply = await client.post(
                    f"{front.url}/chatkit?access_token={QUERY_TOKEN}",
                    headers=_headers(),
                    content=_body(),
                )
            assert JWT in reply.text, "the proxy must hand the client the bytes unchanged"
            deadline = time.monotonic() + 5
            while not proxy.saved and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        assert proxy.saved

    written = _all_written(tmp_path)
    assert set(written) >= {
        "captures/direct.jsonl",
        "reports/report.md",
        "reports/diagnosis.json",
    }
    assert any(name.startswith("proxy/") for name in written)
    leaks = {name: _leaks(text) for name, text in written.items() if _leaks(text)}
    assert leaks == {}


def test_the_cli_prints_no_secret_given_on_the_command_line_or_echoed_back(
    tmp_path: Path,
) -> None:
    with LoopbackServer(_backend()) as backend:
        url = f"{backend.url}/chatkit?access_token={QUERY_TOKEN}"
        result = CliRunner().invoke(
            cli_app,
            [
                "diagnose",
                url,
                "-H",
                f"Authorization: Bearer {BEARER_OPAQUE}",
                "-H",
                f"X-Api-Key: {API_KEY}",
                "--json",
                "--out",
                str(tmp_path / "cli-report.md"),
            ],
        )
    assert result.exit_code in (0, 1), result.output
    json.loads(result.stdout)
    assert _leaks(result.output) == []
    written = _all_written(tmp_path)
    assert "cli-report.md" in written
    assert {name: _leaks(text) for name, text in written.items() if _leaks(text)} == {}
