"""Names: which fields, URL parameters and headers hold secrets, judged by their words.

:func:`is_secret_header` is the kit's one rule for what a credential header is: redaction uses it
to redact a header's value whole, sources use it to drop credentials on a redirect to another
origin, and :func:`header_secrets` uses it to pick the literal secrets out of headers a user
supplied (:mod:`chatkit_lab.redact._supplied`).
"""

from __future__ import annotations

import re
from functools import lru_cache

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")

_FIELD_NOUNS = frozenset(
    {
        "token",
        "secret",
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "apikey",
        "jwt",
        "signature",
        "credential",
        "credentials",
        "authorization",
        "cookie",
        "accesstoken",
        "refreshtoken",
        "idtoken",
        "authtoken",
        "bearertoken",
        "sessiontoken",
        "clientsecret",
        "privatekey",
        "secretkey",
        "accesskey",
        "sessionkey",
        "sessionid",
    }
)
_KEY_QUALIFIERS = frozenset(
    {
        "api",
        "secret",
        "private",
        "access",
        "auth",
        "session",
        "signing",
        "client",
        "encryption",
        "master",
        "service",
        "subscription",
        "license",
    }
)
_FIELD_ANYWHERE = frozenset({"password", "passwd", "apikey"})
_PARAM_WHOLE_NAMES = frozenset(
    {"code", "sig", "key", "sid", "auth", "session", "sessionid", "otp", "ticket"}
)
_CODE_QUALIFIERS = frozenset({"auth", "authorization", "oauth", "access", "device", "verification"})
_HEADER_PARTS = frozenset(
    {
        "authorization",
        "authentication",
        "authn",
        "authz",
        "auth",
        "key",
        "apikey",
        "token",
        "secret",
        "password",
        "passwd",
        "passphrase",
        "pwd",
        "session",
        "sessionid",
        "signature",
        "sig",
        "cookie",
        "credential",
        "credentials",
        "jwt",
        "csrf",
        "xsrf",
    }
)
_HEADER_SUFFIXES = (
    "token",
    "secret",
    "password",
    "apikey",
    "signature",
    "sessionid",
    "authkey",
    "sessionkey",
    "accesskey",
    "secretkey",
    "privatekey",
)
_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key"}
)
CREDENTIAL_HEADERS = _SECRET_HEADERS
"""The headers that exist to carry a credential: any value after them is one, even in prose."""
URL_HEADERS = frozenset({"location", "content-location", "referer", "referrer", "origin"})
"""Headers whose value is a URL: redacted as one (secret parameters, userinfo)."""
PLACEHOLDERS = frozenset(
    {"undefined", "null", "none", "nil", "nan", "true", "false", "[object object]", '""', "''"}
)
"""Values kept as they are: a placeholder where a secret should be is a finding in itself."""
AUTH_SCHEMES = frozenset(
    {"bearer", "basic", "token", "digest", "negotiate", "ntlm", "apikey", "key", "dpop", "hmac"}
)
"""Auth schemes kept in front of a redacted credential (``Bearer [REDACTED ...]``)."""


def name_parts(name: str) -> list[str]:
    """The lower-case words of a name: ``apiKey``, ``api_key`` and ``API-KEY`` give the same."""
    return [part for part in _NON_ALNUM.split(_CAMEL.sub("_", name).lower()) if part]


def is_secret_field(name: str) -> bool:
    """Whether a JSON/dict field or assignment named ``name`` holds a secret value.

    The name's last word decides (``access_token``, ``apiKey``, ``client_secret``,
    ``OPENAI_API_KEY``), so ``token_type``, ``max_tokens`` or a widget's ``key`` are not secrets.
    """
    parts = name_parts(name)
    if not parts:
        return False
    last = parts[-1]
    if last in _FIELD_NOUNS:
        return True
    if last == "key" and len(parts) > 1 and parts[-2] in _KEY_QUALIFIERS:
        return True
    return any(part in _FIELD_ANYWHERE for part in parts)


def is_secret_param(name: str) -> bool:
    """Whether a URL query/fragment parameter named ``name`` holds a secret value."""
    if is_secret_field(name):
        return True
    parts = name_parts(name)
    if not parts:
        return False
    if "".join(parts) in _PARAM_WHOLE_NAMES or "session" in parts or parts[-1] == "sig":
        return True
    return parts[-1] == "code" and len(parts) > 1 and parts[-2] in _CODE_QUALIFIERS


@lru_cache(maxsize=4096)  # asked for every header of every exchange (a HAR has many)
def is_secret_header(name: str) -> bool:
    """Whether a header named ``name`` carries a credential.

    ``Authorization``, ``Proxy-Authorization``, ``Cookie``, ``Set-Cookie`` and any header with a
    word that names a key, token, secret, session, password, signature or auth
    (``X-Api-Key``, ``X-Auth-Token``, ``X-Session-Id``, ``X-Authentication``...). Judged by whole
    words, so ``X-RateLimit-Remaining-Tokens`` and ``WWW-Authenticate`` are not credentials.
    Its value is redacted whole, it is not forwarded to another origin, and when a user supplies
    it, its value is registered as a literal secret (:func:`header_secrets`).
    """
    lowered = name.strip().lower()
    if lowered in _SECRET_HEADERS:
        return True
    parts = name_parts(lowered)
    return any(part in _HEADER_PARTS or part.endswith(_HEADER_SUFFIXES) for part in parts)
