"""Reading a report as a markdown renderer does (markdown-it-py, CommonMark plus GFM tables)."""

from __future__ import annotations

from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

ACTIVE = ("image", "html_inline", "html_block", "link_open")
"""Tokens a backend must never be able to produce: they fetch, run or link."""


def parse(text: str) -> list[Token]:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(text)


def structure(tokens: list[Token]) -> list[tuple[Any, ...]]:
    """The report's shape: every block token, and the non-text inline tokens inside each."""
    shape: list[tuple[Any, ...]] = []
    for token in tokens:
        if token.type == "inline":
            kinds = [child.type for child in token.children or [] if child.type != "text"]
            shape.append(("inline", tuple(kinds)))
        else:
            shape.append((token.type, token.tag, token.nesting))
    return shape


def inline_text(token: Token) -> str:
    """What an inline token reads as (escapes and entities resolved, code spans as written)."""
    out = []
    for child in token.children or []:
        if child.type in ("text", "text_special", "code_inline"):
            out.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            out.append(" ")
    return "".join(out)


def headings(tokens: list[Token], level: str = "h2") -> list[str]:
    """The text of every heading of ``level``."""
    found = []
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag == level:
            found.append(inline_text(tokens[index + 1]))
    return found


def section(tokens: list[Token], title: str) -> list[Token]:
    """The tokens of the h2 section whose heading reads ``title`` (up to the next h2)."""
    out: list[Token] = []
    inside = False
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag == "h2":
            inside = inline_text(tokens[index + 1]) == title
            continue
        if inside:
            out.append(token)
    return out


def section_text(tokens: list[Token]) -> str:
    """Everything the tokens read as, inline texts joined by spaces, whitespace collapsed."""
    words = " ".join(inline_text(token) for token in tokens if token.type == "inline")
    return " ".join(words.split())


def active(tokens: list[Token]) -> list[str]:
    """Every image, raw HTML or link token, with what it holds."""
    found = []
    for token in tokens:
        for item in [token, *(token.children or [])]:
            if item.type in ACTIVE:
                found.append(f"{item.type}: {item.content or item.attrs}")
    return found
