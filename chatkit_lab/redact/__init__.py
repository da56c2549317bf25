"""Redaction: secrets never reach a saved capture, a report, a terminal or a notebook output.

What is redacted, wherever text is saved or exported:

* credential headers (:func:`is_secret_header`, the kit's one rule): ``Authorization``,
  ``Proxy-Authorization``, ``Cookie``, ``Set-Cookie`` and any header whose name has a word for a
  key, token, secret, session, password, signature or auth (``X-Api-Key``, ``X-Auth-Token``,
  ``X-Session-Id``...). The auth scheme, cookie names and ``Set-Cookie`` attributes are kept;
* URL userinfo passwords and secret-looking query or fragment parameters (``token``, ``key``,
  ``api_key``, ``access_token``, ``sig``, ``signature``, ``code``, ``password``, ``jwt``,
  ``session``...), also inside free text and form bodies;
* token-shaped strings anywhere, URL path segments included: JWTs (two or more parts), ``sk-``
  keys (``sk-proj-...``, ``sk-ant-...``), well-known prefixed keys (``ghp_``, ``github_pat_``,
  ``xoxb-``, ``AKIA``...), ``Bearer``/``Basic`` credentials, credential headers quoted in text
  (error messages, curl commands), and string values of secret-named JSON/dict fields
  (``"api_key": "..."``, ``'password': '...'``); what is left of a shaped token that a text was
  cut through before an ellipsis (``ghp_abc…``) too;
* literal secrets the user supplied: held by the run's :class:`Redactor` (``extra=``,
  :meth:`Redactor.with_secrets`), or registered in the current context with
  :func:`register_secrets`. Register every form a credential takes, before the first request:
  :func:`header_secrets` and :func:`url_secrets` (:func:`request_secrets` for both) give each
  cookie's value, the decoded ``user:password`` of Basic auth and of URL userinfo, the password
  alone (a :class:`Password`: its marker keeps no tail) and the Basic credential sent for it; a
  HAR import and the recording proxy register the credentials they read. A literal is found as
  given, percent-encoded and JSON-escaped, and, when token-like, in pieces: its start or its end
  standing alone (a text cut inside it, a stream that sent it in two deltas);
* secrets a stream sent in pieces: before a body, JSON-like data or a table is redacted, its
  ``delta`` strings are joined and the secrets spanning two of them are learned
  (:meth:`Redactor.learned`), so no event's excerpt keeps its piece.

A redacted value keeps what tells tokens apart and nothing else: its last four characters (for
values of twelve characters or more, never for passwords) and, for a JWT, the header's ``alg``. In
text the marker reads ``[REDACTED jwt alg=HS256 …abcd]``; inside URLs it stays a valid query value:
``?token=REDACTED-jwt-HS256-abcd``. Placeholders that are findings in themselves (``Bearer
undefined``, ``"token": "null"``) are kept. Redaction is idempotent: markers are never redacted
again, and a text is re-scanned until no secret is left.

Bodies are redacted as a whole: :meth:`Redactor.redact_chunks` joins a body's pieces, redacts the
joined body (so a token split across two chunks is still found) and cuts it again at the original
boundaries, mapped through the replacements (a replacement straddling a boundary goes wholly into
the piece where it starts). Piece count is kept; bytes that are not UTF-8 are kept as they are.

Where it happens: at each exit (saving a capture, writing a report, printing, showing a table),
by the function that produces the output; excerpts are cut (:func:`shorten`) after redaction.
"""

from chatkit_lab.redact._context import (
    clear_registered_secrets,
    current_redactor,
    redact_bytes,
    redact_chunks,
    redact_header_value,
    redact_headers,
    redact_obj,
    redact_text,
    redact_url,
    redacting,
    redactor_for,
    register_secrets,
    run_redactor,
    secrets_from_env,
)
from chatkit_lab.redact._names import is_secret_field, is_secret_header, is_secret_param
from chatkit_lab.redact._redactor import MAX_SECRETS, MIN_EXTRA_LENGTH, Redactor
from chatkit_lab.redact._shapes import ELLIPSIS, Style, redact_token, shorten
from chatkit_lab.redact._spans import Password
from chatkit_lab.redact._supplied import (
    credential_forms,
    har_entry_secrets,
    header_secrets,
    request_secrets,
    url_secrets,
)

__all__ = [
    "ELLIPSIS",
    "MAX_SECRETS",
    "MIN_EXTRA_LENGTH",
    "Password",
    "Redactor",
    "Style",
    "clear_registered_secrets",
    "credential_forms",
    "current_redactor",
    "har_entry_secrets",
    "header_secrets",
    "is_secret_field",
    "is_secret_header",
    "is_secret_param",
    "redact_bytes",
    "redact_chunks",
    "redact_header_value",
    "redact_headers",
    "redact_obj",
    "redact_text",
    "redact_token",
    "redact_url",
    "redacting",
    "redactor_for",
    "register_secrets",
    "request_secrets",
    "run_redactor",
    "secrets_from_env",
    "shorten",
    "url_secrets",
]
