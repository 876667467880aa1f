"""Candidate demo sets by seed, as random search and MIPROv2 build them (DSPy's scheme).

Seed -3 is the zero-shot program, -2 labeled demos only, -1 a bootstrap of the unshuffled trainset,
and later seeds bootstrap a shuffled trainset with a drawn number of demos. Random search draws each
seed's shuffle and size from `Random(seed)`; MIPROv2 (`create_n_fewshot_demo_sets`) draws them one
after another from one shared `rng`. Here the draws are made first, in DSPy's order, then the
bootstraps run concurrently; each one is checkpointed under its seed.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

from dspy_ash.optimizers._bootstrap import BootstrapFewShot
from dspy_ash.optimizers._gather import gather_all
from dspy_ash.optimizers._labeled_fewshot import LabeledFewShot
from dspy_ash.optimizers.checkpoint._session import CheckpointSession


@dataclass(frozen=True)
class CandidateBuilder:
    """How every candidate of one run is built: the bootstrap's settings, shared by all seeds."""

    metric: Any
    max_labeled_demos: int
    max_errors: int
    metric_threshold: float | None = None
    teacher_settings: dict[str, Any] = field(default_factory=dict[str, Any])
    max_rounds: int = 1
    num_threads: int | None = None
    labeled_sample: bool = True

    async def build(
        self,
        seed: int,
        student: Any,
        teacher: Any,
        data: list[Any],
        size: int | None,
        session: CheckpointSession,
        section: tuple[str, ...],
    ) -> Any:
        """The candidate for `seed` on `data` (in its drawn order): `size` bootstrapped demos, checkpointed
        in `section`, or, with no size, the zero-shot program (seed -3) or labeled demos only."""
        if size is None:
            if seed == -3:
                return student.reset_copy()
            return LabeledFewShot(k=self.max_labeled_demos).apply(student, data, sample=self.labeled_sample)
        optimizer = BootstrapFewShot(
            metric=self.metric,
            metric_threshold=self.metric_threshold,
            max_bootstrapped_demos=size,
            max_labeled_demos=self.max_labeled_demos,
            teacher_settings=self.teacher_settings,
            max_rounds=self.max_rounds,
            max_errors=self.max_errors,
            num_threads=self.num_threads,
        )
        return await optimizer.bootstrap(student, teacher, data, session, session.section(*section))


def plan_demo_sets(
    trainset: list[Any],
    num_candidate_sets: int,
    max_labeled_demos: int,
    max_bootstrapped_demos: int,
    rng: random.Random,
    *,
    min_num_samples: int = 1,
    include_non_bootstrapped: bool = True,
) -> list[tuple[int, list[Any], int | None]]:
    """DSPy's draws for `create_n_fewshot_demo_sets`, in its order: per seed, the trainset order and the
    bootstrap size (None: the zero-shot program for seed -3, labeled demos only for seed -2)."""
    plan: list[tuple[int, list[Any], int | None]] = []
    for seed in range(-3, num_candidate_sets - 3):
        trainset_copy = list(trainset)
        if include_non_bootstrapped and (seed == -3 or (seed == -2 and max_labeled_demos > 0)):
            plan.append((seed, trainset_copy, None))
        elif seed == -1:
            plan.append((seed, trainset_copy, max_bootstrapped_demos))
        else:  # DSPy's fall-through: also seed -2 when there are no labeled demos
            rng.shuffle(trainset_copy)
            plan.append((seed, trainset_copy, rng.randint(min_num_samples, max_bootstrapped_demos)))
    return plan


async def create_n_fewshot_demo_sets(
    builder: CandidateBuilder,
    student: Any,
    teacher: Any,
    trainset: list[Any],
    num_candidate_sets: int,
    max_bootstrapped_demos: int,
    *,
    session: CheckpointSession,
    rng: random.Random,
    min_num_samples: int = 1,
    include_non_bootstrapped: bool = True,
    max_concurrent: int = 4,
) -> dict[int, list[list[Any]]]:
    """MIPROv2's step 1: per predictor, the demos of each candidate set, in seed order."""
    plan = plan_demo_sets(
        trainset,
        num_candidate_sets,
        builder.max_labeled_demos,
        max_bootstrapped_demos,
        rng,
        min_num_samples=min_num_samples,
        include_non_bootstrapped=include_non_bootstrapped,
    )
    gate = asyncio.Semaphore(max(1, max_concurrent))

    async def build(seed: int, data: list[Any], size: int | None) -> Any:
        section = ("demo_sets", str(seed))
        if size is None:  # no LM calls: not gated
            return await builder.build(seed, student, teacher, data, size, session, section)
        async with gate:
            return await builder.build(seed, student, teacher, data, size, session, section)

    programs = await gather_all(*(build(*item) for item in plan))
    demo_candidates: dict[int, list[list[Any]]] = {i: [] for i, _ in enumerate(student.predictors())}
    for program in programs:
        for i, predictor in enumerate(program.predictors()):
            demo_candidates[i].append(predictor.demos)
    return demo_candidates
