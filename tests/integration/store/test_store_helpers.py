"""The PostgreSQL half of the store suite may only be skipped on a developer's machine, never in CI."""

from __future__ import annotations

import socket

import pytest
from store_helpers import _pg_admin


def _closed_port() -> int:
    with socket.socket() as s:  # bound then released: nothing listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_postgres_fails_when_ci_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="PostgreSQL is not reachable"):
        _pg_admin(port=_closed_port())


def test_unreachable_postgres_skips_with_its_reason_without_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"PostgreSQL is not reachable on 127\.0\.0\.1:\d+ .*CI"):
        _pg_admin(port=_closed_port())
