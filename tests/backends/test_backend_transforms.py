"""The report's custom fetch, as a transform: what ChatKit sends vs what reaches the backend."""

from __future__ import annotations

import json

import jwt
import pytest
from backend_helpers import add_message_body, create_body, drive, get_body
from hypothesis import given
from hypothesis import strategies as st

from chatkit_lab.backends import (
    LEGACY_TEST_SECRET,
    LegacyFetch,
    legacy_app,
    legacy_fetch,
    parse_conversation_id,
)
from chatkit_lab.client import ClientRequest, LocalResponse, apply_transform
from chatkit_lab.targets import load_transform

CHATKIT_URL = "http://localhost:8000/user-1/chat"


def sent(payload: dict, transform: LegacyFetch = legacy_fetch) -> ClientRequest:
    out = apply_transform(transform, ClientRequest.chatkit(CHATKIT_URL, payload))
    assert isinstance(out, ClientRequest)
    return out


def test_threads_create_becomes_message_and_null_conversation_with_a_bearer_token() -> None:
    out = sent(create_body("Hello backend"))
    assert (out.method, out.url) == ("POST", "http://localhost:8000/user-1/chat")
    assert out.json == {"message": "Hello backend", "conversation_id": None}
    assert out.headers["content-type"] == "application/json"
    assert out.headers["accept"] == "text/event-stream, */*"
    scheme, _, token = out.headers["authorization"].partition(" ")
    assert scheme == "Bearer"
    claims = jwt.decode(token, LEGACY_TEST_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "user-1"


def test_threads_list_is_answered_locally() -> None:
    request = ClientRequest.chatkit(CHATKIT_URL, {"type": "threads.list", "params": {}})
    out = apply_transform(legacy_fetch, request)
    assert isinstance(out, LocalResponse)
    assert out.status == 200
    assert json.loads(out.body) == {"data": [], "has_more": False}


@pytest.mark.parametrize(
    ("thread_id", "expected"),
    [
        ("223", 223),
        (" 7 ", 7),
        ("thr_1a2b", None),
        ("", None),
        (None, None),
        (12, 12),
        ("1.5", None),
    ],
)
def test_thread_ids_are_parsed_as_ints(thread_id: object, expected: int | None) -> None:
    body = add_message_body("x", "more")
    body["params"]["thread_id"] = thread_id
    assert sent(body).json == {"message": "more", "conversation_id": expected}


def test_every_other_request_type_is_rewritten_to_an_empty_chat_message() -> None:
    for payload in (
        get_body("223"),
        {"type": "items.list", "params": {"thread_id": "223", "order": "desc"}},
        {"type": "threads.update", "params": {"thread_id": "thr_x", "title": "t"}},
    ):
        out = sent(payload)
        assert out.url.endswith("/user-1/chat")
        assert out.json["message"] == ""
    assert sent(get_body("223")).json == {"message": "", "conversation_id": 223}


def test_the_transform_is_configurable_and_loadable_by_name() -> None:
    custom = LegacyFetch(user_id="alice", token="fixed", base_url="https://api.example.test/")
    out = sent(create_body("hi"), custom)
    assert out.url == "https://api.example.test/alice/chat"
    assert out.headers["authorization"] == "Bearer fixed"
    assert load_transform("legacy-fetch") is legacy_fetch
    caller_auth = ClientRequest.chatkit(
        CHATKIT_URL, create_body("x"), headers={"Authorization": "Bearer old"}
    )
    replaced = legacy_fetch(caller_auth)
    assert isinstance(replaced, ClientRequest)
    assert [k for k in replaced.headers if k.lower() == "authorization"] == ["authorization"]


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_integer_thread_ids_round_trip(number: int) -> None:
    assert parse_conversation_id(str(number)) == number
    assert parse_conversation_id(f"thr_{number}") is None


async def test_the_rewritten_request_reaches_the_legacy_backend() -> None:
    app = legacy_app(attempt=3)
    async with drive(app, "in-process") as client:
        first = sent(create_body("over the wire"))
        reply = await client.post("/user-1/chat", content=first.body, headers=first.headers)
        assert reply.status == 200
        thread_id = reply.payloads[0]["thread"]["id"]
        follow = sent(add_message_body(thread_id, "again"))
        assert follow.json["conversation_id"] == int(thread_id)
        second = await client.post("/user-1/chat", content=follow.body, headers=follow.headers)
        # a thread reload reaches the backend as an empty chat message and gets a stream back
        reload = sent(get_body(thread_id))
        third = await client.post("/user-1/chat", content=reload.body, headers=reload.headers)
    assert second.status == 200 and second.payloads[0]["thread"]["id"] == thread_id
    assert third.status == 200 and third.headers["content-type"].startswith("text/event-stream")
