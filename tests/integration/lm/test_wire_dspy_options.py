"""DSPy's own LM options are kept on the LM and never reach the provider's body (OpenAI answers an
unknown argument with 400)."""

from __future__ import annotations

from typing import Any

import pytest

from dspy_ash.errors import UnsupportedFeatureError
from dspy_ash.lm._base import BaseLM
from dspy_ash.lm._lm import LM
from dspy_ash.testing.fake_servers import FakeOpenAIServer


async def test_dspy_only_options_stay_out_of_the_body(openai_server: FakeOpenAIServer, make_lm) -> None:
    lm = make_lm(
        "openai/gpt-4o-mini",
        openai_server,
        temperature=0.3,
        use_developer_role=True,
        finetuning_model="openai/gpt-4o-mini-ft",
        launch_kwargs={"gpus": 1},
        train_kwargs={"epochs": 2},
        num_retries=1,
        model_type="chat",
        engine="auto",
        cache=False,
    )
    await lm.acall(
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}], rollout_id=7
    )
    body = openai_server.requests[0].body
    assert set(body) == {"model", "messages", "temperature"}  # max_tokens=None is not sent
    assert body["messages"][0]["role"] == "system"  # the developer role is DSPy's Responses-API-only rule
    state = lm.dump_state()
    assert state["use_developer_role"] is True and state["finetuning_model"] == "openai/gpt-4o-mini-ft"
    loaded = BaseLM.load_state(state)
    assert isinstance(loaded, LM) and loaded.use_developer_role is True


async def test_reasoning_model_limit_under_either_name(openai_server: FakeOpenAIServer, make_lm) -> None:
    lm = make_lm(
        "openai/gpt-5-nano", openai_server, temperature=1.0, max_completion_tokens=16_000, cache=False
    )
    await lm.acall("hi")
    body = openai_server.requests[0].body
    assert body["max_completion_tokens"] == 16_000 and "max_tokens" not in body
    assert lm.dump_state()["max_tokens"] == 16_000 and "max_completion_tokens" not in lm.dump_state()


@pytest.mark.parametrize(
    ("option", "value"), [("engine", object()), ("async_engine", object()), ("prompt_cache", {"ttl": 60})]
)
def test_engine_and_prompt_cache_are_refused_clearly(option: str, value: object) -> None:
    with pytest.raises(UnsupportedFeatureError, match=option.split("_")[0]):
        options: dict[str, Any] = {option: value}
        LM("openai/gpt-4o-mini", api_key="k", **options)


@pytest.mark.parametrize("method", ["launch", "kill"])
def test_launch_and_kill_explain_themselves(method: str) -> None:
    lm = LM("openai/gpt-4o-mini", api_key="k")
    with pytest.raises(UnsupportedFeatureError, match=rf"LM\.{method}\(\)"):
        getattr(lm, method)()
    with pytest.raises(UnsupportedFeatureError, match="finetune"):
        lm.finetune([])
