"""The legacy backend re-creates the report's FastAPI backend, payload for payload."""

from __future__ import annotations

import time

import jwt
import pytest
from backend_helpers import MODES, drive

from chatkit_lab.backends import (
    CHATKIT_PATH,
    LEGACY_TEST_SECRET,
    BuiltinTarget,
    builtin_targets,
    legacy_app,
    legacy_path,
    legacy_reply,
    make_backend,
    make_token,
)
from chatkit_lab.errors import TargetError

PATH = legacy_path("user-1")


def auth(user_id: str = "user-1", **kwargs: object) -> dict[str, str]:
    return {"authorization": f"Bearer {make_token(user_id, **kwargs)}"}  # type: ignore[arg-type]


def assert_report_headers(headers: object) -> None:
    assert headers["content-type"].startswith("text/event-stream")  # type: ignore[index]
    assert headers["cache-control"] == "no-cache"  # type: ignore[index]
    assert headers["connection"] == "keep-alive"  # type: ignore[index]


@pytest.mark.parametrize("mode", MODES)
async def test_attempt_1_streams_the_reports_thread_item_payloads(mode: str) -> None:
    async with drive(legacy_app(attempt=1), mode) as client:
        reply = await client.post(PATH, {"message": "hi", "conversation_id": None}, headers=auth())
    assert reply.status == 200
    assert_report_headers(reply.headers)
    assert all(event.event is None for event in reply.events)
    user, assistant = reply.payloads
    assert user["type"] == "thread.item.user_message"
    n = int(user["item"]["thread_id"])
    assert user["item"] == {
        "id": f"msg-user-{n}",
        "type": "user_message",
        "thread_id": str(n),
        "content": [{"type": "input_text", "text": "hi"}],
        "status": "completed",
        "created_at": user["item"]["created_at"],
    }
    assert isinstance(user["item"]["created_at"], int)
    assert assistant["type"] == "thread.item.assistant_message"
    assert assistant["item"]["id"] == f"msg-assistant-{n}"
    assert assistant["item"]["content"] == [{"type": "text", "text": legacy_reply("hi")}]
    assert set(assistant["item"]) == {"id", "type", "thread_id", "content", "status", "created_at"}


@pytest.mark.parametrize("mode", MODES)
async def test_attempt_2_streams_assistants_style_events_with_event_lines(mode: str) -> None:
    async with drive(legacy_app(attempt=2), mode) as client:
        reply = await client.post(PATH, {"message": "hi", "conversation_id": None}, headers=auth())
    assert reply.status == 200
    assert_report_headers(reply.headers)
    names = [event.event for event in reply.events]
    assert names[:3] == [
        "thread.message.created",
        "thread.message.created",
        "thread.message.in_progress",
    ]
    assert names[-1] == "thread.message.completed"
    deltas = names[3:-1]
    assert len(deltas) >= 2 and set(deltas) == {"thread.message.delta"}
    payloads = reply.payloads
    assert payloads[0]["object"] == "thread.message" and payloads[0]["role"] == "user"
    assert payloads[0]["content"] == [{"type": "text", "text": {"value": "hi"}}]
    assert payloads[1]["status"] == "in_progress" and payloads[1]["role"] == "assistant"
    first_delta = payloads[3]
    assert first_delta["object"] == "thread.message.delta"
    assert first_delta["delta"]["content"][0].keys() == {"index", "type", "text"}
    text = "".join(p["delta"]["content"][0]["text"]["value"] for p in payloads[3:-1])
    assert text == legacy_reply("hi")
    assert payloads[-1]["content"][0]["text"]["value"] == text
    assert all("type" not in payload for payload in payloads)  # no ChatKit "type" at all


@pytest.mark.parametrize("mode", MODES)
async def test_attempt_3_streams_the_nine_step_responses_sequence(mode: str) -> None:
    async with drive(legacy_app(attempt=3), mode) as client:
        reply = await client.post(PATH, {"message": "hi", "conversation_id": None}, headers=auth())
    assert reply.status == 200
    assert_report_headers(reply.headers)
    assert all(event.event is None for event in reply.events)
    assert b"\nevent:" not in reply.body and not reply.body.startswith(b"event:")
    payloads = reply.payloads
    types = [payload["type"] for payload in payloads]
    deltas = [t for t in types if t == "response.text.delta"]
    assert len(deltas) >= 2
    steps = [t for i, t in enumerate(types) if t != "response.text.delta" or types[i - 1] != t]
    assert steps == [
        "thread.created",
        "conversation.item.created",
        "response.created",
        "response.output_item.added",
        "response.content_part.added",
        "response.text.delta",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
    ]
    n = payloads[0]["thread"]["id"]
    assert payloads[0] == {"type": "thread.created", "thread": {"id": n}}
    assert payloads[1]["item"]["id"] == f"msg-user-{n}"
    assert payloads[2] == {
        "type": "response.created",
        "response": {"id": f"resp_{n}", "status": "in_progress"},
    }
    assert payloads[3]["item"] == {"id": f"item_{n}", "type": "message", "role": "assistant"}
    assert payloads[4]["part"] == {"type": "text", "text": ""}
    text = "".join(p["delta"] for p in payloads if p["type"] == "response.text.delta")
    assert payloads[-3]["part"] == {"type": "text", "text": text}
    assert payloads[-2]["item"]["content"] == [{"type": "text", "text": text}]
    assert payloads[-1]["response"]["status"] == "completed"
    assert payloads[-1]["response"]["output"] == [payloads[-2]["item"]]


async def test_a_conversation_continues_and_is_persisted_with_repeating_ids() -> None:
    app = legacy_app(attempt=3)
    async with drive(app, "in-process") as client:
        first = await client.post(PATH, {"message": "one", "conversation_id": None}, headers=auth())
        conversation = int(first.payloads[0]["thread"]["id"])
        second = await client.post(
            PATH, {"message": "two", "conversation_id": conversation}, headers=auth()
        )
        other = await client.post(PATH, {"message": "new", "conversation_id": None}, headers=auth())
    assert second.payloads[0]["thread"]["id"] == str(conversation)
    # the report's id scheme: every turn of a conversation reuses the same ids
    assert second.payloads[1]["item"]["id"] == first.payloads[1]["item"]["id"]
    assert int(other.payloads[0]["thread"]["id"]) != conversation
    stored = app.state.db.messages(conversation)
    assert [(m["role"], m["content"]) for m in stored] == [
        ("user", "one"),
        ("assistant", legacy_reply("one")),
        ("user", "two"),
        ("assistant", legacy_reply("two")),
    ]


@pytest.mark.parametrize("mode", MODES)
async def test_missing_or_wrong_tokens_are_refused(mode: str) -> None:
    body = {"message": "hi", "conversation_id": None}
    expired = make_token("user-1", expires_in=-60)
    forged = jwt.encode({"sub": "user-1", "exp": int(time.time()) + 60}, "x" * 40, "HS256")
    async with drive(legacy_app(), mode) as client:
        missing = await client.post(PATH, body)
        garbage = await client.post(PATH, body, headers={"authorization": "Bearer not-a-jwt"})
        old = await client.post(PATH, body, headers={"authorization": f"Bearer {expired}"})
        wrong_key = await client.post(PATH, body, headers={"authorization": f"Bearer {forged}"})
        other_user = await client.post(PATH, body, headers=auth("user-2"))
        bad_shape = await client.post(PATH, {"text": "hi"}, headers=auth())
        unknown = await client.post(PATH, {"message": "hi", "conversation_id": 999}, headers=auth())
    assert missing.status == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    assert garbage.status == 401 and old.status == 401 and wrong_key.status == 401
    assert other_user.status == 403
    assert bad_shape.status == 422
    assert unknown.status == 404


async def test_another_users_conversation_is_not_found() -> None:
    app = legacy_app(attempt=1)
    async with drive(app, "in-process") as client:
        mine = await client.post(PATH, {"message": "a", "conversation_id": None}, headers=auth())
        conversation = int(mine.payloads[0]["item"]["thread_id"])
        theirs = await client.post(
            legacy_path("user-2"),
            {"message": "b", "conversation_id": conversation},
            headers=auth("user-2"),
        )
    assert theirs.status == 404


async def test_a_custom_secret_and_delay_are_honoured() -> None:
    app = legacy_app(attempt=3, secret="s" * 40, delay_s=0.02)
    async with drive(app, "loopback") as client:
        refused = await client.post(PATH, {"message": "x"}, headers=auth())
        accepted = await client.post(PATH, {"message": "x"}, headers=auth(secret="s" * 40))
    assert refused.status == 401 and accepted.status == 200
    assert accepted.arrivals[-1] - accepted.arrivals[0] >= 0.1


def test_builtin_targets_map_names_to_apps_paths_and_transforms() -> None:
    assert builtin_targets() == [
        "reference",
        "legacy:attempt1",
        "legacy:attempt2",
        "legacy:attempt3",
    ]
    reference = make_backend("reference")
    assert isinstance(reference, BuiltinTarget)
    assert (reference.path, reference.transform) == (CHATKIT_PATH, "none")
    for number in (1, 2, 3):
        target = make_backend(f"legacy:attempt{number}", delay_s=0.0)
        assert target.app.state.attempt == number
        assert (target.path, target.transform) == ("/user-1/chat", "legacy-fetch")
    with pytest.raises(TargetError, match="legacy:attempt3"):
        make_backend("legacy:attempt4")
    with pytest.raises(ValueError):
        legacy_app(attempt=4)
    assert len(LEGACY_TEST_SECRET) >= 32
