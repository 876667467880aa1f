"""A compile run for the hard-kill test: `python hard_kill_job.py NAME CHECKPOINT_DIR CALLS_FILE`.

The LM answers from the shared QA fixtures after a short sleep and appends one line to CALLS_FILE per
finished call, so the test can SIGKILL the process mid-run and count the calls each run paid for.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2] / "unit" / "optimizers"))

from opt_fixtures import exact, mipro_answers, qa_trainset  # pyright: ignore[reportMissingImports]

import dspy_ash as ash
from dspy_ash.lm.base import BaseLM
from dspy_ash.lm.types import LMRequest, LMResponse
from dspy_ash.testing import DummyLM

WRONG = {0, 2, 3, 7, 11, 12, 21, 25}


class LoggedLM(BaseLM):
    def __init__(self, calls_file: str) -> None:
        super().__init__("dummy")
        self.inner = DummyLM(mipro_answers(30, WRONG))
        self.log = open(calls_file, "a", buffering=1)  # noqa: SIM115 - line-buffered for the whole run

    async def request(self, req: LMRequest) -> LMResponse:
        await asyncio.sleep(0.02)
        response = await self.inner.request(req)
        self.log.write("call\n")
        return response


def main() -> None:
    name, checkpoint, calls_file = sys.argv[1:4]
    ash.configure(lm=LoggedLM(calls_file))
    data = qa_trainset(ash, 30)
    if name == "random_search":
        program = ash.BootstrapFewShotWithRandomSearch(
            metric=exact,
            max_bootstrapped_demos=3,
            max_labeled_demos=3,
            num_candidate_programs=4,
            num_threads=4,
            checkpoint=checkpoint,
        ).compile(ash.Predict("question -> answer"), trainset=data[:18], valset=data[18:])
    else:
        program = ash.MIPROv2(
            metric=exact,
            auto=None,
            num_candidates=3,
            max_bootstrapped_demos=2,
            max_labeled_demos=2,
            num_threads=4,
            checkpoint=checkpoint,
        ).compile(
            ash.Predict("question -> answer"),
            trainset=data[:18],
            valset=data[18:],
            num_trials=4,
            minibatch_size=5,
            minibatch_full_eval_steps=2,
        )
    print(json.dumps(program.dump_state(), sort_keys=True, default=str))


if __name__ == "__main__":
    main()
