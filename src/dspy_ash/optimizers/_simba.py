"""`SIMBA` (Stochastic Introspective Mini-Batch Ascent), DSPy's algorithm step for step.

Each step takes the next mini-batch of `bsize` examples and runs, for each of `num_candidates` rollout
LMs (temperature 1.0, distinct rollout ids) and each example, a program softmax-sampled from the best
of the pool. The trajectories of each example form a bucket; buckets with the largest score spread
come first, and each gives a new candidate: a sampled source program, some demos dropped at random,
then a strategy (`append_a_demo`, or `append_a_rule`: advice from `prompt_model` appended to the
instructions). The new candidates are scored on the same batch and join the pool; the best of each
step is kept. At the end, up to `num_candidates + 1` of those step winners, evenly spaced, are scored
on the whole trainset and the best is returned, with `candidate_programs` and `trial_logs`.

Every run of a step (all trajectories; all candidates on the batch; the final scoring) and the
prompt model's advice for the candidates of a step are concurrent here (`num_threads` in flight);
all random draws and decisions are taken in DSPy's order, so a seed gives DSPy's decisions.

Checkpoints (`checkpoint=`, `checkpoint_key=`): every finished trajectory (prediction, trace and
score, when they are plain JSON), each piece of advice and every candidate score are saved; a restarted
run replays the seeded draws and spends LM calls only on what was not finished.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from dspy_ash.errors import DatasetError
from dspy_ash.optimizers._gather import gather_all
from dspy_ash.optimizers._simba_utils import (
    Strategy,
    Trajectory,
    append_a_demo,
    append_a_rule,
    apply_advice,
    ask_for_advice,
    prepare_models_for_resampling,
    rule_request,
    run_trajectory,
)
from dspy_ash.optimizers.checkpoint import Checkpoint
from dspy_ash.optimizers.checkpoint._fingerprint import program_fingerprint
from dspy_ash.optimizers.checkpoint._records import score_to_json
from dspy_ash.optimizers.checkpoint._run import CheckpointedTeleprompter
from dspy_ash.optimizers.checkpoint._session import CheckpointSession
from dspy_ash.primitives._concurrency import run_bounded
from dspy_ash.primitives._prediction import Prediction
from dspy_ash.settings import settings

logger = logging.getLogger("dspy_ash.optimizers.simba")

T = TypeVar("T")
R = TypeVar("R")


class TrainsetTooSmallError(DatasetError, AssertionError):
    """SIMBA's trainset has fewer examples than one mini-batch (DSPy asserts it)."""


def _numpy() -> Any:
    try:
        import numpy
    except ModuleNotFoundError as exc:
        raise ImportError(
            "SIMBA requires numpy. Install it with `pip install 'dspy-ash[optimizers]'`."
        ) from exc
    return numpy


class SIMBA(CheckpointedTeleprompter):
    """Improves a program by mini-batch ascent: the trajectories with the widest score spread become
    demos or self-reflective rules (see the module docstring). DSPy's parameters, plus `checkpoint`."""

    kind = "SIMBA"

    def __init__(
        self,
        *,
        metric: Callable[..., Any],
        bsize: int = 32,
        num_candidates: int = 6,
        max_steps: int = 8,
        max_demos: int = 4,
        prompt_model: Any = None,
        teacher_settings: dict[str, Any] | None = None,
        demo_input_field_maxlen: int = 100_000,
        num_threads: int | None = None,
        temperature_for_sampling: float = 0.2,
        temperature_for_candidates: float = 0.2,
        checkpoint: Checkpoint = None,
        checkpoint_key: str | None = None,
    ) -> None:
        super().__init__(checkpoint, checkpoint_key)
        self.metric = metric
        self.bsize = bsize
        self.num_candidates = num_candidates
        self.max_steps = max_steps
        self.max_demos = max_demos
        self.prompt_model = prompt_model or settings.lm
        self.teacher_settings = teacher_settings
        self.demo_input_field_maxlen = demo_input_field_maxlen
        self.num_threads = num_threads
        self.temperature_for_sampling = temperature_for_sampling
        self.temperature_for_candidates = temperature_for_candidates
        self.strategies: list[Strategy] = (
            [append_a_demo(demo_input_field_maxlen), append_a_rule] if max_demos > 0 else [append_a_rule]
        )

    async def acompile(
        self,
        student: Any,
        *,
        trainset: list[Any],
        seed: int = 0,
        checkpoint: Checkpoint = None,
        checkpoint_key: str | None = None,
        **_: Any,
    ) -> Any:
        if len(trainset) < self.bsize:
            raise TrainsetTooSmallError(f"Trainset too small: {len(trainset)} < {self.bsize}")
        np = _numpy()
        async with self.checkpoint_session(
            checkpoint,
            checkpoint_key,
            [
                self.metric,
                self.bsize,
                self.num_candidates,
                self.max_steps,
                self.max_demos,
                self.prompt_model,
                self.teacher_settings,
                self.demo_input_field_maxlen,
                self.temperature_for_sampling,
                self.temperature_for_candidates,
                seed,
            ],
            trainset,
            program_fingerprint(student),
        ) as session:
            return await _Run(self, np, student, trainset, seed, session).run()


@dataclass
class _Plan:
    """One bucket's new candidate before its strategy ran: the draws DSPy makes for it, in order."""

    bucket_idx: int
    bucket: list[Trajectory]
    system: Any
    name2predictor: dict[str, Any]
    strategy: Strategy


class _Run:
    """One SIMBA compile: the program pool, its scores and the seeded generators (DSPy's locals)."""

    def __init__(
        self, owner: SIMBA, np: Any, student: Any, trainset: list[Any], seed: int, session: CheckpointSession
    ) -> None:
        self.owner = owner
        self.np = np
        self.trainset = trainset
        self.session = session
        self.rng = random.Random(seed)
        self.rng_np = np.random.default_rng(seed)
        self.limit = max(1, owner.num_threads or settings.num_threads)
        baseline = student.deepcopy()
        baseline.simba_idx = 0
        self.programs: list[Any] = [baseline]
        self.program_scores: dict[int, list[Any]] = {0: []}
        self.winning_programs: list[Any] = [baseline]
        self.trial_logs: dict[int, dict[str, Any]] = {}

    # -- DSPy's helpers ---------------------------------------------------------------------------
    def average(self, idx: int) -> float:
        scores = self.program_scores.get(idx, [])
        return sum(scores) / len(scores) if scores else 0.0

    def top_k_plus_baseline(self, k: int) -> list[int]:
        ranked = sorted(self.programs, key=lambda p: self.average(p.simba_idx), reverse=True)
        top_k = [p.simba_idx for p in ranked[:k]]
        if 0 not in top_k and top_k:
            top_k[-1] = 0
        return list(dict.fromkeys(top_k))

    def softmax_sample(self, program_idxs: list[int], temperature: float) -> int:
        if not program_idxs:
            raise ValueError("No programs available for softmax sampling.")
        exps = [self.np.exp(self.average(idx) / temperature) for idx in program_idxs]
        total = sum(exps)
        if total <= 0:
            return self.rng.choice(program_idxs)
        return self.rng.choices(program_idxs, weights=[e / total for e in exps], k=1)[0]

    def register(self, program: Any, scores: list[Any]) -> None:
        program.simba_idx = len(self.programs)
        self.programs.append(program)
        self.program_scores[program.simba_idx] = scores

    # -- the algorithm ----------------------------------------------------------------------------
    async def run(self) -> Any:
        owner = self.owner
        data_indices = list(range(len(self.trainset)))
        self.rng.shuffle(data_indices)
        instance_idx = 0
        for step in range(owner.max_steps):
            self.trial_logs[step] = {}
            logger.info("Starting batch %d of %d.", step + 1, owner.max_steps)
            if instance_idx + owner.bsize > len(self.trainset):
                self.rng.shuffle(data_indices)
                instance_idx = 0
            batch = [self.trainset[i] for i in data_indices[instance_idx : instance_idx + owner.bsize]]
            instance_idx += owner.bsize

            outputs, predictor2name = await self.sample_trajectories(step, batch)
            buckets, p10, p90 = self.sorted_buckets(outputs, len(batch))
            baseline_score = sum(o["score"] for o in outputs) / len(outputs)
            logger.info("Batch %d: Baseline mini-batch score: %s", step + 1, baseline_score)

            candidates = await self.build_candidates(step, buckets, predictor2name, p10, p90)
            scores = await self.score_on(
                candidates, batch, self.session.section("candidates", str(step)), self.owner.metric
            )
            averages = [sum(s) / len(s) for s in scores]
            logger.info("Scores after %d batches: %s", step + 1, averages)
            if averages:
                self.winning_programs.append(candidates[averages.index(max(averages))].deepcopy())
            for candidate, candidate_scores in zip(candidates, scores, strict=True):
                self.register(candidate, candidate_scores)
            owner.progress(
                "step",
                step=step,
                baseline_score=baseline_score,
                candidate_scores=averages,
                best_score=max(averages) if averages else None,
            )
        return await self.select_final()

    async def sample_trajectories(
        self, step: int, batch: list[Any]
    ) -> tuple[list[Trajectory], dict[int, str]]:
        """Every (rollout LM, example) pair run by a softmax-sampled program; outputs model-major."""
        owner = self.owner
        models = prepare_models_for_resampling(self.programs[0], owner.num_candidates, owner.teacher_settings)
        top_programs = self.top_k_plus_baseline(owner.num_candidates)
        predictor2name: dict[int, str] = {}
        systems: list[tuple[Any, Any]] = []
        for model in models:
            for example in batch:
                chosen = self.softmax_sample(top_programs, owner.temperature_for_sampling)
                system = self.programs[chosen].deepcopy()
                system.set_lm(model)
                for name, predictor in system.named_predictors():
                    predictor2name[id(predictor)] = name
                systems.append((system, example))
        logger.info(
            "Sampling program trajectories on %d examples x %d samples.", owner.bsize, owner.num_candidates
        )
        record = self.session.section("trajectories", str(step))

        async def one(pair: tuple[Any, Any], key: str) -> Trajectory:
            system, example = pair
            if key in record:
                return _trajectory_from_json(record[key], system, example)
            trajectory = await run_trajectory(system, owner.metric, example)
            saved = _trajectory_to_json(trajectory, predictor2name)
            if saved is not None:
                record[key] = saved
                await self.session.save()
            return trajectory

        outputs = await _bounded(systems, one, self.limit)
        return outputs, predictor2name

    def sorted_buckets(
        self, outputs: list[Trajectory], batch_size: int
    ) -> tuple[list[list[Trajectory]], float, float]:
        """Each example's trajectories, best first; the buckets by (max-min gap, max, max-avg gap)."""
        scores = [float(o["score"]) for o in outputs]
        p10, p90 = self.np.percentile(scores, 10), self.np.percentile(scores, 90)
        buckets: list[tuple[list[Trajectory], tuple[float, float, float]]] = []
        for idx in range(batch_size):
            bucket = [outputs[i] for i in range(idx, len(outputs), batch_size)]
            bucket.sort(key=lambda x: x["score"], reverse=True)
            max_score, min_score = float(bucket[0]["score"]), float(bucket[-1]["score"])
            avg_score = sum(x["score"] for x in bucket) / len(bucket)
            buckets.append((bucket, (max_score - min_score, max_score, max_score - avg_score)))
        buckets.sort(key=lambda x: x[1], reverse=True)
        return [b for b, _ in buckets], p10, p90

    async def build_candidates(
        self,
        step: int,
        buckets: list[list[Trajectory]],
        predictor2name: dict[int, str],
        p10: float,
        p90: float,
    ) -> list[Any]:
        """DSPy's bucket loop, until `num_candidates + 1` strategies succeeded. The strategies of the
        buckets still needed run together: draws do not depend on their outcomes, and as many are
        planned as candidates are missing, so the loop can only stop after the last of them."""
        wanted = self.owner.num_candidates + 1
        advice = self.session.section("advice", str(step))
        candidates: list[Any] = []
        next_bucket = 0
        while next_bucket < len(buckets) and len(candidates) < wanted:
            end = min(len(buckets), next_bucket + wanted - len(candidates))
            plans = [self.plan(i, buckets[i]) for i in range(next_bucket, end)]
            next_bucket = end
            kwargs = {
                "predictor2name": predictor2name,
                "batch_10p_score": p10,
                "batch_90p_score": p90,
                "prompt_model": self.owner.prompt_model,
            }
            done = await gather_all(*(self.apply(plan, kwargs, advice) for plan in plans))
            candidates.extend(plan.system for plan, ok in zip(plans, done, strict=True) if ok)
        return candidates

    def plan(self, bucket_idx: int, bucket: list[Trajectory]) -> _Plan:
        """The source program (softmax-sampled), the demos dropped from it and the strategy."""
        owner = self.owner
        src = self.softmax_sample(
            self.top_k_plus_baseline(owner.num_candidates), owner.temperature_for_candidates
        )
        system = self.programs[src].deepcopy()
        name2predictor = dict(system.named_predictors())
        max_demos = owner.max_demos if owner.max_demos > 0 else 3
        num_demos = max((len(p.demos) for p in name2predictor.values()), default=0)
        to_drop = max(self.rng_np.poisson(num_demos / max_demos), int(num_demos >= max_demos))
        to_drop = min(to_drop, num_demos)
        dropped = [self.rng.randrange(num_demos) for _ in range(to_drop)]
        for predictor in name2predictor.values():
            predictor.demos = [demo for i, demo in enumerate(predictor.demos) if i not in dropped]
        strategy = self.rng.choice(owner.strategies)
        logger.info(
            "Processing bucket #%d: strategy %s, %d demos dropped per predictor.",
            bucket_idx + 1,
            strategy.__name__,
            to_drop,
        )
        return _Plan(bucket_idx, bucket, system, name2predictor, strategy)

    async def apply(self, plan: _Plan, kwargs: dict[str, Any], record: dict[str, Any]) -> bool:
        """Run the plan's strategy; False when it failed (DSPy then skips the bucket)."""
        try:
            if plan.strategy is not append_a_rule:
                plan.strategy(plan.bucket, plan.system, name2predictor=plan.name2predictor, **kwargs)
                return True
            request = rule_request(plan.bucket, plan.system, **kwargs)
            if request is None:
                return True  # DSPy keeps a candidate whose strategy chose to do nothing
            key = str(plan.bucket_idx)
            if key not in record:
                try:
                    record[key] = {"advice": await ask_for_advice(request, kwargs["prompt_model"])}
                except Exception as exc:
                    record[key] = {"error": f"{type(exc).__name__}: {exc}"}
                await self.session.save()
            if "error" in record[key]:
                raise RuntimeError(record[key]["error"])
            apply_advice(plan.system, record[key]["advice"])
            return True
        except Exception as exc:
            logger.error("Strategy failed with error: %s", exc)
            return False

    async def score_on(
        self, programs: list[Any], examples: list[Any], record: dict[str, Any], metric: Callable[..., Any]
    ) -> list[list[Any]]:
        """Each program's trajectory scores on `examples` (all pairs at once), saved per pair."""
        pairs = [(program, example) for program in programs for example in examples]

        async def one(pair: tuple[Any, Any], key: str) -> Any:
            if key not in record:
                record[key] = score_to_json((await run_trajectory(pair[0], metric, pair[1]))["score"])
                await self.session.save()
            return record[key]

        scores = await _bounded(pairs, one, self.limit)
        n = len(examples)
        return [scores[i * n : (i + 1) * n] for i in range(len(programs))]

    async def select_final(self) -> Any:
        """Up to `num_candidates + 1` evenly spaced step winners, scored on the whole trainset."""
        owner = self.owner
        last = len(self.winning_programs) - 1
        n = owner.num_candidates + 1
        program_idxs = [0] * n if last < 1 else [round(i * last / (n - 1)) for i in range(n)]
        program_idxs = list(dict.fromkeys(program_idxs))
        candidates = [self.winning_programs[i].deepcopy() for i in program_idxs]
        logger.info("VALIDATION: Evaluating %d programs on the full trainset.", len(candidates))
        per_program = await self.score_on(
            candidates, self.trainset, self.session.section("final"), owner.metric
        )
        scores: list[float] = []
        for idx, program_scores in enumerate(per_program):
            average = sum(program_scores) / len(program_scores) if program_scores else 0.0
            scores.append(average)
            if idx != 0:
                self.trial_logs[idx - 1]["train_score"] = average
        candidate_data = [{"score": s, "program": p} for s, p in zip(scores, candidates, strict=True)]
        candidate_data.sort(key=lambda x: x["score"], reverse=True)
        best_idx = scores.index(max(scores)) if scores else 0
        best_program = candidates[best_idx].deepcopy()
        logger.info("Final trainset scores: %s, best at index %d.", scores, best_idx)
        best_program.candidate_programs = candidate_data
        best_program.trial_logs = self.trial_logs
        return best_program


async def _bounded(items: Sequence[T], fn: Callable[[T, str], Awaitable[R]], limit: int) -> list[R]:
    """`fn(item, its index as a checkpoint key)` for every item, `limit` at a time, results in order;
    the first failure propagates (trajectories catch the program's and the metric's own errors)."""
    indexed = list(enumerate(items))

    async def call(entry: tuple[int, T]) -> R:
        return await fn(entry[1], str(entry[0]))

    outcome = await run_bounded(indexed, call, limit=limit, max_errors=0)
    return outcome.results  # pyright: ignore[reportReturnType] - max_errors=0: no slot is left None


def _trajectory_to_json(trajectory: Trajectory, predictor2name: dict[int, str]) -> dict[str, Any] | None:
    """A trajectory as plain JSON (its trace by predictor name), or None when a value is not JSON."""
    prediction = trajectory["prediction"]
    try:
        data = {
            "prediction": None if prediction is None else dict(prediction.items()),
            "trace": [
                [predictor2name[id(p)], dict(inputs), dict(outputs.items())]
                for p, inputs, outputs in trajectory["trace"]
                if id(p) in predictor2name
            ],
            "score": score_to_json(trajectory["score"]),
            "output_metadata": trajectory["output_metadata"],
        }
        json.dumps(data)
    except (AttributeError, TypeError, ValueError):  # not a Prediction, or a value JSON cannot hold
        return None
    return data


def _trajectory_from_json(data: dict[str, Any], system: Any, example: Any) -> Trajectory:
    predictors = dict(system.named_predictors())
    prediction = data["prediction"]
    return {
        "prediction": None if prediction is None else Prediction(**prediction),
        "trace": [
            (predictors[name], dict(inputs), Prediction(**outputs)) for name, inputs, outputs in data["trace"]
        ],
        "score": data["score"],
        "example": example,
        "output_metadata": dict(data["output_metadata"]),
    }
