"""Writing output files whole or not at all.

A report (or a plot) is written to a temporary file in the same directory and moved over the
target with :func:`os.replace`, so a failure half way leaves the previous file as it was and no
reader ever sees half a report. Bad destinations are :class:`ReportError`, with the reason.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from chatkit_lab.errors import ChatKitLabError


class ReportError(ChatKitLabError):
    """A report cannot be written where it was asked to go (a directory, no permission...)."""


def destination(path: str | Path) -> Path:
    """``path`` checked as a file to write: not a directory, its folder creatable.

    Raises :class:`ReportError` naming the problem; creates the parent folder.
    """
    target = Path(path).expanduser()
    if target.is_dir():
        raise ReportError(
            f"{target} is a directory: give a file name for the report (e.g. "
            f"{target / 'report.md'})"
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ReportError(f"cannot write {target}: {target.parent} is not a directory") from None
    except OSError as exc:
        raise ReportError(f"cannot create {target.parent}: {exc.strerror or exc}") from None
    return target


@contextlib.contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path``; moved over ``path`` when the block ends without error.

    On any error the temporary file is removed and ``path`` is left untouched.
    """
    target = destination(path)
    try:
        handle, name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".part", dir=target.parent
        )
    except OSError as exc:
        raise ReportError(f"cannot write in {target.parent}: {exc.strerror or exc}") from None
    os.close(handle)
    temporary = Path(name)
    with contextlib.suppress(OSError):  # mkstemp makes it private; a report is an ordinary file
        temporary.chmod(_mode(target))
    try:
        yield temporary
        os.replace(temporary, target)
    except OSError as exc:
        raise ReportError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink()


def _mode(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8; anything unencodable shown as an escape) to ``path``, whole."""
    data = text.encode("utf-8", errors="backslashreplace")
    with replacing(path) as temporary:
        temporary.write_bytes(data)
    return Path(path).expanduser()


def write_with(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(temporary)`` and move the result over ``path`` (a plot's ``savefig``)."""
    with replacing(path) as temporary:
        write(temporary)
    return Path(path).expanduser()


__all__ = ["ReportError", "destination", "replacing", "write_text", "write_with"]
