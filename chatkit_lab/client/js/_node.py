"""Running the kit's Node project from Python: ChatKit's own SSE parser, executed by Node.

The directory holding this module is a small Node project (``package.json`` and its lock file).
One of its dependencies is ``@microsoft/fetch-event-source``, the parser ChatKit's host script
inlines; other harnesses of the kit add their own. :func:`ensure_node_modules` installs what the
lock file pins, once, with ``npm ci``; :func:`run_fetch_event_source` feeds bodies to the
package's real parser in a single Node process and returns what it dispatched.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatkit_lab.errors import ChatKitLabError
from chatkit_lab.redact import redact_text

JS_DIR = Path(__file__).resolve().parent
"""The Node project: ``package.json``, ``package-lock.json`` and the harness scripts."""
PACKAGE = "@microsoft/fetch-event-source"
DISPATCH_SCRIPT = JS_DIR / "sse_dispatch.mjs"
MIN_NODE_MAJOR = 18
"""The harness needs the global ``ReadableStream`` and ``TextDecoder`` (Node 18 and later)."""
INSTALL_TIMEOUT_S = 180.0
RUN_TIMEOUT_S = 120.0
_TAIL = 2000


class NodeError(ChatKitLabError):
    """Node or npm is missing, too old, or the install or a harness run failed."""


@dataclass
class NodeDispatch:
    """What ``@microsoft/fetch-event-source``'s parser dispatched for one body, under Node."""

    name: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    """Each ``{data, event, id, retry, last_event_id}``, in dispatch order."""
    last_event_id: str | None = None
    """The ``last-event-id`` header a reconnect would send after the body (``None``: unset)."""
    retry_interval: int | float | str | None = None
    error: str | None = None
    """What the parser threw, if it did."""


def locked_version() -> str:
    """The exact ``@microsoft/fetch-event-source`` version the lock file pins."""
    lock = json.loads((JS_DIR / "package-lock.json").read_text(encoding="utf-8"))
    return str(lock["packages"][f"node_modules/{PACKAGE}"]["version"])


def installed_version(package: str = PACKAGE) -> str | None:
    """An installed package's version, ``None`` when ``node_modules`` does not hold it."""
    manifest = JS_DIR / "node_modules" / package / "package.json"
    try:
        return str(json.loads(manifest.read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError):
        return None


def _installed() -> bool:
    """Whether ``node_modules`` holds every package the lock file pins, at its locked version."""
    lock = json.loads((JS_DIR / "package-lock.json").read_text(encoding="utf-8"))
    for key, entry in lock.get("packages", {}).items():
        if key.startswith("node_modules/") and not entry.get("optional"):
            if installed_version(key.removeprefix("node_modules/")) != entry.get("version"):
                return False
    return True


def node_missing_reason() -> str | None:
    """Why the Node harness cannot run here (``node`` or ``npm`` missing, too old), or ``None``."""
    node = shutil.which("node")
    if node is None:
        return "node is not installed (no `node` on PATH): the Node cross-check needs Node 18+"
    try:
        shown = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=20, check=False
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"node did not run (`node --version`: {exc})"
    found = re.match(r"v(\d+)\.", shown)
    if found is None or int(found.group(1)) < MIN_NODE_MAJOR:
        return f"node {shown or '(unknown version)'} is too old: the harness needs Node 18+"
    if not _installed() and shutil.which("npm") is None:
        return "npm is not installed (no `npm` on PATH): it is needed once, to install the harness"
    return None


def _tail(text: str) -> str:
    text = redact_text(text.strip())
    return text if len(text) <= _TAIL else "…" + text[-_TAIL:]


def _npm_reason(text: str) -> str:
    """The lines of npm's error output that say why (its usage help that follows is dropped)."""
    said: list[str] = []
    for line in text.splitlines():
        line = line.removeprefix("npm error").removeprefix("npm ERR!").strip()
        if line.startswith("Usage:"):
            break
        if line:
            said.append(line)
    text = redact_text(" / ".join(said))
    return text if len(text) <= _TAIL else text[:_TAIL] + "…"


def ensure_node_modules(timeout_s: float = INSTALL_TIMEOUT_S) -> Path:
    """Install the locked dependencies with ``npm ci`` unless they are there; return the project.

    Runs at most one install, bounded by ``timeout_s``. Raises :class:`NodeError` with the
    reason when ``node`` or ``npm`` is missing or the install fails.
    """
    reason = node_missing_reason()
    if reason is not None:
        raise NodeError(reason)
    if _installed():
        return JS_DIR
    npm = shutil.which("npm")
    if npm is None:  # pragma: no cover - node_missing_reason() already said so
        raise NodeError("npm is not installed (no `npm` on PATH)")
    try:
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise NodeError(f"`npm ci` did not finish within {timeout_s:g} s") from exc
    except OSError as exc:
        raise NodeError(f"`npm ci` could not start: {exc}") from exc
    if done.returncode != 0:
        raise NodeError(
            f"`npm ci` failed (exit {done.returncode}) in the kit's Node project: "
            f"{_npm_reason(done.stderr or done.stdout)}"
        )
    if not _installed():
        raise NodeError("`npm ci` ran but node_modules still lacks packages the lock file pins")
    return JS_DIR


def run_fetch_event_source(
    bodies: Mapping[str, Sequence[bytes]], timeout_s: float = RUN_TIMEOUT_S
) -> dict[str, NodeDispatch]:
    """Run each body (name -> its chunks) through the real package's parser, in one Node process.

    Installs the package first if needed (:func:`ensure_node_modules`). Raises
    :class:`NodeError` when Node is unavailable, the run exceeds ``timeout_s`` or its output is
    not what the harness prints.
    """
    ensure_node_modules()
    node = shutil.which("node")
    if node is None:  # pragma: no cover - ensure_node_modules() already said so
        raise NodeError("node is not installed (no `node` on PATH)")
    lines = [
        json.dumps(
            {"name": name, "chunks": [base64.b64encode(bytes(chunk)).decode() for chunk in chunks]}
        )
        for name, chunks in bodies.items()
    ]
    try:
        done = subprocess.run(
            [node, str(DISPATCH_SCRIPT)],
            cwd=JS_DIR,
            input="\n".join(lines) + "\n",
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise NodeError(f"the Node harness did not finish within {timeout_s:g} s") from exc
    except OSError as exc:
        raise NodeError(f"the Node harness could not start: {exc}") from exc
    if done.returncode != 0:
        raise NodeError(f"the Node harness failed (exit {done.returncode}): {_tail(done.stderr)}")
    results: dict[str, NodeDispatch] = {}
    for line in done.stdout.split("\n"):  # not splitlines(): U+2028 and NEL are in the JSON
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            result = NodeDispatch(
                name=str(record["name"]),
                messages=list(record.get("messages", [])),
                last_event_id=record.get("last_event_id"),
                retry_interval=record.get("retry_interval"),
                error=record.get("error"),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise NodeError(f"the Node harness printed an unexpected line: {_tail(line)}") from exc
        results[result.name] = result
    missing = [name for name in bodies if name not in results]
    if missing:
        raise NodeError(f"the Node harness gave no result for {len(missing)} body(ies)")
    return results
