"""Shared by the store's integration tests: fresh databases, a fake LM, a saved program state."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from dspy_ash.lm._base import BaseLM
from dspy_ash.lm._types import Choice, LMRequest, LMResponse, Usage

PG_HOST = "127.0.0.1"
PG_PORT = 5432


def _pg_admin(host: str = PG_HOST, port: int = PG_PORT) -> tuple[Any, str]:
    """An autocommit connection to the `test` database as postgres or root. Without a server: fail under
    CI (the environment variable `CI` set), where PostgreSQL is part of the suite; else skip saying why."""
    import psycopg

    errors: list[str] = []
    for user in ("postgres", "root"):
        try:
            conn = psycopg.connect(
                host=host, port=port, user=user, dbname="test", autocommit=True, connect_timeout=3
            )
        except psycopg.OperationalError as exc:
            errors.append(f"{user}: {str(exc).strip().splitlines()[0]}")
            continue
        return conn, user
    reason = f"PostgreSQL is not reachable on {host}:{port} ({'; '.join(errors)})"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI is set, so the PostgreSQL tests must run")
    pytest.skip(f"{reason}; skipped because CI is not set")


@contextlib.contextmanager
def fresh_database(kind: str, tmp_dir: Path) -> Generator[str, None, None]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_dir / f'store-{uuid.uuid4().hex[:8]}.db'}"
        return
    admin, user = _pg_admin()
    name = f"dspy_ash_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{user}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


REPLY = (
    "[[ ## reasoning ## ]]\nthinking\n\n[[ ## query ## ]]\nparis capital\n\n"
    "[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]"
)


class FakeLM(BaseLM):
    """Answers every request with every field the test programs ask for; counts calls."""

    def __init__(
        self, model: str = "openai/fake-model", reply: str = REPLY, fail: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(model, cache=False, **kwargs)
        self.reply = reply
        self.fail = fail
        self.calls = 0

    async def request(self, req: LMRequest) -> LMResponse:
        self.calls += 1
        if self.fail:
            raise RuntimeError("the fake provider is down")
        return LMResponse(
            choices=[Choice(text=self.reply)],
            usage=Usage(12, 8, 20),
            model=self.model,
            cost=0.0005,
            latency=0.004,
        )


def predictor_state(instructions: str, demos: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "traces": [],
        "train": [],
        "demos": demos or [],
        "signature": {
            "instructions": instructions,
            "fields": [
                {"prefix": "Question:", "description": "${question}"},
                {"prefix": "Answer:", "description": "${answer}"},
            ],
        },
        "lm": None,
    }


def program_state(
    instructions: str = "Answer the question.",
    demos: list[dict[str, Any]] | None = None,
    python: str = "3.11",
) -> dict[str, Any]:
    """A saved state in DSPy 3.4.1's JSON shape (see the reference save_format.md)."""
    return {
        "rewrite": predictor_state("Given the fields `question`, produce the fields `query`."),
        "qa.predict": predictor_state(instructions, demos),
        "metadata": {"dependency_versions": {"python": python, "dspy": "3.4.1", "cloudpickle": "3.1"}},
    }


def qa_program_class() -> type:
    """A code program for `source="store_helpers:QA"` (this module is importable in the store tests)."""
    import dspy_ash

    class QA(dspy_ash.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rewrite = dspy_ash.Predict("question -> query")
            self.qa = dspy_ash.ChainOfThought("question -> answer")

        async def aforward(self, question: str) -> Any:
            return await self.qa.acall(question=question)

    return QA


QA = qa_program_class()
