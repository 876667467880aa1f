"""The sync/async bridge (`dspy_ash._sync`): user sync code under async callers, sync calls made
inside a running loop, and sync calls with no loop at all."""

from __future__ import annotations

import asyncio
import threading
import time
import traceback

import pytest

import dspy_ash as dspy
from dspy_ash import _sync, events
from dspy_ash.lm._types import Choice, LMResponse
from dspy_ash.primitives._concurrency import TooManyErrors


class SlowLM(dspy.BaseLM):
    """Answers after `delay` seconds and counts the calls in flight at once."""

    def __init__(self, delay: float = 0.05, model: str = "slow"):
        super().__init__(model)
        self.delay = delay
        self.in_flight = 0
        self.peak = 0
        self.calls = 0

    async def request(self, req):
        self.calls += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        return LMResponse(choices=[Choice(text=f"[[ ## answer ## ]]\n{self.model}")])


class BlockingRAG(dspy.Module):
    """The common RAG shape: a blocking retriever (a `requests` call, a database client), then an LM call."""

    def __init__(self, block: float, ask: bool = True):
        super().__init__()
        self.block = block
        self.ask = ask
        self.predict = dspy.Predict("question -> answer")

    def forward(self, question):
        time.sleep(self.block)
        if not self.ask:
            return dspy.Prediction(answer="ok")
        return self.predict(question=question)


def _devset(n: int) -> list[dspy.Example]:
    return [dspy.Example(question=str(i), answer="slow").with_inputs("question") for i in range(n)]


def _metric(example, prediction, trace=None) -> bool:
    return example.answer == prediction.answer


# -- defect: blocking sync code serialised everything on the loop ------------------------------------


def test_blocking_sync_forwards_run_side_by_side_under_evaluate():
    lm = SlowLM(0.05)
    dspy.configure(lm=lm)
    evaluate = dspy.Evaluate(devset=_devset(8), metric=_metric, num_threads=8)
    evaluate(BlockingRAG(0.0), devset=_devset(1))  # lazy imports and the first worker thread, off the clock
    lm.peak = lm.calls = 0
    program = BlockingRAG(0.25)
    start = time.perf_counter()
    result = evaluate(program)
    elapsed = time.perf_counter() - start
    assert result.score == 100.0 and result.lm_calls == 8  # the usage tracker reached the threads
    assert elapsed < 1.0  # one after another: 8 x 0.3 s = 2.4 s
    assert lm.peak >= 4  # and the LM calls made from those threads still overlap on the loop


async def test_a_blocking_sync_forward_does_not_stall_the_loop():
    dspy.configure(lm=SlowLM(0.01))
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.02)
    before = ticks
    pred = await BlockingRAG(0.3).acall(question="q")
    task.cancel()
    assert pred.answer == "slow"
    assert ticks - before >= 10  # the ticker kept running (~30 ticks) while the forward blocked


def test_batch_and_parallel_run_blocking_forwards_side_by_side():
    dspy.configure(lm=SlowLM(0.01))
    program = BlockingRAG(0.2)
    parallel = dspy.Parallel(num_threads=6)
    pairs = [(program, ex) for ex in _devset(6)]
    start = time.perf_counter()
    results = program.batch(_devset(6), num_threads=6)
    assert [r.answer for r in results] == ["slow"] * 6
    assert [r.answer for r in parallel(pairs)] == ["slow"] * 6
    assert time.perf_counter() - start < 1.6  # one after another: 12 x 0.21 s = 2.5 s


def test_sync_forwards_see_the_callers_settings_and_trace_parents():
    seen: list[events.Event] = []
    lm = SlowLM(0.01, model="ctx")
    observed: list[object] = []

    class Look(dspy.Module):
        def __init__(self):
            super().__init__()
            self.predict = dspy.Predict("question -> answer")

        def forward(self, question):
            observed.append(dspy.settings.lm)
            return self.predict(question=question)

    class Outer(dspy.Module):
        def __init__(self):
            super().__init__()
            self.look = Look()

        async def aforward(self, question):
            return await self.look.acall(question=question)

    with dspy.context(lm=lm, callbacks=[seen.append]):
        assert Outer()(question="q").answer == "ctx"
    assert observed == [lm]
    starts = {e.name: e for e in seen if e.phase == "start" and e.kind == "module"}
    assert starts["Look"].parent_id == starts["Outer"].call_id
    assert starts["Predict"].parent_id == starts["Look"].call_id
    lm_start = next(e for e in seen if e.kind == "lm" and e.phase == "start")
    assert lm_start.parent_id == starts["Predict"].call_id
    assert dspy.settings.lm is None


def test_exceptions_from_sync_forwards_keep_their_tracebacks():
    def deep_helper():
        raise KeyError("missing passage")

    class Broken(dspy.Module):
        def forward(self, question):
            deep_helper()

    with pytest.raises(KeyError) as info:
        asyncio.run(Broken().acall(question="q"))
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert "forward" in frames and "deep_helper" in frames

    class FailingLM(dspy.BaseLM):
        async def request(self, req):
            raise ConnectionError("provider down")

    class Asks(dspy.Module):
        def forward(self, question):
            return dspy.Predict("question -> answer")(question=question)

    with dspy.context(lm=FailingLM("down")), pytest.raises(ConnectionError) as info:
        asyncio.run(Asks().acall(question="q"))
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert "forward" in frames and "request" in frames


def test_timeouts_do_not_wait_for_blocked_forwards_and_cancel_their_later_lm_calls():
    lm = SlowLM(0.01)
    dspy.configure(lm=lm)
    start = time.perf_counter()
    results, failed, errors = BlockingRAG(0.6).batch(
        _devset(4), num_threads=4, timeout=0.1, return_failed_examples=True
    )
    assert time.perf_counter() - start < 0.5
    assert results == [None] * 4 and len(failed) == 4
    assert all(isinstance(e, TimeoutError) for e in errors)
    time.sleep(0.8)  # the abandoned forwards wake up and reach their LM call: it is refused
    assert lm.calls == 0


def test_max_errors_stops_the_rest_without_waiting_for_blocked_forwards():
    class FailFast(dspy.Module):
        def forward(self, question):
            if question == "0":
                raise RuntimeError("bad example")
            time.sleep(1.0)
            return dspy.Prediction(answer="slow")

    dspy.configure(lm=SlowLM(0.01))
    evaluate = dspy.Evaluate(devset=_devset(4), metric=_metric, num_threads=4, max_errors=1)
    program = FailFast()
    start = time.perf_counter()
    with pytest.raises(TooManyErrors):
        evaluate(program)
    assert time.perf_counter() - start < 0.7


# -- defect: sync calls inside a running loop finished last-in-first-out -------------------------------


async def test_sync_calls_inside_a_running_loop_finish_in_the_order_they_started():
    finished: dict[str, float] = {}
    start = time.perf_counter()

    async def sync_caller(name: str, delay: float, after: float) -> None:
        await asyncio.sleep(after)
        with dspy.context(lm=SlowLM(delay)):
            dspy.Predict("question -> answer")(question=name)  # a plain sync call on the loop's thread
        finished[name] = time.perf_counter() - start

    await asyncio.gather(sync_caller("short", 0.1, 0.0), sync_caller("long", 1.0, 0.02))
    assert finished["short"] < 0.6  # it used to return behind the long call, at ~1.0 s
    assert finished["short"] < finished["long"]


async def test_a_sync_call_nested_inside_a_sync_call_inside_a_loop_completes():
    dspy.configure(lm=SlowLM(0.01))

    async def inner() -> str:
        # plain sync code running on whatever loop runs this coroutine, calling the sync API again
        return dspy.Predict("question -> answer")(question="inner").answer

    assert _sync.run_sync(inner()) == "slow"  # inside this test's running loop


def test_sync_call_with_no_loop_gives_the_same_result_on_the_fallback(monkeypatch):
    dspy.configure(lm=SlowLM(0.0))
    fast = dspy.Predict("question -> answer")(question="q").answer
    monkeypatch.setattr(_sync, "_FAST_DRIVE", False)
    assert dspy.Predict("question -> answer")(question="q").answer == fast == "slow"

    async def fails() -> None:
        raise ValueError("from the coroutine")

    with pytest.raises(ValueError, match="from the coroutine"):
        _sync.run_sync(fails())


def test_worker_threads_are_reused():
    dspy.configure(lm=SlowLM(0.0))
    program = BlockingRAG(0.0, ask=False)
    asyncio.run(program.acall(question="warm"))
    before = threading.active_count()
    for _ in range(20):
        asyncio.run(program.acall(question="q"))
    assert threading.active_count() <= before  # one idle worker serves call after call


async def test_blocking_sync_tools_run_side_by_side_under_acall():
    def search(query: str) -> str:
        time.sleep(0.2)  # a blocking search API
        return f"found {query}"

    tool = dspy.Tool(search)
    start = time.perf_counter()
    found = await asyncio.gather(*[tool.acall(query=str(i)) for i in range(4)])
    assert found == [f"found {i}" for i in range(4)]
    assert time.perf_counter() - start < 0.6  # one after another: 0.8 s
