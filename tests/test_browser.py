"""The notebooks as a reader sees them: JupyterLab in headless Chromium, driven by Playwright.

The test starts its own JupyterLab (127.0.0.1, a free port, a random token) on a temporary copy
of ``notebooks/``, with every Jupyter directory inside a temporary tree. It checks that each
notebook opens trusted (after the one-time ``jupyter trust`` the notebooks README asks for) and
unmodified, and that saving it unexecuted rewrites neither file of the pair; then it runs
notebook 02, checks at common window widths that no two output tables overlap, that none is
wider than the notebook and that the ``should_be`` column is in view, checks that the event
slider replays the thread, and saves screenshots under ``reports/browser/``. Then it runs every
notebook at 1280 px (no output scrolls sideways, no table is wider than its output, no cell's
text is cut; the notebooks that show a session draw its screens as pictures) and renders the
investigation report as GitHub does at 980 px (no table, image or block overflows; the screens
picture and the link to the fix guide lead it), keeping a picture of each under
``reports/screenshots/`` (git-ignored; CI keeps them as artifacts).

Chromium is Debian's package (``apt-get install chromium``; ``.ci/run`` installs it), not a
Playwright download. Where it is missing, the test is skipped and says so.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_lab import GITHUB_WIDTH, JupyterLabServer, render_report

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
SCREENSHOTS = ROOT / "reports" / "browser"
ARTIFACTS = ROOT / "reports" / "screenshots"
"""Where every notebook at 1280 px and the report at 980 px are kept (git-ignored; CI keeps them
as artifacts)."""
NOTEBOOK_WIDTH = 1280
PICTURED = ("03_store_behaviour", "04_pinpoint", "05_staging")
"""Notebooks that draw a session's screens as pictures."""
LONGEST_SHOT = 16_000
"""A full-notebook screenshot is cut at this many pixels (Chromium's own limit is 16,384)."""
NOTEBOOKS = sorted(path.stem for path in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
EVENTS = "02_events_and_ordering"
WIDTHS = (1400, 1440, 1920)
HEIGHT = 1000
ACTION_TIMEOUT_MS = 30_000
OPEN_TIMEOUT_MS = 90_000
RUN_ALL_TIMEOUT_MS = 240_000

# Every cell laid out, not only those in view, so that table positions are real ones.
SETTINGS: dict[str, dict[str, object]] = {
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
}


def chromium_executable() -> str | None:
    """Debian's chromium: on PATH, or where the package puts it."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    for candidate in ("/usr/bin/chromium", "/usr/lib/chromium/chromium"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


CHROMIUM = chromium_executable()
pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="chromium is not installed (Debian: apt-get install chromium); "
        "the browser test drives JupyterLab in it",
    ),
    pytest.mark.timeout(420),
]

# -- page helpers (JupyterLab is exposed as window.jupyterapp) ------------------------------

CURRENT = "window.jupyterapp.shell.currentWidget"

OPENED_AND_SETTLED = """async (path) => {
    // Opened with its kernel started, and settled: dirty flag and trust indicator as shown.
    const app = window.jupyterapp;
    const widget = await app.commands.execute('docmanager:open', { path, factory: 'Notebook' });
    await widget.context.ready;
    await widget.sessionContext.ready;
    const kernel = widget.sessionContext.session.kernel;
    await kernel.info;
    await kernel.spec;
    // The panel writes language_info and kernelspec once those replies are in.
    await new Promise(resolve => setTimeout(resolve, 500));
    const status = document.querySelector('.jp-StatusItem-trust');
    return {
        dirty: widget.context.model.dirty,
        trust: status ? status.title : null,
        kernel: kernel.status,
    };
}"""

RUN_STATE = f"""() => {{
    const widget = {CURRENT};
    const kernel = widget.sessionContext.session && widget.sessionContext.session.kernel;
    let total = 0, done = 0;
    const errors = [];
    for (const cell of widget.content.model.cells) {{
        if (cell.type !== 'code') continue;
        total += 1;
        if (cell.executionCount !== null) done += 1;
        for (let i = 0; i < cell.outputs.length; i++) {{
            const output = cell.outputs.get(i).toJSON();
            if (output.output_type === 'error') errors.push(output.ename + ': ' + output.evalue);
        }}
    }}
    const idle = Boolean(kernel) && kernel.status === 'idle';
    return idle && (done === total || errors.length > 0) ? {{ total, done, errors }} : null;
}}"""

TABLE_BOXES = f"""() => {{
    const notebook = {CURRENT}.content.node;
    return Array.from(notebook.querySelectorAll('.jp-OutputArea-output table'))
        .map(table => {{
            const box = table.getBoundingClientRect();
            const head = Array.from(table.querySelectorAll('th')).map(th => th.innerText.trim());
            return {{ left: box.left, top: box.top, right: box.right, bottom: box.bottom,
                      head: head.filter(Boolean).slice(0, 6).join(', ') }};
        }})
        .filter(box => box.right > box.left && box.bottom > box.top);
}}"""

TOO_WIDE = f"""() => {{
    // Tables wider than their output (read only by scrolling sideways), by their first headers.
    const notebook = {CURRENT}.content.node;
    return Array.from(notebook.querySelectorAll('.jp-OutputArea-output table'))
        .filter(table => table.getBoundingClientRect().right
            > table.closest('.jp-OutputArea-output').getBoundingClientRect().right + 1)
        .map(table => Array.from(table.querySelectorAll('th'))
            .map(th => th.innerText.trim()).filter(Boolean).slice(0, 4).join(', '));
}}"""

SHOULD_BE_VISIBLE = f"""() => {{
    // Each should_be header, scrolled into view: inside its output and not covered by anything.
    const notebook = {CURRENT}.content.node;
    const headers = Array.from(notebook.querySelectorAll('.jp-OutputArea-output th'))
        .filter(th => th.innerText.trim() === 'should_be');
    return headers.map(th => {{
        th.scrollIntoView({{ block: 'center', inline: 'nearest' }});
        const area = th.closest('.jp-OutputArea-output').getBoundingClientRect();
        const visible = notebook.getBoundingClientRect();
        const box = th.getBoundingClientRect();
        const inside = box.left >= Math.max(area.left, visible.left) - 1
            && box.right <= Math.min(area.right, visible.right) + 1;
        const x = (box.left + box.right) / 2, y = (box.top + box.bottom) / 2;
        return inside && th.contains(document.elementFromPoint(x, y));
    }});
}}"""


def evaluate(
    page: Any, function: str, arg: object = None, timeout_ms: int = ACTION_TIMEOUT_MS
) -> Any:
    """``page.evaluate`` with a deadline: Playwright waits for a promise for ever."""
    bounded = """async ([arg, ms]) => Promise.race([
        (FUNCTION)(arg),
        new Promise((_, reject) => setTimeout(
            () => reject(new Error('no answer from the page within ' + ms + ' ms')), ms)),
    ])""".replace("FUNCTION", function)
    return page.evaluate(bounded, [arg, timeout_ms])


def overlapping(boxes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Pairs of boxes whose areas intersect by more than a pixel each way."""
    pairs = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            width = min(a["right"], b["right"]) - max(a["left"], b["left"])
            height = min(a["bottom"], b["bottom"]) - max(a["top"], b["top"])
            if width > 1 and height > 1:
                pairs.append((a["head"], b["head"]))
    return pairs


def resize(page: Any, width: int) -> None:
    """Set the window width and wait until JupyterLab has laid itself out again."""
    page.set_viewport_size({"width": width, "height": HEIGHT})
    page.wait_for_function(
        """(width) => new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(
            () => resolve(document.documentElement.clientWidth === width
                && document.querySelector('#jp-main-dock-panel').getBoundingClientRect().right
                   <= width))))""",
        arg=width,
    )
    page.wait_for_timeout(300)  # lumino's resize handling runs on the next frames


# -- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLabServer]:
    """JupyterLab serving a trusted copy of the notebooks."""
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    shutil.copytree(
        NOTEBOOK_DIR, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "*.out.ipynb")
    )
    # what notebooks 05 and 06 look for at the root of a checkout: its marker and the samples
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    shutil.copytree(ROOT / "data" / "samples", root / "data" / "samples")
    server = JupyterLabServer(root, base / "home", settings=SETTINGS)
    # What the notebooks README asks once per clone: sign them in the user's trust database.
    trusted = server.jupyter("trust", *(f"{name}.ipynb" for name in NOTEBOOKS))
    assert trusted.returncode == 0, trusted.stderr[-2000:]
    with server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's), one for the module."""
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, timeout=ACTION_TIMEOUT_MS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def page(lab: JupyterLabServer, browser: Any) -> Iterator[Any]:
    """One headless Chromium page with JupyterLab loaded (a fresh workspace)."""
    context = browser.new_context(viewport={"width": WIDTHS[1], "height": HEIGHT})
    try:
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        tab = context.new_page()
        tab.goto(lab.url("lab?reset"))
        tab.wait_for_function(
            "() => window.jupyterapp && window.jupyterapp.started !== undefined"
            " && document.querySelector('#jp-main-dock-panel')"
        )
        evaluate(tab, "() => window.jupyterapp.restored")
        yield tab
    finally:
        context.close()


def close_current(page: Any) -> None:
    """Shut the current notebook's kernel down and close it without saving."""
    evaluate(
        page,
        f"""async () => {{
            const widget = {CURRENT};
            await widget.sessionContext.shutdown();
            widget.context.model.dirty = false;
            widget.dispose();
        }}""",
    )


@pytest.fixture(scope="module")
def executed_events(page: Any) -> Any:
    """Notebook 02 opened and run top to bottom in the browser."""
    evaluate(page, OPENED_AND_SETTLED, f"{EVENTS}.ipynb", OPEN_TIMEOUT_MS)
    evaluate(page, "() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    state = page.wait_for_function(RUN_STATE, timeout=RUN_ALL_TIMEOUT_MS).json_value()
    assert not state["errors"], f"{EVENTS} raised in the browser: {state['errors']}"
    assert state["done"] == state["total"]
    return page


# -- tests --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_a_notebook_opens_trusted_and_unmodified_and_saving_it_changes_nothing(
    page: Any, lab: JupyterLabServer, name: str
) -> None:
    opened = evaluate(page, OPENED_AND_SETTLED, f"{name}.ipynb", OPEN_TIMEOUT_MS)
    try:
        assert opened["kernel"] == "idle"
        assert not opened["dirty"], f"{name} shows as modified as soon as it opens"
        assert opened["trust"] is not None and opened["trust"].startswith("Notebook trusted"), (
            f"{name}: {opened['trust']}"
        )
        evaluate(page, f"() => {CURRENT}.context.save()")
    finally:
        close_current(page)
    for suffix in (".ipynb", ".py"):
        saved = (lab.root / f"{name}{suffix}").read_bytes()
        committed = (NOTEBOOK_DIR / f"{name}{suffix}").read_bytes()
        assert saved == committed, (
            f"saving {name}{suffix} from JupyterLab rewrites it: the committed file is not what "
            "JupyterLab saves (see the notebooks README, 'Editing them')"
        )


@pytest.mark.parametrize("width", WIDTHS)
def test_no_two_output_tables_of_notebook_02_overlap(executed_events: Any, width: int) -> None:
    page = executed_events
    resize(page, width)
    boxes = evaluate(page, TABLE_BOXES)
    assert len(boxes) >= 5, f"expected the notebook's tables, found {len(boxes)}"
    assert overlapping(boxes) == [], f"tables drawn over each other at {width} px"
    assert evaluate(page, TOO_WIDE) == [], f"tables wider than the notebook at {width} px"
    should_be = evaluate(page, SHOULD_BE_VISIBLE)
    assert should_be and all(should_be), f"a should_be column is cut off at {width} px"

    schema = page.locator(".jp-OutputArea-output table").filter(has_text="should_be").first
    schema.scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{EVENTS}_{width}px.png"))


def test_moving_the_event_slider_of_notebook_02_changes_the_rendered_thread(
    executed_events: Any,
) -> None:
    page = executed_events
    resize(page, WIDTHS[1])
    replay = page.locator(".jp-OutputArea-output .widget-vbox").filter(
        has=page.locator(".widget-dropdown")
    )
    replay.scroll_into_view_if_needed()
    caption = replay.locator(".widget-html").nth(0)
    panel = replay.locator(".widget-html").nth(1)
    changed = "([node, before]) => node.innerText !== before"
    shown = panel.inner_text()
    replay.locator(".widget-dropdown select").select_option(label="reference")
    page.wait_for_function(changed, arg=[panel.element_handle(), shown])
    assert "event 0" in caption.inner_text()
    before = panel.inner_text()

    handle = replay.locator(".noUi-handle").first
    handle.focus()
    for _ in range(5):
        handle.press("ArrowRight")
    page.wait_for_function(
        "(node) => node.innerText.includes('event 5')", arg=caption.element_handle()
    )
    page.wait_for_function(changed, arg=[panel.element_handle(), before])
    after = panel.inner_text()
    assert after != before
    assert "Hello! What can you do?" in after, "the user message should be on screen by event 5"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{EVENTS}_slider.png"))


# -- every notebook at 1280 px, the report at 980 px --------------------------------------------

OVERFLOWING = f"""() => {{
    // Outputs that scroll sideways, tables wider than their output, cells whose text is cut.
    const notebook = {CURRENT}.content.node;
    const head = table => Array.from(table.querySelectorAll('th'))
        .map(th => th.innerText.trim()).filter(Boolean).slice(0, 4).join(', ');
    const found = [];
    for (const area of notebook.querySelectorAll('.jp-OutputArea-output')) {{
        if (area.scrollWidth > area.clientWidth + 1) {{
            found.push('output scrolls sideways: ' + area.innerText.slice(0, 60));
        }}
    }}
    for (const table of notebook.querySelectorAll('.jp-OutputArea-output table')) {{
        const out = table.closest('.jp-OutputArea-output').getBoundingClientRect();
        if (table.getBoundingClientRect().right > out.right + 1) {{
            found.push('table wider than its output: ' + head(table));
        }}
        for (const cell of table.querySelectorAll('td, th')) {{
            if (cell.scrollWidth > cell.clientWidth + 1) {{
                found.push('cell cut in ' + head(table) + ': ' + cell.innerText.slice(0, 40));
            }}
        }}
    }}
    return found;
}}"""

PICTURES = f"""() => Array.from({CURRENT}.content.node.querySelectorAll('.ckl-strip'))
    .map(strip => ({{ panes: strip.querySelectorAll('.ckl-pane').length,
                      modelled: strip.innerText.includes('(modelled)'),
                      label: strip.getAttribute('aria-label') || '' }}))"""


def shoot_notebook(page: Any, path: Path) -> None:
    """The whole notebook in one picture: the window made as tall as the notebook first."""
    tall = evaluate(
        page,
        f"""() => {{
            const node = {CURRENT}.content.node;
            const outer = node.querySelector('.jp-WindowedPanel-outer') || node;
            return Math.max(outer.scrollHeight, node.scrollHeight) + 150;
        }}""",
    )
    page.set_viewport_size({"width": NOTEBOOK_WIDTH, "height": min(LONGEST_SHOT, tall + 200)})
    page.wait_for_timeout(500)
    evaluate(
        page,
        f"""() => {{
            const node = {CURRENT}.content.node;
            for (const box of [node, node.querySelector('.jp-WindowedPanel-outer')]) {{
                if (box) box.scrollTop = 0;
            }}
        }}""",
    )
    page.wait_for_timeout(300)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    resize(page, NOTEBOOK_WIDTH)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_notebook_at_1280_px_has_no_cut_or_overflowing_table_and_is_kept_as_a_picture(
    page: Any, name: str
) -> None:
    evaluate(page, OPENED_AND_SETTLED, f"{name}.ipynb", OPEN_TIMEOUT_MS)
    try:
        evaluate(page, "() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        state = page.wait_for_function(RUN_STATE, timeout=RUN_ALL_TIMEOUT_MS).json_value()
        assert not state["errors"], f"{name} raised in the browser: {state['errors']}"
        resize(page, NOTEBOOK_WIDTH)
        problems = evaluate(page, OVERFLOWING)
        pictures = evaluate(page, PICTURES)
        shoot_notebook(page, ARTIFACTS / f"{name}_{NOTEBOOK_WIDTH}px.png")
    finally:
        close_current(page)
    assert problems == [], f"{name} at {NOTEBOOK_WIDTH} px: {problems}"
    if name in PICTURED:
        assert pictures, f"{name} shows no screens picture"
        for picture in pictures:
            assert picture["panes"] >= 2 and picture["modelled"]
            assert picture["label"].startswith("What the user sees")


@pytest.fixture(scope="module")
def report_page(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The investigation report, written by the main job, rendered as GitHub does at 980 px."""
    import subprocess
    import sys

    folder = tmp_path_factory.mktemp("report")
    written = folder / "investigation.md"
    cli = Path(sys.executable).parent / "chatkit-lab"
    done = subprocess.run(
        [str(cli), "investigate", "--out", str(written)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    html = render_report(written)
    context = browser.new_context(viewport={"width": GITHUB_WIDTH, "height": HEIGHT})
    try:
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        tab = context.new_page()
        tab.goto(html.as_uri())
        tab.wait_for_load_state("load")
        yield tab
    finally:
        context.close()


REPORT_OVERFLOW = """() => {
    const body = document.querySelector('.markdown-body');
    const found = [];
    for (const node of body.querySelectorAll('table, pre, img')) {
        if (node.scrollWidth > node.clientWidth + 1
                || node.getBoundingClientRect().right > body.getBoundingClientRect().right) {
            found.push(node.tagName + ': ' + (node.innerText || node.alt || '').slice(0, 60));
        }
    }
    return found;
}"""


def test_the_report_at_980_px_leads_with_the_picture_and_has_no_overflowing_table(
    report_page: Any,
) -> None:
    page = report_page
    assert evaluate(page, REPORT_OVERFLOW) == []
    first = evaluate(
        page,
        """() => {
            const img = document.querySelector('.markdown-body img');
            const h2 = document.querySelector('.markdown-body h2');
            const fix = Array.from(document.querySelectorAll('.markdown-body a'))
                .find(a => a.getAttribute('href').endsWith('fix-the-report.md'));
            return img && {
                alt: img.alt, loaded: img.complete && img.naturalWidth > 0,
                src: img.getAttribute('src'),
                underFirstHeading: h2.compareDocumentPosition(img) === 4
                    && img.getBoundingClientRect().top < 1400,
                guide: Boolean(fix),
            };
        }""",
    )
    assert first is not None and first["loaded"], first
    assert first["src"].endswith(".svg") and first["underFirstHeading"] and first["guide"]
    assert first["alt"].startswith("What the user sees, screen by screen (modelled)")
    assert "the first loss" in first["alt"]
    lead = page.locator(".markdown-body p").filter(has_text="For legacy:attempt3").first
    assert "the setup the team reported" in lead.inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"report_{GITHUB_WIDTH}px_top.png"))
    page.screenshot(path=str(ARTIFACTS / f"report_{GITHUB_WIDTH}px.png"), full_page=True)
