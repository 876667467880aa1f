"""The resource commands: programs, datasets, compile and evaluate with live progress, runs, traces.

Each is thin: it names an action and its input, and renders the answer (a table, or `--json` for
scripts). They run against the local database (`--database-url`, else the default one) or a server
(`--server URL`, or `DSPY_ASH_SERVER`), with an API key either way (`--key`, or `DSPY_ASH_API_KEY`).
Errors are one line and a hint; `--debug` shows the traceback.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.tree import Tree

from dspy_ash.cli._client import Client, CommandError, LocalClient, RemoteClient
from dspy_ash.cli._db import DatabaseUrl

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)

Server = Annotated[
    str | None,
    typer.Option("--server", envvar="DSPY_ASH_SERVER", help="A server's URL; default: the local database."),
]
Key = Annotated[
    str | None,
    typer.Option("--key", envvar="DSPY_ASH_API_KEY", help="An API key (default: $DSPY_ASH_API_KEY)."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON, for scripts.")]
Debug = Annotated[bool, typer.Option("--debug", help="Show the traceback of a failure.")]
Detach = Annotated[
    bool, typer.Option("--detach", help="Queue the run and return; follow it with `runs watch`.")
]
_FINISHED = ("succeeded", "failed", "cancelled")


def _client(server: str | None, key: str | None, database_url: str | None) -> Client:
    if not key:
        raise CommandError("no API key", "set DSPY_ASH_API_KEY or pass --key (dspy-ash init prints one)")
    if server:
        return RemoteClient(server, key)
    from dspy_ash.store import resolve_url

    return LocalClient(resolve_url(database_url), key)


def _run(
    server: str | None,
    key: str | None,
    database_url: str | None,
    debug: bool,
    work: Callable[[Client], Awaitable[Any]],
) -> None:
    """Run `work` with a client; a failure is one red line and its hint, unless --debug."""

    async def main() -> None:
        client = _client(server, key, database_url)
        try:
            await work(client)
        finally:
            await client.close()

    try:
        asyncio.run(main())
    except CommandError as exc:
        if debug:
            raise
        errors.print(f"[red]error:[/red] {escape(str(exc))}")
        if exc.hint:
            errors.print(f"hint: {escape(exc.hint)}")
        raise typer.Exit(1) from None
    except Exception as exc:
        if debug:
            raise
        errors.print(f"[red]error:[/red] {escape(type(exc).__name__)}: {escape(str(exc))}")
        errors.print("hint: --debug shows the traceback")
        raise typer.Exit(1) from None


def _print(data: Any, as_json: bool, columns: list[str] | None = None, title: str | None = None) -> None:
    """`--json`: the data; a page: a table of `columns`; one resource: its fields, one a line."""
    if as_json:
        console.print_json(json.dumps(data))
        return
    rows = data.get("items") if isinstance(data, dict) and "items" in data else None
    if rows is not None and columns:
        table = Table(title=title)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*(escape(_cell(row.get(c))) for c in columns))
        console.print(table)
        if data.get("next_cursor"):
            console.print("(more: pass --limit, or --json and its next_cursor)")
        return
    for name, value in (data or {}).items():
        console.print(f"[bold]{escape(name)}[/bold]: {escape(_cell(value, wide=True))}")


def _cell(value: Any, wide: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        text = json.dumps(value)
        return text if wide or len(text) <= 60 else text[:57] + "..."
    return str(value)


# -- programs -------------------------------------------------------------------------------------------

programs = typer.Typer(help="Programs and their versions.", no_args_is_help=True)


@programs.command("list")
def programs_list(
    server: Server = None, key: Key = None, database_url: DatabaseUrl = None, as_json: AsJson = False,
    debug: Debug = False, limit: int = 50,
) -> None:  # fmt: skip
    """List the tenant's programs."""

    async def work(c: Client) -> None:
        page = await c.call("programs.list", {"limit": limit})
        _print(page, as_json, ["id", "name", "kind", "created_at"], "programs")

    _run(server, key, database_url, debug, work)


@programs.command("show")
def programs_show(
    program_id: str, server: Server = None, key: Key = None, database_url: DatabaseUrl = None,
    as_json: AsJson = False, debug: Debug = False,
) -> None:  # fmt: skip
    """Show a program."""

    async def work(c: Client) -> None:
        _print(await c.call("programs.get", {"program_id": program_id}), as_json)

    _run(server, key, database_url, debug, work)


@programs.command("versions")
def programs_versions(
    program_id: str, server: Server = None, key: Key = None, database_url: DatabaseUrl = None,
    as_json: AsJson = False, debug: Debug = False,
) -> None:  # fmt: skip
    """List a program's versions (number, score, which one serves)."""

    async def work(c: Client) -> None:
        page = await c.call("versions.list", {"program_id": program_id})
        _print(
            page, as_json, ["id", "number", "score", "metric", "optimizer_run_id", "created_at"], "versions"
        )

    _run(server, key, database_url, debug, work)


@programs.command("diff")
def programs_diff(
    program_id: str, version_a: str, version_b: str, server: Server = None, key: Key = None,
    database_url: DatabaseUrl = None, as_json: AsJson = False, debug: Debug = False,
) -> None:  # fmt: skip
    """What changed from VERSION_A to VERSION_B: instructions and demos, predictor by predictor."""

    async def work(c: Client) -> None:
        payload = {"program_id": program_id, "version_id": version_b, "against": version_a}
        _print(await c.call("versions.diff", payload), as_json)

    _run(server, key, database_url, debug, work)


@programs.command("promote")
def programs_promote(
    program_id: str, version_id: str, server: Server = None, key: Key = None, database_url: DatabaseUrl = None,
    as_json: AsJson = False, debug: Debug = False,
) -> None:  # fmt: skip
    """Make a version the one that serves executions."""

    async def work(c: Client) -> None:
        done = await c.call("versions.promote", {"program_id": program_id, "version_id": version_id})
        _print(done, as_json) if as_json else console.print(f"version {done['number']} serves now")

    _run(server, key, database_url, debug, work)


@programs.command("execute")
def programs_execute(
    program_id: str,
    inputs: Annotated[list[str], typer.Argument(help="The inputs, as name=value (a JSON value, or text).")],
    version: Annotated[str | None, typer.Option(help="A version id; default: the serving one.")] = None,
    server: Server = None, key: Key = None, database_url: DatabaseUrl = None, as_json: AsJson = False,
    debug: Debug = False,
) -> None:  # fmt: skip
    """Run a program once: `dspy-ash programs execute ID question="Capital of France?"`."""

    async def work(c: Client) -> None:
        payload = {"program_id": program_id, "version": version, "inputs": _pairs(inputs)}
        _print(await c.call("programs.execute", payload), as_json)

    _run(server, key, database_url, debug, work)


@programs.command("create")
def programs_create(
    name: str,
    spec: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="A declarative spec (JSON file).")] = None,
    source: Annotated[str | None, typer.Option(help="A code program: module:Class (the server must allow the module).")] = None,
    server: Server = None, key: Key = None, database_url: DatabaseUrl = None, as_json: AsJson = False,
    debug: Debug = False,
) -> None:  # fmt: skip
    """Create a program from a declarative spec file or a code program's module:Class."""
    payload: dict[str, Any] = {"name": name, "source": source}
    if spec is not None:
        payload["spec"] = _json_option(spec.read_text(encoding="utf-8"), "--spec")

    async def work(c: Client) -> None:
        done = await c.call("programs.create", {k: v for k, v in payload.items() if v is not None})
        _print(done, as_json) if as_json else console.print(f"program {done['name']}: {done['id']}")

    _run(server, key, database_url, debug, work)


def _pairs(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise CommandError(f"{item!r} is not name=value", 'for example question="Capital of France?"')
        try:
            out[name] = json.loads(value)
        except json.JSONDecodeError:
            out[name] = value
    return out


# -- providers ------------------------------------------------------------------------------------------

providers = typer.Typer(help="LM providers of the tenant.", no_args_is_help=True)


@providers.command("add")
def providers_add(
    name: str,
    kind: Annotated[str, typer.Option(help="openai, anthropic, cohere, ollama or openai_compatible.")],
    model: Annotated[str, typer.Option(help="The model calls use unless they name one.")],
    base_url: Annotated[str | None, typer.Option(help="Required for openai_compatible.")] = None,
    api_key_env: Annotated[str | None, typer.Option(help="The variable the server reads the key from.")] = None,
    default: Annotated[bool, typer.Option("--default", help="Make it the tenant's default provider.")] = False,
    server: Server = None, key: Key = None, database_url: DatabaseUrl = None, as_json: AsJson = False,
    debug: Debug = False,
) -> None:  # fmt: skip
    """Add an LM provider (a stored key: use the API, which takes it write-only)."""

    async def work(c: Client) -> None:
        payload = {"name": name, "kind": kind, "base_url": base_url, "api_key_env": api_key_env,
                   "config": {"model": model}}  # fmt: skip
        done = await c.call("providers.create", {k: v for k, v in payload.items() if v is not None})
        if default:
            done = await c.call("providers.set_default", {"provider_id": done["id"]})
        _print(done, as_json) if as_json else console.print(f"provider {done['name']}: {done['id']}")

    _run(server, key, database_url, debug, work)


@providers.command("list")
def providers_list(
    server: Server = None, key: Key = None, database_url: DatabaseUrl = None, as_json: AsJson = False,
    debug: Debug = False,
) -> None:  # fmt: skip
    """List the tenant's LM providers (never their secrets)."""

    async def work(c: Client) -> None:
        page = await c.call("providers.list", {})
        _print(page, as_json, ["id", "name", "kind", "base_url", "is_default", "has_secret"], "providers")

    _run(server, key, database_url, debug, work)


# -- datasets -------------------------------------------------------------------------------------------

datasets = typer.Typer(help="Datasets and their examples.", no_args_is_help=True)


@datasets.command("list")
def datasets_list(
    server: Server = None, key: Key = None, database_url: DatabaseUrl = None, as_json: AsJson = False,
    debug: Debug = False,
) -> None:  # fmt: skip
    """List the tenant's datasets."""

    async def work(c: Client) -> None:
        _print(await c.call("datasets.list", {}), as_json, ["id", "name", "size", "input_keys"], "datasets")

    _run(server, key, database_url, debug, work)


@datasets.command("show")
def datasets_show(
    dataset_id: str,
    limit: Annotated[int, typer.Option(help="Examples shown.", min=1, max=200)] = 10,
    server: Server = None, key: Key = None, database_url: DatabaseUrl = None, as_json: AsJson = False,
    debug: Debug = False,
) -> None:  # fmt: skip
    """Show a dataset and its first examples."""

    async def work(c: Client) -> None:
        dataset = await c.call("datasets.get", {"dataset_id": dataset_id})
        examples = await c.call("examples.list", {"dataset_id": dataset_id, "limit": limit})
        if as_json:
            _print({**dataset, "examples": examples["items"]}, True)
            return
        _print(dataset, False)
        _print(examples, False, ["position", "split", "data"], "examples")

    _run(server, key, database_url, debug, work)


@datasets.command("import")
def datasets_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A .jsonl, .json or .csv file.")],
    input_keys: Annotated[str, typer.Option(help="The input keys, comma-separated (the rest are labels).")],
    name: Annotated[str | None, typer.Option(help="Default: the file's name.")] = None,
    server: Server = None, key: Key = None, database_url: DatabaseUrl = None, as_json: AsJson = False,
    debug: Debug = False,
) -> None:  # fmt: skip
    """Import a dataset from a file (a record's `split` key puts it in train, dev or test)."""
    kind = file.suffix.lstrip(".").lower()
    if kind not in ("jsonl", "json", "csv"):
        errors.print(f"[red]error:[/red] {escape(file.name)} is not .jsonl, .json or .csv")
        raise typer.Exit(1)

    async def work(c: Client) -> None:
        payload = {
            "name": name or file.stem,
            "format": kind,
            "content": file.read_text(encoding="utf-8"),
            "input_keys": [k.strip() for k in input_keys.split(",") if k.strip()],
        }
        done = await c.call("datasets.upload", payload)
        _print(done, as_json) if as_json else console.print(
            f"dataset {done['name']}: {done['size']} examples ({done['id']})"
        )

    _run(server, key, database_url, debug, work)


@datasets.command("export")
def datasets_export(
    dataset_id: str,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Default: standard output.")] = None,
    split: Annotated[str | None, typer.Option(help="Only train, dev or test.")] = None,
    server: Server = None, key: Key = None, database_url: DatabaseUrl = None, debug: Debug = False,
) -> None:  # fmt: skip
    """Export a dataset as JSONL."""

    async def work(c: Client) -> None:
        done = await c.call("datasets.export", {"dataset_id": dataset_id, "split": split})
        if output is None:
            print(done["content"], end="")
        else:
            output.write_text(done["content"], encoding="utf-8")
            errors.print(f"{done['count']} examples written to {escape(str(output))}")

    _run(server, key, database_url, debug, work)


# -- runs -----------------------------------------------------------------------------------------------

runs = typer.Typer(help="Optimizer and evaluation runs.", no_args_is_help=True)


async def _get_run(c: Client, run_id: str) -> tuple[str, dict[str, Any]]:
    """A run by id, whichever kind it is: ("optimizer_runs" | "evaluation_runs", the run)."""
    for kind in ("optimizer_runs", "evaluation_runs"):
        try:
            return kind, await c.call(f"{kind}.get", {"run_id": run_id})
        except CommandError as exc:
            if not str(exc).startswith("Not found"):
                raise
    raise CommandError(f"no run {run_id}", "dspy-ash runs list")


async def watch(c: Client, kind: str, run: dict[str, Any], as_json: bool) -> dict[str, Any]:
    """Follow a run until it ends: a progress bar with its message, running score and trials. Against a
    local database with no worker running, this process works on it meanwhile."""
    worker = await _local_worker(c)
    try:
        with Progress(
            TextColumn("[bold]{task.fields[status]}[/bold]"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("score {task.fields[score]}  trials {task.fields[trials]}  {task.description}"),
            TimeElapsedColumn(),
            console=errors,
            disable=as_json,
        ) as bar:
            task = bar.add_task("", total=1.0, status=run["status"], score="-", trials=0)
            while True:
                score = "-" if run.get("score") is None else f"{run['score']:.4g}"
                bar.update(task, completed=run["progress"], description=escape(run.get("progress_message") or ""),
                           status=run["status"], score=score, trials=len(run.get("trials") or []))  # fmt: skip
                if run["status"] in _FINISHED:
                    break
                await asyncio.sleep(1.0)
                run = await c.call(f"{kind}.get", {"run_id": run["id"]})
    finally:
        if worker is not None:
            await worker.stop()
    return run


async def _local_worker(c: Client) -> Any:
    if not isinstance(c, LocalClient):
        return None
    from dspy_ash.jobs import RunWorker

    await c.call("tenant.get", {})  # connects and checks the key
    worker = RunWorker(c.services, slots=1, lease_seconds=30.0)
    await worker.start()
    return worker


def _finish(kind: str, run: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _print(run, True)
    else:
        what = "compile" if kind == "optimizer_runs" else "evaluation"
        score = "" if run.get("score") is None else f", score {run['score']:.4g}"
        made = f", version {run['result_version_id']}" if run.get("result_version_id") else ""
        console.print(f"{what} {run['id']} {run['status']}{score}{made}")
        if run.get("error"):
            console.print(f"[red]{escape(run['error'])}[/red]")
    if run["status"] != "succeeded":
        raise typer.Exit(1)


@runs.command("list")
def runs_list(
    program: Annotated[str | None, typer.Option(help="Only this program's runs.")] = None,
    status: Annotated[str | None, typer.Option(help="queued, running, succeeded, failed or cancelled.")] = None,
    server: Server = None, key: Key = None, database_url: DatabaseUrl = None, as_json: AsJson = False,
    debug: Debug = False,
) -> None:  # fmt: skip
    """List optimizer and evaluation runs, newest first."""

    async def work(c: Client) -> None:
        query = {"program_id": program, "status": status}
        for kind, title in (("optimizer_runs", "optimizer runs"), ("evaluation_runs", "evaluation runs")):
            page = await c.call(f"{kind}.list", query)
            _print(page, as_json, ["id", "status", "progress", "score", "metric", "created_at"], title)

    _run(server, key, database_url, debug, work)


@runs.command("show")
def runs_show(
    run_id: str, server: Server = None, key: Key = None, database_url: DatabaseUrl = None, as_json: AsJson = False,
    debug: Debug = False,
) -> None:  # fmt: skip
    """Show a run: status, progress, score, trials."""

    async def work(c: Client) -> None:
        _print((await _get_run(c, run_id))[1], as_json)

    _run(server, key, database_url, debug, work)


@runs.command("watch")
def runs_watch(
    run_id: str, server: Server = None, key: Key = None, database_url: DatabaseUrl = None, as_json: AsJson = False,
    debug: Debug = False,
) -> None:  # fmt: skip
    """Follow a run to its end with a progress bar (exit status 1 unless it succeeds)."""

    async def work(c: Client) -> None:
        kind, run = await _get_run(c, run_id)
        _finish(kind, await watch(c, kind, run, as_json), as_json)

    _run(server, key, database_url, debug, work)


def _move(verb: str) -> Callable[..., None]:
    def command(
        run_id: str, server: Server = None, key: Key = None, database_url: DatabaseUrl = None,
        as_json: AsJson = False, debug: Debug = False,
    ) -> None:  # fmt: skip
        async def work(c: Client) -> None:
            kind, _ = await _get_run(c, run_id)
            run = await c.call(f"{kind}.{verb}", {"run_id": run_id})
            _print(run, True) if as_json else console.print(f"run {run['id']} is {run['status']}")

        _run(server, key, database_url, debug, work)

    command.__doc__ = {"cancel": "Cancel a queued or running run (it keeps what it finished).",
                       "resume": "Queue a failed or cancelled run again: it resumes from its checkpoint."}[verb]  # fmt: skip
    return command


runs.command("cancel")(_move("cancel"))
runs.command("resume")(_move("resume"))


# -- compile and evaluate -------------------------------------------------------------------------------


def compile_program(
    program_id: str,
    dataset: Annotated[str, typer.Option(help="The dataset's id (its train split trains; dev validates).")],
    optimizer: Annotated[str, typer.Option(help="BootstrapFewShot, MIPROv2, COPRO, ...")] = "BootstrapFewShot",
    config: Annotated[str, typer.Option(help='The optimizer\'s arguments as JSON: \'{"max_bootstrapped_demos": 3}\'.')] = "{}",
    metric: Annotated[str, typer.Option(help="A metric by name.")] = "answer_exact_match",
    base_version: Annotated[str | None, typer.Option(help="Start from this version.")] = None,
    detach: Detach = False, server: Server = None, key: Key = None, database_url: DatabaseUrl = None,
    as_json: AsJson = False, debug: Debug = False,
) -> None:  # fmt: skip
    """Compile a program with an optimizer as a background run, and follow it with a progress bar."""
    arguments = _json_option(config, "--config")

    async def work(c: Client) -> None:
        payload = {"program_id": program_id, "dataset_id": dataset, "optimizer": optimizer, "config": arguments,
                   "metric": metric, "base_version_id": base_version}  # fmt: skip
        await _start(c, "optimizer_runs", payload, detach, as_json)

    _run(server, key, database_url, debug, work)


def evaluate_program(
    program_id: str,
    dataset: Annotated[str, typer.Option(help="The dataset's id.")],
    split: Annotated[str | None, typer.Option(help="Only train, dev or test.")] = None,
    version: Annotated[str | None, typer.Option(help="A version id; default: the program as defined.")] = None,
    metric: Annotated[str, typer.Option(help="A metric by name.")] = "answer_exact_match",
    num_threads: Annotated[int, typer.Option(help="Examples in flight.", min=1, max=64)] = 16,
    detach: Detach = False, server: Server = None, key: Key = None, database_url: DatabaseUrl = None,
    as_json: AsJson = False, debug: Debug = False,
) -> None:  # fmt: skip
    """Evaluate a program on a dataset as a background run, and follow it with a progress bar."""

    async def work(c: Client) -> None:
        payload = {"program_id": program_id, "dataset_id": dataset, "split": split, "version_id": version,
                   "metric": metric, "config": {"num_threads": num_threads}}  # fmt: skip
        await _start(c, "evaluation_runs", payload, detach, as_json)

    _run(server, key, database_url, debug, work)


async def _start(c: Client, kind: str, payload: dict[str, Any], detach: bool, as_json: bool) -> None:
    run = await c.call(f"{kind}.create", {k: v for k, v in payload.items() if v is not None})
    if detach:
        _print(run, True) if as_json else console.print(
            f"queued run {run['id']}: dspy-ash runs watch {run['id']}"
        )
        return
    _finish(kind, await watch(c, kind, run, as_json), as_json)


def _json_option(text: str, option: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        errors.print(f"[red]error:[/red] {option} is not JSON: {escape(exc.msg)}")
        raise typer.Exit(1) from None
    if not isinstance(value, dict):
        errors.print(f"[red]error:[/red] {option} must be a JSON object")
        raise typer.Exit(1)
    return value  # pyright: ignore[reportUnknownVariableType]


# -- traces ---------------------------------------------------------------------------------------------

traces = typer.Typer(help="Traces of executions: module, LM and tool calls.", no_args_is_help=True)


@traces.command("list")
def traces_list(
    program: Annotated[str | None, typer.Option(help="Only this program's traces.")] = None,
    limit: int = 20, server: Server = None, key: Key = None, database_url: DatabaseUrl = None,
    as_json: AsJson = False, debug: Debug = False,
) -> None:  # fmt: skip
    """List traces, newest first."""

    async def work(c: Client) -> None:
        page = await c.call("traces.list", {"program_id": program, "limit": limit})
        _print(
            page,
            as_json,
            ["id", "name", "status", "started_at", "duration", "total_tokens", "cost"],
            "traces",
        )

    _run(server, key, database_url, debug, work)


@traces.command("show")
def traces_show(
    trace_id: str, server: Server = None, key: Key = None, database_url: DatabaseUrl = None,
    as_json: AsJson = False, debug: Debug = False,
) -> None:  # fmt: skip
    """A trace as a tree of its module, LM and tool calls, with their time and tokens."""

    async def work(c: Client) -> None:
        trace = await c.call("traces.get", {"trace_id": trace_id})
        if as_json:
            _print(trace, True)
            return
        root = Tree(escape(f"trace {trace['id']} [{trace.get('status')}] {trace.get('name', '')}"))
        nodes: dict[str | None, Any] = {None: root}
        for span in trace["spans"]:
            parent = nodes.get(span.get("parent_call_id"), root)
            nodes[span["call_id"]] = parent.add(escape(_span_line(span)))
        console.print(root)

    _run(server, key, database_url, debug, work)


def _span_line(span: dict[str, Any]) -> str:
    parts = [str(span.get("kind") or "call"), str(span.get("name") or "")]
    if span.get("model") and span["model"] != span.get("name"):
        parts.append(str(span["model"]))
    parts.append(f"{1000 * span['duration']:.0f} ms")
    tokens = span["prompt_tokens"] + span["completion_tokens"]
    if tokens:
        parts.append(f"{tokens} tokens" + (" (cached)" if span.get("cache_hit") else ""))
    if span.get("cost"):
        parts.append(f"${span['cost']:.6f}")
    if span.get("error"):
        parts.append(f"error: {span['error']}")
    return "  ".join(p for p in parts if p)


# -- LM request log, cache, keys, users -------------------------------------------------------------


def history(
    n: Annotated[int, typer.Option("-n", help="How many of the latest LM calls.", min=1, max=100)] = 1,
    program: Annotated[str | None, typer.Option(help="Only this program's calls.")] = None,
    server: Server = None, key: Key = None, database_url: DatabaseUrl = None, as_json: AsJson = False,
    debug: Debug = False,
) -> None:  # fmt: skip
    """The latest LM calls with their prompts and replies, as DSPy's inspect_history prints them."""

    async def work(c: Client) -> None:
        done = await c.call("lm_requests.history", {"n": n, "program_id": program})
        _print(done, True) if as_json else console.print(done["text"], markup=False, highlight=False)

    _run(server, key, database_url, debug, work)


def usage(
    group_by: Annotated[list[str] | None, typer.Option(help="provider, model and/or program (repeat it).")] = None,
    server: Server = None, key: Key = None, database_url: DatabaseUrl = None, as_json: AsJson = False,
    debug: Debug = False,
) -> None:  # fmt: skip
    """LM usage per provider and model (or program): requests, tokens, latency, cost."""

    async def work(c: Client) -> None:
        done = await c.call("lm_requests.usage", {"group_by": group_by or ["provider", "model"]})
        if as_json:
            _print(done, True)
            return
        groups = done["groups"]
        columns = list(groups[0]) if groups else ["provider", "model", "requests"]
        _print({"items": groups}, False, columns, "LM usage")

    _run(server, key, database_url, debug, work)


cache = typer.Typer(help="The tenant's LM cache.", no_args_is_help=True)


@cache.command("stats")
def cache_stats(
    server: Server = None, key: Key = None, database_url: DatabaseUrl = None, as_json: AsJson = False,
    debug: Debug = False,
) -> None:  # fmt: skip
    """Entries, size, hits and the hit ratio of the LM cache."""

    async def work(c: Client) -> None:
        _print(await c.call("cache.stats", {}), as_json)

    _run(server, key, database_url, debug, work)


@cache.command("clear")
def cache_clear(
    scope: Annotated[str, typer.Option(help="expired, all, or model (with --model).")] = "expired",
    model: Annotated[str | None, typer.Option(help="With --scope model: this model's entries.")] = None,
    server: Server = None, key: Key = None, database_url: DatabaseUrl = None, as_json: AsJson = False,
    debug: Debug = False,
) -> None:  # fmt: skip
    """Remove cached LM replies: the expired ones (default), all, or one model's."""

    async def work(c: Client) -> None:
        done = await c.call("cache.purge", {"scope": scope, "model": model})
        _print(done, True) if as_json else console.print(f"removed {done['removed']} cache entries")

    _run(server, key, database_url, debug, work)


keys = typer.Typer(help="API keys of the tenant.", no_args_is_help=True)


@keys.command("create")
def keys_create(
    name: str,
    role: Annotated[str, typer.Option(help="admin, editor or viewer.")] = "viewer",
    server: Server = None, key: Key = None, database_url: DatabaseUrl = None, as_json: AsJson = False,
    debug: Debug = False,
) -> None:  # fmt: skip
    """Make an API key; it is printed this once (only its hash is stored)."""

    async def work(c: Client) -> None:
        done = await c.call("api_keys.create", {"name": name, "role": role})
        if as_json:
            _print(done, True)
            return
        errors.print(f"key {done['name']} ({done['role']}, id {done['id']}); shown this once:")
        console.print(done["key"], markup=False, highlight=False, soft_wrap=True)

    _run(server, key, database_url, debug, work)


@keys.command("revoke")
def keys_revoke(
    key_id: str, server: Server = None, key: Key = None, database_url: DatabaseUrl = None, as_json: AsJson = False,
    debug: Debug = False,
) -> None:  # fmt: skip
    """Revoke an API key: it stops working at once."""

    async def work(c: Client) -> None:
        done = await c.call("api_keys.revoke", {"key_id": key_id})
        _print(done, True) if as_json else console.print(f"key {done['name']} revoked")

    _run(server, key, database_url, debug, work)


users = typer.Typer(help="Users of the tenant (dashboard logins).", no_args_is_help=True)


@users.command("add")
def users_add(
    email: str,
    role: Annotated[str, typer.Option(help="admin, editor or viewer.")] = "viewer",
    password_env: Annotated[
        str | None, typer.Option(help="Read the password from this variable instead of asking.")
    ] = None,
    server: Server = None, key: Key = None, database_url: DatabaseUrl = None, as_json: AsJson = False,
    debug: Debug = False,
) -> None:  # fmt: skip
    """Add a user to the tenant with a role; the password is asked for (hidden)."""
    from dspy_ash.cli._service import _admin_password  # pyright: ignore[reportPrivateUsage]

    password = _admin_password(email, password_env)

    async def work(c: Client) -> None:
        done = await c.call("members.create", {"email": email, "role": role, "password": password})
        _print(done, True) if as_json else console.print(f"user {done['email']} is {done['role']}")

    _run(server, key, database_url, debug, work)


def register(app: typer.Typer) -> None:
    from dspy_ash.cli._service import _help  # pyright: ignore[reportPrivateUsage]

    app.add_typer(programs, name="programs")
    app.add_typer(datasets, name="datasets")
    app.add_typer(providers, name="providers")
    app.add_typer(runs, name="runs")
    app.add_typer(traces, name="traces")
    app.add_typer(cache, name="cache")
    app.add_typer(keys, name="keys")
    app.add_typer(users, name="users")
    app.command("history", help=_help(history))(history)
    app.command("usage", help=_help(usage))(usage)
    app.command("compile", help=_help(compile_program))(compile_program)
    app.command("evaluate", help=_help(evaluate_program))(evaluate_program)
