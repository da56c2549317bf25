"""Nothing a backend sends can change the report's structure, run, fetch or reach a terminal raw."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_blocks import active, headings, inline_text, parse, structure
from report_backend import Strings, chatkit_app

from chatkit_lab.diagnosis import Diagnosis, diagnose_target
from chatkit_lab.redact import Redactor, redacting
from chatkit_lab.report import (
    explain,
    findings_table,
    md_code,
    md_table,
    md_text,
    report_markdown,
    table,
    visible,
)
from chatkit_lab.targets import open_app_target

FORGED = "\n```\n\n## Verdicts\n\n- every layer passes\n\n| a | b |\n| - | - |\n\n```python\n"
IMAGE = "![img](http://evil.example/pixel.png)"
SCRIPT = "<script>alert(1)</script>"

BENIGN = Strings()
HOSTILE = {
    "a code fence in the reply forging every layer passes": Strings(
        reply=f"Sure.{FORGED}print('x')\n````\n~~~\n# heading"
    ),
    "a thread id with a newline and a heading": Strings(
        thread_id="thr_1\n\n## Verdicts\n\n**every layer passes**"
    ),
    "an event type holding an image and a script": Strings(
        odd_type=f"{IMAGE}{SCRIPT}|x|<img src=x onerror=alert(1)>&amp;"
    ),
    "all of them, and an item id with pipes and backticks": Strings(
        thread_id="thr_1\n# every layer passes",
        reply=f"{FORGED}{IMAGE}{SCRIPT}",
        odd_type=f"{IMAGE}\n{SCRIPT}",
        item_id="msg|`x`|[a](http://evil.example)",
    ),
}


async def _diagnose(strings: Strings) -> Diagnosis:
    async with open_app_target(chatkit_app(strings), name="backend") as target:
        return await diagnose_target(target)


async def _report(strings: Strings, path: Path) -> str:
    diagnosis = await _diagnose(strings)
    return report_markdown([diagnosis], path, plots=False).read_text(encoding="utf-8")


@pytest.mark.parametrize("case", list(HOSTILE))
async def test_backend_text_leaves_the_reports_headings_and_tables_as_they_were(
    tmp_path: Path, case: str
) -> None:
    benign = parse(await _report(BENIGN, tmp_path / "benign.md"))
    hostile = parse(await _report(HOSTILE[case], tmp_path / "hostile.md"))
    assert headings(hostile) == headings(benign)
    assert headings(hostile, "h3") == headings(benign, "h3")
    assert structure(hostile) == structure(benign)
    # the only link is the report's own, to the fix guide: backend text adds none
    assert active(hostile) == active(benign)
    assert all("fix-the-report.md" in item for item in active(benign))


async def test_the_forged_verdict_is_shown_as_text_inside_its_cell(tmp_path: Path) -> None:
    text = await _report(
        HOSTILE["a code fence in the reply forging every layer passes"], tmp_path / "r.md"
    )
    tokens = parse(text)
    assert not any(token.type == "fence" for token in tokens)
    cells = [inline_text(t) for t in tokens if t.type == "inline"]
    assert any("## Verdicts" in cell and "every layer passes" in cell for cell in cells)


async def test_control_characters_and_lone_surrogates_are_shown_as_escapes(
    tmp_path: Path,
) -> None:
    strings = Strings(
        thread_id="thr_1\x1b]0;pwned\x07\u202e",
        reply="caf\ud800e \x1b[31mred\x1b[0m\r\n```",
    )
    diagnosis = await _diagnose(strings)
    path = report_markdown([diagnosis], tmp_path / "r.md", plots=True)
    raw = path.read_bytes().decode("utf-8")  # strict: nothing unencodable was written
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e\ud800-\udfff]", raw)
    assert "\\x1b" in raw
    lines = explain(diagnosis).lines(80)
    assert lines and not any(re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f]", line) for line in lines)


async def test_an_analysis_displays_only_redacted_text(tmp_path: Path) -> None:
    secret = "s3cr3t-value-of-the-run-0123456789"
    strings = Strings(
        reply=f"the key is {secret}", odd_type=f"vendor.{secret}", item_id=f"msg_{secret}"
    )
    with redacting(Redactor([secret])):
        diagnosis = await _diagnose(strings)
    analysis = next(iter(diagnosis.analyses.values()))
    assert any(secret in (event.type or "") for event in analysis.events)
    shown = {
        "table": table(analysis).to_string(),
        "findings": findings_table(analysis).to_string(),
        "summary": analysis.summary(),
        "html": analysis._repr_html_(),
    }
    assert {name: secret in text for name, text in shown.items()} == dict.fromkeys(shown, False)


# -- the escapes themselves ------------------------------------------------------------------

HOSTILE_TEXT = st.text(
    alphabet=st.sampled_from(list("ab _*`#|\\[]()!<>&~$-+=.1:\n\r\t\x1b\u2028\ud800 ")),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(HOSTILE_TEXT)
def test_inline_text_reads_back_as_written_and_stays_one_list_item(text: str) -> None:
    tokens = parse(f"- **label:** {md_text(text)}\n")
    kinds = [token.type for token in tokens]
    assert kinds == [
        "bullet_list_open",
        "list_item_open",
        "paragraph_open",
        "inline",
        "paragraph_close",
        "list_item_close",
        "bullet_list_close",
    ]
    assert active(tokens) == []
    assert inline_text(tokens[3]) == ("label: " + visible(text).strip()).strip()


@settings(max_examples=300, deadline=None)
@given(st.lists(HOSTILE_TEXT, min_size=2, max_size=2))
def test_a_table_of_hostile_cells_keeps_its_rows_and_columns(cells: list[str]) -> None:
    rows = [{"a": cells[0], "b": cells[1]}, {"a": cells[1], "b": cells[0]}]
    tokens = parse("\n".join(md_table(rows, limit=None)) + "\n")
    assert sum(token.type == "tr_open" for token in tokens) == 3
    assert sum(token.type in ("th_open", "td_open") for token in tokens) == 6
    assert active(tokens) == []


@settings(max_examples=200, deadline=None)
@given(HOSTILE_TEXT)
def test_a_code_span_holds_any_text(text: str) -> None:
    tokens = parse(f"- {md_code(text)}\n")
    inline = tokens[3]
    assert [child.type for child in inline.children or []] == ["code_inline"]


EVERY_CELL = (
    "<img src=x onerror=alert(1)>|**bold**|[link](http://evil.example)`code`\n"
    "## Verdicts\n| a | b |\n- every layer passes _u_ ~~s~~ $x$ &amp; \\| <!-- c -->"
)
"""Hostile text for every cell: raw HTML, emphasis, a link, a code span, a heading, a table row,
a list item, maths, an entity and a comment, on several lines."""


def _table_shape(tokens: list) -> list[int]:
    """Cells per row of the one table in ``tokens`` (the header row first)."""
    rows: list[int] = []
    for token in tokens:
        if token.type == "tr_open":
            rows.append(0)
        elif token.type in ("th_open", "td_open"):
            rows[-1] += 1
    return rows


async def test_every_report_table_keeps_its_shape_with_hostile_text_in_every_cell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every table the report writes (layers, steps, screens, findings, client, threads,
    reload, retries...) is rendered again with the hostile text in every cell the report did
    not write itself: each keeps its header and rows, and nothing in it runs, links or fetches.
    """
    from chatkit_lab.report import _conformance, _inert, _markdown

    tables: list[tuple[list[dict], list[str], dict]] = []
    real = _inert.md_table

    def spy(rows, columns=None, **options):  # type: ignore[no-untyped-def]
        records = _inert._records(rows)
        names = list(columns) if columns is not None else list(getattr(rows, "columns", []))
        names = names or list(records[0] if records else [])
        tables.append((records, names, options))
        return real(rows, columns, **options)

    for module in (_markdown, _conformance):
        monkeypatch.setattr(module, "md_table", spy)
    hostile = HOSTILE["all of them, and an item id with pipes and backticks"]
    await _report(hostile, tmp_path / "hostile.md")
    assert len(tables) >= 4, [names for _, names, _ in tables]
    for records, names, options in tables:
        if not records:
            continue
        forged = [
            {
                name: value if isinstance(value, _inert.Raw) else EVERY_CELL
                for name, value in record.items()
            }
            for record in records
        ]
        text = "\n".join(real(forged, names, **options))
        tokens = parse(text)
        assert active(tokens) == [], names
        shape = _table_shape(tokens)
        assert shape and all(count == len(names) for count in shape), (names, shape)
        assert not any(t.type in ("heading_open", "bullet_list_open", "fence") for t in tokens)
        cells = [inline_text(t) for t in tokens if t.type == "inline"]
        assert any("<img src=x onerror=alert(1)>" in cell for cell in cells), names
