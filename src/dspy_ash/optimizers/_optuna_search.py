"""`BootstrapFewShotWithOptuna`: bootstrap one pool of demos, then let optuna pick one demo per predictor.

DSPy's steps: one `BootstrapFewShot(max_bootstrapped_demos=max_demos)`; `num_candidate_programs`
optuna trials each choosing `demo_index_for_<name>` per predictor and scoring on the valset; the
best trial's program wins. DSPy's study is unseeded; pass `seed=` for a reproducible search.
"""

from __future__ import annotations

from typing import Any

from dspy_ash.optimizers._bootstrap import BootstrapFewShot
from dspy_ash.optimizers._optuna import import_optuna, tpe_sampler
from dspy_ash.optimizers._scoring import score_program
from dspy_ash.optimizers.checkpoint import Checkpoint
from dspy_ash.optimizers.checkpoint._run import CheckpointedTeleprompter, programs_fingerprint
from dspy_ash.optimizers.checkpoint._session import CheckpointSession
from dspy_ash.settings import settings


class BootstrapFewShotWithOptuna(CheckpointedTeleprompter):
    """Bootstraps `num_candidate_programs` demo sets, then lets Optuna pick, per predictor, the demo set
    that maximises `metric` on the valset (`max_bootstrapped_demos`, `max_labeled_demos` as in
    `BootstrapFewShot`)."""

    kind = "BootstrapFewShotWithOptuna"

    def __init__(
        self,
        metric: Any,
        teacher_settings: dict[str, Any] | None = None,
        max_bootstrapped_demos: int = 4,
        max_labeled_demos: int = 16,
        max_rounds: int = 1,
        num_candidate_programs: int = 16,
        num_threads: int | None = None,
        *,
        seed: int | None = None,
        checkpoint: Checkpoint = None,
        checkpoint_key: str | None = None,
    ) -> None:
        super().__init__(checkpoint, checkpoint_key)
        self.metric = metric
        self.teacher_settings = teacher_settings or {}
        self.max_rounds = max_rounds
        self.num_threads = num_threads
        self.min_num_samples = 1
        self.max_num_samples = max_bootstrapped_demos
        self.num_candidate_sets = num_candidate_programs
        self.max_labeled_demos = max_labeled_demos
        self.seed = seed

    async def acompile(
        self,
        student: Any,
        *,
        teacher: Any = None,
        max_demos: int,
        trainset: list[Any],  # pyright: ignore
        valset: list[Any] | None = None,
        checkpoint: Checkpoint = None,
        checkpoint_key: str | None = None,
        **_: Any,
    ) -> Any:
        optuna = import_optuna("BootstrapFewShotWithOptuna")
        valset = valset or trainset
        async with self.checkpoint_session(
            checkpoint,
            checkpoint_key,
            [
                self.metric,
                self.teacher_settings,
                self.max_rounds,
                self.num_candidate_sets,
                self.max_labeled_demos,
                self.seed,
            ],
            max_demos,
            trainset,
            valset,
            *programs_fingerprint(student, teacher),
        ) as session:
            base = student.reset_copy()
            teacher_program = teacher.deepcopy() if teacher is not None else student.reset_copy()
            pool = await BootstrapFewShot(
                metric=self.metric,
                max_bootstrapped_demos=max_demos,
                max_labeled_demos=self.max_labeled_demos,
                teacher_settings=self.teacher_settings,
                max_rounds=self.max_rounds,
                num_threads=self.num_threads,
            ).bootstrap(base, teacher_program, trainset, session, session.section("bootstrap"))
            return await self._search(optuna, base, pool, valset, session)

    async def _search(
        self, optuna: Any, base: Any, pool: Any, valset: list[Any], session: CheckpointSession
    ) -> Any:
        """`num_candidate_programs` trials, each picking one pooled demo per predictor; the best wins."""
        sampler = tpe_sampler(optuna, self.seed, multivariate=False) if self.seed is not None else None
        study = optuna.create_study(direction="maximize", sampler=sampler)
        programs: list[Any] = []
        for number in range(self.num_candidate_sets):
            trial = study.ask()
            program = base.reset_copy()
            targets: list[tuple[str, Any]] = program.named_predictors()
            for (name, pooled), (_same_name, target) in zip(pool.named_predictors(), targets, strict=True):
                index = trial.suggest_int(f"demo_index_for_{name}", 0, len(pooled.demos) - 1)
                target.demos = [dict(pooled.demos[index])]  # one demo, as a plain dict like DSPy
            self.progress("trial_started", trial=number)
            score, _subscores = await score_program(
                program,
                valset,
                self.metric,
                num_threads=self.num_threads or settings.num_threads,
                max_errors=settings.max_errors,
                session=session,
                record=session.section("eval", str(number)),
            )
            programs.append(program)
            study.tell(trial, score)
            self.progress("trial_finished", trial=number, score=score, best_score=study.best_value)
        return programs[study.best_trial.number]
