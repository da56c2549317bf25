"""Serving an ASGI app with uvicorn: the loopback source's server, and the one place uvicorn
is started (:func:`serve_app`, also used to serve the recording proxy).

:class:`LoopbackServer` serves any ASGI app on 127.0.0.1 in a background thread. An app served
this way is captured over a real socket (with :class:`HTTPTransport`), the way a browser reaches
it. Nothing is added to the app (no compression); uvicorn writes each body message to the socket
as it is sent.

:func:`serve_app` binds a port, then hands uvicorn the bound socket. Binding first means port
``0`` picks a free port whose number is known before uvicorn runs, a port that cannot be bound
raises :class:`~chatkit_lab.errors.TargetError` with the reason, and connections made before
uvicorn takes over wait in the listen backlog.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

from chatkit_lab.errors import TargetError
from chatkit_lab.sources._base import seconds


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
        return _http_url(self.host, self.port)

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


def _http_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class LoopbackServer:
    """Serve an ASGI app with uvicorn on 127.0.0.1 in a background thread.

    ``with LoopbackServer(app) as server:`` (or ``async with``) starts it, waits until it
    accepts connections, and exposes ``server.url``; leaving the block stops it and joins the
    thread.
    """

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        start_timeout_s: float = 10.0,
        stop_timeout_s: float = 5.0,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self._served: Served | None = None
        self._thread: threading.Thread | None = None
        self.exit_code: Any = None
        """What uvicorn exited with when it stopped on its own (``None`` otherwise)."""

    @property
    def url(self) -> str:
        if self._thread is None:
            raise RuntimeError("LoopbackServer is not running")
        return _http_url(self.host, self.port)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> LoopbackServer:
        """Bind, start uvicorn in a thread, and wait until the port accepts connections."""
        if self._thread is not None:
            raise RuntimeError("LoopbackServer already started")
        served = serve_app(
            self.app, self.host, self.port, shutdown_timeout_s=self.stop_timeout_s / 2
        )
        self.port = served.port
        self._served = served
        thread = threading.Thread(
            target=self._run,
            args=(served,),
            name=f"chatkit-lab-loopback-{self.port}",
            daemon=True,
        )
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            if served.server.started and _port_open(self.host, self.port):
                return self
            if not thread.is_alive():
                self._cleanup()
                raise TargetError(
                    f"the loopback server on {self.host}:{self.port} stopped while starting "
                    "(app import or lifespan startup failed; see the log above)"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise TargetError(
                    f"the loopback server on {self.host}:{self.port} did not start within "
                    f"{seconds(self.start_timeout_s)}"
                )
            time.sleep(0.01)

    def _run(self, served: Served) -> None:
        try:
            served.run()
        except SystemExit as exc:  # uvicorn exits this way when lifespan startup fails
            self.exit_code = exc.code

    def stop(self) -> None:
        """Ask uvicorn to exit, join the thread, and release the port."""
        served, thread = self._served, self._thread
        if served is not None:
            served.server.should_exit = True
        if thread is not None and thread.is_alive():
            thread.join(self.stop_timeout_s)
            if thread.is_alive() and served is not None:
                served.server.force_exit = True
                thread.join(self.stop_timeout_s)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._served is not None:
            self._served.sock.close()
        self._served = None
        self._thread = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> LoopbackServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False
