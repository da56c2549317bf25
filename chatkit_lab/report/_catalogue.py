"""The check catalogue: one block per check in the terminal, one section per check in markdown.

Read from the table of declarations (scenario, code, layer, severity, description, expectation,
fix) the command line assembles from the registries; nothing here is written per check.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from chatkit_lab.checks import LAYERS, check_specs, checks_of
from chatkit_lab.report._inert import inert, md_code
from chatkit_lab.scenarios import scenarios

COLUMNS = ["scenario", "code", "layer", "severity", "description", "expectation", "fix"]


def checks_table(*, scenarios_too: bool = True) -> pd.DataFrame:
    """Every check, from the declarations the registries list: the layer modules' (run on every
    exchange, scenario ``all``, in layer order) then, with ``scenarios_too``, each scenario's
    own (in table order)."""
    specs = sorted(check_specs().values(), key=lambda spec: (LAYERS.index(spec.layer), spec.code))
    rows = [{"scenario": "all", **{c: getattr(spec, c) for c in COLUMNS[1:]}} for spec in specs]
    if scenarios_too:
        rows += [
            {"scenario": declared.name, **{c: getattr(item.spec, c) for c in COLUMNS[1:]}}
            for declared in scenarios().values()
            for item in checks_of(declared.checks)
        ]
    return pd.DataFrame(rows, columns=COLUMNS)


def _where(scenario: str) -> str:
    if scenario == "all":
        return "every exchange of every run"
    return f"the {scenario} scenario (`diagnose --scenario {scenario}`)"


def catalogue_markdown(table: Any, header: str) -> str:
    """The catalogue as markdown: an index, then a section per check (narrow enough to read)."""
    rows = table.to_dict("records")
    lines = [header.rstrip(), ""]
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(str(row["scenario"]), []).append(row)
    lines += ["## Index", ""]
    for scenario, same in groups.items():
        title = "Every exchange" if scenario == "all" else f"Scenario {md_code(scenario)}"
        codes = ", ".join(f"[{md_code(row['code'])}](#{_anchor(row['code'])})" for row in same)
        lines += [f"- {title}: {codes}"]
    lines.append("")
    for row in rows:
        lines += [
            f"## {row['code']}",
            "",
            f"Layer **{inert(row['layer'])}**, severity **{inert(row['severity'])}**; "
            f"runs on {_where(str(row['scenario']))}.",
            "",
            inert(row["description"]),
            "",
            f"- **Expects:** {inert(row['expectation'])}",
            f"- **Fix:** {inert(row['fix'])}",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def _anchor(code: str) -> str:
    """GitHub's heading anchor for a code (lower case, dots and other marks dropped)."""
    return "".join(ch for ch in code.lower() if ch.isalnum() or ch in "-_ ").replace(" ", "-")


def catalogue_lines(table: Any, width: int = 80) -> list[str]:
    """The catalogue for the terminal: a block per check, wrapped between words."""
    from chatkit_lab.report._terminal import labelled, paragraph

    lines: list[str] = []
    for row in table.to_dict("records"):
        scenario = "" if row["scenario"] == "all" else f", scenario {row['scenario']}"
        head = f"{row['code']} ({row['severity']}, {row['layer']} layer{scenario})"
        lines += paragraph(head, width)
        lines += labelled(
            [("  expects", str(row["expectation"])), ("  fix", str(row["fix"]))], width, 10
        )
        lines.append("")
    return lines


__all__ = ["catalogue_lines", "catalogue_markdown"]
