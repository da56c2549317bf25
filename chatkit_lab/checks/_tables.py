"""Findings as a table: display code, kept out of the check data model.

Findings hold raw evidence; a table is something shown, so whoever shows it passes its redaction
(``redact``), which is applied to every text cell before the evidence line is shortened.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from chatkit_lab.checks._model import LAYERS, Finding

__all__ = ["findings_table"]

COLUMNS = ["layer", "code", "severity", "summary", "evidence", "fix"]


def findings_table(
    findings: list[Finding], redact: Callable[[str], str] | None = None
) -> pd.DataFrame:
    """Findings as a table sorted by layer order, with the evidence as one readable column."""
    keep: Callable[[str], str] = redact if redact is not None else _same
    rows = [
        {
            "layer": f.layer,
            "code": f.code,
            "severity": f.severity,
            "summary": keep(f.summary),
            "evidence": keep(f.evidence.describe(redact)),
            "fix": f.fix,
        }
        for f in sorted(findings, key=lambda f: LAYERS.index(f.layer))
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def _same(text: str) -> str:
    return text
