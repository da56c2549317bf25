"""The screens strip as an SVG image for the report (*modelled*): panes that wrap after a few
per row, each a small ChatKit-like pane; its ``<title>`` is the alt text. Every text in it is
already redacted and made visible by :func:`~chatkit_lab.report._screens.picture`, and is
escaped here as XML."""

from __future__ import annotations

from chatkit_lab.report._screens import Pane, ScreensPicture, _h, clip, screens_alt

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


__all__ = ["screens_svg"]
