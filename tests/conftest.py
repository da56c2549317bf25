"""Shared test helpers: loopback socket utilities (127.0.0.1 only)."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest


@pytest.fixture
def closed_port() -> int:
    """A 127.0.0.1 port that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def port_accepts() -> Callable[[int], bool]:
    """Whether something accepts TCP connections on a 127.0.0.1 port."""
    return _port_accepts
