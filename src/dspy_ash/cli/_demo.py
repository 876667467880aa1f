"""`dspy-ash demo`: the worked example as a running service, from nothing, in one command.

On SQLite in a data directory: the schema, a tenant with an admin user and API key (printed), an LM
provider (the one configured, else an offline stand-in served over HTTP on 127.0.0.1 and said to be
one everywhere), the HotPotQA sample as a dataset with train and dev splits, SimplifiedBaleen as a
declarative program, and its runs: an evaluation, a BootstrapFewShot compile, then the compiled version
promoted to serving and evaluated again. The server answers at `POST /answer` meanwhile. Everything is
loaded through the actions, as an API client would; run again on the same directory, nothing is loaded
twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from dspy_ash.errors import ConfigurationError

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)

TENANT = "demo"
ADMIN_EMAIL = "admin@example.com"
PROGRAM = "simplified-baleen"
DATASET = "hotpotqa-sample"
TRAIN_SIZE = 20  # the first questions train, the rest are the dev split
METRIC = "exact_match"
COMPILE = {"max_bootstrapped_demos": 3, "max_labeled_demos": 10}
STAND_IN_MODEL = "extractive-reader"

# SimplifiedBaleen (DSPy's multi-hop tutorial program) as data: per hop, a search query from the question
# and the context so far, three passages retrieved for it and added to the context; then the answer.
BALEEN_SPEC: dict[str, Any] = {
    "inputs": ["question"],
    "steps": [
        {
            "type": "loop",
            "id": "hops",
            "max_iterations": 2,
            "accumulate": {"context": "retrieve.passages"},
            "steps": [
                {
                    "type": "chain_of_thought",
                    "id": "generate_query",
                    "signature": "context: list[str], question -> query",
                    "instructions": "Write a simple search query that will help answer a complex question.",
                },
                {"type": "retrieve", "id": "retrieve", "query": "generate_query.query", "k": 3},
            ],
        },
        {
            "type": "chain_of_thought",
            "id": "generate_answer",
            "signature": "context: list[str], question -> answer, confidence: float",
            "instructions": "Answer questions with short factoid answers.",
        },
    ],
    "outputs": {
        "answer": "generate_answer.answer",
        "reasoning": "generate_answer.reasoning",
        "confidence": "generate_answer.confidence",
    },
}

_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "cohere": "COHERE_API_KEY"}


@dataclass(frozen=True, slots=True)
class LMChoice:
    """The provider the demo creates for its tenant; `stand_in` when it is the offline stand-in."""

    provider: dict[str, Any]
    stand_in: bool
    label: str


def choose_lm(model: str | None, api_base: str | None, api_key_env: str | None) -> LMChoice | None:
    """The provider for `model` ("openai/gpt-4o-mini", "anthropic/...", "cohere/...", "ollama/...", or any
    name with `api_base`); None when no model is configured (the stand-in then)."""
    if not model:
        return None
    prefix, _, name = model.partition("/")
    if api_base:
        kind, base_url, key_env = "openai_compatible", api_base, api_key_env
        name = name or prefix
    elif prefix in (*_KEY_ENV, "ollama") and name:
        kind, key_env = prefix, api_key_env or _KEY_ENV.get(prefix)
        base_url = os.environ.get("OLLAMA_HOST") if kind == "ollama" else None
    else:
        raise ConfigurationError(
            f"cannot tell the provider of {model!r}: name it openai/MODEL, anthropic/MODEL, cohere/MODEL or "
            "ollama/MODEL, or give an OpenAI-compatible server's --api-base"
        )
    if key_env and not os.environ.get(key_env):
        raise ConfigurationError(f"{model} needs its API key in the environment variable {key_env}")
    provider: dict[str, Any] = {"name": kind, "kind": kind, "config": {"model": name}}
    if base_url:
        provider["base_url"] = base_url
    if key_env:
        provider["api_key_env"] = key_env
    return LMChoice(provider, stand_in=False, label=f"{model}" + (f" at {api_base}" if api_base else ""))


def hotpotqa_jsonl() -> str:
    """The shipped HotPotQA sample as the dataset file: question, answer and split a line."""
    from dspy_ash.retrievers import hotpotqa_questions

    lines = []
    for i, q in enumerate(hotpotqa_questions()):
        split = "train" if i < TRAIN_SIZE else "dev"
        lines.append(json.dumps({"question": q["question"], "answer": q["answer"], "split": split}))
    return "\n".join(lines) + "\n"


class Loader:
    """Calls the service's actions as the demo's admin."""

    def __init__(self, services: Any, actor: Any) -> None:
        self.services, self.actor = services, actor

    async def __call__(self, name: str, payload: dict[str, Any]) -> Any:
        from dspy_ash.actions import invoke

        return await invoke(self.services, name, self.actor, payload)

    async def loaded_program(self) -> Any | None:
        page = await self("programs.list", {"name": PROGRAM})
        return page.items[0] if page.items else None

    async def load(self, lm: LMChoice) -> tuple[Any, Any]:
        """The provider, the dataset and the program; the `before` evaluation and the compile, queued."""
        await self("providers.create", lm.provider)
        dataset = await self(
            "datasets.upload",
            {
                "name": DATASET,
                "format": "jsonl",
                "content": hotpotqa_jsonl(),
                "input_keys": ["question"],
                "description": "HotPotQA (CC BY-SA 4.0): the sample shipped with dspy-ash",
            },
        )
        program = await self(
            "programs.create",
            {
                "name": PROGRAM,
                "spec": BALEEN_SPEC,
                "description": "SimplifiedBaleen: two hops of query and BM25 retrieval, then the answer",
            },
        )
        base = {"program_id": program.id, "dataset_id": dataset.id, "metric": METRIC}
        before = await self("evaluation_runs.create", {**base, "split": "dev"})
        compile_run = await self(
            "optimizer_runs.create", {**base, "optimizer": "BootstrapFewShot", "config": COMPILE}
        )
        return before, compile_run

    async def wait(self, kind: str, run_id: uuid.UUID) -> Any:
        while True:
            run = await self(f"{kind}.get", {"run_id": run_id})
            if run.status in ("succeeded", "failed", "cancelled"):
                return run
            await asyncio.sleep(1.0)

    async def follow(self, before: Any, compile_run: Any) -> None:
        """Report the `before` evaluation; when the compile succeeds, promote its version to serving and
        evaluate it on the same split, and report that."""
        await self.report("before optimization", await self.wait("evaluation_runs", before.id))
        compiled = await self.wait("optimizer_runs", compile_run.id)
        if compiled.status != "succeeded":
            console.print(f"the compile run ended {compiled.status}: {escape(compiled.error or '')}")
            return
        version = await self(
            "versions.promote", {"program_id": compiled.program_id, "version_id": compiled.result_version_id}
        )
        console.print(
            f"BootstrapFewShot made version {version.number} of {PROGRAM}; it now serves POST /answer"
        )
        after = await self(
            "evaluation_runs.create",
            {
                "program_id": compiled.program_id,
                "version_id": version.id,
                "dataset_id": compiled.dataset_id,
                "split": "dev",
                "metric": METRIC,
            },
        )
        await self.report("after BootstrapFewShot", await self.wait("evaluation_runs", after.id))

    async def report(self, label: str, run: Any) -> None:
        """Total, correct and accuracy, and three predictions, as the worked example prints them."""
        if run.status != "succeeded":
            console.print(f"evaluation {label} ended {run.status}: {escape(run.error or '')}")
            return
        results = (await self("evaluation_runs.results", {"run_id": run.id, "limit": 200})).items
        examples = await self("examples.list", {"dataset_id": run.dataset_id, "limit": 200})
        data = {e.id: e.data for e in examples.items}
        correct = sum(1 for r in results if r.score)
        accuracy = 100.0 * correct / len(results) if results else 0.0
        console.print(f"evaluation {label}: {correct} of {len(results)} correct ({accuracy:.1f}%)")
        shown = [r for r in results if r.score][:1]
        shown += [r for r in results if not r.score][: 3 - len(shown)]
        for r in shown:
            example = data.get(r.example_id, {})
            predicted = (r.prediction or {}).get("answer")
            console.print(f"  Q: {escape(str(example.get('question', '?')))}")
            console.print(
                f"     gold: {escape(repr(example.get('answer')))}  predicted: {escape(repr(predicted))}  "
                f"correct: {bool(r.score)}"
            )


@contextlib.asynccontextmanager
async def stand_in_lm() -> AsyncGenerator[LMChoice]:
    """The offline stand-in, served over HTTP on 127.0.0.1 for as long as the demo runs."""
    from dspy_ash.testing import FakeOpenAIServer
    from dspy_ash.testing.standins import ExtractiveReader

    server = FakeOpenAIServer(handler=ExtractiveReader(), model=STAND_IN_MODEL, record_requests=False)
    await server.start()
    try:
        provider = {
            "name": "stand-in (offline)",
            "kind": "openai_compatible",
            "base_url": server.api_base,
            "config": {"model": STAND_IN_MODEL},
        }
        yield LMChoice(provider, stand_in=True, label=f"stand-in at {server.api_base}")
    finally:
        await server.stop()


def _listen(host: str, port: int) -> socket.socket:
    try:
        sock = socket.create_server((host, port))
    except OSError as exc:
        raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror} (try --port)") from None
    sock.set_inheritable(True)
    return sock


async def run_demo(
    data_dir: Path, host: str, port: int, chosen: LMChoice | None, log_level: str, exit_when_done: bool
) -> None:
    import uvicorn

    from dspy_ash.actions import Services, ServiceSettings, authenticate_key, initialise
    from dspy_ash.api import create_app
    from dspy_ash.api._logging import logging_config
    from dspy_ash.store import connect
    from dspy_ash.testing.standins import STAND_IN_NOTICE

    data_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite+aiosqlite:///{(data_dir / 'dspy-ash.db').resolve()}"
    sock = _listen(host, port)  # first: a demo that cannot listen makes no key
    password = secrets.token_urlsafe(12)
    done = await initialise(
        url, tenant_name=TENANT, new_key=True, admin_email=ADMIN_EMAIL, admin_password=password
    )
    base = f"http://{host}:{sock.getsockname()[1]}"
    async with contextlib.AsyncExitStack() as stack:
        if chosen is None:
            console.print(
                "No LM configured (DSPY_ASH_DEMO_MODEL, or --model): using the offline stand-in. "
                f"[bold yellow]{STAND_IN_NOTICE}[/bold yellow]; its scores say nothing of a real model's."
            )
            chosen = await stack.enter_async_context(stand_in_lm())
        notice = STAND_IN_NOTICE if chosen.stand_in else None
        settings = ServiceSettings(
            database_url=url, corpus="hotpotqa", stand_in_notice=notice, secure_cookies=False
        )
        db = await connect(url)
        stack.push_async_callback(db.dispose)
        services = Services(db=db, settings=settings)
        assert done.key is not None  # initialise makes one: a new tenant's, or a new key (new_key=True)
        loader = Loader(services, await authenticate_key(services, done.key))
        existing = await loader.loaded_program()
        runs = None
        if existing is None:
            runs = await loader.load(chosen)
            console.print(
                f"loaded: LM provider ({escape(chosen.label)}), dataset {DATASET} "
                f"({TRAIN_SIZE} train, the rest dev), program {PROGRAM}; queued an evaluation and a "
                "BootstrapFewShot compile"
            )
        else:
            console.print(
                f"the examples are loaded already (program {PROGRAM} in {data_dir}); the LM is the provider "
                "made then. Delete the directory to start over."
            )
        _print_access(done, password, base, data_dir)
        app = create_app(services=services)
        config = uvicorn.Config(
            app,
            log_config=logging_config(log_level, json_lines=False, stand_in_notice=notice),
            access_log=False,
            proxy_headers=False,
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        follow = asyncio.create_task(loader.follow(*runs)) if runs is not None else None
        if exit_when_done:  # once the runs are followed to their end; at once when there are none
            if follow is None:
                server.should_exit = True
            else:
                follow.add_done_callback(lambda _: setattr(server, "should_exit", True))
        try:
            await serving
        finally:
            if follow is not None and not follow.done():
                follow.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await follow
            sock.close()


def _print_access(done: Any, password: str, base: str, data_dir: Path) -> None:
    lines = [f"server   {base}   (OpenAPI: {base}/docs, GraphQL: {base}/graphql)"]
    lines.append(f"dashboard {base}/dashboard/")
    if done.created:
        lines.append(f"log in as {ADMIN_EMAIL} with password {password}")
    else:
        lines.append(f"log in as {ADMIN_EMAIL} with the password printed the first time")
    lines.append(f"database  {data_dir / 'dspy-ash.db'}")
    console.print(Panel("\n".join(escape(line) for line in lines), title="dspy-ash demo", expand=False))
    console.print(
        "admin API key for the demo tenant (shown this once; send it as `Authorization: Bearer <key>`):"
    )
    console.print(done.key, markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"try: curl -s {base}/answer -H \"Authorization: Bearer $KEY\" -H 'Content-Type: application/json' "
        '-d \'{"question": "Which magazine was started first, Arthur\'"\'"\'s Magazine or First for Women?"}\'',
        markup=False,
        soft_wrap=True,
    )


def demo(
    data_dir: Annotated[
        Path, typer.Option(help="Where the demo keeps its SQLite database (reused when run again).")
    ] = Path("dspy-ash-demo"),
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0: any free one).", min=0, max=65535)] = 8000,
    model: Annotated[
        str | None,
        typer.Option(
            envvar="DSPY_ASH_DEMO_MODEL",
            help="The LM: openai/MODEL (OPENAI_API_KEY), anthropic/MODEL (ANTHROPIC_API_KEY), cohere/MODEL "
            "(COHERE_API_KEY), ollama/MODEL (OLLAMA_HOST, default localhost:11434), or any name with "
            "--api-base. None: an offline stand-in, labelled as one everywhere.",
        ),
    ] = None,
    api_base: Annotated[
        str | None,
        typer.Option(
            envvar="DSPY_ASH_DEMO_API_BASE", help="An OpenAI-compatible server (vLLM, llama.cpp, ...)."
        ),
    ] = None,
    api_key_env: Annotated[
        str | None,
        typer.Option(
            envvar="DSPY_ASH_DEMO_API_KEY_ENV",
            help="The environment variable holding the LM's key (default: the provider's usual one).",
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="Least severe log records shown.")] = "warning",
    exit_when_done: Annotated[
        bool, typer.Option("--exit-when-done", help="Stop once the demo's runs have finished (scripts).")
    ] = False,
) -> None:
    """Run the worked example as a service: SimplifiedBaleen over HotPotQA, optimized and served.

    Creates (once, in --data-dir) a SQLite database with a tenant, an admin user and API key (printed),
    an LM provider, the HotPotQA sample as a dataset, and the SimplifiedBaleen program; queues an
    evaluation and a BootstrapFewShot compile, then promotes the compiled version and evaluates it again,
    printing each evaluation's accuracy and three predictions. Meanwhile the server answers at
    POST /answer and shows the dashboard. Without a configured LM it uses an offline stand-in served on
    127.0.0.1 that answers from the prompt alone and says so in every response and log line.
    """
    from dspy_ash.actions import AlreadyInitialisedError

    try:
        chosen = choose_lm(model, api_base, api_key_env)
        if chosen is None:
            hint = [env for env in _KEY_ENV.values() if os.environ.get(env)]
            if hint:
                console.print(
                    f"{hint[0]} is set, but no model is named: set DSPY_ASH_DEMO_MODEL (for example "
                    "openai/gpt-4o-mini) to use it."
                )
        asyncio.run(run_demo(data_dir, host, port, chosen, log_level, exit_when_done))
    except (ConfigurationError, AlreadyInitialisedError) as exc:  # one line, never a traceback
        errors.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        pass


def register(app: typer.Typer) -> None:
    from dspy_ash.cli._service import _help  # pyright: ignore[reportPrivateUsage]

    app.command("demo", help=_help(demo))(demo)
