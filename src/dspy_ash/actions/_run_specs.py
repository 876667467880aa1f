"""What a run's request names, made into engine objects: its optimizer with its arguments, its metric.

Checked when the run is created (a bad argument or an unknown metric is a 422 then, not a failed run an
hour later) and used again by the worker that runs it, so both read one definition.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash import evaluate, optimizers
from dspy_ash.store import InvalidValueError
from dspy_ash.store.models import MetricDefinition
from dspy_ash.store.repos.metrics import BUILTIN_METRICS

# the worker passes these itself: a request that sets them would fight the service
_SET_BY_THE_RUN = frozenset({"self", "metric", "checkpoint", "checkpoint_key", "callbacks"})
_JSON_TYPES = (str, int, float, bool, type(None), list, dict)


def optimizer_class(name: str) -> type[Any]:
    found = getattr(optimizers, name, None)
    if not (isinstance(found, type) and issubclass(found, optimizers.Teleprompter)):
        raise InvalidValueError("optimizer", f"{name!r} is not an optimizer of dspy-ash")
    return found


def check_optimizer_config(name: str, config: dict[str, Any]) -> None:
    """The config must be the optimizer's constructor's keyword arguments, every required one given."""
    parameters = inspect.signature(optimizer_class(name).__init__).parameters
    named = {
        key: p
        for key, p in parameters.items()
        if key not in _SET_BY_THE_RUN and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }
    unknown = sorted(set(config) - set(named))
    if unknown:
        raise InvalidValueError(
            "config", f"{name} takes no argument {unknown[0]!r}; it takes {sorted(named)}"
        )
    missing = [key for key, p in named.items() if p.default is p.empty and key not in config]
    if missing:
        raise InvalidValueError("config", f"{name} needs {missing} (objects the service cannot build yet)")
    for key, value in config.items():
        if not isinstance(value, _JSON_TYPES):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidValueError(f"config.{key}", "must be a JSON value")


def build_optimizer(name: str, config: dict[str, Any], metric: Callable[..., Any] | None) -> Any:
    cls = optimizer_class(name)
    takes_metric = "metric" in inspect.signature(cls.__init__).parameters
    return cls(**config, metric=metric) if takes_metric else cls(**config)


async def resolve_metric(
    session: AsyncSession, *, tenant_id: uuid.UUID, name: str | None
) -> Callable[..., Any] | None:
    """A builtin metric by its name, or the tenant's metric definition of that name (InvalidValueError
    for neither). Only builtin definitions run today; an LM-judged one is refused by name."""
    if name is None:
        return None
    config: dict[str, Any] = {"name": name}
    kind = "builtin"
    if name not in BUILTIN_METRICS:
        stmt = select(MetricDefinition).where(
            MetricDefinition.tenant_id == tenant_id, MetricDefinition.name == name
        )
        definition = (await session.execute(stmt)).scalar_one_or_none()
        if definition is None:
            known = sorted(BUILTIN_METRICS)
            raise InvalidValueError(
                "metric", f"no metric {name!r}: a builtin one ({known}) or one you defined"
            )
        kind, config = definition.kind, definition.config
    if kind != "builtin":
        raise InvalidValueError("metric", f"{name!r} is a {kind} metric; runs use builtin metrics so far")
    metric = getattr(evaluate, BUILTIN_METRICS[config["name"]])
    return metric() if isinstance(metric, type) else metric
