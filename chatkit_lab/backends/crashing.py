"""``faulty:crash-on-deleted``: a Python backend that stops answering, as a crashed process does.

The bug, as it is written in real backends: the route awaits ``server.process`` with nothing
around it, the store raises ``NotFoundError`` for a thread that is gone, and the process runs
under a server that exits on an unhandled error (a worker with no supervisor, an ``os._exit`` in
an error hook, a Node-style ``process.on("unhandledRejection")``). The first load of a deleted
thread ends the process: that request gets its connection closed without a response, and every
later request is refused.

In process there is no socket to close, so the crash is played at the ASGI boundary: the request
that crashed it raises :class:`ConnectionResetError` before a response head (the in-process
transport records the connection closed without a response, as a client sees it over TCP), and
every later request raises :class:`ConnectionRefusedError` (recorded as a refused connection).
Nothing before the crash differs from the reference backend, so every scenario up to it passes.
"""

from __future__ import annotations

from typing import Any

from chatkit.store import NotFoundError, Store
from chatkit.types import ThreadMetadata
from starlette.types import Message, Receive, Scope, Send

from .faulty_scenarios import _with_store_fault
from .reference import reference_app
from .wrappers import StoreWrapper

__all__ = ["CrashOnDeletedStore", "crash_on_deleted_app"]


class Crashed:
    """Whether the process has ended (shared by the store and the ASGI boundary)."""

    def __init__(self) -> None:
        self.reason: str | None = None


class CrashOnDeletedStore(StoreWrapper):
    """Remembers the threads it deleted; a later load of one of them ends the process."""

    def __init__(self, inner: Store[Any], crashed: Crashed) -> None:
        super().__init__(inner)
        self.crashed = crashed
        self.deleted: set[str] = set()

    async def delete_thread(self, thread_id: str, context: Any) -> None:
        await super().delete_thread(thread_id, context)
        self.deleted.add(thread_id)

    async def load_thread(self, thread_id: str, context: Any) -> ThreadMetadata:
        try:
            return await super().load_thread(thread_id, context)
        except NotFoundError as exc:
            if thread_id in self.deleted:
                self.crashed.reason = f"unhandled NotFoundError: {exc}"
                raise ConnectionResetError(
                    f"the backend process exited ({self.crashed.reason})"
                ) from exc
            raise


def crash_on_deleted_app(**options: Any) -> Any:
    """The reference backend whose process ends on the first load of a thread it deleted."""
    crashed = Crashed()
    app = _with_store_fault(
        reference_app(**options), lambda inner: CrashOnDeletedStore(inner, crashed)
    )

    async def process(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and crashed.reason is not None:
            raise ConnectionRefusedError("connection refused: the backend process is gone")

        async def guarded(message: Message) -> None:
            if crashed.reason is not None:  # the process died mid-request: nothing is sent
                raise ConnectionResetError(f"the backend process exited ({crashed.reason})")
            await send(message)

        await app(scope, receive, guarded)

    process.state = app.state  # type: ignore[attr-defined]  # the target reads its store here
    return process
