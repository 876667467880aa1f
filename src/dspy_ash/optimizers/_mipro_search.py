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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dspy_ash.errors import NoCandidateError
from dspy_ash.optimizers._optuna import import_optuna, tpe_sampler
from dspy_ash.optimizers._scoring import score_program
from dspy_ash.optimizers._session import CheckpointSession
from dspy_ash.settings import settings

if TYPE_CHECKING:
    from dspy_ash.optimizers.mipro import MIPROv2

logger = logging.getLogger("dspy_ash.optimizers.mipro")


def create_minibatch(data: list[Any], batch_size: int, rng: random.Random) -> list[Any]:
    indices = rng.sample(range(len(data)), min(batch_size, len(data)))
    return [data[i] for i in indices]


class Search:
    """Step 3: the optuna study over (instruction, demo set) indices per predictor."""

    def __init__(
        self,
        owner: MIPROv2,
        program: Any,
        instructions: dict[int, list[str]],
        demo_candidates: Any,
        valset: list[Any],
        session: CheckpointSession,
        rng: random.Random,
        max_errors: int,
    ) -> None:
        self.owner = owner
        self.program = program
        self.instructions = instructions
        self.demo_candidates = demo_candidates
        self.valset = valset
        self.session = session
        self.rng = rng
        self.max_errors = max_errors
        self.optuna = import_optuna("MIPROv2")
        self.trial_logs: dict[int, dict[str, Any]] = {}
        self.score_data: list[dict[str, Any]] = []

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
                self.owner.metric,
                num_threads=self.owner.num_threads or settings.num_threads,
                max_errors=self.max_errors,
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
        if not self.owner.log_dir:
            return None
        path = (
            Path(self.owner.log_dir)
            / "evaluated_programs"
            / (f"program_{trial_num}_{note}.json" if note else f"program_{trial_num}.json")
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        program.save(path)
        return str(path)

    async def run(
        self, num_trials: int, minibatch: bool, minibatch_size: int, full_eval_steps: int, seed: int
    ) -> Any:
        optuna, owner = self.optuna, self.owner
        extra_at_end = 1 if num_trials % full_eval_steps != 0 else 0
        adjusted = int(
            num_trials + num_trials // full_eval_steps + 1 + extra_at_end if minibatch else num_trials
        )

        owner.progress("trial_started", trial=1, total=adjusted, eval_kind="full")
        default_score = await self.evaluate(self.program, self.valset, "default")
        self.trial_logs[1] = {
            "full_eval_program_path": self.save_program(self.program, -1),
            "full_eval_score": default_score,
            "total_eval_calls_so_far": len(self.valset),
            "full_eval_program": self.program.deepcopy(),
        }
        best_score, best_program = default_score, self.program.deepcopy()
        total_eval_calls = len(self.valset)
        self.score_data = [{"score": best_score, "program": self.program.deepcopy(), "full_eval": True}]
        owner.progress(
            "trial_finished", trial=1, score=default_score, best_score=best_score, eval_kind="full"
        )
        param_scores: dict[str, list[tuple[float, Any, dict[str, int]]]] = {}
        fully_evaled: dict[str, dict[str, Any]] = {}

        study = optuna.create_study(direction="maximize", sampler=tpe_sampler(optuna, seed))
        default_params = {f"{i}_predictor_instruction": 0 for i in range(len(self.program.predictors()))}
        if self.demo_candidates:
            default_params.update({f"{i}_predictor_demos": 0 for i in range(len(self.program.predictors()))})
        study.add_trial(
            optuna.trial.create_trial(
                params=default_params, distributions=self.distributions(), value=default_score
            )
        )

        batch_size = minibatch_size if minibatch else len(self.valset)
        eval_kind = "minibatch" if minibatch else "full"

        def full_eval_after(trial_num: int) -> bool:
            return minibatch and (trial_num % (full_eval_steps + 1) == 0 or trial_num == adjusted - 1)

        # While optuna's TPE is in its random startup phase its suggestions do not depend on scores, so
        # the next trials can be asked and scored ahead (up to max_concurrent_trials), as long as no
        # full evaluation (which adds a trial and shifts the numbering) falls in between. Outcomes are
        # still applied one trial at a time, in order, so the study and the result are DSPy's.
        n_startup = int(getattr(study.sampler, "_n_startup_trials", 10))
        pending: list[tuple[Any, int, Any, list[str], dict[str, int], asyncio.Task[float]]] = []
        asked = 0

        def can_ask() -> bool:
            if asked >= num_trials:
                return False
            if not pending:
                return True
            completed = len(
                study.get_trials(
                    deepcopy=False, states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
                )
            )
            return (
                len(pending) < max(1, owner.max_concurrent_trials)
                and completed + len(pending) < n_startup
                and not any(full_eval_after(p[1]) for p in pending)
            )

        try:
            while asked < num_trials or pending:
                while can_ask():
                    trial = study.ask()
                    trial_num = trial.number + 1
                    self.trial_logs[trial_num] = {}
                    candidate = self.program.deepcopy()
                    chosen, raw = self.select(candidate, trial, trial_num)
                    owner.progress(
                        "trial_started", trial=trial_num, total=adjusted, params=raw, eval_kind=eval_kind
                    )
                    task = asyncio.ensure_future(
                        self.evaluate(candidate, self.batch(batch_size), f"trial-{trial_num}")
                    )
                    pending.append((trial, trial_num, candidate, chosen, raw, task))
                    asked += 1
                trial, trial_num, candidate, chosen, raw, task = pending.pop(0)
                score = await task
                total_eval_calls += batch_size
                if not minibatch and score > best_score:
                    best_score, best_program = score, candidate.deepcopy()
                self.score_data.append(
                    {"score": score, "program": candidate, "full_eval": batch_size >= len(self.valset)}
                )
                kind = "mb" if minibatch else "full_eval"
                self.trial_logs[trial_num].update(
                    {
                        f"{kind}_program_path": self.save_program(candidate, trial_num),
                        f"{kind}_score": score,
                        "total_eval_calls_so_far": total_eval_calls,
                        f"{kind}_program": candidate.deepcopy(),
                    }
                )
                logger.info("Trial %d: score %s with %s", trial_num, score, chosen)
                owner.progress(
                    "trial_finished",
                    trial=trial_num,
                    score=score,
                    best_score=best_score,
                    params=raw,
                    eval_kind=eval_kind,
                )
                param_scores.setdefault(",".join(chosen), []).append((score, candidate, raw))
                if full_eval_after(trial_num):
                    best_score, best_program = await self.full_eval(
                        trial_num, param_scores, fully_evaled, study, best_score, best_program
                    )
                    total_eval_calls += len(self.valset)
                    self.trial_logs[trial_num + 1]["total_eval_calls_so_far"] = total_eval_calls
                study.tell(trial, score)
        finally:
            for *_, task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*(p[-1] for p in pending), return_exceptions=True)

        if best_program is not None and owner.track_stats:
            best_program.trial_logs = self.trial_logs
            best_program.score = best_score
            best_program.prompt_model_total_calls = owner.prompt_model_total_calls
            best_program.total_calls = owner.total_calls
            ranked = sorted(self.score_data, key=lambda x: x["score"], reverse=True)
            best_program.mb_candidate_programs = [d for d in ranked if not d["full_eval"]]
            best_program.candidate_programs = [d for d in ranked if d["full_eval"]]
        logger.info("Returning best identified program with score %s!", best_score)
        return best_program

    async def full_eval(
        self,
        trial_num: int,
        param_scores: dict[str, list[tuple[float, Any, dict[str, int]]]],
        fully_evaled: dict[str, dict[str, Any]],
        study: Any,
        best_score: float,
        best_program: Any,
    ) -> tuple[float, Any]:
        ranked = sorted(
            (
                (key, sum(v[0] for v in values) / len(values), values[0][1], values[0][2])
                for key, values in param_scores.items()
            ),
            key=lambda x: x[1],
            reverse=True,
        )
        pick = next((r for r in ranked if r[0] not in fully_evaled), None)
        if pick is None:
            raise NoCandidateError("No valid program found in param_score_dict")
        key, mean, program, params = pick
        self.owner.progress(
            "trial_started", trial=trial_num + 1, eval_kind="full", params=params, minibatch_mean=mean
        )
        score = await self.evaluate(program, self.valset, f"full-{trial_num}")
        self.score_data.append({"score": score, "program": program, "full_eval": True})
        study.add_trial(
            self.optuna.trial.create_trial(params=params, distributions=self.distributions(), value=score)
        )
        fully_evaled[key] = {"program": program, "score": score}
        self.trial_logs[trial_num + 1] = {
            "full_eval_program_path": self.save_program(program, trial_num + 1, "full_eval"),
            "full_eval_program": program,
            "full_eval_score": score,
        }
        if score > best_score:
            logger.info("New best full eval score! Score: %s", score)
            best_score, best_program = score, program.deepcopy()
        self.owner.progress(
            "trial_finished", trial=trial_num + 1, eval_kind="full", score=score, best_score=best_score
        )
        return best_score, best_program
