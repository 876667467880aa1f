"""The service as a real uvicorn server on 127.0.0.1, on SQLite and PostgreSQL: health, readiness,
metrics, request ids, access lines, and a REST round trip with the key `dspy-ash init` printed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cases_serving import SPEC
from ops_server import LiveServer, live_server
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parents[1] / "store"))
from store_helpers import fresh_database

from dspy_ash.actions import ServiceSettings
from dspy_ash.api import create_app
from dspy_ash.cli import app as cli
from dspy_ash.store import _migrate as migrate
from dspy_ash.testing import FakeOpenAIServer

KEY = re.compile(r"dak_[A-Za-z0-9_-]{20,}")


@pytest.fixture(params=["sqlite", "postgresql"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def new_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """A database of its own with no schema: `dspy-ash init` sets it up."""
    with fresh_database(kind, tmp_path) as url:
        yield url


def init(url: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["init", "--database-url", url, *args])
    assert result.exit_code == 0, result.output
    return result.output


def serve(url: str, **settings: Any) -> contextlib.AbstractContextManager[LiveServer]:
    return live_server(create_app(ServiceSettings(database_url=url, **settings)))


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def requests_counted(text: str, route: str, status: str, method: str = "GET") -> float:
    labels = frozenset({("method", method), ("route", route), ("status", status)})
    return samples(text).get(("dspy_ash_http_requests_total", labels), 0.0)


def test_init_key_serves_a_rest_round_trip(new_database: str) -> None:
    output = init(new_database)
    (key,) = KEY.findall(output)
    assert "only time the key is shown" in output
    with serve(new_database) as server, httpx.Client(base_url=server.base_url) as http:
        auth = {"Authorization": f"Bearer {key}"}
        tenant = http.get("/api/v1/tenant", headers=auth)
        assert tenant.status_code == 200, tenant.text
        assert tenant.json()["name"] == "default"
        created = http.post("/api/v1/programs", json={"name": "qa", "source": "app.qa:QA"}, headers=auth)
        assert created.status_code == 201, created.text
        fetched = http.get(f"/api/v1/programs/{created.json()['id']}", headers=auth)
        assert fetched.status_code == 200
        assert fetched.json()["name"] == "qa"
        assert (
            http.get("/api/v1/programs", headers={"Authorization": "Bearer dak_" + "x" * 43}).status_code
            == 401
        )


def test_init_twice_makes_no_second_key_unless_asked(new_database: str) -> None:
    assert len(KEY.findall(init(new_database))) == 1
    again = init(new_database)
    assert "already initialised" in again
    assert KEY.findall(again) == []
    (extra,) = KEY.findall(init(new_database, "--new-key"))
    with serve(new_database) as server, httpx.Client(base_url=server.base_url) as http:
        keys = http.get("/api/v1/api-keys", headers={"Authorization": f"Bearer {extra}"})
        assert keys.status_code == 200
        assert [k["role"] for k in keys.json()["items"]] == ["admin", "admin"]
        assert extra not in keys.text  # listed by their display prefix, never the secret


def test_health_readiness_and_request_ids(database_url: str) -> None:
    with serve(database_url) as server, httpx.Client(base_url=server.base_url) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        ready = http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "ok"
        echoed = http.get("/healthz", headers={"X-Request-ID": "req-42.a_b"})
        assert echoed.headers["x-request-id"] == "req-42.a_b"
        made = http.get("/healthz", headers={"X-Request-ID": "not tame <script>"})
        assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])


def test_readyz_is_503_when_the_schema_is_behind(kind: str, tmp_path: Path) -> None:
    with fresh_database(kind, tmp_path) as url:
        # the server refuses to start on a database that is behind (test_cli_service), so it starts at
        # the head and the database is taken back to an older migration under it
        asyncio.run(migrate.upgrade(url))
        with serve(url) as server, httpx.Client(base_url=server.base_url) as http:
            assert http.get("/readyz").status_code == 200
            asyncio.run(migrate.downgrade(url, "0001"))
            behind = http.get("/readyz")
            assert behind.status_code == 503
            assert behind.json()["status"] == "unavailable"
            assert "dspy-ash migrate" in behind.json()["detail"]
            assert http.get("/healthz").status_code == 200  # the process is still up


def test_metrics_parse_and_count_the_requests_by_route_template(database_url: str) -> None:
    with serve(database_url) as server, httpx.Client(base_url=server.base_url) as http:
        for _ in range(3):
            http.get("/healthz")
        for i in range(4):  # four ids, one series: the template, never the raw path
            assert http.get(f"/api/v1/programs/0000000{i}-0000-4000-8000-000000000000").status_code == 401
        http.get("/no/such/route/123")
        scraped = http.get("/metrics")
        assert scraped.status_code == 200
        assert scraped.headers["content-type"].startswith("text/plain")
        text = scraped.text
    assert requests_counted(text, "/healthz", "200") == 3
    assert requests_counted(text, "/api/v1/programs/{program_id}", "401") == 4
    assert requests_counted(text, "<unmatched>", "404") == 1
    assert "0000000" not in text  # no id became a label
    found = samples(text)
    latency = frozenset({("method", "GET"), ("route", "/healthz"), ("status", "200")})
    assert found[("dspy_ash_http_request_duration_seconds_count", latency)] == 3
    assert found[("dspy_ash_queue_depth", frozenset())] >= 0
    states = {dict(labels)["state"] for name, labels in found if name == "dspy_ash_runs"}
    assert states == {"queued", "running", "succeeded", "failed", "cancelled"}
    families = {family.name for family in text_string_to_metric_families(text)}
    engine = {"dspy_ash_executions", "dspy_ash_lm_calls", "dspy_ash_lm_tokens", "dspy_ash_lm_cost_usd"}
    assert engine | {"dspy_ash_lm_cache_hit_ratio", "dspy_ash_http_requests_in_flight"} <= families


def test_metrics_token_when_configured(database_url: str) -> None:
    with (
        serve(database_url, metrics_token="s3cret-scrape") as server,
        httpx.Client(base_url=server.base_url) as http,
    ):
        refused = http.get("/metrics")
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert http.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert http.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"}).status_code == 200


def test_access_lines_are_json_with_the_caller_and_no_secret(new_database: str) -> None:
    (key,) = KEY.findall(init(new_database))
    wrong = "dak_" + "W" * 43
    with serve(new_database) as server, httpx.Client(base_url=server.base_url) as http:
        ok = http.get("/api/v1/tenant", headers={"Authorization": f"Bearer {key}", "X-Request-ID": "r-1"})
        http.get("/api/v1/tenant", headers={"Authorization": f"Bearer {wrong}", "Cookie": "session=abc123"})
        http.get(f"/{key}")  # a key in the path: the line keeps the path, scrubbed
        made = http.post(
            "/api/v1/api-keys",
            json={"name": "ci", "role": "viewer"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert made.status_code == 201
    lines = server.log_lines()
    entries = [json.loads(line) for line in lines]  # every line the process logged is JSON
    access = [e for e in entries if e["logger"] == "dspy_ash.access"]
    assert len(access) == 4
    first = access[0]
    assert first["request_id"] == "r-1" == ok.headers["x-request-id"]
    assert first["method"] == "GET" and first["route"] == "/api/v1/tenant" and first["status"] == 200
    assert first["tenant_id"] == ok.json()["id"]
    assert re.fullmatch(r"[0-9a-f-]{36}", first["key_id"])
    assert isinstance(first["duration_ms"], float)
    assert access[1]["status"] == 401 and access[1]["tenant_id"] is None
    assert access[2]["path"] == "/dak_[redacted]"
    text = "\n".join(lines)
    # neither the keys sent nor the one created (in its response body only), nor headers, reach the log
    for secret in (key, wrong, made.json()["key"], "session=abc123", "Bearer"):
        assert secret not in text


def test_the_server_runs_a_queued_evaluation_itself(new_database: str) -> None:
    """`dspy-ash serve` works on runs in its own process: no worker to start on one machine."""
    (key,) = KEY.findall(init(new_database))
    auth = {"Authorization": f"Bearer {key}"}
    records = "".join(
        json.dumps({"question": f"q{i}", "answer": f"answer for q{i}"}) + "\n" for i in range(3)
    )
    with (
        FakeOpenAIServer() as lm,
        serve(new_database, run_lease_seconds=3.0) as server,
        httpx.Client(base_url=server.base_url + "/api/v1", headers=auth) as http,
    ):
        provider = {"name": "fake", "kind": "openai_compatible", "base_url": lm.api_base,
                    "config": {"model": "fake-model", "num_retries": 0}}  # fmt: skip
        assert http.post("/providers", json=provider).status_code == 201
        program = http.post("/programs", json={"name": "qa", "spec": SPEC}).json()
        upload = {"name": "qa", "format": "jsonl", "content": records, "input_keys": ["question"]}
        dataset = http.post("/datasets", json=upload).json()
        body = {"dataset_id": dataset["id"], "metric": "answer_exact_match"}
        run = http.post(f"/programs/{program['id']}/evaluation-runs", json=body).json()
        deadline = time.monotonic() + 60
        while run["status"] not in ("succeeded", "failed", "cancelled"):
            assert time.monotonic() < deadline, run
            time.sleep(0.2)
            run = http.get(f"/evaluation-runs/{run['id']}").json()
        assert run["status"] == "succeeded", run["error"]
        assert run["score"] == 100.0
