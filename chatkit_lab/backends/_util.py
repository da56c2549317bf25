"""Small helpers shared by the backends."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import weakref


def split_deltas(text: str, words_per_delta: int = 2) -> list[str]:
    """Cut ``text`` into deltas of a few words each; ``"".join(result) == text``."""
    if not text:
        return []
    leading = text[: len(text) - len(text.lstrip())]
    words = re.findall(r"\S+\s*", text)
    if not words:
        return [text]
    size = max(1, words_per_delta)
    chunks = ["".join(words[i : i + size]) for i in range(0, len(words), size)]
    chunks[0] = leading + chunks[0]
    return chunks


def temporary_db_path(prefix: str) -> str:
    """A new, empty temporary file for a SQLite database."""
    handle, name = tempfile.mkstemp(prefix=prefix, suffix=".sqlite3")
    os.close(handle)
    return name


def _remove(path: str) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        with contextlib.suppress(OSError):
            os.remove(path + suffix)


def remove_with(owner: object, path: str) -> None:
    """Delete the temporary database at ``path`` once ``owner`` is garbage collected."""
    weakref.finalize(owner, _remove, path)
