"""MIPROv2's step 3: the seeded optuna TPE study over instruction and demo-set indices.

Each trial scores a candidate on a minibatch (or the full valset); every `minibatch_full_eval_steps`
trials the best-averaging untested combination is scored on the full valset and added to the study.
While TPE still samples at random, trials between two full evaluations are scored ahead
concurrently; results are applied in trial order, so the study and the trial logs are DSPy's.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dspy_ash.errors import NoCandidateError
from dspy_ash.optimizers._optuna import import_optuna, tpe_sampler
from dspy_ash.optimizers._scoring import score_program
from dspy_ash.optimizers.checkpoint._session import CheckpointSession

logger = logging.getLogger("dspy_ash.optimizers.mipro")


def create_minibatch(data: list[Any], batch_size: int, rng: random.Random) -> list[Any]:
    indices = rng.sample(range(len(data)), min(batch_size, len(data)))
    return [data[i] for i in indices]


# `Teleprompter.progress`: emits a `progress` event named by the first argument.
Progress = Callable[..., None]


@dataclass(frozen=True)
class SearchConfig:
    """What the search needs to know of its MIPROv2 run (its arguments, resolved)."""

    metric: Any
    num_trials: int
    minibatch: bool
    minibatch_size: int
    full_eval_steps: int
    seed: int
    num_threads: int
    max_errors: int
    max_concurrent_trials: int = 4
    log_dir: str | None = None
    track_stats: bool = True
    prompt_model_total_calls: int = 0
    total_calls: int = 0

    @property
    def adjusted_trials(self) -> int:
        """Trials counting the full evaluations (DSPy's numbering for progress)."""
        if not self.minibatch:
            return self.num_trials
        extra_at_end = 1 if self.num_trials % self.full_eval_steps != 0 else 0
        return int(self.num_trials + self.num_trials // self.full_eval_steps + 1 + extra_at_end)

    def full_eval_after(self, trial_num: int) -> bool:
        return self.minibatch and (
            trial_num % (self.full_eval_steps + 1) == 0 or trial_num == self.adjusted_trials - 1
        )


@dataclass
class _Pending:
    """A trial asked of the study and being scored, applied to the study in trial order."""

    trial: Any
    trial_num: int
    candidate: Any
    chosen: list[str]
    raw: dict[str, int]
    task: asyncio.Future[float]


class Search:
    """Step 3: the optuna study over (instruction, demo set) indices per predictor."""

    def __init__(
        self,
        config: SearchConfig,
        progress: Progress,
        program: Any,
        instructions: dict[int, list[str]],
        demo_candidates: Any,
        valset: list[Any],
        session: CheckpointSession,
        rng: random.Random,
    ) -> None:
        self.config = config
        self.progress = progress
        self.program = program
        self.instructions = instructions
        self.demo_candidates = demo_candidates
        self.valset = valset
        self.session = session
        self.rng = rng
        self.optuna = import_optuna("MIPROv2")
        self.trial_logs: dict[int, dict[str, Any]] = {}
        self.score_data: list[dict[str, Any]] = []
        self.param_scores: dict[str, list[tuple[float, Any, dict[str, int]]]] = {}
        self.fully_evaled: dict[str, dict[str, Any]] = {}
        self.best_score = 0.0
        self.best_program: Any = None
        self.total_eval_calls = 0
        self.batch_size = config.minibatch_size if config.minibatch else len(valset)
        self.eval_kind = "minibatch" if config.minibatch else "full"

    def batch(self, batch_size: int) -> list[Any]:
        """The examples a trial is scored on: the valset, or a minibatch drawn from the shared rng."""
        return (
            self.valset
            if batch_size >= len(self.valset)
            else create_minibatch(self.valset, batch_size, self.rng)
        )

    async def evaluate(self, program: Any, devset: list[Any], eval_id: str) -> float:
        """DSPy's `eval_candidate_program`: any failure scores 0."""
        try:
            score, _ = await score_program(
                program,
                devset,
                self.config.metric,
                num_threads=self.config.num_threads,
                max_errors=self.config.max_errors,
                session=self.session,
                record=self.session.section("eval", eval_id),
            )
        except Exception:
            logger.error("An exception occurred during evaluation", exc_info=True)
            return 0.0
        return score

    def distributions(self) -> dict[str, Any]:
        categorical = self.optuna.distributions.CategoricalDistribution
        result: dict[str, Any] = {}
        for i in range(len(self.instructions)):
            result[f"{i}_predictor_instruction"] = categorical(range(len(self.instructions[i])))
            if self.demo_candidates:
                result[f"{i}_predictor_demos"] = categorical(range(len(self.demo_candidates[i])))
        return result

    def select(self, candidate: Any, trial: Any, trial_num: int) -> tuple[list[str], dict[str, int]]:
        chosen: list[str] = []
        raw: dict[str, int] = {}
        for i, predictor in enumerate(candidate.predictors()):
            idx = trial.suggest_categorical(f"{i}_predictor_instruction", range(len(self.instructions[i])))
            predictor.signature = predictor.signature.with_instructions(self.instructions[i][idx])
            self.trial_logs[trial_num][f"{i}_predictor_instruction"] = idx
            chosen.append(f"Predictor {i}: Instruction {idx}")
            raw[f"{i}_predictor_instruction"] = idx
            if self.demo_candidates:
                demos_idx = trial.suggest_categorical(
                    f"{i}_predictor_demos", range(len(self.demo_candidates[i]))
                )
                predictor.demos = self.demo_candidates[i][demos_idx]
                self.trial_logs[trial_num][f"{i}_predictor_demos"] = demos_idx
                chosen.append(f"Predictor {i}: Few-Shot Set {demos_idx}")
                raw[f"{i}_predictor_demos"] = demos_idx
        return chosen, raw

    def save_program(self, program: Any, trial_num: int, note: str | None = None) -> str | None:
        if not self.config.log_dir:
            return None
        path = (
            Path(self.config.log_dir)
            / "evaluated_programs"
            / (f"program_{trial_num}_{note}.json" if note else f"program_{trial_num}.json")
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        program.save(path)
        return str(path)

    async def run(self) -> Any:
        """Score the default program, then the trials in order; the best fully evaluated program."""
        study = await self._start_study()
        pending: list[_Pending] = []
        asked = 0
        try:
            while asked < self.config.num_trials or pending:
                while self._can_ask(study, pending, asked):
                    pending.append(self._ask(study))
                    asked += 1
                await self._apply(study, pending.pop(0))
        finally:
            for p in pending:
                p.task.cancel()
            if pending:
                await asyncio.gather(*(p.task for p in pending), return_exceptions=True)
        self._attach_stats()
        logger.info("Returning best identified program with score %s!", self.best_score)
        return self.best_program

    async def _start_study(self) -> Any:
        """Trial 1: the unchanged program on the full valset, told to a fresh seeded study."""
        optuna, config = self.optuna, self.config
        self.progress("trial_started", trial=1, total=config.adjusted_trials, eval_kind="full")
        default_score = await self.evaluate(self.program, self.valset, "default")
        self.trial_logs[1] = {
            "full_eval_program_path": self.save_program(self.program, -1),
            "full_eval_score": default_score,
            "total_eval_calls_so_far": len(self.valset),
            "full_eval_program": self.program.deepcopy(),
        }
        self.best_score, self.best_program = default_score, self.program.deepcopy()
        self.total_eval_calls = len(self.valset)
        self.score_data = [{"score": default_score, "program": self.program.deepcopy(), "full_eval": True}]
        self.progress(
            "trial_finished", trial=1, score=default_score, best_score=default_score, eval_kind="full"
        )

        study = optuna.create_study(direction="maximize", sampler=tpe_sampler(optuna, config.seed))
        n_predictors = len(self.program.predictors())
        default_params = {f"{i}_predictor_instruction": 0 for i in range(n_predictors)}
        if self.demo_candidates:
            default_params.update({f"{i}_predictor_demos": 0 for i in range(n_predictors)})
        study.add_trial(
            optuna.trial.create_trial(
                params=default_params, distributions=self.distributions(), value=default_score
            )
        )
        return study

    def _can_ask(self, study: Any, pending: list[_Pending], asked: int) -> bool:
        """Whether to ask the next trial now. While optuna's TPE is in its random startup phase its
        suggestions do not depend on scores, so the next trials can be asked and scored ahead (up to
        `max_concurrent_trials`), as long as no full evaluation (which adds a trial and shifts the
        numbering) falls in between. Outcomes are still applied one trial at a time, in order."""
        if asked >= self.config.num_trials:
            return False
        if not pending:
            return True
        states = (self.optuna.trial.TrialState.COMPLETE, self.optuna.trial.TrialState.PRUNED)
        completed = len(study.get_trials(deepcopy=False, states=states))
        n_startup = int(getattr(study.sampler, "_n_startup_trials", 10))
        return (
            len(pending) < max(1, self.config.max_concurrent_trials)
            and completed + len(pending) < n_startup
            and not any(self.config.full_eval_after(p.trial_num) for p in pending)
        )

    def _ask(self, study: Any) -> _Pending:
        """The study's next trial, its candidate program, and its scoring started."""
        trial = study.ask()
        trial_num = trial.number + 1
        self.trial_logs[trial_num] = {}
        candidate = self.program.deepcopy()
        chosen, raw = self.select(candidate, trial, trial_num)
        self.progress(
            "trial_started",
            trial=trial_num,
            total=self.config.adjusted_trials,
            params=raw,
            eval_kind=self.eval_kind,
        )
        task = asyncio.ensure_future(
            self.evaluate(candidate, self.batch(self.batch_size), f"trial-{trial_num}")
        )
        return _Pending(trial, trial_num, candidate, chosen, raw, task)

    async def _apply(self, study: Any, p: _Pending) -> None:
        """Book one trial's score (and the full evaluation due after it), then tell the study."""
        minibatch = self.config.minibatch
        score = await p.task
        self.total_eval_calls += self.batch_size
        if not minibatch and score > self.best_score:
            self.best_score, self.best_program = score, p.candidate.deepcopy()
        self.score_data.append(
            {"score": score, "program": p.candidate, "full_eval": self.batch_size >= len(self.valset)}
        )
        kind = "mb" if minibatch else "full_eval"
        self.trial_logs[p.trial_num].update(
            {
                f"{kind}_program_path": self.save_program(p.candidate, p.trial_num),
                f"{kind}_score": score,
                "total_eval_calls_so_far": self.total_eval_calls,
                f"{kind}_program": p.candidate.deepcopy(),
            }
        )
        logger.info("Trial %d: score %s with %s", p.trial_num, score, p.chosen)
        self.progress(
            "trial_finished",
            trial=p.trial_num,
            score=score,
            best_score=self.best_score,
            params=p.raw,
            eval_kind=self.eval_kind,
        )
        self.param_scores.setdefault(",".join(p.chosen), []).append((score, p.candidate, p.raw))
        if self.config.full_eval_after(p.trial_num):
            await self.full_eval(p.trial_num, study)
            self.total_eval_calls += len(self.valset)
            self.trial_logs[p.trial_num + 1]["total_eval_calls_so_far"] = self.total_eval_calls
        study.tell(p.trial, score)

    def _attach_stats(self) -> None:
        best_program = self.best_program
        if best_program is None or not self.config.track_stats:
            return
        best_program.trial_logs = self.trial_logs
        best_program.score = self.best_score
        best_program.prompt_model_total_calls = self.config.prompt_model_total_calls
        best_program.total_calls = self.config.total_calls
        ranked = sorted(self.score_data, key=lambda x: x["score"], reverse=True)
        best_program.mb_candidate_programs = [d for d in ranked if not d["full_eval"]]
        best_program.candidate_programs = [d for d in ranked if d["full_eval"]]

    async def full_eval(self, trial_num: int, study: Any) -> None:
        """The best-averaging combination not yet fully evaluated, scored on the full valset."""
        ranked = sorted(
            (
                (key, sum(v[0] for v in values) / len(values), values[0][1], values[0][2])
                for key, values in self.param_scores.items()
            ),
            key=lambda x: x[1],
            reverse=True,
        )
        pick = next((r for r in ranked if r[0] not in self.fully_evaled), None)
        if pick is None:
            raise NoCandidateError("No valid program found in param_score_dict")
        key, mean, program, params = pick
        self.progress(
            "trial_started", trial=trial_num + 1, eval_kind="full", params=params, minibatch_mean=mean
        )
        score = await self.evaluate(program, self.valset, f"full-{trial_num}")
        self.score_data.append({"score": score, "program": program, "full_eval": True})
        study.add_trial(
            self.optuna.trial.create_trial(params=params, distributions=self.distributions(), value=score)
        )
        self.fully_evaled[key] = {"program": program, "score": score}
        self.trial_logs[trial_num + 1] = {
            "full_eval_program_path": self.save_program(program, trial_num + 1, "full_eval"),
            "full_eval_program": program,
            "full_eval_score": score,
        }
        if score > self.best_score:
            logger.info("New best full eval score! Score: %s", score)
            self.best_score, self.best_program = score, program.deepcopy()
        self.progress(
            "trial_finished", trial=trial_num + 1, eval_kind="full", score=score, best_score=self.best_score
        )
