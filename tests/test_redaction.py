"""Redaction: no secret reaches a saved capture, a report or a notebook output."""

from __future__ import annotations

import base64
import json
import random
import string
from pathlib import Path

import jwt
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatkit_lab.capture import Capture, Ending, RequestRecord, load_captures, redact_capture
from chatkit_lab.redact import (
    Redactor,
    clear_registered_secrets,
    is_secret_field,
    is_secret_header,
    is_secret_param,
    redact_bytes,
    redact_chunks,
    redact_header_value,
    redact_headers,
    redact_obj,
    redact_text,
    redact_token,
    redact_url,
    register_secrets,
    secrets_from_env,
)
from chatkit_lab.report import redact_dataframe

HS_KEY = "a-test-signing-key-that-is-long-enough-for-hs256"
JWT = jwt.encode({"sub": "user_1", "exp": 2_000_000_000}, HS_KEY, algorithm="HS256")
JWT_TAIL = JWT[-4:]
SK_PROJ = "sk-proj-Ab3d_EfGh-1jKlMnOp_QrStUv-WxYz0123456789"
BEARER = "Zq9vX2mN4bT7kLw1"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _sse(payload: dict) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def _capture(chunks: list[bytes], **kwargs) -> Capture:
    capture = Capture(
        request=kwargs.pop("request", RequestRecord("POST", "https://staging.example/chatkit")),
        status=200,
        response_headers=[("content-type", "text/event-stream")],
        **kwargs,
    )
    for number, data in enumerate(chunks):
        capture.add_chunk(data, offset_ns=1_000_000 * (number + 1) + number * 7)
    return capture


@pytest.fixture(autouse=True)
def _no_registered_secrets():
    clear_registered_secrets()
    yield
    clear_registered_secrets()


# -- headers --------------------------------------------------------------------------------


def test_the_authorization_header_keeps_its_scheme_and_loses_its_token() -> None:
    [(name, value)] = redact_headers([("Authorization", f"Bearer {JWT}")])
    assert name == "Authorization"
    assert value == f"Bearer [REDACTED jwt alg=HS256 …{JWT_TAIL}]"


def test_proxy_authorization_with_basic_credentials_is_redacted() -> None:
    credentials = base64.b64encode(b"proxyuser:proxy-password-1").decode()
    [(_, value)] = redact_headers([("Proxy-Authorization", f"Basic {credentials}")])
    assert value.startswith("Basic [REDACTED")
    assert credentials not in value


def test_cookie_values_are_redacted_and_cookie_names_kept() -> None:
    value = redact_header_value("Cookie", "session=0123456789abcdef; theme=dark")
    assert value == "session=[REDACTED cookie …cdef]; theme=[REDACTED cookie]"


def test_set_cookie_keeps_its_attributes() -> None:
    value = redact_header_value("Set-Cookie", "sid=s3cr3t-session-value; Path=/; HttpOnly; Secure")
    assert value == "sid=[REDACTED cookie …alue]; Path=/; HttpOnly; Secure"


@pytest.mark.parametrize(
    "name",
    [
        "X-Api-Key",
        "api-key",
        "X-Auth-Token",
        "X-CSRF-Token",
        "X-Session-Id",
        "X-Client-Secret",
        "X-Signature",
        "X-Amz-Security-Token",
        "X-Admin-Password",
        "OpenAI-Api-Key",
    ],
)
def test_any_header_named_like_a_key_token_secret_session_password_or_signature_is_redacted(
    name: str,
) -> None:
    assert is_secret_header(name)
    [(_, value)] = redact_headers({name: "opaque-value-0123456789"})
    assert value == "[REDACTED secret …6789]"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("content-type", "text/event-stream; charset=utf-8"),
        ("x-request-id", "req_0123456789abcdef"),
        ("x-ratelimit-remaining-tokens", "149000"),
        ("www-authenticate", 'Bearer realm="chatkit", error="invalid_token"'),
        ("date", "Tue, 07 May 2024 10:00:00 GMT"),
    ],
)
def test_ordinary_headers_are_left_alone(name: str, value: str) -> None:
    assert redact_headers([(name, value)]) == [(name, value)]


def test_a_location_header_loses_its_secret_query_parameters() -> None:
    [(_, value)] = redact_headers([("Location", "https://app.example/cb?code=abc123xyz&state=s1")])
    assert value == "https://app.example/cb?code=REDACTED&state=s1"


# -- urls -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "token",
        "key",
        "api_key",
        "apiKey",
        "access_token",
        "sig",
        "signature",
        "X-Amz-Signature",
        "code",
        "password",
        "jwt",
        "session",
        "session_id",
        "client_secret",
    ],
)
def test_secret_query_parameters_are_redacted_and_the_url_stays_readable(name: str) -> None:
    url = f"https://staging.example/chatkit?thread=thr_abc123&{name}=Secret0123456789mnop&n=2"
    assert is_secret_param(name)
    assert (
        redact_url(url)
        == f"https://staging.example/chatkit?thread=thr_abc123&{name}=REDACTED-mnop&n=2"
    )


def test_a_jwt_in_a_query_or_fragment_keeps_its_alg_in_url_form() -> None:
    url = f"https://staging.example/cb#access_token={JWT}&token_type=Bearer"
    assert redact_url(url) == (
        f"https://staging.example/cb#access_token=REDACTED-jwt-HS256-{JWT_TAIL}&token_type=Bearer"
    )


def test_ordinary_query_parameters_and_the_rest_of_the_url_are_kept_byte_for_byte() -> None:
    url = "https://h.example:8443/a%20b/thr_abc123?q=hello+world&sort_key=created_at&page=2#top"
    assert redact_url(url) == url


def test_a_userinfo_password_is_redacted_and_the_user_kept() -> None:
    url = "https://deploy:hunter2-staging@staging.example/chatkit"
    assert redact_url(url) == "https://deploy:REDACTED-password@staging.example/chatkit"
    assert redact_text(f"connect failed: {url}") == (
        "connect failed: https://deploy:REDACTED-password@staging.example/chatkit"
    )


def test_a_query_secret_inside_a_json_escaped_url_is_redacted() -> None:
    body = '{"upload_url": "https://files.example/u?id=f1\\u0026sig=AbC123dEf456GhI7"}'
    assert redact_text(body) == (
        '{"upload_url": "https://files.example/u?id=f1\\u0026sig=REDACTED-GhI7"}'
    )


# -- tokens in text -------------------------------------------------------------------------


def test_a_jwt_in_text_is_redacted_keeping_its_alg_and_last_four_characters() -> None:
    assert redact_text(f"token was {JWT}.") == (f"token was [REDACTED jwt alg=HS256 …{JWT_TAIL}].")


def test_a_jwt_with_only_two_parts_is_redacted() -> None:
    unsigned = ".".join(JWT.split(".")[:2])
    assert redact_text(f"got {unsigned} back") == (
        f"got [REDACTED jwt alg=HS256 …{unsigned[-4:]}] back"
    )


@pytest.mark.parametrize(
    "header",
    [
        {"kid": "key-2024-05", "typ": "JWT", "alg": "RS256"},
        {"typ": "at+jwt", "alg": "ES384", "jku": "https://issuer.example/keys"},
    ],
)
def test_a_jwt_with_an_unusual_header_is_redacted(header: dict) -> None:
    token = f"{_b64(header)}.{_b64({'sub': 'user_1', 'scope': 'chat'})}.c2lnbmF0dXJlLWJ5dGVz"
    assert redact_text(f"jwt: {token}") == f"jwt: [REDACTED jwt alg={header['alg']} …{token[-4:]}]"


def test_a_jwt_whose_header_json_has_spaces_is_redacted() -> None:
    header = base64.urlsafe_b64encode(b'{ "alg": "none" }').rstrip(b"=").decode()
    token = f"{header}.{_b64({'sub': 'user_1'})}."
    assert redact_text(token) == f"[REDACTED jwt alg=none …{token[-5:-1]}]."


@pytest.mark.parametrize(
    "key",
    [
        SK_PROJ,
        "sk-0123456789abcdefghijklmnopqrstuvwxyzABCD",
        "sk-svcacct-Zz_9-yY8xX7wW6vV5uU4",
        "sk-ant-api03-AbCdEfGhIjKlMnOp-QrStUv_1234",
    ],
)
def test_sk_keys_including_project_keys_with_dashes_and_underscores_are_redacted(key: str) -> None:
    assert redact_text(f"key={key!r}") == f"key='[REDACTED sk-key …{key[-4:]}]'"
    assert redact_text(f"use {key} here") == f"use [REDACTED sk-key …{key[-4:]}] here"


def test_a_bearer_token_in_free_text_is_redacted() -> None:
    assert redact_text(f"sent Bearer {BEARER} to the server") == (
        f"sent Bearer [REDACTED token …{BEARER[-4:]}] to the server"
    )


def test_an_authorization_header_quoted_in_an_error_message_or_curl_command_is_redacted() -> None:
    error = f'{{"type":"error","message":"401 for header Authorization: Bearer {BEARER}"}}'
    assert BEARER not in redact_text(error)
    curl = (
        "curl -sN -u deploy:hunter2-staging "
        f"-H 'Authorization: Token {BEARER}' -H 'X-Api-Key: opaquekeyvalue42' "
        "https://staging.example/chatkit"
    )
    assert redact_text(curl) == (
        "curl -sN -u deploy:REDACTED-password "
        f"-H 'Authorization: Token [REDACTED token …{BEARER[-4:]}]' "
        "-H 'X-Api-Key: [REDACTED secret …ue42]' https://staging.example/chatkit"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"api_key": "abc-123-def-456-ghi"}', '{"api_key": "[REDACTED secret …-ghi]"}'),
        ('{"password": "hunter2"}', '{"password": "[REDACTED password]"}'),
        ('{"token":"opaque.token.value-1234"}', '{"token":"[REDACTED secret …1234]"}'),
        ("{'client_secret': 'cs_live_0123456789'}", "{'client_secret': '[REDACTED secret …6789]'}"),
        ('{"refreshToken": "rt-0123456789abcd"}', '{"refreshToken": "[REDACTED secret …abcd]"}'),
        (
            '"{\\"apiKey\\": \\"escaped-secret-9876\\"}"',
            '"{\\"apiKey\\": \\"[REDACTED secret …9876]\\"}"',
        ),
        ("OPENAI_API_KEY=opaque0123456789", "OPENAI_API_KEY=REDACTED-6789"),
        ("db_password: 'pw-with-quote\\'s'", "db_password: '[REDACTED password]'"),
    ],
)
def test_secret_named_json_fields_are_redacted(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        'data: {"type":"thread.created","thread":{"id":"thr_abc123","created_at":'
        '"2024-05-07T10:00:00.123456+00:00","title":null}}\n\n',
        'data: {"type":"thread.item.done","item":{"id":"msg_68a1b2c3d4e5f6a7b8c9d0e1",'
        '"thread_id":"thr_68a1b2c3d4e5f6a7b8c9d0e1","type":"assistant_message"}}',
        '{"type":"error","code":"stream.error","allow_retry":true}',
        '{"usage":{"input_tokens":1234,"output_tokens":56,"max_tokens":4096},'
        '"token_type":"Bearer","key":"row-1","sort_key":"created_at"}',
        "Use the task-manager and the risk-assessment-framework-2024 to plan.",
        "Bearer authentication is required; pass a token.",
        "session ended; key points: tokens are counted per message.",
        "see https://docs.example/guides/keys?page=2&lang=en",
        "password reset link sent",
        "eyjafjallajokull.example.com is a host",
    ],
)
def test_ordinary_chatkit_ids_timestamps_and_words_are_not_redacted(text: str) -> None:
    assert redact_text(text) == text


def test_base64_image_data_is_not_mangled() -> None:
    rng = random.Random(8)
    image = base64.b64encode(bytes(rng.randrange(256) for _ in range(6000))).decode()
    text = json.dumps({"type": "image", "data_url": f"data:image/png;base64,{image}"})
    assert redact_text(text) == text
    urlsafe = base64.urlsafe_b64encode(image.encode()).decode()
    assert redact_text(urlsafe) == urlsafe


def test_short_secrets_keep_no_tail() -> None:
    assert redact_token("hunter2") == "[REDACTED secret]"
    assert redact_token("0123456789abcdef") == "[REDACTED secret …cdef]"
    assert redact_token(JWT) == f"[REDACTED jwt alg=HS256 …{JWT_TAIL}]"
    assert redact_token(SK_PROJ, style="url") == f"REDACTED-sk-key-{SK_PROJ[-4:]}"


@pytest.mark.parametrize(
    "value", ["Bearer undefined", "Bearer null", "Bearer", "Bearer [object Object]"]
)
def test_placeholder_credentials_stay_visible_because_they_are_findings(value: str) -> None:
    assert redact_headers([("Authorization", value)]) == [("Authorization", value)]
    assert redact_text(f'{{"token": "null", "log": "Authorization: {value}"}}') == (
        f'{{"token": "null", "log": "Authorization: {value}"}}'
    )


# -- idempotence ----------------------------------------------------------------------------

SAMPLES = [
    f"Authorization: Bearer {JWT}",
    f'{{"api_key": "{SK_PROJ}", "password": "hunter2", "authorization": "Bearer {BEARER}"}}',
    f"https://u:pw-123456@h.example/p?token={JWT}&sig=abc%2B%2F%3D&x=1#code=qwerty123",
    f"curl -u a:b -H 'Cookie: sid=abcdef0123456789; theme=dark' -H 'x-api-key: {BEARER}'",
    "Set-Cookie: sid=abcdef0123456789; Path=/",
    f"token={BEARER}&password=p&api_key={SK_PROJ}",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_redaction_is_idempotent(text: str) -> None:
    once = redact_text(text)
    assert once != text
    assert redact_text(once) == once
    assert redact_url(redact_url(text)) == redact_url(text)
    assert redact_headers(redact_headers([("Cookie", text)])) == redact_headers([("Cookie", text)])


_FRAGMENTS = st.sampled_from(
    [
        JWT,
        SK_PROJ,
        BEARER,
        "Bearer ",
        "Authorization: ",
        "Cookie: ",
        "X-Api-Key: ",
        '"token": "',
        "'password': '",
        '"',
        "'",
        "?token=",
        "&sig=",
        "#access_token=",
        "https://u:p@h/",
        "=",
        ";",
        " ",
        "\n",
        "\\",
        "[REDACTED",
        "]",
        "REDACTED-",
        "thr_abc123",
        "abcdefghijklmnop",
        "…",
        ".",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_FRAGMENTS, max_size=12).map("".join))
def test_redacting_twice_equals_redacting_once_for_any_mix_of_fragments(text: str) -> None:
    once = redact_text(text)
    assert redact_text(once) == once
    url_once = redact_url(text)
    assert redact_url(url_once) == url_once


# -- chunked bodies -------------------------------------------------------------------------


def test_a_jwt_split_across_two_chunks_is_redacted_in_both() -> None:
    body = _sse({"type": "client_effect", "name": "auth", "data": {"jwt": JWT}})
    cut = body.index(JWT.encode()) + 30
    first, second = redact_chunks([body[:cut], body[cut:]])
    assert JWT[:30].encode() not in first
    assert JWT[30:].encode() not in second
    assert JWT[10:30].encode() not in first and JWT[30:50].encode() not in second
    assert first.endswith(f"[REDACTED jwt alg=HS256 …{JWT_TAIL}]".encode())
    assert second == b'"}}\n\n'


def test_a_replacement_straddling_a_boundary_goes_wholly_into_the_chunk_where_it_starts() -> None:
    body = f"key {SK_PROJ} end".encode()
    start = body.index(b"sk-")
    chunks = [body[: start + 5], body[start + 5 : start + 10], body[start + 10 :]]
    redacted = redact_chunks(chunks)
    assert redacted == [f"key [REDACTED sk-key …{SK_PROJ[-4:]}]".encode(), b"", b" end"]


def test_chunk_boundaries_move_with_the_replacements() -> None:
    events = [
        _sse({"type": "progress_update", "text": "one"}),
        _sse({"type": "error", "message": f"Authorization: Bearer {BEARER}"}),
        _sse({"type": "progress_update", "text": "three"}),
    ]
    redacted = redact_chunks(events)
    assert redacted[0] == events[0]
    assert redacted[2] == events[2]
    assert BEARER.encode() not in redacted[1]
    assert redacted[1].endswith(b"\n\n")


def test_bytes_that_are_not_utf8_are_kept() -> None:
    data = b"\xff\xfe binary \x80 " + f"Bearer {BEARER}".encode() + b" \xc3"
    redacted = redact_bytes(data)
    assert redacted.startswith(b"\xff\xfe binary \x80 Bearer [REDACTED token")
    assert redacted.endswith(b" \xc3")
    assert BEARER.encode() not in redacted
    assert redact_bytes(b"\x00\x01\x02\xff") == b"\x00\x01\x02\xff"


def test_a_multibyte_character_split_across_chunks_is_kept() -> None:
    body = f"café ✓ {SK_PROJ} ✓".encode()
    cut = body.index("✓".encode()) + 1
    redacted = redact_chunks([body[:cut], body[cut:]])
    assert redacted[0] == body[:cut]
    assert b"".join(redacted).decode() == f"café ✓ [REDACTED sk-key …{SK_PROJ[-4:]}] ✓"


# -- captures -------------------------------------------------------------------------------


def test_a_request_body_url_and_headers_are_redacted() -> None:
    request = RequestRecord(
        "POST",
        f"https://staging.example/chatkit?api_key={BEARER}",
        [("Authorization", f"Bearer {JWT}"), ("Content-Type", "application/json")],
        json.dumps(
            {"type": "threads.create", "metadata": {"password": "hunter2-staging"}}
        ).encode(),
    )
    saved = redact_capture(_capture([b"data: {}\n\n"], request=request))
    assert saved.request.url == f"https://staging.example/chatkit?api_key=REDACTED-{BEARER[-4:]}"
    assert saved.request.headers[0] == (
        "Authorization",
        f"Bearer [REDACTED jwt alg=HS256 …{JWT_TAIL}]",
    )
    assert saved.request.headers[1] == ("Content-Type", "application/json")
    assert b"hunter2" not in saved.request.body
    assert saved.request.chatkit_type == "threads.create"


def test_notes_meta_ending_and_target_of_a_capture_are_redacted() -> None:
    capture = _capture(
        [b"data: {}\n\n"],
        ending=Ending("error", f"HTTP 401: Authorization: Bearer {BEARER}"),
        target=f"https://deploy:pw-staging-1@staging.example/?token={BEARER}",
        notes=[f"replayed with {SK_PROJ}"],
        meta={"env": {"OPENAI_API_KEY": SK_PROJ, "headers": [["Cookie", "sid=abcdef0123456789"]]}},
    )
    text = json.dumps(list(redact_capture(capture).to_records()), ensure_ascii=False)
    for secret in (BEARER, SK_PROJ, "pw-staging-1", "abcdef0123456789"):
        assert secret not in text


def test_a_saved_capture_holds_no_secret_and_loads_back_with_its_chunks_and_offsets(
    tmp_path: Path,
) -> None:
    body = _sse({"type": "thread.created", "thread": {"id": "thr_abc123", "token": JWT}})
    body += _sse({"type": "error", "message": f"upstream: Authorization: Bearer {BEARER}"})
    cuts = [body.index(JWT.encode()) + 17, body.index(BEARER.encode()) + 3]
    chunks = [body[: cuts[0]], body[cuts[0] : cuts[1]], body[cuts[1] :]]
    capture = _capture(chunks)
    path = capture.save(tmp_path / "capture.jsonl")
    text = path.read_text(encoding="utf-8")
    assert JWT not in text and JWT[20:40] not in text and BEARER not in text
    [loaded] = load_captures(path)
    assert len(loaded.chunks) == len(capture.chunks)
    assert [c.offset_ns for c in loaded.chunks] == [c.offset_ns for c in capture.chunks]
    assert [c.index for c in loaded.chunks] == [0, 1, 2]
    assert [event.type for event in loaded.events] == ["thread.created", "error"]
    assert loaded.events[0].data.count("[REDACTED jwt alg=HS256") == 1


def _planted(seed: int) -> dict[str, str]:
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits

    def word(n: int, extra: str = "") -> str:
        return "".join(rng.choice(alphabet + extra) for _ in range(n))

    token = jwt.encode({"sub": word(12), "sid": word(20)}, word(40), algorithm="HS256")
    return {
        "jwt": token,
        "jwt2": ".".join(jwt.encode({"n": word(16)}, word(64), algorithm="HS512").split(".")[:2]),
        "sk": "sk-proj-" + word(40, "-_") + word(4),
        "bearer": word(32),
        "api_key": word(28, "-_."),
        "password": word(14, "!@$%^*"),
        "query": word(24),
        "extra": "stg-" + word(20),
    }


def _body(secrets: dict[str, str]) -> bytes:
    events = [
        {"type": "thread.created", "thread": {"id": "thr_abc123", "title": "café ✓ naïve"}},
        {"type": "client_effect", "name": "login", "data": {"token": secrets["jwt"]}},
        {"type": "progress_update", "text": f"bare jwt {secrets['jwt2']} seen"},
        {"type": "progress_update", "text": f"key {secrets['sk']} leaked"},
        {"type": "error", "message": f"401 Authorization: Bearer {secrets['bearer']}"},
        {
            "type": "widget",
            "config": {"api_key": secrets["api_key"], "password": secrets["password"]},
        },
        {"type": "link", "url": f"https://files.example/x?a=1&access_token={secrets['query']}"},
        {"type": "note", "text": f"staging password is {secrets['extra']}"},
    ]
    return b"".join(_sse(event) for event in events)


def _leaks(secret: str, text: str) -> list[str]:
    prefix = next((p for p in ("sk-proj-", "stg-", "eyJ") if secret.startswith(p)), "")
    body = secret[len(prefix) :]
    pieces = {body[i : i + 8] for i in range(len(body) - 7)}
    return [piece for piece in pieces | {secret} if piece in text]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32), cuts=st.lists(st.floats(0, 1), max_size=12))
def test_for_any_chunking_no_planted_secret_or_piece_of_one_reaches_the_saved_file(
    tmp_path: Path, seed: int, cuts: list[float]
) -> None:
    secrets = _planted(seed)
    body = _body(secrets)
    points = sorted({int(c * len(body)) for c in cuts} | {0, len(body)})
    chunks = [body[a:b] for a, b in zip(points, points[1:], strict=False)] or [body]
    capture = _capture(chunks, notes=[f"env {secrets['extra']}"])
    register_secrets([secrets["extra"]])
    try:
        path = capture.save(tmp_path / f"capture-{seed}.jsonl")
    finally:
        clear_registered_secrets()
    text = path.read_text(encoding="utf-8")
    [loaded] = load_captures(path)
    joined = loaded.body.decode("utf-8", errors="replace")
    for name, secret in secrets.items():
        assert not _leaks(secret, text), name
        assert not _leaks(secret, joined), name
    assert len(loaded.chunks) == len(capture.chunks)
    assert [c.offset_ns for c in loaded.chunks] == [c.offset_ns for c in capture.chunks]
    assert [e.type for e in loaded.events] == [e.type for e in capture.events]


# -- structured data ------------------------------------------------------------------------


def test_redact_obj_redacts_nested_data_and_keeps_the_rest() -> None:
    data = {
        "thread": {"id": "thr_abc123", "created_at": "2024-05-07T10:00:00Z", "items": 3},
        "auth": {"access_token": JWT, "password": 123456, "token_type": "Bearer"},
        "headers": [("Authorization", f"Bearer {BEARER}"), ("Accept", "text/event-stream")],
        "url": f"https://staging.example/?token={BEARER}",
        "log": [f"used {SK_PROJ}", b"Bearer " + BEARER.encode()],
        "flags": (True, None, 1.5),
    }
    out = redact_obj(data)
    assert out["thread"] == data["thread"]
    assert out["auth"] == {
        "access_token": f"[REDACTED jwt alg=HS256 …{JWT_TAIL}]",
        "password": "[REDACTED secret]",
        "token_type": "Bearer",
    }
    assert out["headers"] == [
        ("Authorization", f"Bearer [REDACTED token …{BEARER[-4:]}]"),
        ("Accept", "text/event-stream"),
    ]
    assert out["url"] == f"https://staging.example/?token=REDACTED-{BEARER[-4:]}"
    assert out["log"] == [
        f"used [REDACTED sk-key …{SK_PROJ[-4:]}]",
        f"Bearer [REDACTED token …{BEARER[-4:]}]".encode(),
    ]
    assert out["flags"] == (True, None, 1.5)
    assert data["auth"]["access_token"] == JWT  # the input is not modified


def test_redact_dataframe_redacts_every_string_cell() -> None:
    df = pd.DataFrame(
        {
            "capture": ["thr_abc123", "msg_1"],
            "data": [f'{{"token": "{BEARER}"}}', "plain text"],
            "password": ["hunter2", None],
            "bytes": [10, 20],
        }
    )
    out = redact_dataframe(df)
    assert list(out.columns) == list(df.columns)
    assert out["capture"].tolist() == ["thr_abc123", "msg_1"]
    assert out["data"].tolist() == [
        f'{{"token": "[REDACTED secret …{BEARER[-4:]}]"}}',
        "plain text",
    ]
    assert out["password"].tolist()[0] == "[REDACTED secret]"
    assert pd.isna(out["password"].tolist()[1])
    assert out["bytes"].tolist() == [10, 20]
    assert df["password"][0] == "hunter2"


def test_a_headers_table_has_its_credential_values_redacted() -> None:
    df = pd.DataFrame({"name": ["Cookie", "Accept"], "value": ["sid=abcdef0123456789", "*/*"]})
    out = redact_dataframe(df)
    assert out["value"].tolist() == ["sid=[REDACTED cookie …6789]", "*/*"]


# -- user-supplied secrets ------------------------------------------------------------------


def test_an_extra_literal_secret_is_scrubbed_everywhere() -> None:
    redactor = Redactor(extra=["my-staging-password"])
    assert redactor.redact_text("login with my-staging-password ok") == (
        "login with [REDACTED secret …word] ok"
    )
    assert redactor.redact_url("https://h/?p=my-staging-password") == "https://h/?p=REDACTED-word"
    assert redact_text("x my%2Fslash%3Dpass y", extra=["my/slash=pass"]) == (
        "x [REDACTED secret …pass] y"
    )
    assert "my-staging-password" not in json.dumps(
        redactor.redact_obj({"note": "pw my-staging-password"})
    )
    assert Redactor(extra=["abc", ""]).extra == ()


def test_secrets_from_env_returns_the_values_that_are_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATKIT_LAB_TEST_TOKEN", "env-token-0123456789")
    monkeypatch.setenv("CHATKIT_LAB_TEST_BLANK", "  ")
    monkeypatch.delenv("CHATKIT_LAB_TEST_UNSET", raising=False)
    names = ["CHATKIT_LAB_TEST_TOKEN", "CHATKIT_LAB_TEST_BLANK", "CHATKIT_LAB_TEST_UNSET"]
    assert secrets_from_env(names) == ["env-token-0123456789"]
    assert redact_text("t=env-token-0123456789!", extra=secrets_from_env(names)) == (
        "t=[REDACTED secret …6789]!"
    )


def test_registered_secrets_reach_saved_captures(tmp_path: Path) -> None:
    capture = _capture([b'data: {"text": "plain-staging-secret"}\n\n'])
    register_secrets(["plain-staging-secret"])
    text = capture.save(tmp_path / "c.jsonl").read_text(encoding="utf-8")
    assert "plain-staging-secret" not in text


# -- names ----------------------------------------------------------------------------------


def test_secret_names_are_judged_by_their_words_not_by_substrings() -> None:
    assert is_secret_field("access_token") and is_secret_field("apiKey")
    assert is_secret_field("OPENAI_API_KEY") and is_secret_field("client_secret")
    assert not is_secret_field("token_type") and not is_secret_field("max_tokens")
    assert not is_secret_field("key") and not is_secret_field("monkey")
    assert not is_secret_param("author") and not is_secret_param("design")
    assert not is_secret_param("country_code") and is_secret_param("auth_code")
    assert not is_secret_header("x-ratelimit-remaining-tokens")
    assert not is_secret_header("Keep-Alive")
