"""Play steps several scenarios share: the items of one type a reply finished, the skip when the
reply held none, and the reload whose items and capture the scenario's checks read."""

from __future__ import annotations

from typing import Any

from chatkit_lab.client import Step
from chatkit_lab.scenarios._base import Session, done_items


def finished(step: Step, kind: str, also: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The items of type ``kind`` the stream of ``step`` finished, in order (``also`` adds other
    item events, as :func:`done_items`)."""
    return [i for i in done_items(step.seen_by_chatkit, also) if i.get("type") == kind]


def require_items(
    session: Session, step: Step, items: list[dict[str, Any]], item: str, lacks: str
) -> None:
    """Skip the scenario when the reply to its ``ask`` prompt held no ``item`` (``lacks`` says
    what the backend then does not offer)."""
    if not items:
        session.not_offered(
            f"the reply held no {item} item: the backend {lacks}, or needs other words "
            f"(--prompt {session.scenario.name}.ask=...)",
            step,
        )


async def reload_thread(session: Session, thread_id: str, prefix: str) -> list[dict[str, Any]]:
    """Load the thread as the client does, for the checks: the items the UI shows go to
    ``facts["reload"]``, the ``items.list`` capture to ``facts["reload_capture"]``."""
    items = await session.load(thread_id, prefix)
    session.facts["reload"] = items
    session.facts["reload_capture"] = session.capture_of(f"{prefix}: items.list")
    return items
