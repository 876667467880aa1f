"""Scoring a candidate program on a dev set inside an optimizer, one checkpointed example at a time.

Like `Evaluate` (same score: the percentage of the summed metric, rounded to 2 places; failures
count `failure_score`; stop once `max_errors` examples failed), but every finished example's score
lands in the run's checkpoint, so a resumed run re-scores only what was not finished.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from dspy_ash.evaluate._calling import call_metric, run_program
from dspy_ash.optimizers.checkpoint._records import score_to_json
from dspy_ash.optimizers.checkpoint._session import CheckpointSession
from dspy_ash.primitives._concurrency import TooManyErrors, run_bounded

logger = logging.getLogger("dspy_ash.optimizers")


async def score_program(
    program: Any,
    devset: list[Any],
    metric: Callable[..., Any],
    *,
    num_threads: int,
    max_errors: int,
    session: CheckpointSession,
    record: dict[str, Any],
    failure_score: float = 0.0,
) -> tuple[float, list[Any]]:
    """(score in percent, per-example scores in devset order); `record` is this evaluation's section."""
    scores: dict[str, Any] = record.setdefault("scores", {})
    errors: dict[str, str] = record.setdefault("errors", {})
    if len(errors) >= max_errors:
        raise TooManyErrors(f"Execution cancelled: {len(errors)} items failed (max_errors={max_errors}).")
    todo = [i for i in range(len(devset)) if str(i) not in scores and str(i) not in errors]

    async def one(index: int) -> None:
        example = devset[index]
        try:
            prediction = await run_program(program, example)
            scoring = asyncio.ensure_future(call_metric(metric, example, prediction))
            try:
                value = await asyncio.shield(scoring)
            except asyncio.CancelledError:  # the prediction is paid for: keep its score if it comes
                scoring.add_done_callback(lambda done: _record_late(scores, index, done))
                session.keep_late(scoring)
                raise
        except Exception as exc:
            errors[str(index)] = f"{type(exc).__name__}: {exc}"
            logger.error("Error for example %d: %r", index, exc)
            await session.save()
            raise
        scores[str(index)] = score_to_json(value)
        await session.save()

    if todo:
        await run_bounded(todo, one, limit=max(1, num_threads), max_errors=max_errors - 1 - len(errors))
    subscores = [scores.get(str(i), failure_score) for i in range(len(devset))]
    return round(100 * sum(subscores) / len(devset), 2), subscores


def _record_late(scores: dict[str, Any], index: int, done: asyncio.Future[Any]) -> None:
    if not done.cancelled() and done.exception() is None:
        scores[str(index)] = score_to_json(done.result())
