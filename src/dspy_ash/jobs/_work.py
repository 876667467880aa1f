"""The run functions: what a claimed optimizer or evaluation run does, the same under every dispatcher.

A run reads what it needs in one short transaction (`_inputs`), works under the tenant's default LM
and cache namespace, persists as it goes (an optimizer's checkpoint in the run row, trials and
progress; an evaluation's per-example results), and finishes in one transaction that names its worker
as the lease holder, so a worker that lost the run cannot finish it too. Killed at any point, the run
is claimed again and resumes from what it persisted: an optimizer from its checkpoint, an evaluation
from the examples without a result.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import uuid
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass
from typing import Any

from dspy_ash.actions import Services
from dspy_ash.actions._lm_resolution import default_provider, provider_lm  # pyright: ignore[reportPrivateUsage]
from dspy_ash.actions._retrieval import engine_overrides  # pyright: ignore[reportPrivateUsage]
from dspy_ash.actions._run_specs import build_optimizer, resolve_metric  # pyright: ignore[reportPrivateUsage]
from dspy_ash.actions._serving import build_module, execution_outputs  # pyright: ignore[reportPrivateUsage]
from dspy_ash.actions._tracing import recorder_of  # pyright: ignore[reportPrivateUsage]
from dspy_ash.errors import DspyAshError
from dspy_ash.evaluate import Evaluate
from dspy_ash.evaluate._calling import call_metric  # pyright: ignore[reportPrivateUsage]
from dspy_ash.events import Event
from dspy_ash.lm import LM
from dspy_ash.primitives import Example
from dspy_ash.settings import read, settings
from dspy_ash.store import NotFoundError, RunCheckpointStore, TraceRecorder, repos, trace_context
from dspy_ash.store._jsonable import to_jsonable
from dspy_ash.store.repos.runs import Run, RunKind

_FLUSH_SECONDS = 0.5  # how often progress and results are written while a run works
_FLUSH_RESULTS = 100  # or as soon as this many results wait
_MAX_THREADS = 64


class RunInputError(DspyAshError, ValueError):
    """The run cannot start as created (no dataset, no metric, an empty split): it fails with this."""


@dataclass(slots=True)
class Lease:
    """The worker's claim on one run, named in every write that must be its own."""

    kind: RunKind
    tenant_id: uuid.UUID
    run_id: uuid.UUID
    owner: str

    @property
    def actor(self) -> str:
        return f"worker:{self.owner}"


@dataclass(slots=True)
class _Inputs:
    run: Run
    module: Any
    examples: list[Example]
    example_ids: list[uuid.UUID]
    splits: list[str | None]
    metric: Callable[..., Any] | None
    lm: LM


async def _inputs(services: Services, lease: Lease) -> _Inputs:
    async with services.db.transaction(tenant_id=lease.tenant_id) as session:
        run = await repos.runs.get_run(
            session, tenant_id=lease.tenant_id, kind=lease.kind, run_id=lease.run_id
        )
        program = await repos.programs.get_program(
            session, tenant_id=lease.tenant_id, program_id=run.program_id
        )
        version_id = run.base_version_id if lease.kind == "optimizer" else run.version_id  # type: ignore[union-attr]
        version = None
        if version_id is not None:
            version = await repos.versions.get_version(
                session, tenant_id=lease.tenant_id, version_id=version_id
            )
        if run.dataset_id is None:
            raise RunInputError("the run has no dataset: create it with `dataset_id`")
        dataset = await repos.datasets.get_dataset(
            session, tenant_id=lease.tenant_id, dataset_id=run.dataset_id
        )
        split = getattr(run, "split", None)
        rows = await repos.datasets.list_examples(
            session, tenant_id=lease.tenant_id, dataset_id=dataset.id, split=split
        )
        metric = await resolve_metric(session, tenant_id=lease.tenant_id, name=run.metric)
        lm = await provider_lm(
            services, session, provider=await default_provider(session, tenant_id=lease.tenant_id)
        )
    if not rows:
        raise RunInputError(f"the dataset has no examples{f' in split {split!r}' if split else ''}")
    examples = [Example(**row.data).with_inputs(*dataset.input_keys) for row in rows]
    module = build_module(services, program, version)
    return _Inputs(run, module, examples, [r.id for r in rows], [r.split for r in rows], metric, lm)


class _Progress:
    """Collects the optimizer's progress events (sent synchronously by the engine) for the writer."""

    event_kinds = frozenset({"progress"})

    def __init__(self, known_trials: list[dict[str, Any]], examples: int) -> None:
        self.trials: list[dict[str, Any]] = []
        self.message = ""
        self.changed = False  # since the last write: a quiet optimizer costs no writes
        self.fraction: float | None = None
        self.examples = examples
        self._seen = {_trial_identity(t) for t in known_trials}  # a resumed run re-announces none twice

    def on_event(self, event: Event) -> None:
        extra = {k: v for k, v in event.extra.items() if k != "optimizer"}
        self.changed = True
        self.message = f"{event.name} " + " ".join(f"{k}={_short(v)}" for k, v in extra.items())
        if event.name == "bootstrap_example" and isinstance(extra.get("index"), int):
            self.fraction = min(1.0, (extra["index"] + 1) / max(1, self.examples))
        if isinstance(extra.get("trial"), int) and isinstance(extra.get("total"), int) and extra["total"]:
            self.fraction = min(1.0, extra["trial"] / extra["total"])
        if event.name == "trial_finished" and isinstance(extra.get("score"), int | float):
            trial = to_jsonable(extra)
            identity = _trial_identity(trial)
            if identity not in self._seen:
                self._seen.add(identity)
                self.trials.append(trial)


def _trial_identity(trial: dict[str, Any]) -> str:
    return repr(sorted((k, repr(v)) for k, v in trial.items() if k not in ("lm_calls", "cost", "best_score")))


def _short(value: Any) -> str:
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return text[:40]


async def _write_progress(services: Services, lease: Lease, progress: _Progress) -> None:
    if not progress.changed:
        return
    progress.changed = False
    trials, progress.trials = progress.trials, []
    async with services.db.transaction(tenant_id=lease.tenant_id) as session:
        for trial in trials:
            await repos.runs.record_trial(
                session,
                tenant_id=lease.tenant_id,
                actor=lease.actor,
                kind=lease.kind,
                run_id=lease.run_id,
                trial=trial,
            )
        run = await repos.runs.get_run(
            session, tenant_id=lease.tenant_id, kind=lease.kind, run_id=lease.run_id
        )
        fraction = progress.fraction if progress.fraction is not None else run.progress
        await repos.runs.report_progress(
            session,
            tenant_id=lease.tenant_id,
            kind=lease.kind,
            run_id=lease.run_id,
            progress=min(0.99, max(run.progress, fraction)),  # 1.0 is for the finished run
            message=progress.message[:500],
        )


@contextlib.contextmanager
def _under(
    services: Services, lease: Lease, lm: LM, progress: _Progress | None, recorder: TraceRecorder
) -> Generator[None]:
    """The run's engine settings: the tenant's LM and cache namespace, the service's retriever, the trace
    recorder (every call the run makes is a trace of the run's program, its LM calls in the request log)
    and the run's progress listener."""
    callbacks = [*read("callbacks"), recorder, *([progress] if progress is not None else [])]
    overrides = engine_overrides(services)
    with settings.context(lm=lm, cache_namespace=str(lease.tenant_id), callbacks=callbacks, **overrides):
        yield


@contextlib.asynccontextmanager
async def _reporting(services: Services, lease: Lease, progress: _Progress) -> AsyncGenerator[None]:
    """Write the collected progress every _FLUSH_SECONDS while the block runs, and once more after it."""

    async def every_while() -> None:
        while True:
            await asyncio.sleep(_FLUSH_SECONDS)
            await _write_progress(services, lease, progress)

    task = asyncio.create_task(every_while())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await asyncio.shield(_write_progress(services, lease, progress))


async def run_optimizer(services: Services, lease: Lease) -> None:
    """Compile the run's program with its optimizer and store the result as the program's next version."""
    inputs = await _inputs(services, lease)
    run = inputs.run
    train = [e for e, s in zip(inputs.examples, inputs.splits, strict=True) if s in (None, "train")]
    dev = [e for e, s in zip(inputs.examples, inputs.splits, strict=True) if s == "dev"]
    optimizer = build_optimizer(run.optimizer, run.config, inputs.metric)  # type: ignore[union-attr]
    arguments: dict[str, Any] = {"trainset": train or inputs.examples}
    if dev and "valset" in inspect.signature(optimizer.acompile).parameters:
        arguments["valset"] = dev
    checkpoint = RunCheckpointStore(services.db.url, tenant_id=lease.tenant_id, run_id=lease.run_id)
    progress = _Progress(run.trials, len(arguments["trainset"]))
    recorder = await recorder_of(services)
    base_version = getattr(run, "base_version_id", None)

    def attributed() -> Any:  # the run's calls are traces of its program (and base version)
        return trace_context(tenant_id=lease.tenant_id, program_id=run.program_id, version_id=base_version)

    try:
        with attributed(), _under(services, lease, inputs.lm, progress, recorder):
            async with _reporting(services, lease, progress):
                compiled = await optimizer.acompile_observed(
                    inputs.module, **arguments, checkpoint=checkpoint, checkpoint_key="optimizer"
                )
    finally:
        await checkpoint.close()
    state = compiled.dump_state()
    async with services.db.transaction(tenant_id=lease.tenant_id) as session:
        done = await repos.runs.get_run(
            session, tenant_id=lease.tenant_id, kind="optimizer", run_id=lease.run_id
        )
    score, scores = done.score, {}
    if score is None and dev and inputs.metric is not None:
        # an optimizer that keeps no score (BootstrapFewShot, LabeledFewShot): the version is scored on
        # the dev split, so every version the service makes carries a score
        with attributed(), _under(services, lease, inputs.lm, None, recorder):
            evaluated = await Evaluate(devset=dev, metric=inputs.metric, num_threads=16).acall(compiled)
        score = scores["dev"] = evaluated.score
    await recorder.aflush()  # a finished run's traces can be read
    async with services.db.transaction(tenant_id=lease.tenant_id) as session:
        version = await repos.versions.create_version(
            session,
            tenant_id=lease.tenant_id,
            actor=lease.actor,
            program_id=run.program_id,
            state=state,
            parent_id=run.base_version_id,  # type: ignore[union-attr]
            optimizer_run_id=run.id,
            dataset_id=run.dataset_id,
            dataset_hash=run.dataset_hash,
            metric=run.metric,
            score=score,
            scores=scores,
            note=f"{run.optimizer} run {run.id}",  # type: ignore[union-attr]
        )
        await repos.runs.transition(
            session,
            tenant_id=lease.tenant_id,
            actor=lease.actor,
            kind="optimizer",
            run_id=lease.run_id,
            to="succeeded",
            owner=lease.owner,
            result_version_id=version.id,
        )


async def run_evaluation(services: Services, lease: Lease) -> None:
    """Run the program on every example without a result yet, score it, and write the results as they
    come (idempotent per example); the run's score is DSPy's: the mean over all examples, in percent,
    an example that failed counting 0."""
    inputs = await _inputs(services, lease)
    if inputs.metric is None:
        raise RunInputError("an evaluation needs a metric: create the run with `metric`")
    metric = inputs.metric
    async with services.db.transaction(tenant_id=lease.tenant_id) as session:
        done = await repos.evaluations.recorded_positions(
            session, tenant_id=lease.tenant_id, run_id=lease.run_id
        )
    rows = inputs.example_ids
    pending = [i for i in range(len(inputs.examples)) if i not in done]
    threads = int(inputs.run.config.get("num_threads") or 8)
    gate = asyncio.Semaphore(max(1, min(_MAX_THREADS, threads)))
    results: list[dict[str, Any]] = []
    recorded = len(done)
    wrote = asyncio.Event()

    ids = {"tenant_id": lease.tenant_id, "program_id": inputs.run.program_id,
           "version_id": getattr(inputs.run, "version_id", None)}  # fmt: skip

    async def one(index: int) -> None:
        example = inputs.examples[index]
        trace_id = uuid.uuid4()  # the example's execution is this trace (its result row links it)
        async with gate:
            try:
                with trace_context(**ids, trace_id=trace_id):
                    prediction = await inputs.module.acall(**example.inputs())
                score = float(await call_metric(metric, example, prediction))
                result = {"prediction": execution_outputs(prediction), "score": score}
            except Exception as exc:  # one failing example is its row's error, not the run's
                result = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
            results.append({"position": index, "example_id": rows[index], "trace_id": trace_id, **result})
        if len(results) >= _FLUSH_RESULTS:
            wrote.set()

    async def write(batch: list[dict[str, Any]]) -> int:
        """The batch's results and the run's progress, in one transaction; how many results were new."""
        async with services.db.transaction(tenant_id=lease.tenant_id) as session:
            added = await repos.evaluations.add_results(
                session, tenant_id=lease.tenant_id, actor=lease.actor, run_id=lease.run_id, results=batch
            )
            await repos.runs.report_progress(
                session,
                tenant_id=lease.tenant_id,
                kind="evaluation",
                run_id=lease.run_id,
                progress=min(0.99, (recorded + added) / len(inputs.examples)),
                message=f"{recorded + added}/{len(inputs.examples)} examples",
            )
            return added

    async def flush() -> None:
        nonlocal recorded
        batch, results[:] = list(results), []
        await recorder.aflush()  # the results' traces are written first: a result names its trace
        try:
            recorded += await write(batch)
        except NotFoundError:  # a trace the recorder dropped (its queue was full): keep the results
            recorded += await write([{**r, "trace_id": None} for r in batch])

    finished = asyncio.Event()

    async def writer() -> None:
        while not finished.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wrote.wait(), _FLUSH_SECONDS)
            wrote.clear()
            if results:
                await flush()

    recorder = await recorder_of(services)
    with _under(services, lease, inputs.lm, None, recorder):
        writing = asyncio.create_task(writer())
        try:
            await asyncio.gather(*(one(i) for i in pending))
        finally:
            # the writer ends after the flush it may be in (cancelling it there would lose that batch)
            finished.set()
            wrote.set()
            with contextlib.suppress(Exception):
                await writing
            if results:
                await flush()  # what finished is kept, also when the run is cancelled or fails
    async with services.db.transaction(tenant_id=lease.tenant_id) as session:
        figures = await repos.evaluations.summarize(session, tenant_id=lease.tenant_id, run_id=lease.run_id)
        total = figures["mean_score"] or 0.0
        scored = figures["count"] - figures["errors"]
        score = round(100.0 * total * scored / len(inputs.examples), 2)
        await repos.runs.transition(
            session,
            tenant_id=lease.tenant_id,
            actor=lease.actor,
            kind="evaluation",
            run_id=lease.run_id,
            to="succeeded",
            owner=lease.owner,
            score=score,
        )


RUN_FUNCTIONS: dict[RunKind, Callable[[Services, Lease], Any]] = {
    "optimizer": run_optimizer,
    "evaluation": run_evaluation,
}
