"""A backend that reflects every credential it is sent, and helpers to hunt for leaks.

The backend decodes what a client sends (each cookie on its own, the ``user:password`` of Basic
auth, the bearer token) and writes each value back, bare, into places no secret name points at:
the assistant text of its event stream (sent in two deltas), a notice, a thread title, and the
cookie it sets. A kit that only redacts by header name or by shape leaks all of them.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hostile_servers import sse, thread, valid_events
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

STREAMING = frozenset(
    {
        "threads.create",
        "threads.add_user_message",
        "threads.add_client_tool_output",
        "threads.retry_after_item",
        "threads.custom_action",
    }
)
SERVER_SESSION = "PLANTEDserverSession-5c4b3a2918"
"""The session cookie the backend sets, and echoes back in its own reply."""


def seen_credentials(request: Request) -> list[str]:
    """Every credential in the request, decoded: cookie values, Basic user:pw and pw, tokens."""
    values = [value for value in request.cookies.values() if value]
    for name in ("authorization", "x-api-key"):
        header = request.headers.get(name, "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credential).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            values += [decoded, decoded.partition(":")[2], credential]
        elif header:
            values.append(credential or header)
    return [value for value in values if value]


def echo_text(values: Iterable[str]) -> str:
    return "you sent: " + " , ".join(values) + " . ok"


async def reflect(request: Request) -> Response:
    body = await request.body()
    try:
        request_type = json.loads(body).get("type")
    except (ValueError, AttributeError):
        request_type = None
    echoed = echo_text([*seen_credentials(request), SERVER_SESSION])
    cookie = f"sid={SERVER_SESSION}; Path=/; HttpOnly"
    if request_type in STREAMING:
        events = valid_events(echoed)
        events.insert(1, {"type": "notice", "level": "info", "message": echoed})
        stream = b"".join(sse(event) for event in events)
        return Response(stream, media_type="text/event-stream", headers={"set-cookie": cookie})
    payload: dict[str, Any]
    if request_type in ("threads.list", "items.list"):
        payload = {"data": [], "has_more": False, "after": None, "note": echoed}
    elif request_type == "threads.delete":
        payload = {"note": echoed}
    else:
        payload = thread(title=echoed)
    return JSONResponse(payload, headers={"set-cookie": cookie})


def reflecting_backend() -> Starlette:
    """The reflecting backend: ``POST /chatkit`` and any path below ``/cb/``."""
    return Starlette(
        routes=[
            Route("/chatkit", reflect, methods=["POST"]),
            Route("/cb/{rest:path}", reflect, methods=["POST"]),
        ]
    )


# -- hunting for leaks -------------------------------------------------------------------------


def pieces(secret: str, size: int = 8) -> set[str]:
    """The secret and every ``size``-character piece of it (a marker keeps 4 at most)."""
    if len(secret) <= size:
        return {secret}
    return {secret} | {secret[i : i + size] for i in range(len(secret) - size + 1)}


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    """Which planted secrets (or pieces of them) ``text`` holds."""
    return sorted(
        f"{name}: {piece!r}"
        for name, secret in secrets.items()
        for piece in pieces(secret)
        if piece in text
    )


def written(root: Path) -> dict[str, str]:
    """Every file under ``root``, as text."""
    return {
        str(path.relative_to(root)): path.read_bytes().decode("utf-8", "replace")
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def leaks_in_files(root: Path, secrets: dict[str, str]) -> dict[str, list[str]]:
    found = {name: leaks(text, secrets) for name, text in written(root).items()}
    return {name: hits for name, hits in found.items() if hits}
