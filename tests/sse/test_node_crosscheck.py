"""The kit dispatches exactly what the real @microsoft/fetch-event-source dispatches, under Node.

The package is installed from the lock file of the kit's Node project (``npm ci``, once) and its
own parser runs over the whole framing corpus (recorded streams, hostile bodies, edge cases and
seeded random bodies, each in several chunkings) in a single Node process. Without ``node`` (or
without ``npm`` before the first install) the tests are skipped, saying so.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
from framing_corpus import EDGE_CASES, framing_corpus

from chatkit_lab.client.js import (
    NodeDispatch,
    NodeError,
    _node,
    ensure_node_modules,
    locked_version,
    node_missing_reason,
    run_fetch_event_source,
)
from chatkit_lab.sse import MessageParser, run_message_parser

CORPUS = framing_corpus()


def _retry(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def kit_view(parser: MessageParser) -> dict[str, Any]:
    """The kit's messages in the harness's terms (an unset last-event-id header is ``None``)."""
    return {
        "messages": [
            {
                "data": m.data,
                "event": m.event,
                "id": m.id,
                "retry": _retry(m.retry),
                "last_event_id": m.last_event_id or None,
            }
            for m in parser.messages
        ],
        "last_event_id": parser.last_event_id or None,
        "retry_interval": _retry(parser.retry_ms),
    }


def node_view(result: NodeDispatch) -> dict[str, Any]:
    return {
        "messages": result.messages,
        "last_event_id": result.last_event_id,
        "retry_interval": result.retry_interval,
    }


@pytest.fixture(scope="session")
def node_results() -> dict[str, NodeDispatch]:
    reason = node_missing_reason()
    if reason is not None:
        pytest.skip(f"skipped: {reason}")
    return run_fetch_event_source(CORPUS)


def test_the_lock_file_pins_an_exact_2_x_version_of_the_package() -> None:
    version = locked_version()
    assert version.startswith("2.") and version.replace(".", "").isdigit()


def test_the_corpus_covers_streams_hostile_bodies_and_every_edge_case() -> None:
    prefixes = {name.split("/")[0] for name in CORPUS}
    assert {"streams", "hostile", "edge", "generated"} <= prefixes
    assert sum(name.startswith("hostile/") for name in CORPUS) >= 30
    assert all(name in CORPUS for name in EDGE_CASES)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_the_kit_dispatches_the_same_messages_as_the_real_package(
    name: str, node_results: dict[str, NodeDispatch]
) -> None:
    result = node_results[name]
    assert result.error is None, result.error
    assert kit_view(run_message_parser(CORPUS[name])) == node_view(result)


def test_the_corpus_makes_the_package_dispatch_what_whatwg_would_not(
    node_results: dict[str, NodeDispatch],
) -> None:
    # the cross-check is only worth something if the real package shows the documented rules
    ping = node_results["edge/comment-only"].messages
    assert ping == [{"data": "", "event": "", "id": "", "retry": None, "last_event_id": None}]
    assert node_results["edge/no-colon-data"].messages[0]["data"] == "x"
    assert node_results["edge/empty-then-data"].messages[0]["data"] == "x\n"
    assert node_results["edge/bom-in-value"].messages[0]["data"] == "a"
    assert node_results["edge/trailing-partial-line"].messages[-1]["data"] == "a"


def test_without_node_the_harness_fails_with_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    reason = node_missing_reason()
    assert reason is not None and "node is not installed" in reason
    with pytest.raises(NodeError, match="node is not installed"):
        run_fetch_event_source({"a": [b"data: a\n\n"]})


def test_an_install_that_fails_gives_npms_reason_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if shutil.which("npm") is None or node_missing_reason() is not None:
        pytest.skip("skipped: npm or node is not installed, so no install can be tried")
    project = tmp_path / "js"
    shutil.copytree(_node.JS_DIR, project, ignore=shutil.ignore_patterns("node_modules", "*.py"))
    lock = json.loads((project / "package-lock.json").read_text(encoding="utf-8"))
    lock["packages"][f"node_modules/{_node.PACKAGE}"]["version"] = "2.0.999"
    (project / "package-lock.json").write_text(json.dumps(lock), encoding="utf-8")
    monkeypatch.setattr(_node, "JS_DIR", project)
    with pytest.raises(NodeError, match=r"`npm ci` failed .*2\.0\.999"):
        ensure_node_modules(timeout_s=120)
