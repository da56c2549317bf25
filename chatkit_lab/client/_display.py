"""Display of the modelled client state: plain text and a small HTML thread.

Everything shown is redacted first (by the run's current redactor), then escaped. The client is
modelled (see :mod:`chatkit_lab.client._model`), and the HTML says so.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from chatkit_lab.redact import current_redactor

if TYPE_CHECKING:
    from chatkit_lab.client._model import ClientState


def state_transcript(state: ClientState) -> str:
    """The thread as plain text, one block per item (or why nothing would be shown)."""
    lines: list[str] = []
    for item in state.visible_items:
        who = item.role or item.type
        marker = " (streaming…)" if item.streaming else ""
        label = who if item.type in ("user_message", "assistant_message") else item.type
        lines.append(f"[{label}]{marker} {item.text}".rstrip())
    for notice in state.notices:
        lines.append(f"[notice] {notice}")
    if state.renders_nothing:
        lines.append(f"({state.message})")
    return current_redactor().redact_text("\n".join(lines))


def state_html(state: ClientState) -> str:
    """A small self-contained HTML rendering of the thread (bubbles, streaming markers)."""
    scrub = current_redactor()

    def esc(text: str) -> str:  # redacted, then escaped: what is shown holds no secret
        return html.escape(scrub.redact_text(text))

    out = [
        '<div class="chatkit-lab-thread" style="font-family:system-ui,sans-serif;'
        'max-width:640px;border:1px solid #ddd;border-radius:8px;padding:8px;">',
        '<div style="font-size:11px;color:#666;margin-bottom:6px;">'
        f"thread {esc(str(state.thread_id or '(none)'))}"
        + (f" · {esc(state.title)}" if state.title else "")
        + f" · {state.events_seen} events, {state.events_understood} understood"
        + "</div>",
    ]
    if state.renders_nothing:
        out.append(
            '<div style="padding:16px;text-align:center;color:#a00;font-weight:600;">'
            f"{esc(state.message)}</div>"
        )
    for item in state.visible_items:
        user = item.type == "user_message"
        align = "flex-end" if user else "flex-start"
        background = "#e8f0fe" if user else "#f4f4f4"
        label = item.role or item.type
        marker = (
            ' <span style="color:#c60;font-size:11px;">▍ streaming</span>' if item.streaming else ""
        )
        text = esc(item.text) if item.text else '<span style="color:#999;">(empty)</span>'
        out.append(
            f'<div style="display:flex;justify-content:{align};margin:4px 0;">'
            f'<div style="background:{background};border-radius:12px;padding:6px 10px;'
            f'max-width:80%;white-space:pre-wrap;">'
            f'<div style="font-size:10px;color:#888;">{esc(label)} · {esc(item.id)}'
            f"{marker}</div>{text}</div></div>"
        )
    for notice in state.notices:
        out.append(
            '<div style="background:#fff4e5;border:1px solid #f0c36d;border-radius:6px;'
            f'padding:4px 8px;margin:4px 0;">{esc(notice)}</div>'
        )
    out.append(
        f'<div style="font-size:10px;color:#999;margin-top:6px;">Client {_model_note()}.'
        "</div></div>"
    )
    return "".join(out)


def _model_note() -> str:
    from chatkit_lab.client._model import MODEL_NOTE

    return MODEL_NOTE
