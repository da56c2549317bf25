"""A re-creation of the custom FastAPI backend from the user report, in all three of its formats.

The report describes a backend that is *not* a ChatKit server: ``POST /{user_id}/chat`` with a
bearer JWT, a body of ``{"message": str, "conversation_id": int | null}``, conversations and
messages in a database, and a ``text/event-stream`` reply in a home-made format. Its authors
tried three formats, none of which is the ChatKit protocol:

* attempt 1: ``thread.item.user_message`` / ``thread.item.assistant_message`` payloads
  (``data:`` lines only, ``created_at`` as a unix integer, assistant content of type ``text``);
* attempt 2: Assistants-API style ``thread.message.*`` events, each with an ``event:`` line;
* attempt 3: Responses-API style, the report's nine-step sequence from ``thread.created`` to
  ``response.done`` (``data:`` lines only).

Payloads are kept exactly as the report shows them, including its id scheme: the conversation id
appears in every id (``msg-user-<n>``, ``msg-assistant-<n>``, ``resp_<n>``, ``item_<n>``), so the
ids repeat on every turn of a conversation. The reply text is deterministic (an echo). The
frames of each attempt are built in ``legacy_format``.

The JWT secret below is a local test value for this kit only.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from ._util import remove_with, temporary_db_path
from .legacy_format import LEGACY_ATTEMPTS, legacy_events, legacy_reply

__all__ = [
    "LEGACY_ATTEMPTS",
    "LEGACY_TEST_SECRET",
    "LEGACY_USER_ID",
    "ChatRequest",
    "LegacyDatabase",
    "legacy_app",
    "legacy_events",
    "legacy_path",
    "legacy_reply",
    "make_token",
]

LEGACY_TEST_SECRET = "chatkit-lab-local-test-secret-not-for-production-use"
"""The HS256 secret the legacy app uses unless told otherwise (a local test value)."""

LEGACY_USER_ID = "user-1"
"""The user id the built-in legacy targets and the legacy fetch transform use by default."""

_ALGORITHM = "HS256"


def legacy_path(user_id: str = LEGACY_USER_ID) -> str:
    """The legacy chat endpoint for ``user_id``."""
    return f"/{user_id}/chat"


def make_token(user_id: str, secret: str = LEGACY_TEST_SECRET, expires_in: int = 3600) -> str:
    """An HS256 bearer token for ``user_id`` (``sub``), valid for ``expires_in`` seconds."""
    now = int(time.time())
    claims = {"sub": user_id, "iat": now, "exp": now + int(expires_in)}
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


class ChatRequest(BaseModel):
    """The legacy backend's request body."""

    message: str
    conversation_id: int | None = None


class LegacyDatabase:
    """Conversations and messages in SQLite, as the report's backend keeps them."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False)
        with self._lock, self._conn:
            self._conn.executescript(
                """
                CREATE TABLE IF NOT EXISTS conversations (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    user_id TEXT NOT NULL,
                    created_at INTEGER NOT NULL
                );
                CREATE TABLE IF NOT EXISTS messages (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
                    role TEXT NOT NULL,
                    content TEXT NOT NULL,
                    created_at INTEGER NOT NULL
                );
                """
            )

    def conversation(self, user_id: str, conversation_id: int | None) -> int | None:
        """The conversation to use: a new one for ``None``, else the user's own or ``None``."""
        with self._lock, self._conn:
            if conversation_id is None:
                cursor = self._conn.execute(
                    "INSERT INTO conversations (user_id, created_at) VALUES (?, ?)",
                    (user_id, int(time.time())),
                )
                return int(cursor.lastrowid or 0)
            row = self._conn.execute(
                "SELECT id FROM conversations WHERE id = ? AND user_id = ?",
                (conversation_id, user_id),
            ).fetchone()
            return int(row[0]) if row else None

    def add_message(self, conversation_id: int, role: str, content: str) -> int:
        with self._lock, self._conn:
            cursor = self._conn.execute(
                "INSERT INTO messages (conversation_id, role, content, created_at) "
                "VALUES (?, ?, ?, ?)",
                (conversation_id, role, content, int(time.time())),
            )
            return int(cursor.lastrowid or 0)

    def messages(self, conversation_id: int) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, role, content, created_at FROM messages "
                "WHERE conversation_id = ? ORDER BY id",
                (conversation_id,),
            ).fetchall()
        keys = ("id", "role", "content", "created_at")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def conversations(self, user_id: str) -> list[int]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id FROM conversations WHERE user_id = ? ORDER BY id", (user_id,)
            ).fetchall()
        return [int(row[0]) for row in rows]


def legacy_app(
    attempt: int = 3,
    secret: str = LEGACY_TEST_SECRET,
    db_path: str | Path | None = None,
    delay_s: float = 0.0,
) -> FastAPI:
    """The report's backend: ``POST /{user_id}/chat`` streaming the chosen attempt's format.

    Auth: a missing bearer token is 401 (with ``WWW-Authenticate: Bearer``), an invalid or
    expired one 401, a token for another user 403. A body of the wrong shape is 422. A
    ``conversation_id`` that does not exist (or belongs to someone else) is 404; ``null``
    starts a new conversation. Conversations and messages go to SQLite (``db_path`` or a new
    temporary file), available as ``app.state.db``.
    """
    if attempt not in LEGACY_ATTEMPTS:
        raise ValueError(f"unknown attempt {attempt!r}: use one of {sorted(LEGACY_ATTEMPTS)}")
    temporary = db_path is None
    db = LegacyDatabase(temporary_db_path("chatkit-lab-legacy-") if temporary else db_path)
    if temporary:
        remove_with(db, str(db.path))
    pause = max(float(delay_s), 0.0)

    def authenticated_user(request: Request) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HTTPException(
                status_code=401,
                detail="Not authenticated",
                headers={"WWW-Authenticate": "Bearer"},
            )
        try:
            claims = jwt.decode(token.strip(), secret, algorithms=[_ALGORITHM])
        except jwt.ExpiredSignatureError:
            raise HTTPException(
                status_code=401,
                detail="Token expired",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            ) from None
        except jwt.InvalidTokenError:
            raise HTTPException(
                status_code=401,
                detail="Invalid token",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            ) from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise HTTPException(
                status_code=401,
                detail="Token has no subject",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if subject != request.path_params.get("user_id"):
            raise HTTPException(status_code=403, detail="Token does not match this user")
        return subject

    app = FastAPI(title=f"chatkit-lab legacy backend (attempt {attempt})")
    app.state.attempt = attempt
    app.state.db = db
    app.state.db_path = db.path
    app.state.secret = secret
    app.state.path = legacy_path()

    @app.post("/{user_id}/chat")
    async def chat(
        user_id: str,
        body: ChatRequest,
        subject: str = Depends(authenticated_user),
    ) -> StreamingResponse:
        conversation_id = db.conversation(user_id, body.conversation_id)
        if conversation_id is None:
            raise HTTPException(status_code=404, detail="Conversation not found")
        db.add_message(conversation_id, "user", body.message)
        reply = legacy_reply(body.message)
        frames = legacy_events(attempt, conversation_id, body.message, reply, int(time.time()))

        async def stream() -> AsyncIterator[bytes]:
            for frame in frames:
                if pause:
                    await asyncio.sleep(pause)
                yield frame
            db.add_message(conversation_id, "assistant", reply)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "Connection": "keep-alive"},
        )

    return app
