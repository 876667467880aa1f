"""The LM facade: construction rules, saved state both ways with DSPy, copies, key hygiene."""

from __future__ import annotations

import copy
import importlib
import pickle

import pytest

from dspy_ash.errors import LMConfigurationError, UnsupportedFeatureError
from dspy_ash.lm._base import BaseLM
from dspy_ash.lm._cache import CachedLM
from dspy_ash.lm._lm import LM, is_reasoning_model
from dspy_ash.lm._rate_limit import RateLimitedLM
from dspy_ash.lm._retry import RetryingLM

KEY = "sk-very-secret-0123456789"


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("openai/o1", True),
        ("openai/o3-mini", True),
        ("o4-mini-2025-04-16", True),
        ("openai/gpt-5", True),
        ("openai/gpt-5-mini", True),
        ("openai/gpt-5-chat-latest", False),
        ("openai/gpt-4o", False),
        ("openai/o10-thing", False),
        ("anthropic/claude-opus-4", False),
    ],
)
def test_reasoning_model_detection(model: str, expected: bool) -> None:
    assert is_reasoning_model(model) is expected


def test_reasoning_models_take_max_completion_tokens() -> None:
    lm = LM("openai/o3-mini", max_tokens=20_000, api_key=KEY)
    assert lm.kwargs == {"temperature": None, "max_completion_tokens": 20_000}
    req = lm.build_request("hi", max_tokens=30_000)
    assert req.params == {"max_completion_tokens": 30_000}
    assert lm.dump_state()["max_tokens"] == 20_000


@pytest.mark.parametrize("kwargs", [{"temperature": 0.0}, {"max_tokens": 1000}])
def test_reasoning_models_refuse_other_settings(kwargs: dict[str, float]) -> None:
    with pytest.raises(LMConfigurationError, match="16000"):
        LM("openai/gpt-5", api_key=KEY, **kwargs)  # type: ignore[arg-type]


def test_reasoning_models_accept_the_defaults() -> None:
    lm = LM("openai/gpt-5", temperature=1.0, max_tokens=16_000, api_key=KEY)
    assert lm.kwargs["temperature"] == 1.0
    assert lm.kwargs["max_completion_tokens"] == 16_000 and "max_tokens" not in lm.kwargs


def test_stack_order() -> None:
    lm = LM("openai/gpt-4o-mini", api_key=KEY, max_concurrency=4, rpm=100)
    assert isinstance(lm.stack, CachedLM)
    assert isinstance(lm.stack.inner, RetryingLM)
    assert isinstance(lm.stack.inner.inner, RateLimitedLM)
    assert lm.stack.inner.inner.inner is lm.client
    plain = LM("openai/gpt-4o-mini", api_key=KEY)
    assert isinstance(plain.stack, CachedLM) and isinstance(plain.stack.inner, RetryingLM)
    assert plain.stack.inner.inner is plain.client


def test_dump_state_matches_dspy_and_has_no_key() -> None:
    lm = LM("openai/gpt-4o-mini", temperature=0.0, max_tokens=256, api_key=KEY, rpm=10)
    assert lm.dump_state() == {
        "_dspy_lm_class": "dspy.clients.lm.LM",
        "model": "openai/gpt-4o-mini",
        "model_type": "chat",
        "cache": True,
        "num_retries": 3,
        "temperature": 0.0,
        "max_tokens": 256,
        "finetuning_model": None,
        "launch_kwargs": {},
        "train_kwargs": {},
    }


def test_load_state_round_trip_and_dspy_class_name() -> None:
    lm = LM(
        "anthropic/claude-3-5-haiku",
        temperature=0.3,
        max_tokens=100,
        api_key=KEY,
        api_base="http://127.0.0.1:1/v1",
    )
    state = lm.dump_state()
    assert state["api_base"] == "http://127.0.0.1:1/v1"
    loaded = BaseLM.load_state(state)
    assert isinstance(loaded, LM)
    assert loaded.kwargs == {"temperature": 0.3, "max_tokens": 100}
    assert loaded.dump_state() == state


@pytest.mark.oracle
def test_dspy_loads_our_state() -> None:
    dspy_base_lm = importlib.import_module(
        "dspy.clients.base_lm"
    )  # a test dependency: absent must fail, not skip
    state = LM("openai/gpt-4o-mini", temperature=0.0, max_tokens=256, api_key=KEY).dump_state()
    theirs = dspy_base_lm.BaseLM.load_state(state)
    assert type(theirs).__name__ == "LM"
    assert theirs.dump_state() == state


def test_key_never_shows() -> None:
    lm = LM("openai/gpt-4o-mini", api_key=KEY, headers={"x-api-key": KEY, "X-Title": "app"})
    texts = [
        repr(lm),
        str(lm),
        repr(lm.client),
        repr(lm.client.endpoint),
        repr(vars(lm)),
        str(lm.dump_state()),
        repr(lm.build_request("hi")),
    ]
    assert not [t for t in texts if KEY in t]
    assert lm.api_key is None  # the plain string is not kept on the facade


def test_copies_keep_the_key_and_deep_copies_share_it() -> None:
    lm = LM("openai/gpt-4o-mini", api_key=KEY, temperature=0.0)
    warmer = lm.copy(temperature=0.9)
    assert warmer.kwargs["temperature"] == 0.9 and lm.kwargs["temperature"] == 0.0
    assert warmer.stack is lm.stack  # same limits and cache wiring
    moved = lm.copy(api_base="http://127.0.0.1:2/v1")
    assert moved.client.endpoint.api_base == "http://127.0.0.1:2/v1"
    assert moved.client.endpoint.api_key == lm.client.endpoint.api_key
    deep = copy.deepcopy(lm)
    assert deep.client.endpoint.api_key is lm.client.endpoint.api_key
    assert KEY not in repr(pickle.dumps(lm.dump_state()))


def test_client_options_are_refused_at_call_time() -> None:
    lm = LM("openai/gpt-4o-mini", api_key=KEY)
    with pytest.raises(LMConfigurationError, match="api_key"):
        lm.build_request("hi", api_key="other")


def test_request_kwargs_and_call_options() -> None:
    lm = LM("openai/gpt-4o-mini", api_key=KEY, temperature=0.2, rollout_id=None, seed=7)
    assert lm.kwargs == {"temperature": 0.2, "max_tokens": None, "seed": 7}
    req = lm.build_request("hi", n=3, rollout_id=5, cache=False, response_format={"type": "json_object"})
    assert req.params == {"temperature": 0.2, "seed": 7, "n": 3, "response_format": {"type": "json_object"}}
    assert req.rollout_id == 5 and req.cache is False


def test_model_types() -> None:
    with pytest.raises(UnsupportedFeatureError):
        LM("openai/gpt-4o", model_type="responses", api_key=KEY)
    with pytest.raises(UnsupportedFeatureError, match="OpenAI-compatible"):
        LM("anthropic/claude-3-5-haiku", model_type="text", api_key=KEY)
    assert LM("openai/gpt-3.5-turbo-instruct", model_type="text", api_key=KEY).model_type == "text"


def test_rollout_id_with_temperature_zero_warns(caplog: pytest.LogCaptureFixture) -> None:
    LM("openai/gpt-4o-mini", api_key=KEY, temperature=0.0, rollout_id=1)
    assert "rollout_id" in caplog.text
