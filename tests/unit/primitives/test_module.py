from __future__ import annotations

import asyncio
import json
import time

import pytest

import dspy_ash as dspy
from dspy_ash.errors import UnsupportedFeatureError
from dspy_ash.lm._types import Choice, LMResponse
from dspy_ash.testing import DummyLM


class QA(dspy.Signature):
    """Answer the question."""

    question: str = dspy.InputField(desc="a trivia question")
    answer: str = dspy.OutputField(desc="short answer")


class RAGLike(dspy.Module):
    def __init__(self):
        super().__init__()
        self.rewrite = dspy.Predict("question -> query")
        self.qa = dspy.ChainOfThought(QA)
        self.tools = [dspy.Predict("x: int -> y: list[str]")]

    def forward(self, question):
        q = self.rewrite(question=question).query
        return self.qa(question=q)


def test_named_parameters_follow_dspy_naming():
    prog = RAGLike()
    assert [n for n, _ in prog.named_parameters()] == ["rewrite", "qa.predict", "tools[0]"]
    assert [n for n, _ in prog.named_predictors()] == ["rewrite", "qa.predict", "tools[0]"]
    assert [n for n, _ in prog.named_sub_modules()][:3] == ["self", "self.rewrite", "self.qa"]


def test_subclass_that_forgets_super_init_still_works():
    class NoInit(dspy.Module):
        def __init__(self):
            self.p = dspy.Predict("a -> b")

        def forward(self, a):
            return self.p(a=a)

    dspy.configure(lm=DummyLM([{"b": "ok"}]))
    assert NoInit()(a="x").b == "ok"


def test_deepcopy_shares_lm_but_not_demos_and_reset_copy_clears():
    prog = RAGLike()
    lm = DummyLM([])
    prog.set_lm(lm)
    prog.rewrite.demos = [dspy.Example(question="q", query="r")]
    copy = prog.deepcopy()
    assert copy.rewrite.lm is lm and copy.rewrite is not prog.rewrite
    copy.rewrite.demos.append(dspy.Example(question="x", query="y"))
    assert len(prog.rewrite.demos) == 1
    reset = prog.reset_copy()
    assert reset.rewrite.demos == [] and reset.rewrite.lm is None
    assert prog.get_lm() is lm


def test_save_load_round_trip_in_dspy_json_shape(tmp_path):
    prog = RAGLike()
    prog.rewrite.demos = [dspy.Example(question="Capital of France?", query="q", augmented=True)]
    prog.qa.predict.signature = prog.qa.predict.signature.with_instructions("Be brief.")
    path = tmp_path / "program.json"
    prog.save(path)
    data = json.loads(path.read_text())
    assert list(data) == ["rewrite", "qa.predict", "tools[0]", "metadata"]
    assert list(data["rewrite"]) == ["traces", "train", "demos", "signature", "lm"]
    assert data["metadata"]["dependency_versions"].keys() == {"python", "dspy"}
    fresh = RAGLike()
    fresh.load(path)
    assert fresh.qa.predict.signature.instructions == "Be brief."
    assert fresh.rewrite.demos == [{"question": "Capital of France?", "query": "q", "augmented": True}]


def test_load_is_all_or_nothing():
    prog = RAGLike()
    state = prog.dump_state()
    state["qa.predict"]["signature"]["instructions"] = "changed"
    del state["tools[0]"]
    with pytest.raises(KeyError):
        prog.load_state(state)
    assert prog.qa.predict.signature.instructions == "Answer the question."


def test_loads_the_reference_dspy_file_and_strips_unsafe_lm_keys(tmp_path, caplog):
    from pathlib import Path

    src = Path(__file__).parents[2] / "fixtures" / "program_state.json"
    prog = RAGLike().load(src)
    assert prog.qa.predict.demos[0] == {
        "augmented": True,
        "question": "q",
        "reasoning": "r",
        "answer": "Paris",
    }
    lm = prog.qa.predict.lm
    assert lm.model == "openai/gpt-4o-mini" and lm.kwargs["temperature"] == 0.0
    state = json.loads(src.read_text())
    state["qa.predict"]["lm"]["api_base"] = "http://evil.example"
    path = tmp_path / "p.json"
    path.write_text(json.dumps(state))
    loaded = RAGLike().load(path)
    assert "api_base" not in loaded.qa.predict.lm.kwargs
    assert "Ignoring unsafe LM config key" in caplog.text


def test_pickles_are_refused(tmp_path):
    with pytest.raises(UnsupportedFeatureError):
        RAGLike().save(tmp_path / "x.pkl")
    with pytest.raises(UnsupportedFeatureError):
        RAGLike().save(tmp_path / "dir", save_program=True)
    with pytest.raises(UnsupportedFeatureError):
        dspy.load(str(tmp_path))
    with pytest.raises(ValueError):
        RAGLike().save(tmp_path / "x.txt")


class SlowLM(dspy.BaseLM):
    def __init__(self, delay: float = 0.05):
        super().__init__("slow")
        self.delay = delay
        self.in_flight = 0
        self.peak = 0

    async def request(self, req):
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        return LMResponse(choices=[Choice(text="[[ ## answer ## ]]\nok\n\n[[ ## query ## ]]\nq")])


async def test_sync_forward_modules_run_concurrently_under_acall():
    lm = SlowLM()
    dspy.configure(lm=lm)

    class TwoStep(dspy.Module):
        def __init__(self):
            self.a = dspy.Predict("question -> query")
            self.b = dspy.Predict("query -> answer")

        def forward(self, question):
            return self.b(query=self.a(question=question).query)

    start = time.perf_counter()
    results = await asyncio.gather(*[TwoStep().acall(question=str(i)) for i in range(100)])
    elapsed = time.perf_counter() - start
    assert all(r.answer == "ok" for r in results)
    assert lm.peak >= 90  # the greenlet bridge keeps them all in flight at once
    assert elapsed < 1.5  # 100 sequential pairs would take 10 s


async def test_sync_call_inside_running_loop_completes_and_acall_keeps_the_loop_going():
    dspy.configure(lm=SlowLM(0.2))
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.02)
    # a plain sync call on the loop's own thread holds the loop while it runs, as in DSPy
    result = dspy.Predict("question -> answer")(question="q")
    assert result.answer == "ok"
    before = ticks
    result = await dspy.Predict("question -> answer").acall(question="q")
    during = ticks - before
    assert result.answer == "ok"
    assert during >= 10  # the 0.2 s call let the ticker run about 20 times

    dspy.configure(lm=SlowLM(0.01))

    async def sync_caller(i: int) -> str:
        await asyncio.sleep(0.001 * i)
        return dspy.Predict("question -> answer")(question=str(i)).answer

    answers = await asyncio.gather(*[sync_caller(i) for i in range(10)])
    task.cancel()
    assert answers == ["ok"] * 10


async def test_sync_call_in_loop_sees_the_callers_context():
    lm = SlowLM(0.01)
    with dspy.context(lm=lm):
        assert dspy.Predict("question -> answer")(question="q").answer == "ok"
    assert len(lm.history) == 1


def test_batch_preserves_order_bounds_concurrency_and_collects_errors():
    lm = SlowLM(0.02)
    dspy.configure(lm=lm)

    class Echo(dspy.Module):
        async def aforward(self, question):
            if question == "3":
                raise RuntimeError("boom")
            pred = await dspy.Predict("question -> answer").acall(question=question)
            return dspy.Prediction(answer=f"{question}:{pred.answer}")

    examples = [dspy.Example(question=str(i)).with_inputs("question") for i in range(20)]
    results, failed, errors = Echo().batch(examples, num_threads=4, return_failed_examples=True)
    assert [r.answer if r else None for r in results][:5] == ["0:ok", "1:ok", "2:ok", None, "4:ok"]
    assert failed == [examples[3]] and isinstance(errors[0], RuntimeError)
    assert lm.peak <= 4


def test_predict_errors_and_config():
    with pytest.raises(ValueError, match="No LM is loaded"):
        dspy.Predict("a -> b")(a="x")
    with pytest.raises(ValueError, match="Positional arguments are not allowed"):
        dspy.Predict("a -> b")("x")
    with dspy.context(lm="openai/gpt-4o"), pytest.raises(ValueError, match="not a string"):
        dspy.Predict("a -> b")(a="x")
    lm = DummyLM([{"b": "1"}, {"b": "2"}, {"b": "3"}])
    with dspy.context(lm=lm):
        pred = dspy.Predict("a -> b", n=3)(a="x")
    assert pred.completions.b == ["1", "2", "3"]
    assert lm.history[-1]["kwargs"]["temperature"] == 0.7
    lm2 = DummyLM([{"b": "x"}])
    dspy.Predict("a -> b", temperature=0.3)(a="x", lm=lm2, config={"max_tokens": 5})
    assert lm2.history[-1]["kwargs"]["temperature"] == 0.3 and lm2.history[-1]["kwargs"]["max_tokens"] == 5


def test_missing_inputs_warn_like_dspy_or_raise_when_strict(caplog):
    lm = DummyLM([{"b": "1"}, {"b": "2"}])
    with dspy.context(lm=lm):
        dspy.Predict("a, c -> b")(a="x")
    assert "Missing: ['c']" in caplog.text
    from dspy_ash.errors import SignatureError

    with dspy.context(lm=lm, strict_inputs=True), pytest.raises(SignatureError, match="Missing input fields"):
        dspy.Predict("a, c -> b")(a="x")


def test_input_defaults_fill_missing_inputs():
    class S(dspy.Signature):
        a: str = dspy.InputField()
        k: int = dspy.InputField(default=3)
        b: str = dspy.OutputField()

    lm = DummyLM([{"b": "1"}])
    with dspy.context(lm=lm):
        dspy.Predict(S)(a="x")
    assert "[[ ## k ## ]]\n3" in lm.history[-1]["messages"][-1]["content"]


def test_trace_records_predictor_calls_only_when_asked():
    lm = DummyLM([{"query": "q", "reasoning": "r", "answer": "a"}] * 4)
    dspy.configure(lm=lm)
    prog = RAGLike()
    with dspy.context(trace=[]):
        prog(question="x")
        trace = dspy.settings.trace
        assert [t[0] for t in trace] == [prog.rewrite, prog.qa.predict]
        assert trace[0][1] == {"question": "x"}
    assert dspy.settings.trace is None


def test_track_usage_attaches_totals():
    class Usage(dspy.BaseLM):
        async def request(self, req):
            from dspy_ash.lm._types import Usage as U

            return LMResponse(choices=[Choice(text="[[ ## b ## ]]\nok")], usage=U(3, 2, 5))

    dspy.configure(lm=Usage("m"), track_usage=True)
    pred = dspy.Predict("a -> b")(a="x")
    assert pred.get_lm_usage() == {
        "m": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5, "cached_tokens": 0}
    }


async def test_many_calls_in_flight_space_out_gc_and_restore_it():
    import gc

    from dspy_ash import _gc

    before = gc.get_threshold()
    seen: list[int] = []

    class Probe(dspy.BaseLM):
        async def request(self, req):
            await asyncio.sleep(0.01)
            seen.append(gc.get_threshold()[0])
            return LMResponse(choices=[Choice(text="x")])

    lm = Probe("probe")
    with dspy.context(relax_gc=True):  # opt-in (see test_gc_pacing.py)
        await asyncio.gather(*(lm.acall("q") for _ in range(200)))
    assert max(seen) >= _gc.RELAXED_THRESHOLD and gc.get_threshold() == before and _gc.in_flight() == 0
    seen.clear()
    with dspy.context(relax_gc=True):
        await asyncio.gather(*(lm.acall("q") for _ in range(8)))  # light load leaves it alone
    assert set(seen) == {before[0]}
    seen.clear()
    with dspy.context(relax_gc=False):
        await asyncio.gather(*(lm.acall("q") for _ in range(200)))
    assert set(seen) == {before[0]}


def test_named_predictors_are_the_predictor_parameters_whatever_their_class():
    from dspy_ash.primitives._module import Parameter, Predictor

    class Scripted(dspy.Module, Predictor):
        """A predictor that is not a Predict (as DSPy's own subclasses of it may be)."""

        def __init__(self):
            super().__init__()
            self.lm = None

        def forward(self):
            return None

    class Knob(Parameter):
        """A parameter an optimizer may change that makes no LM calls (as Retrieve)."""

    class Prog(dspy.Module):
        def __init__(self):
            super().__init__()
            self.first = dspy.Predict("a -> b")
            self.custom = Scripted()
            self.knob = Knob()

    prog = Prog()
    assert [n for n, _ in prog.named_parameters()] == ["first", "custom", "knob"]
    assert [n for n, _ in prog.named_predictors()] == ["first", "custom"]
    lm = DummyLM([])
    prog.set_lm(lm)
    assert prog.custom.lm is lm and prog.get_lm() is lm


@pytest.mark.parametrize(
    ("lm", "message"),
    [
        (None, "No LM is loaded. Please configure the LM using `dspy.configure"),
        ("openai/gpt-4o-mini", "LM must be an instance of `dspy.BaseLM`, not a string."),
        (object(), "LM must be an instance of `dspy.BaseLM`, not <class 'object'>."),
    ],
    ids=["none", "string", "other"],
)
def test_predict_without_a_usable_lm_says_what_dspy_says(lm, message):
    with dspy.context(lm=None), pytest.raises(ValueError) as info:
        dspy.Predict("question -> answer")(question="q", lm=lm)
    assert str(info.value).startswith(message)
