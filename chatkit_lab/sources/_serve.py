"""The one place uvicorn is started: bind a port, then hand uvicorn the bound socket.

Binding first means port ``0`` picks a free port whose number is known before uvicorn runs, a
port that cannot be bound raises :class:`~chatkit_lab.errors.TargetError` with the reason, and
connections made before uvicorn takes over wait in the listen backlog.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any, Literal

from chatkit_lab.errors import TargetError


@dataclass
class Served:
    """A uvicorn server and the socket it will serve on; ``run()`` blocks until it exits."""

    server: Any
    """The ``uvicorn.Server`` (set ``should_exit`` to stop it)."""
    sock: socket.socket
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def run(self) -> None:
        """Serve until asked to exit; the socket is closed afterwards."""
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.sock.close()


def serve_app(
    app: Any,
    host: str,
    port: int,
    *,
    lifespan: Literal["auto", "on", "off"] = "auto",
    shutdown_timeout_s: float = 3.0,
    own_headers: bool = True,
) -> Served:
    """Bind ``host:port`` and configure uvicorn for ``app`` (call ``run()`` to serve).

    ``own_headers=False`` keeps uvicorn from adding its ``server``/``date`` headers, so what a
    client sees is the app's headers alone.
    """
    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise TargetError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan=lifespan,
        access_log=False,
        ws="none",
        server_header=own_headers,
        date_header=own_headers,
        timeout_graceful_shutdown=max(1, int(shutdown_timeout_s)),
    )
    return Served(uvicorn.Server(config), sock, host, sock.getsockname()[1])
