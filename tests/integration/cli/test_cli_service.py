"""`dspy-ash init` and `dspy-ash serve` through typer's runner (the server itself: tests/e2e)."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parents[1] / "store"))
from store_helpers import fresh_database

from dspy_ash.cli import _service
from dspy_ash.cli import app as cli
from dspy_ash.store import Database, repos
from dspy_ash.store import _migrate as migrate

KEY = re.compile(r"dak_[A-Za-z0-9_-]{20,}")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as made:
        yield made


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_init_creates_the_schema_tenant_and_one_admin_key(url: str) -> None:
    code, output = run("init", "--database-url", url, "--tenant", "acme")
    assert code == 0, output
    assert f"at revision {migrate.head()}" in output
    assert "created tenant acme" in output
    assert len(KEY.findall(output)) == 1
    assert "only time the key is shown" in output

    async def check() -> None:
        db = Database(url)
        try:
            await db.check_schema()
            async with db.transaction() as s:
                tenant = await repos.tenants.find_tenant(s, name="acme")
                assert tenant is not None
                (key,) = await repos.api_keys.list_api_keys(s, tenant_id=tenant.id)
                assert key.role == "admin"
                principal = await repos.api_keys.authenticate(s, token=KEY.findall(output)[0])
                assert principal is not None and principal.tenant_id == tenant.id
        finally:
            await db.dispose()

    asyncio.run(check())


def test_init_again_says_so_and_refuses_a_second_tenant(url: str) -> None:
    assert run("init", "--database-url", url)[0] == 0
    code, output = run("init", "--database-url", url)
    assert code == 0
    assert "already initialised: tenant default" in output
    assert KEY.findall(output) == []
    code, output = run("init", "--database-url", url, "--tenant", "other")
    assert code == 1
    assert "initialised already" in output and "'default'" in output


def test_serve_refuses_a_database_that_is_behind(url: str) -> None:
    asyncio.run(migrate.upgrade(url, "0001"))
    code, output = run("serve", "--database-url", url, "--port", "1")
    assert code == 1
    assert "dspy-ash migrate" in output
    assert "--migrate" in output


def test_serve_migrate_brings_the_schema_up_first(url: str) -> None:
    asyncio.run(migrate.upgrade(url, "0001"))
    _service._check_schema(url, migrate=True)  # what `serve --migrate` does before it starts uvicorn
    assert asyncio.run(migrate.upgrade(url)) == migrate.head()  # nothing left to apply

    async def current() -> None:
        db = Database(url)
        try:
            await db.check_schema()
        finally:
            await db.dispose()

    asyncio.run(current())


def test_help_texts_name_what_the_commands_do() -> None:
    code, output = run("--help")
    assert code == 0
    assert "init" in output and "serve" in output
    code, output = run("serve", "--help")
    assert code == 0
    for option in ("--host", "--port", "--workers", "--database-url", "--migrate"):
        assert option in output
    code, output = run("init", "--help")
    assert code == 0
    assert "--new-key" in output and "--tenant" in output


def test_init_can_make_the_first_admin_user(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIRST_ADMIN_PASSWORD", "correct horse battery staple")
    code, output = run(
        "init",
        "--database-url",
        url,
        "--admin-email",
        "Ada@Example.com",
        "--admin-password-env",
        "FIRST_ADMIN_PASSWORD",
    )
    assert code == 0, output
    assert "correct horse" not in output

    async def check() -> None:
        db = Database(url)
        try:
            async with db.transaction() as s:
                user = await repos.users.verify_password(
                    s, email="ada@example.com", password="correct horse battery staple"
                )
                assert user is not None
                [membership] = await repos.memberships.list_tenants_of_user(s, user_id=user.id)
                assert membership.role == "admin"
        finally:
            await db.dispose()

    asyncio.run(check())
    short = run(
        "init", "--database-url", url, "--admin-email", "x@example.com", "--admin-password-env", "UNSET_VAR_X"
    )
    assert short[0] == 1 and "UNSET_VAR_X is not set" in short[1]
