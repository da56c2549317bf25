"""The bounds page states the values the code uses (a bound changed in code shows up here)."""

from __future__ import annotations

from pathlib import Path

from chatkit_lab.client import _node_fetch
from chatkit_lab.client import _node_fetch as _node_outcome
from chatkit_lab.client import _node_fetch as _node_process
from chatkit_lab.report import _inert
from chatkit_lab.sources import DEFAULT_LIMITS, _files
from chatkit_lab.sources import _har as _har_stream
from chatkit_lab.sources._proxy import PROXY_LIMITS
from chatkit_lab.sse import _dispatch as _message

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "concepts" / "bounds.md"


def test_the_bounds_page_is_linked_from_the_docs_index() -> None:
    assert "(concepts/bounds.md)" in (ROOT / "docs" / "README.md").read_text()


def test_the_bounds_page_states_the_values_the_code_uses() -> None:
    page = PAGE.read_text()
    stated = {
        "connect": f"{DEFAULT_LIMITS.connect_s:g} s, at most `--timeout`",
        "read": f"{DEFAULT_LIMITS.read_s:g} s, at most `--timeout`",
        "max_bytes": f"{DEFAULT_LIMITS.max_bytes // 2**20} MiB",
        "retry digits": f"{_message.MAX_DECIMAL_DIGITS} significant digits",
        "HAR depth": f"{_har_stream.MAX_DEPTH} levels",
        "HAR head": f"{_har_stream.HEAD_EVENTS:,} parse events",
        "folder files": f"{_files.MAX_FILES:,}",
        "proxy": f"{PROXY_LIMITS.connect_s:g} s / {PROXY_LIMITS.read_s:g} s / "
        f"{PROXY_LIMITS.total_s:,.0f} s",
        "heap": f"{_node_process.HEAP_MB} MiB",
        "session": "four times" if _node_fetch.SESSION_FACTOR == 4 else "?",
        "controls": f"{_node_outcome.CONTROL_MAX} each",
        "output": f"{_node_process.OUTPUT_MAX // 1024} KiB in all, "
        f"{_node_process.OUTPUT_LINE_MAX:,} characters a line",
        "console": f"{_node_outcome.CONSOLE_MAX // 1024} KiB",
        "cell": f"{_inert.CELL_LIMIT} characters",
        "rows": f"| {_inert.MAX_ROWS} |",
    }
    missing = {name: text for name, text in stated.items() if text not in page}
    assert not missing, missing
