"""Optimization and evaluation runs: created `queued`, read with their progress, trials and score, cancelled.

These actions persist runs and move them along the state machine (queued -> running -> succeeded |
failed | cancelled, and back to queued to resume; an edge it lacks is a 409). Running them is the job
system's work (`dspy_ash.jobs`): a worker claims queued runs, reports progress and trials, and finishes
them; a cancelled running run is stopped by its worker at its next lease renewal.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from dspy_ash.actions._context import ActionContext
from dspy_ash.actions._paging import page_of
from dspy_ash.actions._registry import Http, action
from dspy_ash.actions._run_specs import check_optimizer_config, resolve_metric
from dspy_ash.actions._schemas import ListRequest, Page, Public, Request
from dspy_ash.store import repos
from dspy_ash.store.models import EvaluationResultRow, EvaluationRun, OptimizerRun
from dspy_ash.store.repos.runs import RunKind

Status = Literal["queued", "running", "succeeded", "failed", "cancelled"]
Split = Literal["train", "dev", "test"]
Optimizer = Literal[
    "BetterTogether",
    "BootstrapFewShot",
    "BootstrapFewShotWithOptuna",
    "BootstrapFewShotWithRandomSearch",
    "BootstrapFinetune",
    "BootstrapRS",
    "COPRO",
    "Ensemble",
    "GEPA",
    "InferRules",
    "KNNFewShot",
    "LabeledFewShot",
    "MIPROv2",
    "SIMBA",
]
METRIC = Field(
    None,
    max_length=200,
    pattern=r"^[A-Za-z_][\w.:-]*$",
    description="a metric by name",
    examples=["answer_exact_match"],
)
SORTS = ("created_at", "updated_at")


class OptimizerRunCreate(Request):
    program_id: uuid.UUID
    base_version_id: uuid.UUID | None = Field(
        None, description="the version to start from; default: the program"
    )
    dataset_id: uuid.UUID | None = None
    optimizer: Optimizer = Field(examples=["BootstrapFewShot"])
    config: dict[str, Any] = Field(default_factory=dict, description="the optimizer's constructor arguments")
    metric: str | None = METRIC


class EvaluationRunCreate(Request):
    program_id: uuid.UUID
    version_id: uuid.UUID | None = Field(None, description="default: the program as its code defines it")
    dataset_id: uuid.UUID | None = None
    split: Split | None = Field(None, description="only this split of the dataset")
    config: dict[str, Any] = Field(
        default_factory=dict, description="Evaluate's arguments (num_threads, ...)"
    )
    metric: str | None = METRIC

    @model_validator(mode="after")
    def _split_needs_dataset(self) -> EvaluationRunCreate:
        if self.split is not None and self.dataset_id is None:
            raise ValueError("a split is a split of a dataset: give `dataset_id`")
        return self


class RunPublic(Public):
    id: uuid.UUID
    program_id: uuid.UUID
    dataset_id: uuid.UUID | None
    dataset_hash: str | None
    status: Status
    config: dict[str, Any]
    metric: str | None
    progress: float = Field(description="0 to 1")
    progress_message: str
    trials: list[dict[str, Any]] = Field(description="per trial: its number, score and parameters")
    score: float | None = Field(description="the best trial's score, or the evaluation's")
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime


class OptimizerRunPublic(RunPublic):
    optimizer: str
    base_version_id: uuid.UUID | None
    result_version_id: uuid.UUID | None = Field(description="the version the run made, once it succeeded")


class EvaluationRunPublic(RunPublic):
    version_id: uuid.UUID | None
    split: str | None


class RunList(ListRequest):
    status: Status | None = None
    program_id: uuid.UUID | None = None
    sort: str = Field(
        "-created_at", max_length=64, description="`created_at` or `updated_at`; `-` for descending"
    )


class RunRef(Request):
    run_id: uuid.UUID


class ResultList(ListRequest):
    run_id: uuid.UUID
    sort: str = Field("position", max_length=64, description="`position` or `-position`")


class ResultPublic(Public):
    id: uuid.UUID
    position: int
    example_id: uuid.UUID | None
    prediction: dict[str, Any] | None
    score: float | None
    error: str | None
    trace_id: uuid.UUID | None


class EvaluationSummary(Public):
    run_id: uuid.UUID
    status: Status
    progress: float
    score: float | None
    count: int = Field(description="results recorded")
    mean_score: float | None
    errors: int


@action("optimizer_runs.create", resource="optimizer_run", kind="create", scope="runs:write",
        http=Http("POST", "/programs/{program_id}/optimizer-runs", status=201), idempotent=True)  # fmt: skip
async def create_optimizer_run(ctx: ActionContext, request: OptimizerRunCreate) -> OptimizerRunPublic:
    """Queue an optimization run (status `queued`); a worker of the job system runs it. The optimizer's
    arguments and the metric are checked now (422), not when a worker gets to the run."""
    check_optimizer_config(request.optimizer, request.config)
    await resolve_metric(ctx.session, tenant_id=ctx.tenant_id, name=request.metric)
    run = await repos.runs.create_optimizer_run(
        ctx.session,
        tenant_id=ctx.tenant_id,
        actor=ctx.subject,
        program_id=request.program_id,
        optimizer=request.optimizer,
        config=request.config,
        metric=request.metric,
        dataset_id=request.dataset_id,
        base_version_id=request.base_version_id,
    )
    return OptimizerRunPublic.model_validate(run)


@action("evaluation_runs.create", resource="evaluation_run", kind="create", scope="runs:write",
        http=Http("POST", "/programs/{program_id}/evaluation-runs", status=201), idempotent=True)  # fmt: skip
async def create_evaluation_run(ctx: ActionContext, request: EvaluationRunCreate) -> EvaluationRunPublic:
    """Queue an evaluation run (status `queued`) of a program version on a dataset or one of its splits;
    a worker of the job system runs it. The run keeps the hash of exactly the examples it is to use."""
    await resolve_metric(ctx.session, tenant_id=ctx.tenant_id, name=request.metric)
    dataset_hash = None
    if request.dataset_id is not None and request.split is not None:
        dataset_hash = await repos.datasets.examples_hash(
            ctx.session, tenant_id=ctx.tenant_id, dataset_id=request.dataset_id, split=request.split
        )
    run = await repos.runs.create_evaluation_run(
        ctx.session,
        tenant_id=ctx.tenant_id,
        actor=ctx.subject,
        program_id=request.program_id,
        version_id=request.version_id,
        dataset_id=request.dataset_id,
        split=request.split,
        dataset_hash=dataset_hash,
        config=request.config,
        metric=request.metric,
    )
    return EvaluationRunPublic.model_validate(run)


@action("optimizer_runs.get", resource="optimizer_run", kind="read", scope="runs:read",
        http=Http("GET", "/optimizer-runs/{run_id}"))  # fmt: skip
async def get_optimizer_run(ctx: ActionContext, request: RunRef) -> OptimizerRunPublic:
    """An optimization run with its progress, trials, score and error."""
    run = await repos.runs.get_run(
        ctx.session, tenant_id=ctx.tenant_id, kind="optimizer", run_id=request.run_id
    )
    return OptimizerRunPublic.model_validate(run)


@action("evaluation_runs.get", resource="evaluation_run", kind="read", scope="runs:read",
        http=Http("GET", "/evaluation-runs/{run_id}"))  # fmt: skip
async def get_evaluation_run(ctx: ActionContext, request: RunRef) -> EvaluationRunPublic:
    """An evaluation run with its progress, score and error."""
    run = await repos.runs.get_run(
        ctx.session, tenant_id=ctx.tenant_id, kind="evaluation", run_id=request.run_id
    )
    return EvaluationRunPublic.model_validate(run)


@action("optimizer_runs.list", resource="optimizer_run", kind="list", scope="runs:read",
        http=Http("GET", "/optimizer-runs"))  # fmt: skip
async def list_optimizer_runs(ctx: ActionContext, request: RunList) -> Page[OptimizerRunPublic]:
    """List optimization runs, newest first; filter by status or program."""
    equal = {"status": request.status, "program_id": request.program_id}
    return await page_of(ctx, OptimizerRun, OptimizerRunPublic, request, sorts=SORTS, equal=equal)


@action("evaluation_runs.list", resource="evaluation_run", kind="list", scope="runs:read",
        http=Http("GET", "/evaluation-runs"))  # fmt: skip
async def list_evaluation_runs(ctx: ActionContext, request: RunList) -> Page[EvaluationRunPublic]:
    """List evaluation runs, newest first; filter by status or program."""
    equal = {"status": request.status, "program_id": request.program_id}
    return await page_of(ctx, EvaluationRun, EvaluationRunPublic, request, sorts=SORTS, equal=equal)


async def _cancel(ctx: ActionContext, kind: RunKind, run_id: uuid.UUID) -> Any:
    """queued|running -> cancelled; any other state is IllegalTransitionError (409)."""
    return await repos.runs.transition(
        ctx.session, tenant_id=ctx.tenant_id, actor=ctx.subject, kind=kind, run_id=run_id, to="cancelled"
    )


@action("optimizer_runs.cancel", resource="optimizer_run", kind="update", scope="runs:write",
        http=Http("POST", "/optimizer-runs/{run_id}/cancel"))  # fmt: skip
async def cancel_optimizer_run(ctx: ActionContext, request: RunRef) -> OptimizerRunPublic:
    """Cancel a queued or running optimization run; a finished one is a 409 (illegal transition)."""
    run = await _cancel(ctx, "optimizer", request.run_id)
    return OptimizerRunPublic.model_validate(run)


@action("evaluation_runs.cancel", resource="evaluation_run", kind="update", scope="runs:write",
        http=Http("POST", "/evaluation-runs/{run_id}/cancel"))  # fmt: skip
async def cancel_evaluation_run(ctx: ActionContext, request: RunRef) -> EvaluationRunPublic:
    """Cancel a queued or running evaluation run; a finished one is a 409 (illegal transition)."""
    run = await _cancel(ctx, "evaluation", request.run_id)
    return EvaluationRunPublic.model_validate(run)


async def _resume(ctx: ActionContext, kind: RunKind, run_id: uuid.UUID) -> Any:
    """failed|cancelled -> queued: a worker picks it up from its checkpoint (finished work is kept)."""
    return await repos.runs.transition(
        ctx.session, tenant_id=ctx.tenant_id, actor=ctx.subject, kind=kind, run_id=run_id, to="queued"
    )


@action("optimizer_runs.resume", resource="optimizer_run", kind="update", scope="runs:write",
        http=Http("POST", "/optimizer-runs/{run_id}/resume"))  # fmt: skip
async def resume_optimizer_run(ctx: ActionContext, request: RunRef) -> OptimizerRunPublic:
    """Queue a failed or cancelled optimization run again; it resumes from its checkpoint, repeating no
    finished trial. Any other state is a 409."""
    return OptimizerRunPublic.model_validate(await _resume(ctx, "optimizer", request.run_id))


@action("evaluation_runs.resume", resource="evaluation_run", kind="update", scope="runs:write",
        http=Http("POST", "/evaluation-runs/{run_id}/resume"))  # fmt: skip
async def resume_evaluation_run(ctx: ActionContext, request: RunRef) -> EvaluationRunPublic:
    """Queue a failed or cancelled evaluation run again; examples with a result are not run again.
    Any other state is a 409."""
    return EvaluationRunPublic.model_validate(await _resume(ctx, "evaluation", request.run_id))


@action("evaluation_runs.results", resource="evaluation_result", kind="list", scope="runs:read",
        http=Http("GET", "/evaluation-runs/{run_id}/results"))  # fmt: skip
async def list_evaluation_results(ctx: ActionContext, request: ResultList) -> Page[ResultPublic]:
    """An evaluation run's per-example results, in example order."""
    await repos.runs.get_run(ctx.session, tenant_id=ctx.tenant_id, kind="evaluation", run_id=request.run_id)
    mine = EvaluationResultRow.run_id == request.run_id
    return await page_of(ctx, EvaluationResultRow, ResultPublic, request, mine, sorts=("position",))


@action("evaluation_runs.summary", resource="evaluation_run", kind="read", scope="runs:read",
        http=Http("GET", "/evaluation-runs/{run_id}/summary"))  # fmt: skip
async def summarize_evaluation_run(ctx: ActionContext, request: RunRef) -> EvaluationSummary:
    """How far an evaluation run got: results recorded, their mean score and errors (one SQL aggregate)."""
    run = await repos.runs.get_run(
        ctx.session, tenant_id=ctx.tenant_id, kind="evaluation", run_id=request.run_id
    )
    figures = await repos.evaluations.summarize(ctx.session, tenant_id=ctx.tenant_id, run_id=request.run_id)
    return EvaluationSummary.model_validate(
        {"run_id": run.id, "status": run.status, "progress": run.progress, "score": run.score, **figures}
    )
