"""Serving the recording proxy: its command-line values checked, and uvicorn started."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from chatkit_lab.sources._serve import serve_app

if TYPE_CHECKING:
    from chatkit_lab.sources._proxy import RecordingProxy


def parse_upstream(url: str) -> str:
    """``url`` without a trailing slash, or :class:`ValueError` if it is not an http(s) URL."""
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"upstream {url!r} is not an http:// or https:// URL")
    try:
        hostname, _ = parts.hostname, parts.port
    except ValueError:
        raise ValueError(f"upstream {url!r} has a bad port") from None
    if not hostname:
        raise ValueError(f"upstream {url!r} has no host")
    if parts.query or parts.fragment:
        raise ValueError(f"upstream {url!r} must not carry a query or fragment")
    return text.rstrip("/")


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:port`` for IPv6) as a pair, or :class:`ValueError`."""
    text = value.strip()
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise ValueError(f"listen address {value!r}: expected [ipv6]:port")
        port_text = rest[1:]
    else:
        host, colon, port_text = text.rpartition(":")
        if not colon or ":" in host:
            raise ValueError(f"listen address {value!r}: expected host:port")
    if not host:
        raise ValueError(f"listen address {value!r} has no host")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"listen address {value!r}: port must be a number from 0 to 65535")
    return host, int(port_text)


def serve_proxy(
    proxy: RecordingProxy,
    host: str = "127.0.0.1",
    port: int = 8787,
    *,
    on_listening: Callable[[str], None] | None = None,
) -> None:
    """Serve ``proxy`` with uvicorn on ``host:port`` until interrupted (blocking).

    The port is bound first (port ``0`` picks a free one), so ``on_listening`` gets the real URL;
    a port that cannot be bound raises :class:`~chatkit_lab.errors.TargetError`. uvicorn adds
    no ``server``/``date`` headers of its own: the upstream's pass through alone.
    """
    served = serve_app(proxy.app, host, port, lifespan="on", own_headers=False)
    if on_listening is not None:
        try:
            on_listening(served.url)
        except BaseException:
            served.sock.close()
            raise
    served.run()
