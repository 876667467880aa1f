from __future__ import annotations

import asyncio

import dspy_ash as dspy
from dspy_ash import events
from dspy_ash.lm._types import Choice, LMResponse
from dspy_ash.testing import DummyLM


class NamedLM(dspy.BaseLM):
    async def request(self, req):
        await asyncio.sleep(0.001)
        return LMResponse(choices=[Choice(text=f"[[ ## answer ## ]]\n{self.model}")])


async def test_context_is_task_local_under_many_concurrent_tasks():
    lms = [NamedLM(f"m{i}") for i in range(50)]

    async def run(i: int) -> str:
        with dspy.context(lm=lms[i]):
            await asyncio.sleep(0.001 * (i % 5))
            out = await dspy.Predict("question -> answer").acall(question="q")
            assert dspy.settings.lm is lms[i]
            return out.answer

    answers = await asyncio.gather(*[run(i) for i in range(50)])
    assert answers == [f"m{i}" for i in range(50)]
    assert dspy.settings.lm is None


def test_events_have_ids_parents_timing_and_usage():
    seen: list[events.Event] = []
    lm = DummyLM([{"reasoning": "r", "answer": "a"}])
    with dspy.context(lm=lm, callbacks=[seen.append]):
        dspy.ChainOfThought("question -> answer")(question="q")
    kinds = [(e.kind, e.phase) for e in seen]
    assert kinds == [
        ("module", "start"),
        ("module", "start"),
        ("adapter_format", "start"),
        ("adapter_format", "end"),
        ("lm", "start"),
        ("lm", "end"),
        ("adapter_parse", "start"),
        ("adapter_parse", "end"),
        ("module", "end"),
        ("module", "end"),
    ]
    outer, inner = seen[0], seen[1]
    assert inner.parent_id == outer.call_id and outer.parent_id is None
    lm_end = seen[5]
    assert lm_end.parent_id == inner.call_id and lm_end.duration is not None and lm_end.usage is not None
    assert seen[-1].outputs.answer == "a"


def test_dspy_style_callbacks_and_broken_subscribers():
    calls: list[str] = []

    class CB(dspy.BaseCallback):
        def on_module_start(self, call_id, instance, inputs):
            calls.append(f"start:{type(instance).__name__}:{inputs}")

        def on_lm_end(self, call_id, outputs, exception=None):
            calls.append(f"lm_end:{outputs}")

    def broken(event):
        raise RuntimeError("subscriber bug")

    with dspy.context(lm=DummyLM([{"answer": "a"}]), callbacks=[CB(), broken]):
        out = dspy.Predict("question -> answer")(question="q")
    assert out.answer == "a"
    assert calls == ["start:Predict:{'question': 'q'}", "lm_end:['[[ ## answer ## ]]\\na']"]


def test_error_events_carry_the_exception():
    seen: list[events.Event] = []
    with dspy.context(callbacks=[seen.append]):
        try:
            dspy.Predict("a -> b")(a="x")
        except ValueError:
            pass
    assert seen[-1].phase == "end" and isinstance(seen[-1].error, ValueError)


def test_history_is_bounded():
    lm = DummyLM([{"answer": "a"}] * 300)
    with dspy.context(lm=lm, max_history_size=50):
        for _ in range(300):
            dspy.Predict("question -> answer")(question="q")
    assert len(lm.history) == 50


def test_subscribers_get_only_the_kinds_they_ask_for():
    class OnlyLM:
        event_kinds = frozenset({"lm"})

        def __init__(self):
            self.seen: list[str] = []

        def on_event(self, event):
            self.seen.append(f"{event.kind}:{event.phase}")

    sub = OnlyLM()
    with dspy.context(lm=DummyLM([{"answer": "a"}]), callbacks=[sub]):
        dspy.Predict("question -> answer")(question="q")
    assert sub.seen == ["lm:start", "lm:end"]
