"""`BootstrapFewShot`: demos from the teacher's own successful traces, plus labeled examples.

DSPy runs the teacher on one training example at a time until `max_bootstrapped_demos` examples
succeeded. Here the teacher runs on many examples at once (`num_threads` in flight, by default up to
`SPECULATIVE_RUNS`, launched in training-set order), but outcomes are *decided* strictly in training-set order: the demos, the
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
import hashlib
import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from dspy_ash.errors import InvalidInputError, OptimizerError
from dspy_ash.evaluate._calling import call_metric
from dspy_ash.optimizers._labeled_fewshot import LabeledFewShot
from dspy_ash.optimizers.checkpoint import Checkpoint
from dspy_ash.optimizers.checkpoint._records import demo_from_json, demo_to_json
from dspy_ash.optimizers.checkpoint._run import CheckpointedTeleprompter, programs_fingerprint
from dspy_ash.optimizers.checkpoint._session import CheckpointSession
from dspy_ash.primitives._example import Example
from dspy_ash.settings import settings

logger = logging.getLogger("dspy_ash.optimizers.bootstrap")

# Teacher runs in flight when `num_threads` is not given (at least `settings.num_threads`). DSPy runs
# the teacher one example at a time, so no DSPy setting says how far to run ahead; the success-rate
# rule in `_Walk.launch` keeps speculative calls near zero, so the cap only bounds open requests
# (a provider's own limit belongs on the LM: `LM(max_concurrency=...)`).
SPECULATIVE_RUNS = 64


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


class BootstrapFewShot(CheckpointedTeleprompter):
    """Compiles a program by running a teacher (the student itself unless given) over the trainset and
    keeping, as demos, the traces whose outputs pass `metric` (at least `metric_threshold` when given).
    `max_bootstrapped_demos` traced demos and up to `max_labeled_demos` plain labeled ones per predictor;
    `max_rounds` retries per example at fresh temperatures; `checkpoint` resumes an interrupted compile."""

    kind = "BootstrapFewShot"

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
        """DSPy's parameters; beyond them, `num_threads` (teacher runs in flight, default the larger of
        `settings.num_threads` and `SPECULATIVE_RUNS`) and `checkpoint` / `checkpoint_key` (see the
        module docstring)."""
        super().__init__(checkpoint, checkpoint_key)
        self.metric = metric
        self.metric_threshold = metric_threshold
        self.teacher_settings = {} if teacher_settings is None else teacher_settings
        self.max_bootstrapped_demos = max_bootstrapped_demos
        self.max_labeled_demos = max_labeled_demos
        self.max_rounds = max_rounds
        self.max_errors = max_errors
        self.num_threads = num_threads
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
        async with self.checkpoint_session(
            checkpoint,
            checkpoint_key,
            self.params_fingerprint(),
            trainset,
            *programs_fingerprint(student, teacher),
        ) as session:
            return await self.bootstrap(student, teacher, trainset, session, session.section("examples"))

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
        max_errors = self.max_errors if self.max_errors is not None else settings.max_errors
        limit = max(1, self.num_threads or max(settings.num_threads, SPECULATIVE_RUNS))

        async def attempt(index: int) -> _Attempt:
            result = await self._attempt(teacher, trainset[index])
            record[str(index)] = result.to_json()
            await session.save()
            return result

        walk = _Walk(len(trainset), self.max_bootstrapped_demos, limit, attempt, record)
        bootstrapped: set[int] = set()
        name2traces: dict[str, list[Example]] = {name: [] for name in names}
        try:
            while walk.decided < len(trainset) and len(bootstrapped) < self.max_bootstrapped_demos:
                walk.launch()
                outcome = await walk.next_outcome()
                index = walk.decided
                success = self._decide(index, outcome, max_errors, name2traces)
                if success:
                    bootstrapped.add(index)
                walk.record_decision(success)
                self.progress("bootstrap_example", index=index, success=success, bootstrapped=walk.successes)
        finally:
            await walk.cancel()
        logger.info(
            "Bootstrapped %d full traces after %d examples for up to %d rounds.",
            len(bootstrapped),
            walk.decided,
            self.max_rounds,
        )
        self.progress("bootstrap", bootstrapped=len(bootstrapped), examples=walk.decided)
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
            name: [demo_to_json(_pick_one_demo(demos) if len(demos) > 1 else demos[0])]
            for name, demos in by_name.items()
        }


class _Walk:
    """Teacher runs launched ahead of the decision point, outcomes handed out in training-set order.

    `known` holds finished outcomes (from the checkpoint, or runs that completed) not yet decided."""

    def __init__(
        self,
        size: int,
        max_bootstraps: int,
        limit: int,
        attempt: Callable[[int], Awaitable[_Attempt]],
        record: dict[str, Any],
    ) -> None:
        self.size = size
        self.max_bootstraps = max_bootstraps
        self.limit = limit
        self.attempt = attempt
        self.known = {int(k): _Attempt.from_json(v) for k, v in record.items()}
        self.running: dict[asyncio.Future[_Attempt], int] = {}
        self.next_launch = 0
        self.decided = 0  # the next example to decide
        self.successes = 0

    def launch(self) -> None:
        """Launch ahead of the decision point, as far as the success rate so far says we need."""
        rate = self.successes / self.decided if self.decided else 1.0
        while self.next_launch < self.size and len(self.running) < self.limit:
            pending = self.next_launch - self.decided
            if pending > 0 and self.successes + pending * rate >= self.max_bootstraps:
                break
            if self.next_launch not in self.known:
                self.running[asyncio.ensure_future(self.attempt(self.next_launch))] = self.next_launch
            self.next_launch += 1

    async def next_outcome(self) -> _Attempt:
        """The outcome of the next example to decide, waiting for its run if it is not finished."""
        while self.decided not in self.known:
            done, _ = await asyncio.wait(self.running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                self.known[self.running.pop(task)] = task.result()
            self.launch()  # into the slots just freed
        return self.known.pop(self.decided)

    def record_decision(self, success: bool) -> None:
        self.successes += success
        self.decided += 1

    async def cancel(self) -> None:
        """Cancel the runs past the stopping point (speculative), or the siblings of a failure."""
        for task in self.running:
            task.cancel()
        if self.running:
            await asyncio.gather(*self.running, return_exceptions=True)


def _pick_one_demo(demos: list[Example]) -> Example:
    """A predictor called several times in one run contributes one demo: 50% the last call, else a
    random earlier one. DSPy seeds this choice with a pickle hash of its own classes; we seed it with a
    hash of the demos' JSON, stable across processes (the only choice that differs from DSPy's)."""
    text = json.dumps([demo_to_json(d) for d in demos], sort_keys=True, default=str)
    rng = random.Random(int(hashlib.sha256(text.encode()).hexdigest(), 16))
    return rng.choice(demos[:-1]) if rng.random() < 0.5 else demos[-1]


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
