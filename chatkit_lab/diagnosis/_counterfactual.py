"""Counterfactual proof on the user's own target: the same session without the fetch.

For a run with a custom fetch (``--fetch FILE``) or a transform, the kit plays the same session
again against the same target with the fetch replaced by a pass-through that keeps only the
headers the fetch added (its credentials), and nothing else: same URL as ChatKit's, same body,
no local answers, no control calls. If that run passes, the fetch alone is the cause; if it
still fails, the backend needs a change too (the fix ladder, on the team's own code).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from chatkit_lab.client import ClientRequest, Lifecycle
from chatkit_lab.diagnosis._model import Diagnosis

__all__ = ["Counterfactual", "added_headers", "header_only"]

_NOT_CREDENTIALS = frozenset({"content-length", "host", "content-type", "accept", "connection"})


def added_headers(life: Lifecycle) -> dict[str, str]:
    """The headers the fetch added to ChatKit's request (by name; the first request that went
    on the wire decides), without the ones any transport sets itself."""
    for step in life.steps:
        wire = step.wire_request
        if wire is None or step.answered_locally:
            continue
        sent = {name.lower() for name in step.client_request.headers}
        return {
            name: value
            for name, value in wire.headers.items()
            if name.lower() not in sent and name.lower() not in _NOT_CREDENTIALS
        }
    return {}


def header_only(headers: dict[str, str]) -> Any:
    """A transform that adds ``headers`` to ChatKit's request and changes nothing else."""

    def pass_through(request: ClientRequest) -> ClientRequest:
        return ClientRequest(
            request.method, request.url, {**request.headers, **headers}, request.body
        )

    pass_through.__name__ = "pass-through"
    return pass_through


@dataclass
class Counterfactual:
    """The same session with the fetch replaced by a header-only pass-through."""

    fetch: str
    """The fetch that was replaced (its name)."""
    kept: list[str]
    """The names of the headers the pass-through kept (values are never shown)."""
    diagnosis: Diagnosis
    """The run without the fetch."""

    @property
    def fetch_is_the_cause(self) -> bool:
        return not self.diagnosis.failed

    def line(self) -> str:
        """One sentence: what the same session gives on the same target without the fetch."""
        kept = ", ".join(self.kept) if self.kept else "no header"
        head = (
            f"the same session with {self.fetch} replaced by a pass-through that adds only "
            f"{kept}"
        )
        verdict = self.diagnosis.verdict
        if verdict is None:
            return (
                f"{head} passes every layer: the fetch alone is the cause; make it add "
                "headers and nothing else."
            )
        return (
            f"{head} still fails at {verdict.layer} ({verdict.code}): {verdict.summary}. The "
            "fetch is not the only cause; the backend needs that fix too."
        )


async def run_without_fetch(
    target: Any, life: Lifecycle, fetch_name: str, **run: Any
) -> Counterfactual | None:
    """Play the same session on ``target`` with a header-only pass-through instead of the fetch
    (``None`` when the run made no request that went on the wire)."""
    from chatkit_lab.diagnosis._run import diagnose_target

    if not any(step.wire_request is not None for step in life.steps):
        return None
    kept = added_headers(life)
    plain = replace(
        target,
        transform=header_only(kept),
        transform_name="pass-through",
        headers=dict(target.headers),
    )
    diagnosis = await diagnose_target(plain, fetch=None, **run)
    return Counterfactual(fetch_name, sorted(kept), diagnosis)
