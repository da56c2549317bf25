"""The screens of a session as pictures: small ChatKit-like panes side by side (*modelled*).

Each :class:`~chatkit_lab.client.Screen` becomes a pane: the user's bubble on the right, the
reply on the left, the loading dots, an error banner, a blank pane, and the messages lost since
the previous screen ghosted and named. The panes form a strip with the first loss marked and
"(modelled)" on it: what the closed UI iframe draws is modelled, never seen.

Three forms of the same picture, drawn from the existing screen fields only (a field this
module does not know is ignored, a missing one is read as empty):

- :func:`screens_html` / :class:`ScreensPicture`: live HTML for notebooks (``_repr_html_``);
- :func:`screens_svg`: an SVG image for the report (panes that wrap after a few per
  row; its ``<title>`` is the alt text, every text escaped as XML), with :func:`screens_alt` as
  its alt text;
- :func:`screens_strip`: one compact line per screen group for the terminal.

:func:`screens_picture` draws a diagnosis's screens, redacted by its run's redactor.
Backend-derived text (message texts, error messages) is redacted by the caller's redactor and
escaped with the report's escaping helpers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape as _xml_escape
from typing import Any

from chatkit_lab.diagnosis import Diagnosis
from chatkit_lab.redact import redactor_for
from chatkit_lab.report._inert import visible

SHORT_MOMENT = {
    "after send": "sent",
    "while streaming": "streaming",
    "after the stream": "streamed",
    "after the thread load": "loaded",
    "after the send failed": "send failed",
}
"""The terminal's short names for the moments a screen is taken at."""


@dataclass(frozen=True)
class Bubble:
    """One message on a pane."""

    role: str
    text: str
    pending: bool = False
    lost: bool = False


@dataclass(frozen=True)
class Pane:
    """One screen, read tolerantly from a :class:`~chatkit_lab.client.Screen`."""

    number: int
    moment: str
    step: str
    bubbles: tuple[Bubble, ...] = ()
    loading: bool = False
    error: str | None = None
    first_loss: bool = False

    @property
    def blank(self) -> bool:
        return not any(not b.lost for b in self.bubbles) and not self.loading and not self.error

    @property
    def lost(self) -> tuple[str, ...]:
        return tuple(b.text for b in self.bubbles if b.lost)


@dataclass
class ScreensPicture:
    """The strip of panes; shows itself as HTML in a notebook (``_repr_html_``)."""

    panes: list[Pane] = field(default_factory=list)
    total: int = 0
    """How many screens the session had (``panes`` may hold the first few only)."""

    def _repr_html_(self) -> str:
        return screens_html(self)

    def __str__(self) -> str:
        return "\n".join(screens_strip(self))

    @property
    def alt(self) -> str:
        return screens_alt(self)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def picture(
    screens: Any,
    *,
    redact: Callable[[str], str] | None = None,
    limit: int | None = None,
) -> ScreensPicture:
    """The panes of a :class:`~chatkit_lab.client.Timeline` (or a list of screens).

    ``redact`` is applied to every text taken from a screen; ``limit`` keeps the first panes
    (extended, if needed, to the first loss). Unknown or missing fields are tolerated.
    """
    scrub = redact or (lambda text: text)
    items = list(getattr(screens, "screens", screens) or [])
    first = next((s for s in items if getattr(s, "lost", ())), None)
    panes: list[Pane] = []
    for number, screen in enumerate(items, start=1):
        shown = tuple(
            Bubble(
                _text(getattr(item, "role", "")) or "message",
                visible(scrub(_text(getattr(item, "text", "")))),
                bool(getattr(item, "pending", False)),
            )
            for item in getattr(screen, "items", ()) or ()
        )
        lost = tuple(
            Bubble("lost", visible(scrub(text)), lost=True)
            for text in getattr(screen, "lost", ()) or ()
            if isinstance(text, str)
        )
        error = getattr(screen, "error", None)
        panes.append(
            Pane(
                number,
                _text(getattr(screen, "moment", "")),
                visible(scrub(_text(getattr(screen, "step", "")))),
                shown + lost,
                bool(getattr(screen, "loading", False)),
                visible(scrub(error)) if isinstance(error, str) and error else None,
                screen is first,
            )
        )
    total = len(panes)
    if limit is not None and len(panes) > limit:
        loss = next((p.number for p in panes if p.first_loss), 0)
        panes = panes[: max(limit, loss)]
    return ScreensPicture(panes, total)


# -- words -------------------------------------------------------------------------------------


def clip(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, ``…`` when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: max(1, limit - 1)]
    space = head.rfind(" ")
    if space > limit // 3:
        head = head[:space]
    return head.rstrip(" ,;:") + "…"


def pane_words(pane: Pane) -> str:
    """What one pane shows, in a few words: ``you ···``, ``you, reply``, ``blank``."""
    parts: list[str] = []
    for bubble in pane.bubbles:
        if bubble.lost:
            continue
        if bubble.role == "user":
            parts.append("you")
        elif bubble.role == "assistant":
            parts.append("reply…" if bubble.pending else "reply")
        else:
            parts.append(bubble.role)
    words = ", ".join(_runs(parts))
    if pane.loading:
        words = f"{words} ···".strip()
    if pane.error:
        words = f"{words} ⚠ {clip(pane.error, 40)}".strip()
    return words or "blank"


def _runs(parts: Sequence[str]) -> list[str]:
    """Repeated neighbours folded: ``you, reply, you, reply`` stays; ``you, you`` is ``you ×2``."""
    out: list[str] = []
    for part in parts:
        if out and out[-1].split(" ×")[0] == part:
            base, _, count = out[-1].partition(" ×")
            out[-1] = f"{base} ×{int(count or 1) + 1}"
        else:
            out.append(part)
    return out


def screens_strip(picture_: ScreensPicture) -> list[str]:
    """The strip in words, one entry per pane (``1 sent: you ···``), the first loss marked."""
    out = []
    for pane in picture_.panes:
        moment = SHORT_MOMENT.get(pane.moment, pane.moment or "screen")
        entry = f"{pane.number} {moment}: {pane_words(pane)}"
        if pane.lost:
            named = "; ".join(f"“{clip(text, 28)}”" for text in pane.lost[:2])
            mark = "✗ first loss" if pane.first_loss else "✗ lost"
            entry += f" {mark}: {named}"
        out.append(entry)
    return out


def screens_alt(picture_: ScreensPicture) -> str:
    """The picture in one paragraph: what each pane shows and what is lost (alt text)."""
    if not picture_.panes:
        return "No screens: the session drew nothing (modelled)."
    said = []
    for pane in picture_.panes:
        moment = pane.moment or "screen"
        shows = _alt_shows(pane)
        text = f"Screen {pane.number}, {moment}: {shows}"
        if pane.lost:
            lost = "; ".join(f"“{clip(t, 60)}”" for t in pane.lost)
            text += f"; {'the first loss' if pane.first_loss else 'lost'}: {lost}"
        said.append(text + ".")
    more = ""
    if picture_.total > len(picture_.panes):
        more = f" ({len(picture_.panes)} of {picture_.total} screens shown.)"
    return "What the user sees, screen by screen (modelled). " + " ".join(said) + more


def _alt_shows(pane: Pane) -> str:
    parts = []
    for bubble in pane.bubbles:
        if bubble.lost:
            continue
        who = {"user": "your message", "assistant": "the reply"}.get(bubble.role, bubble.role)
        parts.append(f"{who} “{clip(bubble.text, 40)}”" if bubble.text else who)
    if pane.loading:
        parts.append("the loading dots")
    if pane.error:
        parts.append(f"the error banner “{clip(pane.error, 60)}”")
    return ", ".join(parts) if parts else "a blank pane"


# -- HTML (notebooks) --------------------------------------------------------------------------

_CSS = """
.ckl-strip{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start;
  font:12px/1.35 system-ui,-apple-system,'Segoe UI',sans-serif;margin:4px 0;max-width:100%}
.ckl-strip .ckl-title{flex-basis:100%;font-weight:600;color:#374151}
.ckl-pane{box-sizing:border-box;width:150px;min-height:150px;border:1px solid #d1d5db;
  border-radius:10px;background:#fff;color:#111827;display:flex;flex-direction:column;
  overflow:hidden}
.ckl-pane.ckl-loss{border:2px solid #dc2626}
.ckl-head{background:#f3f4f6;padding:3px 6px;font-size:11px;color:#4b5563}
.ckl-body{flex:1;display:flex;flex-direction:column;gap:4px;padding:6px}
.ckl-b{max-width:85%;padding:4px 7px;border-radius:10px;overflow-wrap:anywhere;
  word-break:normal}
.ckl-user{align-self:flex-end;background:#2563eb;color:#fff}
.ckl-assistant{align-self:flex-start;background:#f3f4f6}
.ckl-other{align-self:flex-start;background:#fef3c7}
.ckl-pending{opacity:.75;font-style:italic}
.ckl-lost{align-self:flex-end;border:1px dashed #9ca3af;color:#9ca3af;background:none;
  text-decoration:line-through}
.ckl-dots{align-self:flex-start;color:#6b7280;letter-spacing:2px}
.ckl-err{background:#fee2e2;color:#991b1b;border-radius:6px;padding:4px 6px}
.ckl-blank{color:#9ca3af;margin:auto;font-style:italic}
.ckl-mark{background:#dc2626;color:#fff;font-size:11px;padding:2px 6px}
"""


def _h(text: str) -> str:
    return _xml_escape(text, quote=True)


def screens_html(picture_: ScreensPicture) -> str:
    """The strip as self-contained HTML (inline style; no script)."""
    panes = []
    for pane in picture_.panes:
        body = []
        for bubble in pane.bubbles:
            if bubble.lost:
                body.append(
                    f'<div class="ckl-b ckl-lost" title="lost">{_h(clip(bubble.text, 80))}</div>'
                )
                continue
            kind = bubble.role if bubble.role in ("user", "assistant") else "other"
            pending = " ckl-pending" if bubble.pending else ""
            text = clip(bubble.text, 80) or "(empty)"
            body.append(f'<div class="ckl-b ckl-{kind}{pending}">{_h(text)}</div>')
        if pane.loading:
            body.append('<div class="ckl-dots" title="loading">●●●</div>')
        if pane.error:
            body.append(f'<div class="ckl-err">⚠ {_h(clip(pane.error, 80))}</div>')
        if pane.blank and not pane.lost:
            body.append('<div class="ckl-blank">(blank)</div>')
        elif pane.blank:
            body.append('<div class="ckl-blank">(blank)</div>')
        mark = ""
        if pane.lost:
            label = "first loss" if pane.first_loss else "lost"
            mark = f'<div class="ckl-mark">✗ {label}: {len(pane.lost)} message(s)</div>'
        css = "ckl-pane ckl-loss" if pane.first_loss else "ckl-pane"
        panes.append(
            f'<div class="{css}"><div class="ckl-head">{pane.number} · {_h(pane.moment)}</div>'
            f'<div class="ckl-body">{"".join(body)}</div>{mark}</div>'
        )
    more = ""
    if picture_.total > len(picture_.panes):
        more = f" · {len(picture_.panes)} of {picture_.total} screens"
    title = f"What the user sees, screen by screen (modelled){more}"
    return (
        f'<div class="ckl-strip" role="img" aria-label="{_h(screens_alt(picture_))}">'
        f'<style>{_CSS}</style><div class="ckl-title">{_h(title)}</div>{"".join(panes)}</div>'
    )


PANE_W = 150
PANE_H = 176
GAP = 10
LINE_H = 14
CHARS = 20
"""Characters per bubble line (12 px sans-serif in a 130 px bubble)."""


def _lines(text: str, chars: int, most: int) -> list[str]:
    words = text.split()
    lines: list[str] = []
    current = ""
    for word in words:
        while len(word) > chars:  # a very long token: broken where it must, never overflowing
            if current:
                lines.append(current)
                current = ""
            lines.append(word[: chars - 1] + "-")
            word = word[chars - 1 :]
        candidate = f"{current} {word}".strip()
        if len(candidate) > chars:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    if len(lines) > most:
        lines = lines[:most]
        lines[-1] = clip(lines[-1] + " …", chars)
        if not lines[-1].endswith("…"):
            lines[-1] += "…"
    return lines or [""]


def screens_svg(picture_: ScreensPicture, *, per_row: int = 4) -> str:
    """The strip as an SVG image (panes wrap after ``per_row``); the alt text is its title."""
    panes = picture_.panes
    rows = max(1, -(-len(panes) // per_row))
    cols = min(per_row, max(1, len(panes)))
    width = cols * PANE_W + (cols - 1) * GAP + 2
    height = 24 + rows * (PANE_H + GAP)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" font-family="sans-serif" font-size="11">',
        f"<title>{_h(screens_alt(picture_))}</title>",
        '<text x="1" y="14" font-size="12" font-weight="bold" fill="#374151">'
        "What the user sees, screen by screen (modelled)</text>",
    ]
    for index, pane in enumerate(panes):
        x = 1 + (index % per_row) * (PANE_W + GAP)
        y = 24 + (index // per_row) * (PANE_H + GAP)
        out += _svg_pane(pane, x, y)
    out.append("</svg>")
    return "\n".join(out)


def _svg_pane(pane: Pane, x: int, y: int) -> list[str]:
    stroke = ' stroke="#dc2626" stroke-width="2"' if pane.first_loss else ' stroke="#d1d5db"'
    out = [
        f'<rect x="{x}" y="{y}" width="{PANE_W}" height="{PANE_H}" rx="9" fill="#fff"{stroke}/>',
        f'<rect x="{x + 1}" y="{y + 1}" width="{PANE_W - 2}" height="17" rx="8" fill="#f3f4f6"/>',
        f'<text x="{x + 6}" y="{y + 13}" fill="#4b5563">{pane.number} · {_h(pane.moment)}</text>',
    ]
    top = y + 24
    bottom = y + PANE_H - (22 if pane.lost else 6)
    for bubble in pane.bubbles:
        lines = _lines(bubble.text or "(empty)", CHARS, 3)
        h = len(lines) * LINE_H + 6
        if top + h > bottom:
            break
        longest = max(len(line) for line in lines)
        w = min(PANE_W - 20, 12 + int(longest * 6.2))
        right = bubble.role == "user" or bubble.lost
        bx = x + PANE_W - 8 - w if right else x + 8
        if bubble.lost:
            fill, text_fill, extra = "none", "#9ca3af", ' stroke="#9ca3af" stroke-dasharray="3 2"'
        elif bubble.role == "user":
            fill, text_fill, extra = "#2563eb", "#fff", ""
        else:
            fill, text_fill, extra = "#f3f4f6", "#111827", ""
        opacity = ' opacity="0.75"' if bubble.pending else ""
        out.append(
            f'<rect x="{bx}" y="{top}" width="{w}" height="{h}" rx="8" fill="{fill}"{extra}'
            f"{opacity}/>"
        )
        for n, line in enumerate(lines):
            deco = ' text-decoration="line-through"' if bubble.lost else ""
            out.append(
                f'<text x="{bx + 6}" y="{top + 14 + n * LINE_H}" fill="{text_fill}"{deco}>'
                f"{_h(line)}</text>"
            )
        top += h + 5
    if pane.loading and top + 14 <= bottom:
        out.append(f'<text x="{x + 10}" y="{top + 11}" fill="#6b7280" font-size="14">● ● ●</text>')
        top += 18
    if pane.error and top + 20 <= bottom:
        lines = _lines("⚠ " + pane.error, CHARS + 2, 2)
        h = len(lines) * LINE_H + 6
        out.append(
            f'<rect x="{x + 6}" y="{top}" width="{PANE_W - 12}" height="{h}" rx="5" '
            f'fill="#fee2e2"/>'
        )
        for n, line in enumerate(lines):
            out.append(
                f'<text x="{x + 10}" y="{top + 14 + n * LINE_H}" fill="#991b1b">{_h(line)}</text>'
            )
        top += h + 5
    if pane.blank:
        out.append(
            f'<text x="{x + PANE_W // 2}" y="{y + PANE_H // 2 + 4}" fill="#9ca3af" '
            f'text-anchor="middle" font-style="italic">(blank)</text>'
        )
    if pane.lost:
        label = "first loss" if pane.first_loss else "lost"
        out.append(
            f'<rect x="{x + 1}" y="{y + PANE_H - 19}" width="{PANE_W - 2}" height="18" '
            f'rx="8" fill="#dc2626"/>'
        )
        out.append(
            f'<text x="{x + 6}" y="{y + PANE_H - 6}" fill="#fff">✗ {label}: '
            f"{len(pane.lost)} message(s)</text>"
        )
    return out


def screens_picture(diagnosis: Diagnosis, *, limit: int | None = None) -> ScreensPicture:
    """The screens of ``diagnosis``'s session as a strip of panes (redacted by its redactor).

    In a notebook it shows itself as HTML; ``str()`` of it is the terminal's compact form and
    ``.alt`` the same picture in words. ``limit`` keeps the first panes (up to the first loss).
    """
    from chatkit_lab.report._explain import screens_of

    return picture(screens_of(diagnosis), redact=redactor_for(diagnosis).redact_text, limit=limit)
