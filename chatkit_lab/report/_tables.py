"""What a diagnosis shows, redacted: the tables and lines the report and the notebooks display.

Each function here redacts with the diagnosis's own redactor (the secrets its run was given)
joined with the current one, so a notebook displays them as they are: it never redacts by hand.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from chatkit_lab.diagnosis import Diagnosis
from chatkit_lab.redact import Redactor, current_redactor, shorten
from chatkit_lab.report._sections import verdict_block


def redactor_for(diagnoses: Diagnosis | Iterable[Diagnosis]) -> Redactor:
    """The current redactor joined with the redactor of each diagnosis (all their secrets)."""
    chosen = [diagnoses] if isinstance(diagnoses, Diagnosis) else list(diagnoses)
    scrub = current_redactor()
    for diagnosis in chosen:
        own = getattr(diagnosis, "redactor", None)
        if isinstance(own, Redactor):
            scrub = scrub.with_secrets(own.secrets)
    return scrub


def shown_table(table: pd.DataFrame, redactor: Redactor, limit: int | None = None) -> pd.DataFrame:
    """``table`` redacted, then each text cell cut to ``limit`` characters (when given)."""
    out = redactor.redact_dataframe(table)
    if limit is None or out.empty:
        return out
    for column in out.columns:
        out[column] = [
            shorten(value, limit) if isinstance(value, str) else value for value in out[column]
        ]
    return out


def lifecycle_table(diagnosis: Diagnosis, redactor: Redactor | None = None) -> pd.DataFrame:
    """One row per request of the client session (empty when the diagnosis ran no session)."""
    if diagnosis.lifecycle is None:
        return pd.DataFrame()
    return shown_table(diagnosis.lifecycle.table(), redactor or redactor_for(diagnosis))


def lifecycle_notes(diagnosis: Diagnosis, redactor: Redactor | None = None) -> list[str]:
    """What the session noted, and which threads it created (and deleted) in the target."""
    life = diagnosis.lifecycle
    if life is None:
        return []
    lines = list(life.notes)
    if life.created_threads:
        deleted = life.deleted_threads
        lines.append(
            f"threads created in the target: {', '.join(life.created_threads)}"
            + (f"; deleted again at the end: {', '.join(deleted)}" if deleted else "")
        )
    scrub = redactor or redactor_for(diagnosis)
    return [scrub.redact_text(line) for line in lines]


def reload_tables(
    diagnosis: Diagnosis, redactor: Redactor | None = None
) -> list[tuple[str, pd.DataFrame]]:
    """``(name, table)`` per reload: what streamed against what the reload returned."""
    scrub = redactor or redactor_for(diagnosis)
    return [
        (scrub.redact_text(reload.name), shown_table(reload.table(), scrub))
        for reload in diagnosis.reloads
    ]


def transcripts(diagnosis: Diagnosis, redactor: Redactor | None = None) -> list[tuple[str, str]]:
    """``(capture, text)``: what the client would render after each analysed stream."""
    scrub = redactor or redactor_for(diagnosis)
    out = []
    for name, analysis in diagnosis.analyses.items():
        final = getattr(analysis, "final", None)
        if final is None:
            continue
        out.append((scrub.redact_text(name), scrub.redact_text(final.transcript() or "(nothing)")))
    return out


def verdict_lines(diagnosis: Diagnosis, redactor: Redactor | None = None) -> list[str]:
    """The verdict as markdown lines: the first broken layer, its evidence and its whole fix.

    Every value is redacted (before any excerpt is cut) and inert markdown.
    """
    return verdict_block(diagnosis, redactor or redactor_for(diagnosis))
