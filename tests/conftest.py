"""Test-wide guards: no network beyond loopback, and fresh settings for every test."""

from __future__ import annotations

import ipaddress
import os
import socket
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

# Property tests check behaviour, not speed: on a loaded 2-core machine one example can take longer than
# hypothesis's 200 ms default deadline, which would fail the test for the wrong reason.
hypothesis_settings.register_profile("dspy-ash", deadline=None)
hypothesis_settings.load_profile("dspy-ash")

# Nothing a test does may write into the user's real data directory.
os.environ["DSPY_ASH_HOME"] = tempfile.mkdtemp(prefix="dspy-ash-tests-")

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _loopback_only(address: Any) -> None:
    if isinstance(address, tuple) and address:
        host = address[0]
        try:
            if ipaddress.ip_address(host).is_loopback:
                return
        except ValueError:
            if host == "localhost":
                return
        raise RuntimeError(f"tests may only reach 127.0.0.1, not {address!r}")


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _loopback_only(address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _loopback_only(address)
    return _real_connect_ex(self, address)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    from dspy_ash.settings import settings

    settings.reset()
    yield
    settings.reset()
