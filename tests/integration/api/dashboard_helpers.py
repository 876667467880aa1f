"""What the dashboard's tests show: a tenant with members who log in by password, and a program with two
versions, an optimizer run with trials, an evaluation run with results and a trace, made through the
actions (and, for what only workers and the trace recorder write, through the store as they write it)."""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass
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
