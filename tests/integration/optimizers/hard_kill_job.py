"""A compile run for the hard-kill tests: `python hard_kill_job.py NAME CHECKPOINT_DIR LOG_FILE`.

The LM is scripted (it answers from the question marker, never from the gold label) and sleeps a
little per call, so a SIGKILL lands mid-run. LOG_FILE gets one line per event, line-buffered:
`start` when an LM call was sent, `call` when it finished, `write` when a checkpoint write starts (the store serialises the
state then) and `written` when it completed, `answer` when the compiled program answered a query;
each with its `time.monotonic()` (one clock for every process).
The last stdout line is the result: the program's state (and, for the optimizers whose work is done
at call time, the compiled program's answers and prompts).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).parents[2] / "unit" / "optimizers"))

from gepa_task import TaskLM, dataset, feedback_metric
from gepa_task import program as gepa_program
from opt_fixtures import exact, mipro_answers, qa_answers, qa_trainset  # pyright: ignore[reportMissingImports]

import dspy_ash as ash
from dspy_ash.lm._base import BaseLM
from dspy_ash.lm._types import LMRequest, LMResponse
from dspy_ash.optimizers import DirectoryCheckpointStore
from dspy_ash.testing import DummyLM

WRONG = {0, 2, 3, 7, 11, 12, 21, 25}
LATENCY = 0.02


def mark(log: TextIO, event: str) -> None:
    log.write(f"{event} {time.monotonic():.6f}\n")


class LoggedLM(BaseLM):
    def __init__(self, answers: dict[str, Any], log: TextIO, inner: BaseLM | None = None) -> None:
        super().__init__("dummy" if inner is None else inner.model)
        self.inner = DummyLM(answers) if inner is None else inner
        self.log = log

    async def request(self, req: LMRequest) -> LMResponse:
        mark(self.log, "start")
        await asyncio.sleep(LATENCY)
        response = await self.inner.request(req)
        mark(self.log, "call")
        return response


class LoggedStore(DirectoryCheckpointStore):
    """Marks the start (the state is serialised there) and the end of every checkpoint write."""

    def __init__(self, directory: str, log: TextIO) -> None:
        super().__init__(directory)
        self.log = log

    async def save(self, key: str, state: dict[str, Any]) -> None:
        mark(self.log, "write")
        await super().save(key, state)
        mark(self.log, "written")


def copro_answers() -> dict[str, Any]:
    return {
        "[[ ## attempted_instructions ## ]]": {
            "proposed_instruction": "Answer better.",
            "proposed_prefix_for_output_field": "Answer:",
        },
        "[[ ## basic_instruction ## ]]": {
            "proposed_instruction": "Answer the trivia question.",
            "proposed_prefix_for_output_field": "Final Answer:",
        },
        **qa_answers(12, WRONG),
    }


def circle(texts: list[str]) -> list[list[float]]:
    """Questions on a circle by their number: the nearest neighbours are the neighbouring numbers."""
    vectors: list[list[float]] = []
    for text in texts:
        n = int(text.split("<q")[1][:3])
        vectors.append([math.cos(2 * math.pi * n / 30), math.sin(2 * math.pi * n / 30)])
    return vectors


def answer_all(program: Any, queries: list[Any], lm: BaseLM, log: TextIO) -> list[Any]:
    """The compiled program's answers, one query at a time, with a digest of each answer's prompt."""
    results: list[Any] = []
    for query in queries:
        prediction = program(**query.inputs())
        prompt = json.dumps(lm.history[-1]["messages"], sort_keys=True)
        results.append([str(prediction.answer), hashlib.sha256(prompt.encode()).hexdigest()[:16]])
        mark(log, "answer")
    return results


def run(name: str, checkpoint: str, log: TextIO) -> Any:
    store = LoggedStore(checkpoint, log)
    replies = {"mipro": lambda: mipro_answers(30, WRONG), "copro": copro_answers}.get(
        name, lambda: qa_answers(30, WRONG)
    )()
    lm = LoggedLM(replies, log)
    ash.configure(lm=lm)
    data = qa_trainset(ash, 30)
    student = ash.Predict("question -> answer")
    if name == "bootstrap":
        return ash.BootstrapFewShot(
            metric=exact, max_bootstrapped_demos=16, max_labeled_demos=3, num_threads=4
        ).compile(student, trainset=data, checkpoint=store)
    if name == "random_search":
        return ash.BootstrapFewShotWithRandomSearch(
            metric=exact,
            max_bootstrapped_demos=3,
            max_labeled_demos=3,
            num_candidate_programs=4,
            num_threads=4,
            checkpoint=store,
        ).compile(student, trainset=data[:18], valset=data[18:])
    if name == "mipro":
        return ash.MIPROv2(
            metric=exact,
            auto=None,
            num_candidates=3,
            # More demos than the 18 examples can give: the bootstrap walks them all and never stops
            # early, so no speculative teacher run past a stopping point may or may not finish before
            # it is cancelled (that depends on the machine's load), and an uninterrupted run makes
            # the same number of calls every time: the repeated calls are measured against it.
            max_bootstrapped_demos=13,
            max_labeled_demos=2,
            num_threads=4,
            checkpoint=store,
        ).compile(
            student,
            trainset=data[:18],
            valset=data[18:],
            num_trials=4,
            minibatch_size=5,
            minibatch_full_eval_steps=2,
        )
    if name == "copro":
        return ash.COPRO(metric=exact, breadth=3, depth=2, checkpoint=store).compile(
            student, trainset=data[:12], eval_kwargs={"num_threads": 4}
        )
    if name == "optuna":
        return ash.BootstrapFewShotWithOptuna(
            metric=exact,
            num_candidate_programs=5,
            max_labeled_demos=2,
            seed=1,
            num_threads=4,
            checkpoint=store,
        ).compile(student, max_demos=4, trainset=data[:18], valset=data[18:])
    if name == "gepa":
        ash.configure(lm=LoggedLM({}, log, TaskLM()))
        data = dataset(ash)
        return ash.GEPA(
            metric=feedback_metric(ash),
            reflection_lm=LoggedLM({}, log, TaskLM("reflect")),
            max_metric_calls=150,
            num_threads=4,
            checkpoint=store,
        ).compile(gepa_program(ash, "two"), trainset=data[:6], valset=data[6:])
    if name == "simba":
        return ash.SIMBA(
            metric=exact, bsize=8, num_candidates=3, max_steps=2, max_demos=2, num_threads=4, checkpoint=store
        ).compile(student, trainset=data[:16], seed=1)
    # The optimizers below make no LM calls while compiling: the kills land while the compiled
    # program answers queries, which is where their LM work is.
    queries = data[18:26]
    if name == "labeled":
        # `checkpoint` is accepted and ignored: LabeledFewShot has nothing to save.
        program = ash.LabeledFewShot(k=4).compile(student, trainset=data[:18], checkpoint=store)
        return [program.dump_state(), answer_all(program, queries, lm, log)]
    if name == "knn":
        # The bootstrap that each call runs on its neighbours is checkpointed through its arguments.
        program = ash.KNNFewShot(
            k=4,
            trainset=data[:18],
            vectorizer=circle,
            metric=exact,
            max_bootstrapped_demos=2,
            max_labeled_demos=1,
            num_threads=4,
            checkpoint=store,
        ).compile(student)
        return [program.dump_state(), answer_all(program, queries, lm, log)]
    if name == "ensemble":
        members = [ash.LabeledFewShot(k=k).compile(student, trainset=data[:18]) for k in (1, 2, 3)]
        program = ash.Ensemble(size=2, deterministic=True).compile(members)
        answers: list[Any] = []
        for query in queries:
            outputs = program(**query.inputs())
            answers.append([str(o.answer) for o in outputs])
            mark(log, "answer")
        return [program.dump_state(), answers]
    raise SystemExit(f"unknown job {name!r}")


def main() -> None:
    name, checkpoint, log_file = sys.argv[1:4]
    with open(log_file, "a", buffering=1) as log:  # line-buffered: every event is on disk at once
        result = run(name, checkpoint, log)
    state = result.dump_state() if hasattr(result, "dump_state") else result
    print(json.dumps(state, sort_keys=True, default=str))


if __name__ == "__main__":
    main()
