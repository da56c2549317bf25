"""The notebooks as a reader sees them: JupyterLab in headless Chromium, driven by Playwright.

The test starts its own JupyterLab (127.0.0.1, a free port, a random token) on a temporary copy
of ``notebooks/``, with every Jupyter directory inside a temporary tree. It checks that each
notebook opens trusted (after the one-time ``jupyter trust`` the notebooks README asks for) and
unmodified, and that saving it unexecuted rewrites neither file of the pair; then it runs
notebook 02, checks at common window widths that no two output tables overlap, that none is
wider than the notebook and that the ``should_be`` column is in view, checks that the event
slider replays the thread, and saves screenshots under ``reports/browser/``.

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
from browser_lab import JupyterLabServer

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
SCREENSHOTS = ROOT / "reports" / "browser"
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
    server = JupyterLabServer(root, base / "home", settings=SETTINGS)
    # What the notebooks README asks once per clone: sign them in the user's trust database.
    trusted = server.jupyter("trust", *(f"{name}.ipynb" for name in NOTEBOOKS))
    assert trusted.returncode == 0, trusted.stderr[-2000:]
    with server:
        yield server


@pytest.fixture(scope="module")
def page(lab: JupyterLabServer) -> Iterator[Any]:
    """One headless Chromium page with JupyterLab loaded (a fresh workspace)."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, timeout=ACTION_TIMEOUT_MS
        )
        try:
            context = browser.new_context(viewport={"width": WIDTHS[1], "height": HEIGHT})
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
            browser.close()


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
