"""Scoring inside an optimizer: a scored example lands in the checkpoint, also when its worker is
cancelled (a sibling failed, the run is torn down) while a sync metric is still on its thread."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from opt_fixtures import qa_answers, qa_trainset

import dspy_ash as ash
from dspy_ash.optimizers import MemoryCheckpointStore
from dspy_ash.optimizers._scoring import score_program
from dspy_ash.optimizers.checkpoint._fingerprint import fingerprint
from dspy_ash.optimizers.checkpoint._session import CheckpointSession
from dspy_ash.testing import DummyLM


def test_a_paid_for_prediction_keeps_its_score_when_the_worker_is_cancelled_during_the_metric() -> None:
    ash.configure(lm=DummyLM(qa_answers(1)))
    data = qa_trainset(ash, 1)
    started, release = threading.Event(), threading.Event()

    def slow_metric(example: Any, pred: Any, trace: Any = None) -> bool:  # sync: runs on a worker thread
        started.set()
        release.wait(5)
        return example.answer == pred.answer

    async def main() -> dict[str, Any]:
        store = MemoryCheckpointStore()
        session = await CheckpointSession.open(store, "k", "test", fingerprint("scoring"))
        record = session.section("eval", "0")
        scoring = asyncio.ensure_future(
            score_program(
                ash.Predict("question -> answer"),
                data,
                slow_metric,
                num_threads=1,
                max_errors=5,
                session=session,
                record=record,
            )
        )
        while not started.is_set():
            await asyncio.sleep(0.001)
        scoring.cancel()  # the LM call is paid for; the metric is still running on its thread
        await asyncio.gather(scoring, return_exceptions=True)
        assert scoring.cancelled()
        threading.Timer(0.05, release.set).start()
        await session.flush()
        saved = await store.load("k")
        assert saved is not None
        return saved

    saved = asyncio.run(main())
    assert saved["sections"]["eval"]["0"]["scores"] == {"0": True}
