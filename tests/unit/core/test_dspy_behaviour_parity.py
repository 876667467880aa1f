"""Small behaviours DSPy code relies on, each checked against DSPy 3.4.1 where it can run offline."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import dspy_ash
from dspy_ash.modules._predict import type_name
from dspy_ash.testing import DummyLM

# the oracle comes with the test extra; scripts/test_pythons.sh runs these packages without it
dspy = pytest.importorskip("dspy")


def _tree(lib: Any) -> Any:
    root = lib.Module()
    root.sub = lib.Module()
    shared = lib.Module()
    root.sub.items = [lib.Module(), {"key": lib.Module()}]
    root.sub.pair = (lib.Module(), [shared, shared])
    return root


def test_named_sub_modules_walks_nested_containers_like_dspy() -> None:
    ours = [name for name, _ in _tree(dspy_ash).named_sub_modules()]
    theirs = [name for name, _ in _tree(dspy).named_sub_modules()]
    assert ours == theirs
    assert "self.sub.items[1][key]" in ours and "self.sub.pair[1][0]" in ours


@pytest.mark.parametrize(
    "annotation",
    [int, str, list[str], dict[str, int], tuple[int, ...], "Literal", int | None, "Model"],
)
def test_type_names_in_warnings_match_dspy(annotation: Any) -> None:
    from typing import Literal

    from dspy.predict.predict import _get_type_name  # pyright: ignore[reportPrivateUsage]
    from pydantic import BaseModel

    class Model(BaseModel):
        x: int

    value = {"Literal": Literal["a", "b"], "Model": Model}.get(annotation, annotation)
    assert type_name(value) == _get_type_name(value)


def test_calling_forward_directly_warns(caplog: pytest.LogCaptureFixture) -> None:
    class Echo(dspy_ash.Module):
        def forward(self, x: str) -> str:
            return x

    module = Echo()
    with caplog.at_level(logging.WARNING):
        assert module(x="through call") == "through call"
        assert not caplog.records
        assert module.forward("direct") == "direct"
    assert "Calling module.forward(...) on Echo directly is discouraged" in caplog.text


def test_a_signature_subclass_called_with_values_is_an_instance() -> None:
    class QA(dspy_ash.Signature):
        question: str = dspy_ash.InputField()
        answer: str = dspy_ash.OutputField()

    value = QA(question="q", answer="a")
    assert isinstance(value, QA) and value.question == "q" and value.answer == "a"
    with pytest.raises(ValueError, match="missing: answer"):
        QA(question="q")


def test_an_lm_overriding_call_is_what_predict_reaches() -> None:
    class Spy(dspy_ash.LM):
        def __init__(self) -> None:
            super().__init__("openai/spy")
            self.calls: list[Any] = []

        def __call__(self, prompt: Any = None, messages: Any = None, **kwargs: Any) -> list[Any]:
            self.calls.append(messages)
            return ["[[ ## answer ## ]]\nspied"]

    lm = Spy()
    assert dspy_ash.Predict("question -> answer", lm=None)(question="q", lm=lm).answer == "spied"
    assert len(lm.calls) == 1 and lm.calls[0][-1]["role"] == "user"


def test_an_lm_override_calling_super_reaches_the_real_call() -> None:
    class Counting(DummyLM):
        seen = 0

        def __call__(self, prompt: Any = None, messages: Any = None, **kwargs: Any) -> Any:
            Counting.seen += 1
            return super().__call__(prompt, messages, **kwargs)

    lm = Counting([{"answer": "real"}])
    assert dspy_ash.Predict("question -> answer")(question="q", lm=lm).answer == "real"
    assert Counting.seen == 1


def test_start_hooks_see_the_caller_as_active_call() -> None:
    def run(lib: Any, base_callback: Any, active_call_id: Any) -> list[bool]:
        seen: list[Any] = []

        class Hook(base_callback):
            def on_module_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
                seen.append((call_id, active_call_id.get()))

        class Child(lib.Module):
            def forward(self) -> None:
                return None

        class Parent(lib.Module):
            def __init__(self) -> None:
                super().__init__()
                self.child = Child()

            def forward(self) -> None:
                self.child()

        with lib.context(callbacks=[Hook()]):
            Parent()()
        (parent_id, parent_active), (_, child_active) = seen
        return [parent_active is None, child_active == parent_id]

    from dspy.utils.callback import ACTIVE_CALL_ID, BaseCallback

    ours = run(dspy_ash, dspy_ash.BaseCallback, dspy_ash.events.ACTIVE_CALL_ID)
    assert ours == run(dspy, BaseCallback, ACTIVE_CALL_ID) == [True, True]


def test_compile_override_reports_one_compile_with_bound_inputs() -> None:
    events: list[tuple[str, Any]] = []

    class Recorder(dspy_ash.BaseCallback):
        def on_compile_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
            events.append(("start", inputs))

        def on_compile_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
            events.append(("end", exception))

    class Base(dspy_ash.optimizers.Teleprompter):
        def compile(self, student: Any, *, trainset: list[Any], teacher: Any = None) -> Any:
            return student

    class Child(Base):
        def compile(self, student: Any, *, trainset: list[Any], teacher: Any = None) -> Any:
            return super().compile(student, trainset=trainset)

    student = dspy_ash.Module()
    with dspy_ash.context(callbacks=[Recorder()]):
        assert Child().compile(student, trainset=[]) is student
    assert events == [("start", {"student": student, "trainset": [], "teacher": None}), ("end", None)]


def test_bestofn_last_failing_attempt_raises_like_dspy() -> None:
    def boom(args: Any, pred: Any) -> float:
        raise RuntimeError("reward failed")

    for lib, dummy in ((dspy_ash, DummyLM), (dspy, dspy.utils.DummyLM)):
        with lib.context(lm=dummy([{"answer": "a"}] * 3)), pytest.raises(RuntimeError, match="reward failed"):
            lib.BestOfN(lib.Predict("question -> answer"), N=3, reward_fn=boom, threshold=1)(question="q")


def test_batch_with_timeout_zero_has_no_limit() -> None:
    class Double(dspy_ash.Module):
        def forward(self, value: int) -> int:
            return value * 2

    examples = [dspy_ash.Example(value=v).with_inputs("value") for v in (1, 2, 3)]
    assert Double().batch(examples, timeout=0) == [2, 4, 6]
