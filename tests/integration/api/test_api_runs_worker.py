"""Durable runs through the API: a worker claims queued runs and runs them against a fake LM server;
cancel stops a running run and keeps its results; resume finishes it without repeating an example; a
worker killed with -9 leaves its run to another worker once its lease runs out.

The fake LM answers every question with "answer for <question>"; the dataset's labels say that for
the even questions only, so exact match scores half of them, whatever the program's demos.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from api_helpers import TenantKeys
from cases_serving import SPEC

from dspy_ash.actions import Services
from dspy_ash.jobs import RunWorker
from dspy_ash.testing import FakeOpenAIServer

TERMINAL = {"succeeded", "failed", "cancelled"}


@pytest.fixture
async def lm_server() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
async def worker(services: Services) -> AsyncIterator[RunWorker]:
    runner = RunWorker(services, slots=2, lease_seconds=3.0, poll_seconds=0.1)
    await runner.start()
    try:
        yield runner
    finally:
        await runner.stop()


async def _post(client: httpx.AsyncClient, tenant: TenantKeys, path: str, body: Any) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=tenant.auth("editor"))
    assert response.status_code in (200, 201), response.text
    return response.json()


async def _setup(
    client: httpx.AsyncClient, tenant: TenantKeys, server: FakeOpenAIServer, size: int, dev: int = 0
) -> tuple[str, str]:
    """A provider on the fake server, the declarative QA program and a dataset of `size` questions."""
    provider = {
        "name": "fake",
        "kind": "openai_compatible",
        "base_url": server.api_base,
        "config": {"model": "fake-model", "num_retries": 0},
    }
    response = await client.post("/providers", json=provider, headers=tenant.auth("admin"))
    assert response.status_code == 201, response.text
    program = await _post(client, tenant, "/programs", {"name": "qa", "spec": SPEC})
    records: list[dict[str, Any]] = [
        {"question": f"q{i}", "answer": f"answer for q{i}" if i % 2 == 0 else "something else"}
        for i in range(size)
    ]
    for record in records[size - dev :] if dev else []:  # the last `dev` questions are the dev split
        record["split"] = "dev"
    content = "".join(json.dumps(r) + "\n" for r in records)
    upload = {"name": "qa", "format": "jsonl", "content": content, "input_keys": ["question"]}
    dataset = await _post(client, tenant, "/datasets", upload)
    return program["id"], dataset["id"]


async def _wait(
    client: httpx.AsyncClient, tenant: TenantKeys, path: str, done: Any, timeout: float = 60.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = (await client.get(path, headers=tenant.auth("viewer"))).json()
        if done(run):
            return run
        assert time.monotonic() < deadline, f"gave up waiting: {run}"
        await asyncio.sleep(0.1)


def _finished(run: dict[str, Any]) -> bool:
    return run["status"] in TERMINAL


async def _results(client: httpx.AsyncClient, tenant: TenantKeys, run_id: str) -> list[dict[str, Any]]:
    path = f"/evaluation-runs/{run_id}/results"
    page = await client.get(path, params={"limit": 100}, headers=tenant.auth("viewer"))
    assert page.status_code == 200, page.text
    return page.json()["items"]


@pytest.mark.usefixtures("worker")
async def test_an_optimizer_run_compiles_and_stores_its_version(
    client: httpx.AsyncClient, acme: TenantKeys, lm_server: FakeOpenAIServer
) -> None:
    program_id, dataset_id = await _setup(client, acme, lm_server, 6)
    body = {
        "optimizer": "BootstrapFewShot",
        "dataset_id": dataset_id,
        "metric": "answer_exact_match",
        "config": {"max_bootstrapped_demos": 2, "max_labeled_demos": 0},
    }
    created = await _post(client, acme, f"/programs/{program_id}/optimizer-runs", body)
    assert created["status"] == "queued"
    run = await _wait(client, acme, f"/optimizer-runs/{created['id']}", _finished)
    assert run["status"] == "succeeded", run["error"]
    assert run["progress"] == 1.0 and run["started_at"] and run["finished_at"]
    version_path = f"/programs/{program_id}/versions/{run['result_version_id']}"
    version = (await client.get(version_path, headers=acme.auth("viewer"))).json()
    assert version["optimizer_run_id"] == created["id"] and version["dataset_id"] == dataset_id
    exported = (await client.get(f"{version_path}/export", headers=acme.auth("viewer"))).json()
    [demos] = [state["demos"] for state in exported.values() if isinstance(state, dict) and "demos" in state]
    # the bootstrapped demos are the examples the metric passed: the even questions, two of them
    assert [d["question"] for d in demos] == ["q0", "q2"]
    assert all(d["answer"] == f"answer for {d['question']}" for d in demos)
    assert lm_server.requests  # the tenant's provider did the work


@pytest.mark.usefixtures("worker")
async def test_a_version_from_an_optimizer_without_a_score_is_scored_on_the_dev_split(
    client: httpx.AsyncClient, acme: TenantKeys, lm_server: FakeOpenAIServer
) -> None:
    program_id, dataset_id = await _setup(client, acme, lm_server, 10, dev=4)
    body = {"optimizer": "BootstrapFewShot", "dataset_id": dataset_id, "metric": "answer_exact_match",
            "config": {"max_bootstrapped_demos": 1, "max_labeled_demos": 0}}  # fmt: skip
    created = await _post(client, acme, f"/programs/{program_id}/optimizer-runs", body)
    run = await _wait(client, acme, f"/optimizer-runs/{created['id']}", _finished)
    assert run["status"] == "succeeded", run["error"]
    version_path = f"/programs/{program_id}/versions/{run['result_version_id']}"
    version = (await client.get(version_path, headers=acme.auth("viewer"))).json()
    # dev is q6..q9, and the fake LM is right on the even ones: half of them
    assert version["score"] == 50.0 and version["scores"] == {"dev": 50.0}
    assert any("q9" in json.dumps(r.body) for r in lm_server.requests)  # a dev question: it was evaluated
    traces = (await client.get("/traces", params={"program_id": program_id}, headers=acme.auth())).json()
    assert traces["items"]  # the compile's and the dev evaluation's calls are traces of the program


@pytest.mark.usefixtures("worker")
async def test_an_evaluation_run_scores_every_example_once(
    client: httpx.AsyncClient, acme: TenantKeys, lm_server: FakeOpenAIServer
) -> None:
    program_id, dataset_id = await _setup(client, acme, lm_server, 8)
    body = {"dataset_id": dataset_id, "metric": "answer_exact_match", "config": {"num_threads": 4}}
    created = await _post(client, acme, f"/programs/{program_id}/evaluation-runs", body)
    run = await _wait(client, acme, f"/evaluation-runs/{created['id']}", _finished)
    assert run["status"] == "succeeded", run["error"]
    assert run["score"] == 50.0
    results = await _results(client, acme, created["id"])
    assert [r["position"] for r in results] == list(range(8))
    assert [r["score"] for r in results] == [1.0, 0.0] * 4
    assert results[0]["prediction"] == {"answer": "answer for q0"}
    assert len(lm_server.requests) == 8
    # each example's execution is a trace of the program, linked from its result; its LM call is logged
    for result in results:
        trace = (await client.get(f"/traces/{result['trace_id']}", headers=acme.auth("viewer"))).json()
        assert trace["program_id"] == program_id and any(s["kind"] == "lm" for s in trace["spans"])
        assert json.dumps(trace).count(f"q{result['position']}") >= 1
    logged = (await client.get("/lm-requests", params={"limit": 50}, headers=acme.auth("viewer"))).json()
    assert len(logged["items"]) == 8


@pytest.mark.usefixtures("worker")
async def test_a_run_that_cannot_start_fails_with_its_reason(
    client: httpx.AsyncClient, acme: TenantKeys, lm_server: FakeOpenAIServer
) -> None:
    program_id, _ = await _setup(client, acme, lm_server, 2)
    created = await _post(
        client, acme, f"/programs/{program_id}/evaluation-runs", {"metric": "answer_exact_match"}
    )
    run = await _wait(client, acme, f"/evaluation-runs/{created['id']}", _finished)
    assert run["status"] == "failed"
    assert "no dataset" in run["error"]


async def test_a_bad_optimizer_argument_or_metric_is_refused_when_the_run_is_created(
    client: httpx.AsyncClient, acme: TenantKeys, lm_server: FakeOpenAIServer
) -> None:
    program_id, dataset_id = await _setup(client, acme, lm_server, 2)
    path = f"/programs/{program_id}/optimizer-runs"
    bad = [
        {"optimizer": "BootstrapFewShot", "config": {"max_demos_please": 3}},
        {"optimizer": "BootstrapFewShot", "metric": "no_such_metric"},
        {"optimizer": "KNNFewShot", "config": {"k": 2}},  # needs a vectorizer the service cannot build
    ]
    for body in bad:
        response = await client.post(
            path, json={"dataset_id": dataset_id, **body}, headers=acme.auth("editor")
        )
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    runs = (await client.get("/optimizer-runs", headers=acme.auth("viewer"))).json()["items"]
    assert runs == []  # nothing was queued


async def test_cancel_stops_a_running_evaluation_and_resume_finishes_it(
    client: httpx.AsyncClient, acme: TenantKeys, worker: RunWorker
) -> None:
    async with FakeOpenAIServer(latency=0.2) as slow:
        program_id, dataset_id = await _setup(client, acme, slow, 12)
        body = {"dataset_id": dataset_id, "metric": "answer_exact_match", "config": {"num_threads": 1}}
        created = await _post(client, acme, f"/programs/{program_id}/evaluation-runs", body)
        path = f"/evaluation-runs/{created['id']}"
        await _wait(client, acme, path, lambda run: run["progress"] > 0)
        response = await client.post(f"{path}/cancel", headers=acme.auth("editor"))
        assert response.status_code == 200 and response.json()["status"] == "cancelled"
        await _wait(client, acme, path, lambda _: not worker.active, timeout=10)  # its task stopped
        kept = await _results(client, acme, created["id"])
        assert 0 < len(kept) < 12
        await asyncio.sleep(0.5)
        assert len(await _results(client, acme, created["id"])) == len(kept)  # nothing runs any more
        resumed = await client.post(f"{path}/resume", headers=acme.auth("editor"))
        assert resumed.status_code == 200 and resumed.json()["status"] == "queued"
        run = await _wait(client, acme, path, _finished)
        assert run["status"] == "succeeded" and run["score"] == 50.0
        results = await _results(client, acme, created["id"])
        assert [r["position"] for r in results] == list(range(12))
        # one thread: at most the example in flight at the cancel was asked twice
        assert len(slow.requests) <= 13
        again = await client.post(f"{path}/resume", headers=acme.auth("editor"))
        assert again.status_code == 409  # a finished run is not resumed


async def test_a_worker_killed_with_sigkill_leaves_its_run_to_another(
    client: httpx.AsyncClient, acme: TenantKeys, services: Services, database_url: str
) -> None:
    async with FakeOpenAIServer(latency=0.2) as slow:
        program_id, dataset_id = await _setup(client, acme, slow, 16)
        body = {"dataset_id": dataset_id, "metric": "answer_exact_match", "config": {"num_threads": 2}}
        created = await _post(client, acme, f"/programs/{program_id}/evaluation-runs", body)
        path = f"/evaluation-runs/{created['id']}"
        command = [sys.executable, "-m", "dspy_ash.cli", "worker", "--database-url", database_url]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        doomed = subprocess.Popen([*command, "--lease-seconds", "3"], env=env)
        try:
            await _wait(client, acme, path, lambda run: run["progress"] > 0, timeout=60)
        finally:
            os.kill(doomed.pid, signal.SIGKILL)
            doomed.wait(timeout=10)
        claimed = (await client.get(path, headers=acme.auth("viewer"))).json()
        assert claimed["status"] == "running"  # the dead worker still holds it, until its lease runs out
        killed_at = time.monotonic()
        heir = RunWorker(services, slots=1, lease_seconds=3.0, poll_seconds=0.1)
        await heir.start()
        try:
            run = await _wait(client, acme, path, _finished)
        finally:
            await heir.stop()
        assert run["status"] == "succeeded" and run["score"] == 50.0
        assert time.monotonic() - killed_at < 30
        results = await _results(client, acme, created["id"])
        assert [r["position"] for r in results] == list(range(16))
        # asked again: the two in flight at the kill, and those finished but not yet written (results are
        # written every 0.5 s: at 0.2 s a call on two threads, at most 6 of them)
        assert len(slow.requests) <= 16 + 2 + 6


def _parse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if lines:
            events.append((lines["event"], json.loads(lines["data"])))
    return events


@pytest.mark.usefixtures("worker")
async def test_a_runs_progress_streams_as_server_sent_events_until_it_ends(
    client: httpx.AsyncClient, acme: TenantKeys, lm_server: FakeOpenAIServer
) -> None:
    lm_server.latency = 0.05  # slow enough for the stream to see the run move
    program_id, dataset_id = await _setup(client, acme, lm_server, 12)
    body = {"dataset_id": dataset_id, "metric": "answer_exact_match", "config": {"num_threads": 1}}
    created = await _post(client, acme, f"/programs/{program_id}/evaluation-runs", body)
    path = f"/evaluation-runs/{created['id']}/events"
    response = await client.get(path, headers=acme.auth("viewer"), timeout=60)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = _parse_events(response.text)
    names = [name for name, _ in events]
    assert names[-1] == "end" and events[-1][1] == {"status": "succeeded"}
    progress = [data for name, data in events if name == "progress"]
    assert len(progress) >= 2 and progress[-1]["status"] == "succeeded" and progress[-1]["score"] == 50.0
    fractions = [p["progress"] for p in progress]
    assert fractions == sorted(fractions)  # it only moves forward
    assert len({(p["status"], p["progress"], p["message"]) for p in progress}) == len(
        progress
    )  # changes only

    assert (await client.get(path)).status_code == 401
    wrong_kind = await client.get(f"/optimizer-runs/{created['id']}/events", headers=acme.auth())
    assert wrong_kind.status_code == 404
    assert wrong_kind.headers["content-type"].startswith("application/problem+json")
