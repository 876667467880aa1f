"""`MIPROv2`: propose instructions and demo sets, then search their combinations with Bayesian optimisation.

DSPy's three steps and parameters: (1) bootstrap `num_fewshot_candidates` demo sets like random
search; (2) propose instructions per predictor with `GroundedProposer` (dataset summary, program
code and description, demos, a random tip; candidate 0 is the original instruction); (3) run an
optuna TPE study (seeded, multivariate) over instruction and demo-set indices, scoring each trial on
a minibatch and, every `minibatch_full_eval_steps` trials, the best-averaging untested combination on
the full validation set. `auto="light" | "medium" | "heavy"` sets the sizes as DSPy does.

What runs concurrently: the demo-set bootstraps, the instruction proposals, the examples of every
evaluation, and, while TPE is still in its random startup phase (its suggestions do not depend on
scores yet), up to `max_concurrent_trials` trials between two full evaluations. Later trials are
sequential because each TPE suggestion depends on the previous scores. Results are applied in trial
order, so the study, the trial logs and the program are DSPy's.

Checkpoints (`checkpoint=` / `checkpoint_key=` on the constructor or `compile`): bootstraps, the
dataset summary, every proposal and every evaluated example are saved as they finish. A restarted
run replays the same seeded random draws and optuna study, answering finished work from the
checkpoint, so it ends with the same program and spends LM calls only on unfinished work.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from pathlib import Path
from typing import Any, Literal

from dspy_ash.optimizers._demo_sets import create_n_fewshot_demo_sets
from dspy_ash.optimizers._optuna import import_optuna, tpe_sampler
from dspy_ash.optimizers._scoring import score_program
from dspy_ash.optimizers._session import CheckpointSession, fingerprint
from dspy_ash.optimizers.bootstrap import Checkpoint
from dspy_ash.optimizers.proposer import GroundedProposer
from dspy_ash.optimizers.teleprompter import Teleprompter
from dspy_ash.settings import settings

logger = logging.getLogger("dspy_ash.optimizers.mipro")

BOOTSTRAPPED_FEWSHOT_EXAMPLES_IN_CONTEXT = 3
LABELED_FEWSHOT_EXAMPLES_IN_CONTEXT = 0
MIN_MINIBATCH_SIZE = 50
AUTO_RUN_SETTINGS = {
    "light": {"n": 6, "val_size": 100},
    "medium": {"n": 12, "val_size": 300},
    "heavy": {"n": 18, "val_size": 1000},
}


def create_minibatch(data: list[Any], batch_size: int, rng: random.Random) -> list[Any]:
    indices = rng.sample(range(len(data)), min(batch_size, len(data)))
    return [data[i] for i in indices]


class MIPROv2(Teleprompter):
    def __init__(
        self,
        metric: Any,
        prompt_model: Any = None,
        task_model: Any = None,
        teacher_settings: dict[str, Any] | None = None,
        max_bootstrapped_demos: int = 4,
        max_labeled_demos: int = 4,
        auto: Literal["light", "medium", "heavy"] | None = "light",
        num_candidates: int | None = None,
        num_threads: int | None = None,
        max_errors: int | None = None,
        seed: int = 9,
        init_temperature: float = 1.0,
        verbose: bool = False,
        track_stats: bool = True,
        log_dir: str | None = None,
        metric_threshold: float | None = None,
        *,
        max_concurrent_trials: int = 4,
        checkpoint: Checkpoint = None,
        checkpoint_key: str | None = None,
    ) -> None:
        """DSPy's parameters; beyond them `max_concurrent_trials` (trials scored at once while optuna
        samples at random, each with `num_threads` in flight) and `checkpoint` / `checkpoint_key`."""
        super().__init__()
        if auto not in (None, "light", "medium", "heavy"):
            raise ValueError(f"Invalid value for auto: {auto}. Must be one of {{None, 'light', 'medium', 'heavy'}}.")
        self.auto = auto
        self.num_fewshot_candidates = num_candidates
        self.num_instruct_candidates = num_candidates
        self.num_candidates = num_candidates
        self.metric = metric
        self.init_temperature = init_temperature
        self.task_model = task_model or settings.lm
        self.prompt_model = prompt_model or settings.lm
        self.max_bootstrapped_demos = max_bootstrapped_demos
        self.max_labeled_demos = max_labeled_demos
        self.verbose = verbose
        self.track_stats = track_stats
        self.log_dir = log_dir
        self.teacher_settings = teacher_settings or {}
        self.prompt_model_total_calls = 0
        self.total_calls = 0
        self.num_threads = num_threads
        self.max_errors = max_errors
        self.metric_threshold = metric_threshold
        self.seed = seed
        self.rng: random.Random | None = None
        self.max_concurrent_trials = max_concurrent_trials
        self.checkpoint = checkpoint
        self.checkpoint_key = checkpoint_key
        if not self.prompt_model or not self.task_model:
            raise ValueError("Either provide both prompt_model and task_model or set a default LM through "
                             "dspy.configure(lm=...)")

    async def acompile(self, student: Any, *, trainset: list[Any], teacher: Any = None,
                       valset: list[Any] | None = None, num_trials: int | None = None,
                       max_bootstrapped_demos: int | None = None, max_labeled_demos: int | None = None,
                       seed: int | None = None, minibatch: bool = True, minibatch_size: int = 35,
                       minibatch_full_eval_steps: int = 5, program_aware_proposer: bool = True,
                       data_aware_proposer: bool = True, view_data_batch_size: int = 10,
                       tip_aware_proposer: bool = True, fewshot_aware_proposer: bool = True,
                       requires_permission_to_run: bool | None = None, provide_traceback: bool | None = None,
                       checkpoint: Checkpoint = None, checkpoint_key: str | None = None, **_: Any) -> Any:
        if requires_permission_to_run is True:
            raise ValueError("User confirmation is removed from MIPROv2. Please remove the "
                             "'requires_permission_to_run' argument.")
        max_errors = self.max_errors if self.max_errors is not None else settings.max_errors
        max_boot = max_bootstrapped_demos if max_bootstrapped_demos is not None else self.max_bootstrapped_demos
        max_labeled = max_labeled_demos if max_labeled_demos is not None else self.max_labeled_demos
        zeroshot = max_boot == 0 and max_labeled == 0
        self._validate_run_mode(student, zeroshot, num_trials)
        seed = seed or self.seed
        self.rng = rng = random.Random(seed)
        trainset, valset = _split(trainset, valset)
        num_trials, valset, minibatch, n_instruct, n_fewshot = self._run_mode(student, num_trials, minibatch,
                                                                             zeroshot, valset, rng)
        if minibatch and minibatch_size > len(valset):
            raise ValueError(f"Minibatch size cannot exceed the size of the valset. Valset size: {len(valset)}.")

        program = student.deepcopy()
        fp = fingerprint("MIPROv2", self._params(), trainset, valset, seed, num_trials, max_boot, max_labeled,
                         minibatch, minibatch_size, minibatch_full_eval_steps, program_aware_proposer,
                         data_aware_proposer, view_data_batch_size, tip_aware_proposer, fewshot_aware_proposer,
                         student.dump_state())
        session = await CheckpointSession.open(checkpoint or self.checkpoint, checkpoint_key or self.checkpoint_key,
                                               "MIPROv2", fp)
        try:

            # optuna takes a few hundred ms to import, and the dataset summary needs only the trainset:
            # both run while the demo sets are bootstrapped (the prompts are the same as DSPy's).
            optuna_ready = asyncio.ensure_future(asyncio.to_thread(import_optuna, "MIPROv2"))
            optuna_ready.add_done_callback(_consume_exception)
            proposer = GroundedProposer(
                prompt_model=self.prompt_model, program=program, trainset=trainset,
                view_data_batch_size=view_data_batch_size, program_aware=program_aware_proposer,
                use_dataset_summary=data_aware_proposer, use_task_demos=fewshot_aware_proposer,
                num_demos_in_context=BOOTSTRAPPED_FEWSHOT_EXAMPLES_IN_CONTEXT, use_tip=tip_aware_proposer,
                set_tip_randomly=tip_aware_proposer, rng=rng, init_temperature=self.init_temperature)
            summary = asyncio.ensure_future(proposer.prepare(session))
            try:
                self.progress("step", step="bootstrap")
                with settings.context(lm=self.task_model):
                    demo_candidates: Any = await create_n_fewshot_demo_sets(
                        program, n_fewshot, trainset,
                        max_labeled_demos=LABELED_FEWSHOT_EXAMPLES_IN_CONTEXT if zeroshot else max_labeled,
                        max_bootstrapped_demos=BOOTSTRAPPED_FEWSHOT_EXAMPLES_IN_CONTEXT if zeroshot else max_boot,
                        metric=self.metric, teacher_settings=self.teacher_settings, session=session,
                        max_errors=max_errors, metric_threshold=self.metric_threshold, teacher=teacher, rng=rng,
                        num_threads=self.num_threads)
                self.progress("step", step="propose")
                await summary
            finally:
                if not summary.done():
                    summary.cancel()
                    await asyncio.gather(summary, return_exceptions=True)
            instructions = await proposer.propose_instructions_for_program(program, demo_candidates, n_instruct, session)
            for i, predictor in enumerate(program.predictors()):
                instructions[i][0] = predictor.signature.instructions
                for j, text in enumerate(instructions[i]):
                    logger.info("Predictor %d instruction %d: %s", i, j, text)
            if zeroshot:
                demo_candidates = None

            await optuna_ready
            self.progress("step", step="search")
            with settings.context(lm=self.task_model):
                search = _Search(self, program, instructions, demo_candidates, valset, session, rng, max_errors)
                best = await search.run(num_trials, minibatch, minibatch_size, minibatch_full_eval_steps, seed)
            return best
        finally:
            await session.flush()

    # -- configuration (DSPy's rules) -----------------------------------------------------------------
    def _validate_run_mode(self, student: Any, zeroshot: bool, num_trials: int | None) -> None:
        if self.auto is None and self.num_candidates is not None and num_trials is None:
            raise ValueError(
                f"If auto is None, num_trials must also be provided. Given num_candidates={self.num_candidates}, "
                f"we'd recommend setting num_trials to ~{_num_trials(student, zeroshot, self.num_candidates)}.")
        if self.auto is None and (self.num_candidates is None or num_trials is None):
            raise ValueError("If auto is None, num_candidates must also be provided.")
        if self.auto is not None and (self.num_candidates is not None or num_trials is not None):
            raise ValueError(
                "If auto is not None, num_candidates and num_trials cannot be set, since they would be overridden by "
                "the auto settings. Please either set auto to None, or do not specify num_candidates and num_trials.")

    def _run_mode(self, program: Any, num_trials: int | None, minibatch: bool, zeroshot: bool, valset: list[Any],
                  rng: random.Random) -> tuple[int, list[Any], bool, int, int]:
        if self.auto is None:
            assert self.num_candidates is not None and num_trials is not None
            return num_trials, valset, minibatch, self.num_candidates, self.num_candidates
        auto = AUTO_RUN_SETTINGS[self.auto]
        valset = create_minibatch(valset, auto["val_size"], rng)
        n_instruct = auto["n"] if zeroshot else int(auto["n"] * 0.5)
        return (_num_trials(program, zeroshot, auto["n"]), valset, len(valset) > MIN_MINIBATCH_SIZE, n_instruct,
                auto["n"])

    def _params(self) -> list[Any]:
        return [self.metric, self.auto, self.num_candidates, self.max_bootstrapped_demos, self.max_labeled_demos,
                self.teacher_settings, self.init_temperature, self.max_errors, self.metric_threshold,
                self.task_model.dump_state() if hasattr(self.task_model, "dump_state") else repr(self.task_model),
                self.prompt_model.dump_state() if hasattr(self.prompt_model, "dump_state") else repr(self.prompt_model)]


def _consume_exception(future: asyncio.Future[Any]) -> None:
    """Mark a background future's failure as seen (it is re-raised where it is awaited, if it is)."""
    if not future.cancelled():
        future.exception()


def _num_trials(program: Any, zeroshot: bool, num_candidates: int) -> int:
    num_vars = len(program.predictors()) * (1 if zeroshot else 2)
    return int(max(2 * num_vars * math.log2(num_candidates), 1.5 * num_candidates))


def _split(trainset: list[Any], valset: list[Any] | None) -> tuple[list[Any], list[Any]]:
    if not trainset:
        raise ValueError("Trainset cannot be empty.")
    if valset is None:
        if len(trainset) < 2:
            raise ValueError("Trainset must have at least 2 examples if no valset specified.")
        size = min(1000, max(1, int(len(trainset) * 0.80)))
        cutoff = len(trainset) - size
        return trainset[:cutoff], trainset[cutoff:]
    if len(valset) < 1:
        raise ValueError("Validation set must have at least 1 example.")
    return trainset, valset


class _Search:
    """Step 3: the optuna study over (instruction, demo set) indices per predictor."""

    def __init__(self, owner: MIPROv2, program: Any, instructions: dict[int, list[str]], demo_candidates: Any,
                 valset: list[Any], session: CheckpointSession, rng: random.Random, max_errors: int) -> None:
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
        return self.valset if batch_size >= len(self.valset) else create_minibatch(self.valset, batch_size, self.rng)

    async def evaluate(self, program: Any, devset: list[Any], eval_id: str) -> float:
        """DSPy's `eval_candidate_program`: any failure scores 0."""
        try:
            score, _ = await score_program(program, devset, self.owner.metric,
                                           num_threads=self.owner.num_threads or settings.num_threads,
                                           max_errors=self.max_errors, session=self.session,
                                           record=self.session.section("eval", eval_id))
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
                demos_idx = trial.suggest_categorical(f"{i}_predictor_demos", range(len(self.demo_candidates[i])))
                predictor.demos = self.demo_candidates[i][demos_idx]
                self.trial_logs[trial_num][f"{i}_predictor_demos"] = demos_idx
                chosen.append(f"Predictor {i}: Few-Shot Set {demos_idx}")
                raw[f"{i}_predictor_demos"] = demos_idx
        return chosen, raw

    def save_program(self, program: Any, trial_num: int, note: str | None = None) -> str | None:
        if not self.owner.log_dir:
            return None
        path = Path(self.owner.log_dir) / "evaluated_programs" / (
            f"program_{trial_num}_{note}.json" if note else f"program_{trial_num}.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        program.save(path)
        return str(path)

    async def run(self, num_trials: int, minibatch: bool, minibatch_size: int, full_eval_steps: int,
                  seed: int) -> Any:
        optuna, owner = self.optuna, self.owner
        extra_at_end = 1 if num_trials % full_eval_steps != 0 else 0
        adjusted = int(num_trials + num_trials // full_eval_steps + 1 + extra_at_end if minibatch else num_trials)

        owner.progress("trial_started", trial=1, total=adjusted, eval_kind="full")
        default_score = await self.evaluate(self.program, self.valset, "default")
        self.trial_logs[1] = {"full_eval_program_path": self.save_program(self.program, -1),
                              "full_eval_score": default_score, "total_eval_calls_so_far": len(self.valset),
                              "full_eval_program": self.program.deepcopy()}
        best_score, best_program = default_score, self.program.deepcopy()
        total_eval_calls = len(self.valset)
        self.score_data = [{"score": best_score, "program": self.program.deepcopy(), "full_eval": True}]
        owner.progress("trial_finished", trial=1, score=default_score, best_score=best_score, eval_kind="full")
        param_scores: dict[str, list[tuple[float, Any, dict[str, int]]]] = {}
        fully_evaled: dict[str, dict[str, Any]] = {}

        study = optuna.create_study(direction="maximize", sampler=tpe_sampler(optuna, seed))
        default_params = {f"{i}_predictor_instruction": 0 for i in range(len(self.program.predictors()))}
        if self.demo_candidates:
            default_params.update({f"{i}_predictor_demos": 0 for i in range(len(self.program.predictors()))})
        study.add_trial(optuna.trial.create_trial(params=default_params, distributions=self.distributions(),
                                                  value=default_score))

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
            completed = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,
                                                                      optuna.trial.TrialState.PRUNED)))
            return (len(pending) < max(1, owner.max_concurrent_trials)
                    and completed + len(pending) < n_startup
                    and not any(full_eval_after(p[1]) for p in pending))

        try:
            while asked < num_trials or pending:
                while can_ask():
                    trial = study.ask()
                    trial_num = trial.number + 1
                    self.trial_logs[trial_num] = {}
                    candidate = self.program.deepcopy()
                    chosen, raw = self.select(candidate, trial, trial_num)
                    owner.progress("trial_started", trial=trial_num, total=adjusted, params=raw, eval_kind=eval_kind)
                    task = asyncio.ensure_future(self.evaluate(candidate, self.batch(batch_size), f"trial-{trial_num}"))
                    pending.append((trial, trial_num, candidate, chosen, raw, task))
                    asked += 1
                trial, trial_num, candidate, chosen, raw, task = pending.pop(0)
                score = await task
                total_eval_calls += batch_size
                if not minibatch and score > best_score:
                    best_score, best_program = score, candidate.deepcopy()
                self.score_data.append({"score": score, "program": candidate,
                                        "full_eval": batch_size >= len(self.valset)})
                kind = "mb" if minibatch else "full_eval"
                self.trial_logs[trial_num].update({
                    f"{kind}_program_path": self.save_program(candidate, trial_num), f"{kind}_score": score,
                    "total_eval_calls_so_far": total_eval_calls, f"{kind}_program": candidate.deepcopy()})
                logger.info("Trial %d: score %s with %s", trial_num, score, chosen)
                owner.progress("trial_finished", trial=trial_num, score=score, best_score=best_score, params=raw,
                               eval_kind=eval_kind)
                param_scores.setdefault(",".join(chosen), []).append((score, candidate, raw))
                if full_eval_after(trial_num):
                    best_score, best_program = await self.full_eval(trial_num, param_scores, fully_evaled, study,
                                                                    best_score, best_program)
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

    async def full_eval(self, trial_num: int, param_scores: dict[str, list[tuple[float, Any, dict[str, int]]]],
                        fully_evaled: dict[str, dict[str, Any]], study: Any, best_score: float,
                        best_program: Any) -> tuple[float, Any]:
        ranked = sorted(((key, sum(v[0] for v in values) / len(values), values[0][1], values[0][2])
                         for key, values in param_scores.items()), key=lambda x: x[1], reverse=True)
        pick = next((r for r in ranked if r[0] not in fully_evaled), None)
        if pick is None:
            raise ValueError("No valid program found in param_score_dict")
        key, mean, program, params = pick
        self.owner.progress("trial_started", trial=trial_num + 1, eval_kind="full", params=params, minibatch_mean=mean)
        score = await self.evaluate(program, self.valset, f"full-{trial_num}")
        self.score_data.append({"score": score, "program": program, "full_eval": True})
        study.add_trial(self.optuna.trial.create_trial(params=params, distributions=self.distributions(), value=score))
        fully_evaled[key] = {"program": program, "score": score}
        self.trial_logs[trial_num + 1] = {
            "full_eval_program_path": self.save_program(program, trial_num + 1, "full_eval"),
            "full_eval_program": program, "full_eval_score": score}
        if score > best_score:
            logger.info("New best full eval score! Score: %s", score)
            best_score, best_program = score, program.deepcopy()
        self.owner.progress("trial_finished", trial=trial_num + 1, eval_kind="full", score=score, best_score=best_score)
        return best_score, best_program
