"""Metric definitions: a tenant's named metrics for evaluations and optimizer runs.

Two kinds, each with its config's shape checked here (InvalidValueError naming the field otherwise):

- `builtin`: `{"name": ...}`, one of BUILTIN_METRICS: the engine's metrics that score an (example,
  prediction) pair, mapped to their name in `dspy_ash.evaluate` (the store cannot import the engine's
  evaluate; a test keeps the map true).
- `lm_judge`: `{"provider_id": ..., "model": ..., "instructions": ..., "output_field": ...}`, an LM
  of one of the tenant's providers asked to score, its verdict read from `output_field`. The provider
  must be the tenant's when the metric is defined; one deleted later is for the layer that runs it.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store._errors import InvalidValueError
from dspy_ash.store.models import METRIC_KINDS, LMProvider, MetricDefinition
from dspy_ash.store.repos import audit
from dspy_ash.store.repos._base import check_owned, get_owned, list_owned

# name in a definition -> its name in dspy_ash.evaluate
BUILTIN_METRICS: dict[str, str] = {
    "answer_exact_match": "answer_exact_match",
    "exact_match": "answer_exact_match",  # the design's name: exact match of the `answer` field
    "f1_score": "answer_f1",  # token F1 of the `answer` field
    "answer_passage_match": "answer_passage_match",
    "passage_match": "answer_passage_match",
    "semantic_f1": "SemanticF1",
}
LM_JUDGE_KEYS = ("provider_id", "model", "instructions", "output_field")


async def create_metric(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    name: str,
    kind: str,
    config: dict[str, Any],
    description: str = "",
) -> MetricDefinition:
    """ConflictError for a name the tenant has; NotFoundError for an lm_judge's provider not the tenant's."""
    checked = await _checked_config(session, tenant_id, kind, config)
    row = MetricDefinition(tenant_id=tenant_id, name=name, kind=kind, config=checked, description=description)
    return await audit.create_named(
        session, row, tenant_id=tenant_id, actor=actor, name=name, noun="metric",
        resource=MetricDefinition.__tablename__,
    )  # fmt: skip


async def get_metric(
    session: AsyncSession, *, tenant_id: uuid.UUID, metric_id: uuid.UUID
) -> MetricDefinition:
    return await get_owned(session, MetricDefinition, tenant_id=tenant_id, id=metric_id)


async def list_metrics(session: AsyncSession, *, tenant_id: uuid.UUID) -> list[MetricDefinition]:
    return await list_owned(session, MetricDefinition, tenant_id=tenant_id, order_by=MetricDefinition.name)


async def delete_metric(
    session: AsyncSession, *, tenant_id: uuid.UUID, actor: str, metric_id: uuid.UUID
) -> None:
    row = await get_owned(session, MetricDefinition, tenant_id=tenant_id, id=metric_id)
    await audit.delete(session, tenant_id=tenant_id, actor=actor, row=row)


async def _checked_config(
    session: AsyncSession, tenant_id: uuid.UUID, kind: str, config: Any
) -> dict[str, Any]:
    if kind not in METRIC_KINDS:
        raise InvalidValueError("kind", f"must be one of {METRIC_KINDS}, not {kind!r}")
    if not isinstance(config, dict):
        raise InvalidValueError("config", "must be a JSON object")
    given: dict[str, Any] = dict(config)  # pyright: ignore[reportUnknownArgumentType]
    expected = ("name",) if kind == "builtin" else LM_JUDGE_KEYS
    if set(given) != set(expected):
        raise InvalidValueError("config", f"a {kind} metric's config has exactly the keys {list(expected)}")
    if kind == "builtin":
        if given["name"] not in BUILTIN_METRICS:
            raise InvalidValueError("config.name", f"must be one of {sorted(BUILTIN_METRICS)}")
        return given
    for key in LM_JUDGE_KEYS:
        if not isinstance(given[key], str) or (key != "instructions" and not given[key].strip()):
            raise InvalidValueError(f"config.{key}", "must be a non-empty string")
    if not given["output_field"].isidentifier():
        raise InvalidValueError("config.output_field", "must be a field name (an identifier)")
    try:
        provider_id = uuid.UUID(given["provider_id"])
    except ValueError:
        raise InvalidValueError("config.provider_id", "must be a provider's id") from None
    await check_owned(session, LMProvider, [provider_id], tenant_id=tenant_id)
    return {**given, "provider_id": str(provider_id)}
