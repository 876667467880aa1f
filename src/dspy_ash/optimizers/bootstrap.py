"""`BootstrapFewShot`: demos from the teacher's own successful traces, plus labeled examples.

DSPy runs the teacher on one training example at a time until `max_bootstrapped_demos` examples
succeeded. Here the teacher runs on many examples at once (`num_threads` in flight, launched in
training-set order), but outcomes are *decided* strictly in training-set order: the demos, the
error count and the point where bootstrapping stops are those of the sequential algorithm given the
same LM replies. Attempts past the stopping point are speculative; their results are discarded (and
they are cancelled once the outcome is known). The launch window grows with the failure rate seen so
far, so a teacher that mostly succeeds costs about as many calls as DSPy's loop.

Checkpoints: pass `checkpoint=` (a `CheckpointStore` or a directory path) and optionally
`checkpoint_key=` to the constructor or to `compile`. Each finished example (its rounds, outcomes and
demos) is saved as it completes; a restarted run reuses them and only runs the teacher on the rest.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from dataclasses import dataclass, field
from typing import Any

from dspy_ash.errors import InvalidInputError, OptimizerError
from dspy_ash.evaluate._calling import call_metric
from dspy_ash.optimizers._demos import demo_from_json, demo_to_json, pick_one_demo
from dspy_ash.optimizers._fingerprint import fingerprint, program_fingerprint
from dspy_ash.optimizers._session import CheckpointSession
from dspy_ash.optimizers.checkpoint import CheckpointStore
from dspy_ash.optimizers.labeled_fewshot import LabeledFewShot
from dspy_ash.optimizers.teleprompter import Teleprompter
from dspy_ash.primitives.example import Example
from dspy_ash.settings import settings

logger = logging.getLogger("dspy_ash.optimizers.bootstrap")

Checkpoint = CheckpointStore | str | os.PathLike[str] | None


class BootstrapError(OptimizerError, RuntimeError):
    """A teacher run or metric failed `max_errors` times (the message keeps the last error)."""


@dataclass
class _Attempt:
    """One training example's rounds: 'success', 'fail' or an error message per round tried."""

    rounds: list[str] = field(default_factory=list[str])
    traces: dict[str, list[dict[str, Any]]] = field(default_factory=dict[str, list[dict[str, Any]]])
    errors: dict[int, BaseException] = field(
        default_factory=dict[int, BaseException]
    )  # this process's, by round

    def to_json(self) -> dict[str, Any]:
        return {"rounds": self.rounds, "traces": self.traces}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> _Attempt:
        return cls(rounds=list(data["rounds"]), traces={k: list(v) for k, v in data["traces"].items()})


class BootstrapFewShot(Teleprompter):
    """Compiles a program by running a teacher (the student itself unless given) over the trainset and
    keeping, as demos, the traces whose outputs pass `metric` (at least `metric_threshold` when given).
    `max_bootstrapped_demos` traced demos and up to `max_labeled_demos` plain labeled ones per predictor;
    `max_rounds` retries per example at fresh temperatures; `checkpoint` resumes an interrupted compile."""

    def __init__(
        self,
        metric: Any = None,
        metric_threshold: float | None = None,
        teacher_settings: dict[str, Any] | None = None,
        max_bootstrapped_demos: int = 4,
        max_labeled_demos: int = 16,
        max_rounds: int = 1,
        max_errors: int | None = None,
        *,
        num_threads: int | None = None,
        checkpoint: Checkpoint = None,
        checkpoint_key: str | None = None,
    ) -> None:
        """DSPy's parameters; beyond them, `num_threads` (teacher runs in flight, default
        `settings.num_threads`) and `checkpoint` / `checkpoint_key` (see the module docstring)."""
        super().__init__()
        self.metric = metric
        self.metric_threshold = metric_threshold
        self.teacher_settings = {} if teacher_settings is None else teacher_settings
        self.max_bootstrapped_demos = max_bootstrapped_demos
        self.max_labeled_demos = max_labeled_demos
        self.max_rounds = max_rounds
        self.max_errors = max_errors
        self.num_threads = num_threads
        self.checkpoint = checkpoint
        self.checkpoint_key = checkpoint_key
        self.error_count = 0

    def params_fingerprint(self) -> list[Any]:
        return [
            self.metric,
            self.metric_threshold,
            self.teacher_settings,
            self.max_bootstrapped_demos,
            self.max_labeled_demos,
            self.max_rounds,
            self.max_errors,
        ]

    async def acompile(
        self,
        student: Any,
        *,
        teacher: Any = None,
        trainset: list[Any],
        checkpoint: Checkpoint = None,
        checkpoint_key: str | None = None,
        **_: Any,
    ) -> Any:
        fp = fingerprint(
            "BootstrapFewShot",
            self.params_fingerprint(),
            trainset,
            program_fingerprint(student),
            program_fingerprint(teacher) if teacher is not None else None,
        )
        session = await CheckpointSession.open(
            checkpoint or self.checkpoint, checkpoint_key or self.checkpoint_key, "BootstrapFewShot", fp
        )
        try:
            return await self.bootstrap(student, teacher, trainset, session, session.section("examples"))
        finally:
            await session.flush()

    async def bootstrap(
        self,
        student: Any,
        teacher: Any,
        trainset: list[Any],
        session: CheckpointSession,
        record: dict[str, Any],
    ) -> Any:
        """The whole algorithm; `record` is this run's checkpoint section (other optimizers nest it)."""
        program = student.reset_copy()
        teacher_program = teacher.deepcopy() if teacher is not None else student.deepcopy()
        if getattr(program, "_compiled", False):
            raise InvalidInputError("Student must be uncompiled.")
        if self.max_labeled_demos and not getattr(teacher_program, "_compiled", False):
            teacher_program = LabeledFewShot(k=self.max_labeled_demos).apply(
                teacher_program.reset_copy(), trainset
            )
        names = _check_predictor_mapping(program, teacher_program)

        bootstrapped, name2traces = await self._bootstrap_all(
            teacher_program, trainset, names, session, record
        )

        validation = [x for i, x in enumerate(trainset) if i not in bootstrapped]
        random.Random(0).shuffle(validation)
        rng = random.Random(0)
        for name, predictor in program.named_predictors():
            augmented = name2traces[name][: self.max_bootstrapped_demos]
            sample_size = max(0, min(self.max_labeled_demos - len(augmented), len(validation)))
            predictor.demos = augmented + rng.sample(validation, sample_size)
        program._compiled = True
        return program

    async def _bootstrap_all(
        self,
        teacher: Any,
        trainset: list[Any],
        names: list[str],
        session: CheckpointSession,
        record: dict[str, Any],
    ) -> tuple[set[int], dict[str, list[Example]]]:
        max_bootstraps = self.max_bootstrapped_demos
        limit = max(1, self.num_threads or settings.num_threads)
        max_errors = self.max_errors if self.max_errors is not None else settings.max_errors
        known = {int(k): _Attempt.from_json(v) for k, v in record.items()}
        bootstrapped: set[int] = set()
        name2traces: dict[str, list[Example]] = {name: [] for name in names}
        running: dict[asyncio.Task[_Attempt], int] = {}
        next_launch = 0
        decided = 0  # the next example to decide, in training-set order
        successes = 0

        def success_rate() -> float:
            return successes / decided if decided else 1.0

        async def attempt(index: int) -> _Attempt:
            result = await self._attempt(teacher, trainset[index])
            record[str(index)] = result.to_json()
            await session.save()
            return result

        try:
            while decided < len(trainset) and len(bootstrapped) < max_bootstraps:
                # Launch ahead of the decision point, as far as the success rate so far says we need.
                while next_launch < len(trainset) and len(running) < limit:
                    pending = next_launch - decided
                    if pending > 0 and successes + pending * success_rate() >= max_bootstraps:
                        break
                    if next_launch not in known:
                        running[asyncio.ensure_future(attempt(next_launch))] = next_launch
                    next_launch += 1
                if decided in known:
                    outcome = known.pop(decided)
                    if self._decide(decided, outcome, max_errors, name2traces):
                        bootstrapped.add(decided)
                        successes += 1
                    self.progress(
                        "bootstrap_example",
                        index=decided,
                        success=decided in bootstrapped,
                        bootstrapped=successes,
                    )
                    decided += 1
                    continue
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    known[running.pop(task)] = task.result()
        finally:
            for task in running:
                task.cancel()
            if running:  # speculative runs past the stopping point, or siblings of a failure
                await asyncio.gather(*running, return_exceptions=True)
        logger.info(
            "Bootstrapped %d full traces after %d examples for up to %d rounds.",
            len(bootstrapped),
            decided,
            self.max_rounds,
        )
        self.progress("bootstrap", bootstrapped=len(bootstrapped), examples=decided)
        return bootstrapped, name2traces

    def _decide(
        self, index: int, outcome: _Attempt, max_errors: int, name2traces: dict[str, list[Example]]
    ) -> bool:
        """Apply one example's outcome as the sequential loop would: count errors, collect demos."""
        for i, status in enumerate(outcome.rounds):
            if status == "success":
                for name, demos in outcome.traces.items():
                    name2traces[name].extend(demo_from_json(d) for d in demos)
                return True
            if status != "fail":
                self.error_count += 1
                if self.error_count >= max_errors:
                    raise outcome.errors.get(i) or BootstrapError(status)
                logger.error(
                    "Failed to run or to evaluate example %d with %s due to %s.", index, self.metric, status
                )
        return False

    async def _attempt(self, teacher: Any, example: Any) -> _Attempt:
        result = _Attempt()
        for round_idx in range(self.max_rounds):
            try:
                traces = await self._run_round(teacher, example, round_idx)
            except Exception as exc:
                result.errors[len(result.rounds)] = exc
                result.rounds.append(f"{type(exc).__name__}: {exc}")
                continue
            if traces is not None:
                result.rounds.append("success")
                result.traces = traces
                return result
            result.rounds.append("fail")
        return result

    async def _run_round(
        self, teacher: Any, example: Any, round_idx: int
    ) -> dict[str, list[dict[str, Any]]] | None:
        """One teacher run with this example left out of the teacher's demos; its demos if it succeeded.

        DSPy edits the shared teacher's demos and restores them. Runs here are concurrent, so a run whose
        example is among the demos gets a private copy; the others share the teacher unchanged."""
        program = teacher
        if any(example in predictor.demos for _, predictor in teacher.named_predictors()):
            program = teacher.deepcopy()
            for _, predictor in program.named_predictors():
                predictor.demos = [x for x in predictor.demos if x != example]
        predictor_names = {id(p): name for name, p in program.named_predictors()}
        with settings.context(trace=[], **self.teacher_settings):
            if round_idx > 0:
                lm = settings.lm.copy(rollout_id=round_idx, temperature=1.0)
                with settings.context(lm=lm):
                    prediction = await program.acall(**example.inputs())
            else:
                prediction = await program.acall(**example.inputs())
            trace = list(settings.trace)
            if self.metric:
                value = await call_metric(self.metric, example, prediction, trace)
                success = value >= self.metric_threshold if self.metric_threshold else value
            else:
                success = True
        if not success:
            return None
        by_name: dict[str, list[Example]] = {}
        for predictor, inputs, outputs in trace:
            name = predictor_names.get(id(predictor))
            if name is None:
                continue
            by_name.setdefault(name, []).append(Example(augmented=True, **inputs, **outputs))
        return {
            name: [demo_to_json(pick_one_demo(demos) if len(demos) > 1 else demos[0])]
            for name, demos in by_name.items()
        }


def _check_predictor_mapping(student: Any, teacher: Any) -> list[str]:
    students, teachers = student.named_predictors(), teacher.named_predictors()
    if len(students) != len(teachers):
        raise AssertionError("Student and teacher must have the same number of predictors.")
    for (name1, p1), (name2, p2) in zip(students, teachers, strict=True):
        if name1 != name2:
            raise AssertionError("Student and teacher must have the same program structure.")
        if not p1.signature.equals(p2.signature):
            raise AssertionError(
                f"Student and teacher must have the same signatures. {type(p1.signature)} != "
                f"{type(p2.signature)}"
            )
        if p1 is p2:
            raise AssertionError("Student and teacher must be different objects.")
    return [name for name, _ in students]
