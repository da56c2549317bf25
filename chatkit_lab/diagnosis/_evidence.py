"""Evidence on disk: a run's captures saved, redacted, one file each, named in every reason.

Any run can save its captures (the kit playing the client in process or against a URL, a HAR
import, a proxy recording read back): :func:`save_run` writes each capture the session model
holds to ``DIR/NNN_<name>.jsonl`` with the run's redactor, in session order, so the folder is
itself a recording ``chatkit-lab diagnose DIR`` reads again. The diagnosis remembers which file
holds which capture (:attr:`~chatkit_lab.diagnosis.Diagnosis.saved`) and the session model's
exchanges carry it, so every reason that cites a capture can name its file.
"""

from __future__ import annotations

import re
from pathlib import Path

from chatkit_lab.capture import save_captures
from chatkit_lab.diagnosis._model import Diagnosis
from chatkit_lab.errors import ChatKitLabError

__all__ = ["save_run"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_NAME = 60


def _file_name(number: int, name: str, redact: object) -> str:
    safe = redact(name) if callable(redact) else name  # a capture name may hold a URL's token
    slug = _UNSAFE.sub("-", str(safe)).strip("-.")[:_MAX_NAME] or "capture"
    return f"{number:03d}_{slug}.jsonl"


def save_run(diagnosis: Diagnosis, directory: str | Path) -> dict[str, str]:
    """Save every capture of ``diagnosis``, redacted, one file each in ``directory``; return
    (and record on the diagnosis) capture name -> file name.

    Raises :class:`~chatkit_lab.errors.ChatKitLabError` naming the folder when it cannot be
    written.
    """
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ChatKitLabError(f"cannot save captures in {folder}: {exc}") from None
    captures = list(diagnosis.captures)
    life = diagnosis.lifecycle
    if life is not None:
        seen = {id(capture) for capture in captures}
        for step in life.steps:
            for capture in (*step.wire, step.handed_back):
                if capture is not None and id(capture) not in seen:
                    seen.add(id(capture))
                    captures.append(capture)
    saved: dict[str, str] = {}
    for number, capture in enumerate(captures, start=1):
        if capture.name in saved:
            continue
        name = _file_name(number, capture.name, diagnosis.redactor.redact_text)
        try:
            save_captures([capture], folder / name, redactor=diagnosis.redactor)
        except OSError as exc:
            raise ChatKitLabError(f"cannot save captures in {folder}: {exc}") from None
        saved[capture.name] = name
    diagnosis.saved.update(saved)
    for finding in diagnosis.findings:  # every table and listing that cites it names the file
        name = saved.get(finding.evidence.capture or "")
        if name is not None:
            finding.evidence.detail["file"] = name
    if diagnosis.session is not None:
        diagnosis.session.with_files(saved)
    return saved
