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
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Literal

from dspy_ash.errors import ConfigurationError, DatasetError, NoLMConfiguredError
from dspy_ash.optimizers._demo_candidates import CandidateBuilder, create_n_fewshot_demo_sets
from dspy_ash.optimizers._mipro_search import Search, SearchConfig, create_minibatch
from dspy_ash.optimizers._optuna import import_optuna, require_optuna
from dspy_ash.optimizers._proposer import GroundedProposer
from dspy_ash.optimizers.checkpoint import Checkpoint
from dspy_ash.optimizers.checkpoint._run import CheckpointedTeleprompter, programs_fingerprint
from dspy_ash.optimizers.checkpoint._session import CheckpointSession
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


@dataclass(frozen=True)
class _RunMode:
    """The sizes of one run, after `auto` and DSPy's rules."""

    num_trials: int
    valset: list[Any]
    minibatch: bool
    n_instruct: int
    n_fewshot: int
    max_bootstrapped_demos: int
    max_labeled_demos: int
    zeroshot: bool
    minibatch_size: int
    full_eval_steps: int


@dataclass(frozen=True)
class _ProposerOptions:
    """What the instruction proposer is shown (`compile`'s `*_proposer` and `view_data_batch_size`)."""

    view_data_batch_size: int
    program_aware: bool
    data_aware: bool
    tip_aware: bool
    fewshot_aware: bool


class MIPROv2(CheckpointedTeleprompter):
    """Optimizes instructions and demos together: bootstraps demo sets, has `prompt_model` propose
    instructions grounded in the data and program, then searches the combinations with Bayesian
    optimization, scoring on minibatches of the valset with `metric` and running `task_model`. `auto`
    ("light", "medium", "heavy") sets the budget; with `auto=None` give `num_candidates` and `num_trials`."""

    kind = "MIPROv2"

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
        super().__init__(checkpoint, checkpoint_key)
        if auto not in (None, "light", "medium", "heavy"):
            raise ConfigurationError(
                f"Invalid value for auto: {auto}. Must be one of {{None, 'light', 'medium', 'heavy'}}."
            )
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
        if not self.prompt_model or not self.task_model:
            raise NoLMConfiguredError(
                "Either provide both prompt_model and task_model or set a default LM through "
                "dspy.configure(lm=...)"
            )

    async def acompile(
        self,
        student: Any,
        *,
        trainset: list[Any],
        teacher: Any = None,
        valset: list[Any] | None = None,
        num_trials: int | None = None,
        max_bootstrapped_demos: int | None = None,
        max_labeled_demos: int | None = None,
        seed: int | None = None,
        minibatch: bool = True,
        minibatch_size: int = 35,
        minibatch_full_eval_steps: int = 5,
        program_aware_proposer: bool = True,
        data_aware_proposer: bool = True,
        view_data_batch_size: int = 10,
        tip_aware_proposer: bool = True,
        fewshot_aware_proposer: bool = True,
        requires_permission_to_run: bool | None = None,
        provide_traceback: bool | None = None,
        checkpoint: Checkpoint = None,
        checkpoint_key: str | None = None,
        **_: Any,
    ) -> Any:
        _check_can_run(requires_permission_to_run)
        max_errors = self.max_errors if self.max_errors is not None else settings.max_errors
        seed, rng = self._seed_run(seed)
        trainset, valset = _split(trainset, valset)
        mode = self._resolve_run_mode(
            student,
            num_trials,
            minibatch,
            minibatch_size,
            minibatch_full_eval_steps,
            valset,
            rng,
            max_bootstrapped_demos,
            max_labeled_demos,
        )
        program = student.deepcopy()
        proposing = _ProposerOptions(
            view_data_batch_size,
            program_aware=program_aware_proposer,
            data_aware=data_aware_proposer,
            tip_aware=tip_aware_proposer,
            fewshot_aware=fewshot_aware_proposer,
        )
        async with self._session(
            checkpoint, checkpoint_key, trainset, seed, mode, proposing, student, teacher
        ) as session:
            optuna_ready = _import_optuna_meanwhile()
            proposer = self._proposer(program, trainset, proposing, rng)
            demo_candidates = await self._bootstrap_demo_sets(
                program, teacher, trainset, mode, proposer, session, rng, max_errors
            )
            instructions = await self._propose_instructions(program, demo_candidates, mode, proposer, session)
            await optuna_ready
            config = self._search_config(mode, seed, max_errors)
            return await self._search(config, program, instructions, demo_candidates, mode, session, rng)

    def _seed_run(self, seed: int | None) -> tuple[int, random.Random]:
        """`compile`'s seed, else the constructor's, and the run's random generator seeded with it."""
        seed = seed or self.seed
        self.rng = random.Random(seed)
        return seed, self.rng

    def _session(
        self,
        checkpoint: Checkpoint,
        checkpoint_key: str | None,
        trainset: list[Any],
        seed: int | None,
        mode: _RunMode,
        proposing: _ProposerOptions,
        student: Any,
        teacher: Any,
    ) -> AbstractAsyncContextManager[CheckpointSession]:
        """The checkpoint session, fingerprinted by every parameter that changes the run's work."""
        return self.checkpoint_session(
            checkpoint,
            checkpoint_key,
            self._params(),
            trainset,
            mode.valset,
            seed,
            mode.num_trials,
            mode.max_bootstrapped_demos,
            mode.max_labeled_demos,
            mode.minibatch,
            mode.minibatch_size,
            mode.full_eval_steps,
            proposing.program_aware,
            proposing.data_aware,
            proposing.view_data_batch_size,
            proposing.tip_aware,
            proposing.fewshot_aware,
            *programs_fingerprint(student, teacher),
        )

    def _proposer(
        self, program: Any, trainset: list[Any], proposing: _ProposerOptions, rng: random.Random
    ) -> GroundedProposer:
        return GroundedProposer(
            prompt_model=self.prompt_model,
            program=program,
            trainset=trainset,
            view_data_batch_size=proposing.view_data_batch_size,
            program_aware=proposing.program_aware,
            use_dataset_summary=proposing.data_aware,
            use_task_demos=proposing.fewshot_aware,
            num_demos_in_context=BOOTSTRAPPED_FEWSHOT_EXAMPLES_IN_CONTEXT,
            use_tip=proposing.tip_aware,
            set_tip_randomly=proposing.tip_aware,
            use_instruct_history=False,
            set_history_randomly=False,
            rng=rng,
            init_temperature=self.init_temperature,
        )

    # -- the steps ----------------------------------------------------------------------------------
    async def _bootstrap_demo_sets(
        self,
        program: Any,
        teacher: Any,
        trainset: list[Any],
        mode: _RunMode,
        proposer: GroundedProposer,
        session: CheckpointSession,
        rng: random.Random,
        max_errors: int,
    ) -> dict[int, list[list[Any]]]:
        """Step 1: the candidate demo sets. The dataset summary needs only the trainset, so the
        proposer prepares it meanwhile (the prompts are the same as DSPy's)."""
        summary = asyncio.ensure_future(proposer.prepare(session))
        try:
            self.progress("step", step="bootstrap")
            builder = CandidateBuilder(
                metric=self.metric,
                max_labeled_demos=LABELED_FEWSHOT_EXAMPLES_IN_CONTEXT
                if mode.zeroshot
                else mode.max_labeled_demos,
                max_errors=max_errors,
                metric_threshold=self.metric_threshold,
                teacher_settings=self.teacher_settings,
                num_threads=self.num_threads,
            )
            with settings.context(lm=self.task_model):
                demo_candidates = await create_n_fewshot_demo_sets(
                    builder,
                    program,
                    teacher,
                    trainset,
                    mode.n_fewshot,
                    BOOTSTRAPPED_FEWSHOT_EXAMPLES_IN_CONTEXT
                    if mode.zeroshot
                    else mode.max_bootstrapped_demos,
                    session=session,
                    rng=rng,
                )
            self.progress("step", step="propose")
            await summary
        finally:
            if not summary.done():
                summary.cancel()
                await asyncio.gather(summary, return_exceptions=True)
        return demo_candidates

    async def _propose_instructions(
        self,
        program: Any,
        demo_candidates: dict[int, list[list[Any]]],
        mode: _RunMode,
        proposer: GroundedProposer,
        session: CheckpointSession,
    ) -> dict[int, list[str]]:
        """Step 2: `n_instruct` instructions per predictor; candidate 0 is the original."""
        instructions = await proposer.apropose_instructions_for_program(
            program, demo_candidates, mode.n_instruct, session=session
        )
        for i, predictor in enumerate(program.predictors()):
            instructions[i][0] = predictor.signature.instructions
            for j, text in enumerate(instructions[i]):
                logger.info("Predictor %d instruction %d: %s", i, j, text)
        return instructions

    def _search_config(self, mode: _RunMode, seed: int, max_errors: int) -> SearchConfig:
        return SearchConfig(
            metric=self.metric,
            num_trials=mode.num_trials,
            minibatch=mode.minibatch,
            minibatch_size=mode.minibatch_size,
            full_eval_steps=mode.full_eval_steps,
            seed=seed,
            num_threads=self.num_threads or settings.num_threads,
            max_errors=max_errors,
            max_concurrent_trials=self.max_concurrent_trials,
            log_dir=self.log_dir,
            track_stats=self.track_stats,
            prompt_model_total_calls=self.prompt_model_total_calls,
            total_calls=self.total_calls,
        )

    async def _search(
        self,
        config: SearchConfig,
        program: Any,
        instructions: dict[int, list[str]],
        demo_candidates: dict[int, list[list[Any]]],
        mode: _RunMode,
        session: CheckpointSession,
        rng: random.Random,
    ) -> Any:
        """Step 3: the optuna study over instructions and demo sets, scored with the task model."""
        self.progress("step", step="search")
        with settings.context(lm=self.task_model):
            search = Search(
                config,
                self.progress,
                program,
                instructions,
                None if mode.zeroshot else demo_candidates,
                mode.valset,
                session,
                rng,
            )
            return await search.run()

    # -- configuration (DSPy's rules) -----------------------------------------------------------------
    def _resolve_run_mode(
        self,
        student: Any,
        num_trials: int | None,
        minibatch: bool,
        minibatch_size: int,
        full_eval_steps: int,
        valset: list[Any],
        rng: random.Random,
        max_bootstrapped_demos: int | None,
        max_labeled_demos: int | None,
    ) -> _RunMode:
        max_boot = (
            max_bootstrapped_demos if max_bootstrapped_demos is not None else self.max_bootstrapped_demos
        )
        max_labeled = max_labeled_demos if max_labeled_demos is not None else self.max_labeled_demos
        zeroshot = max_boot == 0 and max_labeled == 0
        self._validate_run_mode(student, zeroshot, num_trials)
        num_trials, valset, minibatch, n_instruct, n_fewshot = self._run_mode(
            student, num_trials, minibatch, zeroshot, valset, rng
        )
        if minibatch and minibatch_size > len(valset):
            raise DatasetError(
                f"Minibatch size cannot exceed the size of the valset. Valset size: {len(valset)}."
            )
        return _RunMode(
            num_trials,
            valset,
            minibatch,
            n_instruct,
            n_fewshot,
            max_boot,
            max_labeled,
            zeroshot,
            minibatch_size,
            full_eval_steps,
        )

    def _validate_run_mode(self, student: Any, zeroshot: bool, num_trials: int | None) -> None:
        if self.auto is None and self.num_candidates is not None and num_trials is None:
            raise ConfigurationError(
                f"If auto is None, num_trials must also be provided. Given num_candidates={self.num_candidates}, "
                f"we'd recommend setting num_trials to ~{_num_trials(student, zeroshot, self.num_candidates)}."
            )
        if self.auto is None and (self.num_candidates is None or num_trials is None):
            raise ConfigurationError("If auto is None, num_candidates must also be provided.")
        if self.auto is not None and (self.num_candidates is not None or num_trials is not None):
            raise ConfigurationError(
                "If auto is not None, num_candidates and num_trials cannot be set, since they would be overridden by "
                "the auto settings. Please either set auto to None, or do not specify num_candidates and num_trials."
            )

    def _run_mode(
        self,
        program: Any,
        num_trials: int | None,
        minibatch: bool,
        zeroshot: bool,
        valset: list[Any],
        rng: random.Random,
    ) -> tuple[int, list[Any], bool, int, int]:
        if self.auto is None:
            assert self.num_candidates is not None and num_trials is not None
            return num_trials, valset, minibatch, self.num_candidates, self.num_candidates
        auto = AUTO_RUN_SETTINGS[self.auto]
        valset = create_minibatch(valset, auto["val_size"], rng)
        n_instruct = auto["n"] if zeroshot else int(auto["n"] * 0.5)
        return (
            _num_trials(program, zeroshot, auto["n"]),
            valset,
            len(valset) > MIN_MINIBATCH_SIZE,
            n_instruct,
            auto["n"],
        )

    def _params(self) -> list[Any]:
        return [
            self.metric,
            self.auto,
            self.num_candidates,
            self.max_bootstrapped_demos,
            self.max_labeled_demos,
            self.teacher_settings,
            self.init_temperature,
            self.max_errors,
            self.metric_threshold,
            self.task_model.dump_state() if hasattr(self.task_model, "dump_state") else repr(self.task_model),
            self.prompt_model.dump_state()
            if hasattr(self.prompt_model, "dump_state")
            else repr(self.prompt_model),
        ]


def _check_can_run(requires_permission_to_run: bool | None) -> None:
    if requires_permission_to_run is True:
        raise ConfigurationError(
            "User confirmation is removed from MIPROv2. Please remove the "
            "'requires_permission_to_run' argument."
        )
    require_optuna("MIPROv2")


def _import_optuna_meanwhile() -> asyncio.Future[Any]:
    """optuna takes a few hundred ms to import: it loads while the demo sets are bootstrapped."""
    optuna_ready = asyncio.ensure_future(asyncio.to_thread(import_optuna, "MIPROv2"))
    optuna_ready.add_done_callback(_consume_exception)
    return optuna_ready


def _consume_exception(future: asyncio.Future[Any]) -> None:
    """Mark a background future's failure as seen (it is re-raised where it is awaited, if it is)."""
    if not future.cancelled():
        future.exception()


def _num_trials(program: Any, zeroshot: bool, num_candidates: int) -> int:
    num_vars = len(program.predictors()) * (1 if zeroshot else 2)
    return int(max(2 * num_vars * math.log2(num_candidates), 1.5 * num_candidates))


def _split(trainset: list[Any], valset: list[Any] | None) -> tuple[list[Any], list[Any]]:
    if not trainset:
        raise DatasetError("Trainset cannot be empty.")
    if valset is None:
        if len(trainset) < 2:
            raise DatasetError("Trainset must have at least 2 examples if no valset specified.")
        size = min(1000, max(1, int(len(trainset) * 0.80)))
        cutoff = len(trainset) - size
        return trainset[:cutoff], trainset[cutoff:]
    if len(valset) < 1:
        raise DatasetError("Validation set must have at least 1 example.")
    return trainset, valset
