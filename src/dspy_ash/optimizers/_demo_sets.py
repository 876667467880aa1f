"""`create_n_fewshot_demo_sets`: MIPROv2's candidate demo sets, built like random search's candidates.

DSPy builds them one after another with one shared `rng`. Here the random draws (shuffles and
sizes) are made first in DSPy's order, then the bootstraps run concurrently; each set's bootstrap is
checkpointed under its seed.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from dspy_ash.optimizers._session import CheckpointSession
from dspy_ash.optimizers._tasks import gather_all
from dspy_ash.optimizers.bootstrap import BootstrapFewShot
from dspy_ash.optimizers.labeled_fewshot import LabeledFewShot


async def create_n_fewshot_demo_sets(
    student: Any,
    num_candidate_sets: int,
    trainset: list[Any],
    max_labeled_demos: int,
    max_bootstrapped_demos: int,
    metric: Any,
    teacher_settings: dict[str, Any],
    *,
    session: CheckpointSession,
    max_errors: int,
    max_rounds: int = 1,
    labeled_sample: bool = True,
    min_num_samples: int = 1,
    metric_threshold: float | None = None,
    teacher: Any = None,
    include_non_bootstrapped: bool = True,
    rng: random.Random,
    num_threads: int | None = None,
    max_concurrent: int = 4,
) -> dict[int, list[list[Any]]]:
    plan: list[tuple[int, list[Any], int | None]] = []  # (seed, trainset order, bootstrap size or None)
    for seed in range(-3, num_candidate_sets - 3):
        trainset_copy = list(trainset)
        if include_non_bootstrapped and (seed == -3 or (seed == -2 and max_labeled_demos > 0)):
            plan.append((seed, trainset_copy, None))
        elif seed == -1:
            plan.append((seed, trainset_copy, max_bootstrapped_demos))
        else:  # DSPy's fall-through: also seed -2 when there are no labeled demos
            rng.shuffle(trainset_copy)
            plan.append((seed, trainset_copy, rng.randint(min_num_samples, max_bootstrapped_demos)))
    gate = asyncio.Semaphore(max(1, max_concurrent))

    async def build(seed: int, data: list[Any], size: int | None) -> Any:
        if size is None:
            if seed == -3:
                return student.reset_copy()
            return LabeledFewShot(k=max_labeled_demos).apply(student, data, sample=labeled_sample)
        async with gate:
            optimizer = BootstrapFewShot(
                metric=metric,
                max_errors=max_errors,
                metric_threshold=metric_threshold,
                max_bootstrapped_demos=size,
                max_labeled_demos=max_labeled_demos,
                teacher_settings=teacher_settings,
                max_rounds=max_rounds,
                num_threads=num_threads,
            )
            return await optimizer.bootstrap(
                student, teacher, data, session, session.section("demo_sets", str(seed))
            )

    programs = await gather_all(*(build(*item) for item in plan))
    demo_candidates: dict[int, list[list[Any]]] = {i: [] for i, _ in enumerate(student.predictors())}
    for program in programs:
        for i, predictor in enumerate(program.predictors()):
            demo_candidates[i].append(predictor.demos)
    return demo_candidates
