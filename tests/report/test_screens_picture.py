"""The screens as pictures: a pane per screen with the first loss marked and "(modelled)" on it,
as HTML (notebooks), SVG with alt text (report) and words (terminal), read tolerantly from the
screens' fields and inert for whatever text a backend sent."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pytest

from chatkit_lab.client import Screen, Shown, timeline
from chatkit_lab.diagnosis import Diagnosis, diagnose
from chatkit_lab.report import (
    screens_alt,
    screens_html,
    screens_picture,
    screens_strip,
    screens_svg,
)
from chatkit_lab.report._screens import picture

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def setup() -> Diagnosis:
    return asyncio.run(diagnose("legacy:attempt3"))


def test_the_report_setup_is_drawn_with_its_first_loss_marked_and_named(setup: Diagnosis) -> None:
    shown = screens_picture(setup)
    assert len(shown.panes) == len(timeline(setup.lifecycle).screens) == 8
    loss = [pane for pane in shown.panes if pane.first_loss]
    assert [pane.number for pane in loss] == [4]
    assert loss[0].blank and loss[0].lost == ("Hello! What can you do?",)
    words = screens_strip(shown)
    assert words[0] == "1 sent: you ···"
    assert words[3] == "4 loaded: blank ✗ first loss: “Hello! What can you do?”"
    html = screens_html(shown)
    assert html.count('class="ckl-pane') == 8 and html.count("ckl-loss") == 2  # css + pane
    assert "(modelled)" in html and "first loss" in html


def test_the_svg_is_well_formed_and_its_title_is_the_alt_text(setup: Diagnosis) -> None:
    shown = screens_picture(setup)
    root = ET.fromstring(screens_svg(shown))
    assert root.tag == f"{SVG}svg"
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == screens_alt(shown)
    assert title.text.startswith("What the user sees, screen by screen (modelled).")
    assert "Screen 4, after the thread load: a blank pane; the first loss" in title.text
    texts = [node.text or "" for node in root.iter(f"{SVG}text")]
    assert any("first loss" in text for text in texts)
    assert any("(modelled)" in text for text in texts)


def test_backend_text_is_inert_in_every_form() -> None:
    hostile = '<img src=x onerror=alert(1)> & "quotes" \x1b[31m'
    screen = Screen(
        "after the stream",
        "send: threads.create",
        (Shown("a", "assistant", hostile),),
        error="<script>boom</script>",
    )
    shown = picture([screen])
    html = screens_html(shown)
    assert "<img" not in html and "<script>" not in html and "\x1b" not in html
    assert "&lt;img" in html
    ET.fromstring(screens_svg(shown))  # still well-formed XML
    assert "\x1b" not in " ".join(screens_strip(shown))


def test_screens_with_fields_missing_or_added_are_still_drawn() -> None:
    bare = SimpleNamespace(moment="after send", step="send", items=[])
    richer = SimpleNamespace(
        moment="after the thread load",
        step="load",
        items=[SimpleNamespace(role="user", text="hi")],
        loading=False,
        error=None,
        lost=("earlier",),
        new_field_from_a_later_model={"x": 1},
    )
    shown = picture([bare, richer])
    assert [pane.number for pane in shown.panes] == [1, 2]
    assert shown.panes[0].blank and shown.panes[1].first_loss
    assert screens_strip(shown)[1] == "2 loaded: you ✗ first loss: “earlier”"
    ET.fromstring(screens_svg(shown))


def test_an_empty_session_says_so() -> None:
    shown = picture([])
    assert shown.panes == [] and "drew nothing" in screens_alt(shown)
