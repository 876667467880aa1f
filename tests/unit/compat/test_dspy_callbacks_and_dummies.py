"""DSPy's `with_callbacks` decorator and `ACTIVE_CALL_ID`, and its `DummyVectorizer`."""

from __future__ import annotations

from typing import Any

import pytest

import dspy_ash as dspy
from dspy_ash.events import ACTIVE_CALL_ID, bind_active_call_id, with_callbacks
from dspy_ash.utils._dummies import DummyVectorizer


class Recorder(dspy.BaseCallback):
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, Any]] = []

    def on_module_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        self.calls.append(("start", inputs, ACTIVE_CALL_ID.get()))

    def on_module_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
        self.calls.append(("end", outputs, exception))


class Doubler(dspy.Module):
    @with_callbacks
    def forward(self, x: int) -> int:
        return 2 * x

    @with_callbacks
    async def aforward(self, x: int) -> int:
        raise ValueError("no")


def test_decorated_method_reports_start_and_end_with_its_inputs():
    recorder = Recorder()
    with dspy.context(callbacks=[recorder]):
        assert Doubler().forward(x=3) == 6
    assert [c[0] for c in recorder.calls] == ["start", "end"]
    assert recorder.calls[0][1] == {"x": 3} and recorder.calls[1][1] == 6


async def test_decorated_coroutine_reports_the_exception():
    recorder = Recorder()
    with dspy.context(callbacks=[recorder]), pytest.raises(ValueError):
        await Doubler().aforward(x=1)
    assert isinstance(recorder.calls[-1][2], ValueError)


def test_active_call_id_is_unset_outside_a_call():
    assert ACTIVE_CALL_ID.get() is None


def test_bound_function_runs_under_the_call_id_of_its_binding_and_restores_it():
    token = ACTIVE_CALL_ID.set("parent")
    try:
        bound = bind_active_call_id(lambda: ACTIVE_CALL_ID.get())
    finally:
        ACTIVE_CALL_ID.reset(token)
    assert bound() == "parent"
    assert ACTIVE_CALL_ID.get() is None


def test_dummy_vectorizer_is_deterministic_and_normalised():
    np = pytest.importorskip("numpy")
    vecs = DummyVectorizer()(["hello world", "hello world", "something else"])
    assert vecs.shape == (3, 100)
    assert np.allclose(vecs[0], vecs[1]) and not np.allclose(vecs[0], vecs[2])
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)


def test_decorated_lm_method_is_reported_as_an_lm_call():
    class Seen(dspy.BaseCallback):
        def __init__(self) -> None:
            self.kinds: list[str] = []

        def on_lm_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
            self.kinds.append("lm")

        def on_module_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
            self.kinds.append("module")

    class NamedLM(dspy.BaseLM):
        @with_callbacks
        def describe(self, prefix: str) -> str:
            return prefix + self.model

    seen = Seen()
    with dspy.context(callbacks=[seen]):
        assert NamedLM("m").describe("lm:") == "lm:m"
        assert Doubler().forward(x=1) == 2
    assert seen.kinds == ["lm", "module"]
