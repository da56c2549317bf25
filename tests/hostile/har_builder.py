"""Small HAR files for the hostile tests: entries built from a request type and a reply."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def har_entry(
    started: str,
    url: str,
    request: dict[str, Any] | None,
    mime: str,
    text: str,
    *,
    status: int = 200,
) -> dict[str, Any]:
    """One HAR 1.2 entry: a POST of ``request`` (a GET when ``None``) answered with ``text``."""
    post = (
        {"mimeType": "application/json", "text": json.dumps(request)}
        if request is not None
        else None
    )
    entry_request: dict[str, Any] = {
        "method": "POST" if post else "GET",
        "url": url,
        "httpVersion": "HTTP/1.1",
        "headers": [{"name": "content-type", "value": "application/json"}],
        "queryString": [],
        "cookies": [],
        "headersSize": -1,
        "bodySize": len(post["text"]) if post else 0,
    }
    if post:
        entry_request["postData"] = post
    return {
        "startedDateTime": started,
        "time": 10.0,
        "request": entry_request,
        "response": {
            "status": status,
            "statusText": "",
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": "content-type", "value": mime}],
            "cookies": [],
            "content": {"size": len(text), "mimeType": mime, "text": text},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
        },
        "cache": {},
        "timings": {"send": 1.0, "wait": 5.0, "receive": 4.0},
    }


def write_har(path: Path, entries: list[dict[str, Any]]) -> Path:
    """Write ``entries`` as a HAR 1.2 file at ``path``."""
    log = {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": entries}
    path.write_text(json.dumps({"log": log}), encoding="utf-8")
    return path
