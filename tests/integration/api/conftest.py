"""The API suite: the app in-process over httpx's ASGI transport, on SQLite and on PostgreSQL.

Each test gets tenants of its own (with an admin, an editor and a viewer key each), so tests share a
migrated database per kind without seeing each other's rows.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "store"))  # the store suite's database helpers

from api_helpers import TenantKeys, make_tenant
from graphql_helpers import GraphQLClient
from store_helpers import fresh_database

from dspy_ash.actions import Services, ServiceSettings, stop_serving
from dspy_ash.api import create_app
from dspy_ash.store import Database
from dspy_ash.store import _migrate as migrate


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory.mktemp("api")) as url:
        asyncio.run(migrate.upgrade(url))
        yield url


@pytest.fixture
def settings() -> ServiceSettings:
    return ServiceSettings(max_body_bytes=64 * 1024, max_page_size=100, rate_limit_per_minute=10_000)


@pytest.fixture
async def services(database_url: str, settings: ServiceSettings) -> AsyncIterator[Services]:
    db = Database(database_url)
    services = Services(db=db, settings=settings)
    try:
        yield services
    finally:
        await stop_serving(services)  # the trace recorder, if an execution started it
        await db.dispose()


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(services=services)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test/api/v1") as http:
        yield http


@pytest.fixture
async def acme(services: Services) -> TenantKeys:
    return await make_tenant(services)


@pytest.fixture
async def globex(services: Services) -> TenantKeys:
    return await make_tenant(services)


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(client)
