"""`BootstrapFewShotWithRandomSearch` (`BootstrapRS`): many bootstrapped demo sets, keep the best.

Candidates are DSPy's: seed -3 zero-shot, -2 labeled only, -1 unshuffled bootstrap, and seeds >= 0
bootstrapping a `Random(seed)`-shuffled trainset with `Random(seed).randint(1, max_bootstrapped_demos)`
demos. Here up to `max_concurrent_candidates` candidates are built and scored at once (each scoring
`num_threads` examples at a time); the winner, the early stop at `stop_at_score` and
`candidate_programs` are then decided in seed order, so the result equals DSPy's sequential loop.
Candidates past an early stop may have been scored speculatively; they are left out as in DSPy.

Checkpoints (`checkpoint=`, `checkpoint_key=` on the constructor or `compile`): every bootstrapped
example and every scored validation example of every candidate is saved as it finishes; a restarted
run rebuilds finished candidates from the saved records without LM calls and continues the rest.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from dspy_ash.errors import NoCandidateError
from dspy_ash.optimizers._demo_candidates import CandidateBuilder
from dspy_ash.optimizers._scoring import score_program
from dspy_ash.optimizers.checkpoint import Checkpoint
from dspy_ash.optimizers.checkpoint._run import CheckpointedTeleprompter, programs_fingerprint
from dspy_ash.optimizers.checkpoint._session import CheckpointSession
from dspy_ash.settings import settings

logger = logging.getLogger("dspy_ash.optimizers.random_search")


class BootstrapFewShotWithRandomSearch(CheckpointedTeleprompter):
    """Compiles `num_candidate_programs` candidates (zero-shot, labeled-only, and bootstrapped with
    shuffled trainsets and random demo counts), scores each on the valset with `metric`, and returns
    the best (`stop_at_score` stops early). `max_concurrent_candidates` are evaluated at once."""

    kind = "BootstrapFewShotWithRandomSearch"

    def __init__(
        self,
        metric: Any,
        teacher_settings: dict[str, Any] | None = None,
        max_bootstrapped_demos: int = 4,
        max_labeled_demos: int = 16,
        max_rounds: int = 1,
        num_candidate_programs: int = 16,
        num_threads: int | None = None,
        max_errors: int | None = None,
        stop_at_score: float | None = None,
        metric_threshold: float | None = None,
        *,
        max_concurrent_candidates: int = 4,
        checkpoint: Checkpoint = None,
        checkpoint_key: str | None = None,
    ) -> None:
        super().__init__(checkpoint, checkpoint_key)
        self.metric = metric
        self.teacher_settings = teacher_settings or {}
        self.max_rounds = max_rounds
        self.num_threads = num_threads
        self.stop_at_score = stop_at_score
        self.metric_threshold = metric_threshold
        self.min_num_samples = 1
        self.max_num_samples = max_bootstrapped_demos
        self.max_errors = max_errors
        self.num_candidate_sets = num_candidate_programs
        self.max_labeled_demos = max_labeled_demos
        self.max_concurrent_candidates = max_concurrent_candidates
        logger.info(
            "Going to sample between %d and %d traces per predictor.",
            self.min_num_samples,
            self.max_num_samples,
        )

    async def acompile(
        self,
        student: Any,
        *,
        teacher: Any = None,
        trainset: list[Any],
        valset: list[Any] | None = None,
        restrict: Any = None,
        labeled_sample: bool = True,
        checkpoint: Checkpoint = None,
        checkpoint_key: str | None = None,
        **_: Any,
    ) -> Any:
        valset = valset or trainset
        seeds = self._seeds(restrict)
        max_errors = self.max_errors if self.max_errors is not None else settings.max_errors
        builder = CandidateBuilder(
            metric=self.metric,
            max_labeled_demos=self.max_labeled_demos,
            max_errors=max_errors,
            metric_threshold=self.metric_threshold,
            teacher_settings=self.teacher_settings,
            max_rounds=self.max_rounds,
            num_threads=self.num_threads,
            labeled_sample=labeled_sample,
        )
        async with self.checkpoint_session(
            checkpoint,
            checkpoint_key,
            self._params(),
            trainset,
            valset,
            seeds,
            labeled_sample,
            *programs_fingerprint(student, teacher),
        ) as session:
            gate = asyncio.Semaphore(max(1, self.max_concurrent_candidates))
            stopped_at = [len(seeds) + 1_000_000]  # the first seed that reached stop_at_score

            async def candidate(seed: int) -> tuple[float, list[Any], Any]:
                async with gate:
                    if seed > stopped_at[0]:
                        raise asyncio.CancelledError  # after an earlier seed hit stop_at_score: never decided
                    data, size = self._draw(seed, trainset)
                    section = ("bootstrap", str(seed))
                    program = await builder.build(seed, student, teacher, data, size, session, section)
                    score, subscores = await self._score(seed, program, valset, max_errors, session)
                    if self.stop_at_score is not None and score >= self.stop_at_score:
                        stopped_at[0] = min(stopped_at[0], seed)
                    return score, subscores, program

            tasks = [asyncio.ensure_future(candidate(seed)) for seed in seeds]
            try:
                return await self._decide_in_order(seeds, tasks)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    def _seeds(self, restrict: Any) -> list[int]:
        seeds = list(range(-3, self.num_candidate_sets))
        if restrict is None:
            return seeds
        allowed = set(restrict)
        if not allowed.intersection(seeds):
            raise NoCandidateError(
                f"`restrict` {allowed!r} does not match any candidate seed in range(-3, "
                f"{self.num_candidate_sets}); no candidate programs would be evaluated."
            )
        return [s for s in seeds if s in allowed]

    def _draw(self, seed: int, trainset: list[Any]) -> tuple[list[Any], int | None]:
        """DSPy's candidate for `seed`: its trainset order and bootstrap size (None: no bootstrap)."""
        trainset_copy = list(trainset)
        if seed in (-3, -2):
            return trainset_copy, None
        if seed == -1:
            return trainset_copy, self.max_num_samples
        random.Random(seed).shuffle(trainset_copy)
        return trainset_copy, random.Random(seed).randint(self.min_num_samples, self.max_num_samples)

    async def _score(
        self, seed: int, program: Any, valset: list[Any], max_errors: int, session: CheckpointSession
    ) -> tuple[float, list[Any]]:
        self.progress("trial_started", seed=seed)
        score, subscores = await score_program(
            program,
            valset,
            self.metric,
            num_threads=self.num_threads or settings.num_threads,
            max_errors=max_errors,
            session=session,
            record=session.section("eval", str(seed)),
        )
        self.progress("trial_finished", seed=seed, score=score)
        return score, subscores

    async def _decide_in_order(
        self, seeds: list[int], tasks: list[asyncio.Task[tuple[float, list[Any], Any]]]
    ) -> Any:
        scores: list[float] = []
        score_data: list[dict[str, Any]] = []
        best_program: Any = None
        for seed, task in zip(seeds, tasks, strict=True):
            score, subscores, program = await task  # an error surfaces here only if DSPy would reach it
            if not scores or score > max(scores):
                logger.info("New best score: %s for seed %d", score, seed)
                best_program = program
            scores.append(score)
            score_data.append({"score": score, "subscores": subscores, "seed": seed, "program": program})
            self.progress("candidate", seed=seed, score=score, best_score=max(scores))
            if self.stop_at_score is not None and score >= self.stop_at_score:
                logger.info(
                    "Stopping early because score %s is >= stop_at_score %s", score, self.stop_at_score
                )
                break
        best_program.candidate_programs = sorted(score_data, key=lambda x: x["score"], reverse=True)
        logger.info("%d candidate programs found.", len(score_data))
        return best_program

    def _params(self) -> list[Any]:
        return [
            self.metric,
            self.teacher_settings,
            self.max_rounds,
            self.stop_at_score,
            self.metric_threshold,
            self.max_num_samples,
            self.max_errors,
            self.num_candidate_sets,
            self.max_labeled_demos,
        ]
