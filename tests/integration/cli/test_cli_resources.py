"""The resource commands against a local database, as a user types them: a provider, a dataset from a file,
a program from a spec file, a compile and an evaluation followed to their end (this process works on them:
no server runs), versions, an execution, its trace as a tree, and one-line errors."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dspy_ash.actions import initialise
from dspy_ash.cli import app
from dspy_ash.testing import FakeOpenAIServer
from dspy_ash.testing.standins import ExtractiveReader

SPEC = {
    "inputs": ["context", "question"],
    "steps": [{"type": "chain_of_thought", "id": "answer", "signature": "context, question -> answer"}],
    "outputs": {"answer": "answer.answer"},
}
RECORDS = [
    {"context": "Paris | Paris is the capital of France.", "question": "Which city is the capital of France?",
     "answer": "Paris"},
    {"context": "Rome | Rome is the capital of Italy.", "question": "Which city is the capital of Italy?",
     "answer": "Rome"},
    {"context": "Oslo | Oslo is the capital of Norway.", "question": "Which city is the capital of Norway?",
     "answer": "Oslo"},
    {"context": "Lima | Lima is the capital of Peru.", "question": "Which city is the capital of Peru?",
     "answer": "Lima", "split": "dev"},
]  # fmt: skip


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    done = asyncio.run(initialise(url, tenant_name="cli"))
    assert done.key is not None
    with FakeOpenAIServer(handler=ExtractiveReader()) as server:
        yield {"DSPY_ASH_DATABASE_URL": url, "DSPY_ASH_API_KEY": done.key, "LM_BASE": server.api_base,
               "COLUMNS": "200"}  # fmt: skip


def cli(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def cli_json(env: dict[str, str], *args: str) -> dict[str, object]:
    return json.loads(cli(env, *args, "--json"))


def test_a_program_compiled_evaluated_and_executed_from_the_command_line(
    env: dict[str, str], tmp_path: Path
) -> None:
    cli(env, "providers", "add", "fake", "--kind", "openai_compatible", "--base-url", env["LM_BASE"],
        "--model", "reader", "--default")  # fmt: skip
    data = tmp_path / "capitals.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in RECORDS), encoding="utf-8")
    dataset = cli_json(env, "datasets", "import", str(data), "--input-keys", "context,question")
    assert dataset["size"] == 4 and dataset["name"] == "capitals"
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC), encoding="utf-8")
    program = cli_json(env, "programs", "create", "capitals", "--spec", str(spec))
    pid, did = str(program["id"]), str(dataset["id"])

    out = cli(
        env,
        "compile",
        pid,
        "--dataset",
        did,
        "--config",
        '{"max_bootstrapped_demos": 1, "max_labeled_demos": 2}',
    )
    assert "succeeded" in out and "version" in out
    versions = cli_json(env, "programs", "versions", pid)["items"]
    assert [v["number"] for v in versions] == [1]  # type: ignore[index]
    run = cli_json(env, "evaluate", pid, "--dataset", did, "--split", "dev", "--version", versions[0]["id"])  # type: ignore[index]
    assert run["status"] == "succeeded" and run["score"] == 100.0  # the labelled demos teach the short answer

    cli(env, "programs", "promote", pid, versions[0]["id"])  # type: ignore[index]
    executed = cli_json(
        env,
        "programs",
        "execute",
        pid,
        "context=Bern | Bern is the capital of Switzerland.",
        "question=Which city is the capital of Switzerland?",
    )
    assert executed["outputs"]["answer"] == "Bern" and executed["version_number"] == 1  # type: ignore[index]
    for _ in range(50):  # the trace is written in the background
        traces = cli_json(env, "traces", "list", "--program", pid)["items"]
        if traces:
            break
    tree = cli(env, "traces", "show", str(executed["trace_id"]))
    assert "lm" in tree and "reader" in tree and "tokens" in tree

    assert "Switzerland" in cli(env, "history", "-n", "1")  # the last prompt, as inspect_history prints it
    usage = cli_json(env, "usage")["groups"]
    assert [g["model"] for g in usage] == ["reader"] and usage[0]["requests"] >= 1  # type: ignore[index]
    shown = cli(env, "datasets", "show", did, "--limit", "2")
    assert "capitals" in shown and "France" in shown and "Norway" not in shown

    listed = cli(env, "runs", "list")
    assert listed.count("succeeded") == 2
    refused = CliRunner().invoke(app, ["runs", "cancel", str(run["id"])], env=env)
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert "succeeded" in refused.output  # a finished run cannot be cancelled: the 409's reason, one line


def test_keys_and_users(env: dict[str, str]) -> None:
    viewer = cli(env, "keys", "create", "reader", "--role", "viewer").strip().splitlines()[-1]
    as_viewer = {**env, "DSPY_ASH_API_KEY": viewer}
    assert "programs" in cli(as_viewer, "programs", "list")
    denied = CliRunner().invoke(app, ["keys", "create", "more"], env=as_viewer)
    assert denied.exit_code == 1 and denied.output.startswith("error: Not allowed: the viewer role")
    created = cli_json(env, "keys", "create", "temp")
    assert created["key"] and created["role"] == "viewer"
    cli(env, "keys", "revoke", str(created["id"]))
    revoked = CliRunner().invoke(
        app, ["programs", "list"], env={**env, "DSPY_ASH_API_KEY": str(created["key"])}
    )
    assert revoked.exit_code == 1 and "not valid" in revoked.output
    added = cli_json({**env, "PW": "a long enough password"}, "users", "add", "ada@example.com", "--role",
                     "editor", "--password-env", "PW")  # fmt: skip
    assert added["email"] == "ada@example.com" and added["role"] == "editor"


def test_errors_are_one_line_and_a_hint(env: dict[str, str]) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["programs", "show", str(uuid.uuid4())], env=env)
    assert missing.exit_code == 1 and missing.output.startswith("error: Not found")
    bad = runner.invoke(app, ["programs", "show", "nope"], env=env)
    assert bad.exit_code == 1 and "program_id" in bad.output
    no_key = runner.invoke(app, ["programs", "list"], env={**env, "DSPY_ASH_API_KEY": ""})
    assert no_key.exit_code == 1 and "hint: set DSPY_ASH_API_KEY" in no_key.output
    wrong_key = runner.invoke(app, ["programs", "list"], env={**env, "DSPY_ASH_API_KEY": "dak_" + "x" * 40})
    assert wrong_key.exit_code == 1 and "not valid" in wrong_key.output
    unreachable = runner.invoke(app, ["programs", "list", "--server", "http://127.0.0.1:9"], env=env)
    assert unreachable.exit_code == 1 and "cannot reach" in unreachable.output
    assert all("Traceback" not in r.output for r in (missing, bad, no_key, wrong_key, unreachable))
