"""What the dashboard's tests show: a tenant with members who log in by password, and a program with two
versions, an optimizer run with trials, an evaluation run with results and a trace; a dataset with
splits and two evaluation runs of it that disagree on one example; recent traces for the chart over time;
a served program whose provider is a fake LM server. Made through the actions (and, for what only workers
and the trace recorder write, through the store as they write it)."""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from resources_helpers import seed_trace

from dspy_ash.actions import Actor, Services, invoke
from dspy_ash.store import repos

PASSWORD = "correct horse battery staple"
STATE: dict[str, Any] = json.loads(
    (Path(__file__).parents[2] / "fixtures" / "program_state.json").read_text()
)
SPEC: dict[str, Any] = {
    "inputs": ["question"],
    "steps": [
        {
            "type": "loop",
            "id": "hops",
            "max_iterations": 2,
            "accumulate": {"context": "search.passages"},
            "steps": [
                {"type": "chain_of_thought", "id": "query", "signature": "context, question -> query"},
                {"type": "retrieve", "id": "search", "query": "query.query", "k": 3},
            ],
        },
        {"type": "predict", "id": "answer", "signature": "context, question -> answer"},
    ],
    "outputs": {"answer": "answer.answer"},
}
NEW_INSTRUCTIONS = "Answer in one word, taken from the context."


CAPITALS = [
    {"question": "Capital of France?", "answer": "Paris", "split": "dev"},
    {"question": "Capital of Italy?", "answer": "Rome", "split": "dev"},
    {"question": "Capital of Japan?", "answer": "Tokyo", "split": "train"},
    {"question": "Capital of Peru?", "answer": "Lima", "split": "test"},
    {"question": "Capital of Chile?", "answer": "Santiago"},
]
SERVED_SPEC: dict[str, Any] = {
    "inputs": ["question"],
    "steps": [{"type": "predict", "id": "answer", "signature": "question -> answer"}],
    "outputs": {"answer": "answer.answer"},
}


@dataclass(frozen=True)
class Compared:
    dataset_id: uuid.UUID
    runs: tuple[uuid.UUID, uuid.UUID]  # v1's and v2's evaluation of the dev split
    differing: str  # the question of the one example where they differ
    wrong: str  # v1's answer to it


@dataclass(frozen=True)
class Seeded:
    program_id: uuid.UUID
    versions: list[uuid.UUID]  # oldest first
    optimizer_run_id: uuid.UUID
    evaluation_run_id: uuid.UUID
    trace_id: uuid.UUID


def admin_of(tenant_id: uuid.UUID) -> Actor:
    return Actor(tenant_id=tenant_id, role="admin", subject="test")


async def add_member(services: Services, tenant_id: uuid.UUID, role: str) -> str:
    """A new account with `role` in the tenant; returns its email (its password is PASSWORD)."""
    email = f"{role}-{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": email, "password": PASSWORD, "role": role, "display_name": role.title()}
    await invoke(services, "members.create", admin_of(tenant_id), body)
    return email


async def seed_program(services: Services, tenant_id: uuid.UUID, name: str = "multihop-qa") -> Seeded:
    admin = admin_of(tenant_id)
    program = await invoke(services, "programs.create", admin, {"name": name, "spec": SPEC})
    newer = copy.deepcopy(STATE)
    newer["qa.predict"]["signature"]["instructions"] = NEW_INSTRUCTIONS
    newer["qa.predict"]["demos"] = [{"question": "Capital of Spain?", "answer": "Madrid"}]
    versions = []
    for state, note in ((STATE, "imported"), (newer, "tighter instructions")):
        made = await invoke(services, "versions.import", admin,
                            {"program_id": program.id, "state": state, "note": note})  # fmt: skip
        versions.append(made.id)
    run = await invoke(services, "optimizer_runs.create", admin,
                       {"program_id": program.id, "optimizer": "BootstrapFewShot", "config": {}})  # fmt: skip
    evaluation = await invoke(services, "evaluation_runs.create", admin, {"program_id": program.id})
    async with services.db.transaction(tenant_id=tenant_id) as s:
        for number, score in enumerate((0.42, 0.55, 0.51, 0.68), start=1):
            trial = {"trial": number, "score": score, "params": {"max_bootstrapped_demos": number}}
            await repos.runs.record_trial(s, tenant_id=tenant_id, actor="test", kind="optimizer",
                                          run_id=run.id, trial=trial)  # fmt: skip
        await repos.runs.report_progress(s, tenant_id=tenant_id, kind="optimizer", run_id=run.id,
                                         progress=0.4, message="trial 4 of 10")  # fmt: skip
        results = [
            {"position": 0, "prediction": {"answer": "Paris"}, "score": 1.0},
            {"position": 1, "prediction": {"answer": "Lyon"}, "score": 0.0},
            {"position": 2, "error": "the LM timed out"},
        ]
        await repos.evaluations.add_results(s, tenant_id=tenant_id, actor="test", run_id=evaluation.id,
                                            results=results)  # fmt: skip
    trace_id = await seed_trace(services, tenant_id, program_id=program.id, latencies=(0.3, 0.2))
    return Seeded(program.id, versions, run.id, evaluation.id, trace_id)


async def seed_comparison(services: Services, tenant_id: uuid.UUID, seeded: Seeded) -> Compared:
    """A dataset (CAPITALS, input key `question`) and an evaluation of its dev split by each version:
    both right on France, only v2 right on Italy."""
    admin = admin_of(tenant_id)
    content = "\n".join(json.dumps(record) for record in CAPITALS)
    dataset = await invoke(services, "datasets.upload", admin,
                           {"name": "capitals", "format": "jsonl", "content": content, "input_keys": ["question"]})  # fmt: skip
    dev = await invoke(services, "examples.list", admin, {"dataset_id": dataset.id, "split": "dev"})
    answers = {seeded.versions[0]: ["Paris", "Milan"], seeded.versions[1]: ["Paris", "Rome"]}
    runs: list[uuid.UUID] = []
    for version, said in answers.items():
        run = await invoke(services, "evaluation_runs.create", admin, {"program_id": seeded.program_id,
                           "version_id": version, "dataset_id": dataset.id, "split": "dev"})  # fmt: skip
        results = [
            {"position": i, "example_id": example.id, "prediction": {"answer": answer},
             "score": float(answer == example.data["answer"])}
            for i, (example, answer) in enumerate(zip(dev.items, said, strict=True))
        ]  # fmt: skip
        async with services.db.transaction(tenant_id=tenant_id) as s:
            await repos.evaluations.add_results(s, tenant_id=tenant_id, actor="test", run_id=run.id,
                                                results=results)  # fmt: skip
        runs.append(run.id)
    return Compared(dataset.id, (runs[0], runs[1]), "Capital of Italy?", "Milan")


async def seed_recent_traces(
    services: Services, tenant_id: uuid.UUID, program_id: uuid.UUID, hours_ago: tuple[int, ...]
) -> None:
    """A trace per entry, a minute into the hour that many hours before the current one: the chart over
    time (hourly buckets from the hour) has it in the bucket that many places before the last."""
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    for hours in hours_ago:
        at = hour - timedelta(hours=hours) + timedelta(minutes=1)
        await seed_trace(services, tenant_id, program_id=program_id, started_at=at, latencies=(0.1,))


async def seed_served(services: Services, tenant_id: uuid.UUID, api_base: str) -> uuid.UUID:
    """A provider on the fake LM server at `api_base` (the tenant's default) and a one-step program."""
    admin = admin_of(tenant_id)
    provider = {"name": "fake", "kind": "openai_compatible", "base_url": api_base,
                "config": {"model": "fake-model", "num_retries": 0}}  # fmt: skip
    await invoke(services, "providers.create", admin, provider)
    program = await invoke(services, "programs.create", admin, {"name": "capital-qa", "spec": SERVED_SPEC})
    return program.id
