"""The kit's Node project (``package.json``, its lock file, the ``.mjs`` harnesses) and runner."""

from chatkit_lab.client.js._node import (
    JS_DIR,
    NodeDispatch,
    NodeError,
    ensure_node_modules,
    locked_version,
    node_missing_reason,
    run_fetch_event_source,
)

__all__ = [
    "JS_DIR",
    "NodeDispatch",
    "NodeError",
    "ensure_node_modules",
    "locked_version",
    "node_missing_reason",
    "run_fetch_event_source",
]
